package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memsnap/memsnap/snapshot"
)

// deadlineMargin is how long before go test's own -timeout a test gives up
// on its own, so that it can stop its helper processes and say what it was
// waiting for instead of being killed with a bare goroutine dump.
const deadlineMargin = 20 * time.Second

// testContext is a context for a test's helper processes. It has no fixed
// deadline of its own: it ends when the test ends, or deadlineMargin before
// go test's -timeout would kill the whole binary. A slow machine makes a
// test slower, never makes it fail.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if tt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := tt.Deadline(); ok {
			ctx, cancel = context.WithDeadline(context.Background(), d.Add(-deadlineMargin))
		}
	}
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond every interval until it holds. It has no fixed
// deadline: only go test's -timeout (less deadlineMargin) ends the wait, and
// then the test fails saying what it waited for.
func waitUntil(t testing.TB, ctx context.Context, what string, interval time.Duration, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s (go test -timeout reached)", time.Since(start).Round(time.Second), what)
		case <-time.After(interval):
		}
	}
}

// exitDetail explains a helper process's exit error, telling a kill by the
// test's own deadline apart from a crash.
func exitDetail(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return err.Error() + " (stopped by the test because go test -timeout was near, not a crash)"
	}
	return err.Error()
}

// storeChecks holds the stores whose test has turned the invariant check
// off, with the reason (see skipStoreCheck).
var storeChecks sync.Map // store dir -> reason

// skipStoreCheck turns off newStore's invariant check for a test that leaves
// a store damaged on purpose (corruption, a full disk).
func skipStoreCheck(store, reason string) { storeChecks.Store(store, reason) }

// checkStore is the invariant check that newStore registers with t.Cleanup,
// as bbolt checks every test's database: CURRENT (if any) verifies, nothing
// is left in staging/, and no job is applied twice: a job id appears at most
// once in the batches of CURRENT's lineage, and never both there and in
// queue/new.
func checkStore(t testing.TB, dir string) {
	t.Helper()
	if _, skip := storeChecks.Load(dir); skip || t.Failed() {
		return
	}
	s, err := snapshot.Open(dir)
	if err != nil {
		t.Errorf("store check: %v", err)
		return
	}
	if left, _ := os.ReadDir(s.Path("staging")); len(left) > 0 {
		t.Errorf("store check: staging/ holds %d entries after the test", len(left))
	}
	cur, err := s.Current()
	if err != nil {
		t.Errorf("store check: %v", err)
		return
	}
	if cur == 0 {
		return // nothing published
	}
	if problems := s.Verify(cur); len(problems) > 0 {
		t.Errorf("store check: CURRENT %d does not verify: %v", cur, problems)
	}
	applied := map[string]uint64{} // job id -> snapshot that applied it
	for seq := cur; seq != 0; {
		m, err := s.Manifest(seq)
		if err != nil {
			break // collected by GC: the lineage known here ends
		}
		names, _ := os.ReadDir(filepath.Join(s.SnapshotDir(seq), snapshot.JobsDir))
		for _, n := range names {
			_, id, _ := strings.Cut(strings.TrimSuffix(n.Name(), ".job"), "-")
			if other, dup := applied[id]; dup {
				t.Errorf("store check: job %s applied by snapshots %d and %d", id, other, seq)
			}
			applied[id] = seq
		}
		seq = m.Parent
	}
	queued, _ := os.ReadDir(s.Path("queue", "new"))
	for _, n := range queued {
		if seq, ok := applied[strings.TrimSuffix(n.Name(), ".job")]; ok {
			t.Errorf("store check: job %s is still queued but snapshot %d applied it", n.Name(), seq)
		}
	}
}
