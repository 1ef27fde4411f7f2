package snapshot

import "fmt"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/fsutil"

// GC defers a snapshot whose directory cannot be moved because a file in
// it is open (Windows refuses the rename: fsutil.ErrBusy): it lists it as
// pinned, keeps it whole, goes on with the others, and collects it on a
// later pass once the rename works. The refusal is simulated here; only
// Windows (or Wine) can show the real one.
func TestGCDefersSnapshotWithOpenFiles(t *testing.T) {
	s := newTestStore(t)
	for i := 0; i < 4; i++ {
		publishFake(t, s, strings.Repeat("x", i+1))
	}
	busy := s.SnapshotDir(2)
	renameOnce = func(oldpath, newpath string) error {
		if oldpath == busy {
			return fmt.Errorf("%w: rename %s: sharing violation", fsutil.ErrBusy, oldpath)
		}
		return fsutil.RenameOnce(oldpath, newpath)
	}
	defer func() { renameOnce = fsutil.RenameOnce }()
	res, err := s.GC(GCOptions{Keep: 1})
	if err != nil {
		t.Fatalf("gc with a busy snapshot: %v", err)
	}
	if !slices.Equal(res.Removed, []uint64{1, 3}) || !slices.Equal(res.Pinned, []uint64{2}) {
		t.Fatalf("gc with snapshot 2 busy: %+v", res)
	}
	if p := s.Verify(2); p != nil {
		t.Fatalf("the deferred snapshot was damaged: %v", p)
	}
	renameOnce = fsutil.RenameOnce
	if res, err = s.GC(GCOptions{Keep: 1}); err != nil || !slices.Equal(res.Removed, []uint64{2}) {
		t.Fatalf("gc once snapshot 2 is free: %+v %v", res, err)
	}
}
