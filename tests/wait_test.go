package tests

import "context"
import "sync"
import "testing"
import "time"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"

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
// as bbolt checks every test's database: snapshot's Store.Check, with no
// writer at work (the test's processes have stopped): CURRENT (if any)
// verifies, nothing is left in staging/, and no job is applied twice: a job
// id appears at most once in the batches of CURRENT's lineage, and never
// both there and in queue/new.
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
	r, err := s.Check(context.Background(), snapshot.CheckOptions{Idle: snapshot.NoWriter, Content: reader.CheckContent(config.Default().MaxDBMB)})
	if err != nil {
		t.Errorf("store check: %v", err)
		return
	}
	for _, f := range r.Findings {
		t.Errorf("store check: %v", f)
	}
}
