package writer_test

import "context"
import "errors"
import "path/filepath"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"
import "github.com/memsnap/memsnap/writer"

// A commit on a CURRENT snapshot that fails verification is refused with
// a *writer.RefusedError: the damage (snapshot.ErrCorrupt) as its cause,
// the repair command as its Hint, and the queue left as it was.
func TestCommitOnDamagedCurrentIsRefused(t *testing.T) {
	s := newTestStore(t, snapshottest.SkipCheck("CURRENT's graph is damaged on purpose"))
	s.put(t, "01JA0000000000000000000001", []byte(`{"ops":[{"op":"kv_put","key":"k","value":"v"}]}`))
	s.commit(t, writer.CommitOptions{})
	cur, err := s.store.Current()
	if err != nil {
		t.Fatal(err)
	}
	testutil.FlipByte(t, filepath.Join(s.store.SnapshotDir(cur), snapshot.GraphFile), testutil.Middle)
	s.put(t, "01JA0000000000000000000002", []byte(`{"ops":[{"op":"kv_put","key":"k","value":"w"}]}`))

	_, err = writer.New(s.store, s.cfg.WriterOptions(), nil).Commit(context.Background(), writer.CommitOptions{})
	var re *writer.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("commit on a damaged CURRENT: %v; want a *writer.RefusedError matching snapshot.ErrCorrupt", err)
	}
	if !strings.Contains(re.Hint, snapshot.RepairCommand) || !strings.HasSuffix(err.Error(), re.Hint) || re.Refusal != "refusing to build on it" {
		t.Errorf("refusal %q, hint %q, message %q", re.Refusal, re.Hint, err)
	}
	if n, err := s.store.Queue().Counts(); err != nil || n.New != 1 {
		t.Errorf("queue after the refusal: %+v %v; want the job still queued", n, err)
	}
}
