package snapshot

import "context"
import "errors"
import "os"
import "path/filepath"
import "runtime"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/queue"

// newTestStore is an empty store in a temporary directory. When the test
// ends it runs Check on it (no writer at work; every finding is a test
// error), as snapshottest.NewStore does for other packages' tests, unless
// the test failed already or passed damaged (why the test leaves the store
// damaged on purpose).
func newTestStore(t *testing.T, damaged ...string) *Store {
	t.Helper()
	s, err := Init(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	if len(damaged) > 0 {
		return s
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		r, err := s.Check(context.Background(), CheckOptions{Idle: NoWriter})
		if err == nil {
			err = r.Err()
		}
		if err != nil {
			t.Errorf("store check at cleanup: %v", err)
		}
	})
	return s
}

// stageFake stages a snapshot whose "graph" is a plain file holding
// content: enough to test layout, manifests, pins and GC without Kuzu.
func stageFake(t *testing.T, s *Store, opts StageOptions, content string) *Stage {
	t.Helper()
	st, err := s.NewStageWith(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Like Kuzu after the copy, replace the graph file; like Pebble, never
	// write into a staged sstable: it is hard-linked to the parent's.
	if err := os.Remove(st.GraphPath()); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.GraphPath(), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return st
}

// archiveFake archives a job file holding data under name in st's jobs/,
// as the writer archives a batch's jobs.
func archiveFake(t *testing.T, st *Stage, name, data string) {
	t.Helper()
	job := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(job, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.ArchiveJob(job, name); err != nil {
		t.Fatal(err)
	}
}

// publishFake publishes a fake snapshot (see stageFake).
func publishFake(t *testing.T, s *Store, content string) uint64 {
	t.Helper()
	st := stageFake(t, s, StageOptions{NoRecycle: true}, content)
	if st.Parent() == nil {
		if err := os.WriteFile(filepath.Join(st.KVPath(), "000001.sst"), []byte("sst-"+content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Publish(Manifest{Watermark: st.Seq()}); err != nil {
		t.Fatal(err)
	}
	return st.Seq()
}

func TestPublishVerifyAndCorruption(t *testing.T) {
	s := newTestStore(t, "a snapshot is damaged on purpose")
	if cur, _ := s.Current(); cur != 0 {
		t.Fatalf("fresh store CURRENT %d", cur)
	}
	publishFake(t, s, "one")
	seq := publishFake(t, s, "two")
	if cur, _ := s.Current(); cur != seq || seq != 2 {
		t.Fatalf("CURRENT %d, want 2", cur)
	}
	if p := s.Verify(seq); p != nil {
		t.Fatalf("fresh snapshot fails verify: %v", p)
	}
	// The sstable is shared with the parent (hard link), not copied.
	a, _ := os.Stat(filepath.Join(s.SnapshotDir(1), KVDir, "000001.sst"))
	b, _ := os.Stat(filepath.Join(s.SnapshotDir(2), KVDir, "000001.sst"))
	if !os.SameFile(a, b) {
		t.Error("sstable was copied, not linked")
	}
	for _, c := range []struct{ file, want string }{
		{GraphFile, "checksum mismatch"},
		{ManifestFile, "manifest is corrupt"},
	} {
		path := filepath.Join(s.SnapshotDir(seq), c.file)
		orig, _ := os.ReadFile(path)
		flipped := slices.Clone(orig)
		flipped[0] ^= 0xff
		if err := os.WriteFile(path, flipped, 0o600); err != nil {
			t.Fatal(err)
		}
		if p := s.Verify(seq); len(p) == 0 || !strings.Contains(p[0].Error(), c.want) {
			t.Errorf("flipped byte in %s: %v", c.file, p)
		}
		_ = os.WriteFile(path, orig, 0o600)
	}
	if err := os.WriteFile(filepath.Join(s.SnapshotDir(seq), "stray"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if p := s.Verify(seq); len(p) != 1 || !strings.Contains(p[0].Error(), "unexpected file stray") {
		t.Errorf("stray file: %v", p)
	}
}

func TestGCKeepsCurrentNewestAndPinned(t *testing.T) {
	s := newTestStore(t)
	for i := 0; i < 6; i++ {
		publishFake(t, s, strings.Repeat("x", i+1))
	}
	pin, err := s.Pin(2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.GC(GCOptions{Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, []uint64{1, 3, 4}) || !slices.Equal(res.Pinned, []uint64{2}) || !slices.Equal(res.Kept, []uint64{5, 6}) {
		t.Fatalf("gc: %+v", res)
	}
	pin.Release()
	res, _ = s.GC(GCOptions{Keep: 1})
	if !slices.Equal(res.Removed, []uint64{2, 5}) {
		t.Fatalf("gc after unpin: %+v", res)
	}
	if seqs, _ := s.Seqs(); !slices.Equal(seqs, []uint64{6}) {
		t.Fatalf("left: %v", seqs)
	}
	if _, err := s.Pin(2); err == nil {
		t.Fatal("pinned a collected snapshot")
	}
	p, err := s.PinCurrent()
	if err != nil || p.Seq() != 6 {
		t.Fatalf("pin current: %v", err)
	}
	p.Release() // Windows cannot delete the test's directory while PIN is open
	if n, _ := os.ReadDir(s.Path("trash")); len(n) != 0 {
		t.Fatalf("trash not emptied: %v", n)
	}
}

// The leftover rule (Survey): a snapshot newer than CURRENT is a crash
// leftover only while its batch's job files are still claimed; once they
// are gone it was published, and CheckCurrent refuses, naming the repair.
func TestLeftoverRuleAndCurrentParse(t *testing.T) {
	s := newTestStore(t, "CURRENT is damaged on purpose")
	publishFake(t, s, "a") // snapshot 1, watermark 1
	// Snapshot 2 applies claimed job 2, then CURRENT goes back to 1: what
	// a writer killed before its CURRENT swap leaves.
	claimed := s.Queue().Path(queue.Claimed{Name: "0000000000000002-J2.job"})
	if err := os.WriteFile(claimed, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := s.NewStage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ArchiveJob(claimed, "0000000000000002-J2.job"); err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(Manifest{Watermark: 2, Applied: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.writeCurrent(1); err != nil {
		t.Fatal(err)
	}
	if sv, err := s.CheckCurrent("commit"); err != nil || !slices.Equal(sv.Leftovers, []uint64{2}) || len(sv.Published) != 0 {
		t.Fatalf("batch still claimed: %+v %v; want snapshot 2 a leftover", sv, err)
	}
	// Without its claimed job, snapshot 2 was published: refused, kept.
	if err := os.Remove(claimed); err != nil {
		t.Fatal(err)
	}
	var ce *CurrentError
	if _, err := s.CheckCurrent("commit"); !errors.As(err, &ce) || !errors.Is(err, ErrCurrentBehind) ||
		!slices.Equal(ce.Newer, []uint64{2}) || !strings.Contains(ce.Hint, RepairCommand) {
		t.Fatalf("batch no longer claimed: %v; want ErrCurrentBehind naming snapshot 2 and the repair", err)
	}
	// A snapshot directory without a manifest proves nothing either.
	if err := os.MkdirAll(s.SnapshotDir(3), 0o700); err != nil {
		t.Fatal(err)
	}
	if sv, _ := s.Survey(); !slices.Equal(sv.Published, []uint64{2, 3}) {
		t.Fatalf("survey: %+v", sv)
	}
	if err := s.writeCurrent(99); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckCurrent("commit"); !errors.Is(err, ErrCurrentMissing) {
		t.Fatalf("CURRENT naming 99: %v; want ErrCurrentMissing", err)
	}
	if seqs, _ := s.Seqs(); !slices.Equal(seqs, []uint64{1, 2, 3}) {
		t.Fatalf("snapshots %v after the refusals; want all kept", seqs)
	}
	for in, ok := range map[string]bool{"7\n": true, "7": true, "0\n": false, "x\n": false, "": false, "-1": false, "99999999999999999999999": false} {
		if _, err := ParseCurrent([]byte(in)); (err == nil) != ok {
			t.Errorf("ParseCurrent(%q): %v", in, err)
		}
	}
	if runtime.GOOS == "windows" {
		return // no Unix modes there: Go reports 0777 for a directory, 0666 for a writable file
	}
	if info, _ := os.Stat(s.Dir()); info.Mode().Perm() != 0o700 {
		t.Errorf("store dir mode %v", info.Mode().Perm())
	}
	if info, _ := os.Stat(s.Path(CurrentFile)); info.Mode().Perm() != 0o600 {
		t.Errorf("CURRENT mode %v", info.Mode().Perm())
	}
}
