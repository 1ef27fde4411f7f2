package reader

import "bytes"
import "context"
import "errors"
import "log/slog"
import "strings"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// fakeClock is a verifyMemo clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestMemo(serving uint64) (*verifyMemo, *fakeClock, *bytes.Buffer) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	clock := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	v := newVerifyMemo(log, func() uint64 { return serving })
	v.now = clock.now
	return v, clock, &logs
}

// check runs one refresh's worth of verification of (seq, sum) that fails
// with bad if admitted; it reports whether the snapshot was checked.
func check(t *testing.T, v *verifyMemo, seq uint64, sum uint32, bad error) (checked bool, err error) {
	t.Helper()
	if err := v.admit(seq, sum); err != nil {
		return false, err
	}
	return true, v.done(seq, sum, bad)
}

func warnings(logs *bytes.Buffer) int { return strings.Count(logs.String(), "level=WARN") }

// A failed snapshot is checked again only with backoff: 1s, 2s, 4s ...
// up to verifyRetryMax; refreshes in between get the same error at once;
// the failure is logged as a warning once.
func TestVerifyBackoff(t *testing.T) {
	v, clock, logs := newTestMemo(4)
	bad := snapshot.VerifyError(5, []error{errors.New("snapshot 5: graph.kuzu: checksum mismatch (file is corrupt)")})
	tick := 150 * time.Millisecond
	var checkedAt []time.Duration
	start := clock.t
	for i := 0; i < 30*60*1000/150; i++ { // 30 minutes of ticks
		checked, err := check(t, v, 5, 0xabc, bad)
		var vf *verifyFailure
		if !errors.As(err, &vf) || err.Error() != bad.Error() {
			t.Fatalf("tick %d: %v, want the verification error", i, err)
		}
		if checked {
			checkedAt = append(checkedAt, clock.t.Sub(start))
		}
		clock.advance(tick)
	}
	// Gaps between checks: each at least the backoff, rounded up to a tick.
	want := time.Second
	for i := 1; i < len(checkedAt); i++ {
		gap := checkedAt[i] - checkedAt[i-1]
		if gap < want || gap >= want+tick {
			t.Fatalf("check %d came %s after the previous one, want %s (checks at %v)", i+1, gap, want, checkedAt)
		}
		want = min(2*want, verifyRetryMax)
	}
	if n := len(checkedAt); n < 10 || n > 16 {
		t.Fatalf("%d checks in 30 minutes of 150ms ticks: %v", n, checkedAt)
	}
	st := VerifyStats{Attempts: v.attempts, Deferred: v.deferred}
	if st.Attempts[5] != int64(len(checkedAt)) || st.Deferred != int64(30*60*1000/150-len(checkedAt)) {
		t.Fatalf("stats %+v with %d checks", st, len(checkedAt))
	}
	if n := warnings(logs); n != 1 || !strings.Contains(logs.String(), "checksum mismatch") {
		t.Fatalf("%d warnings, want 1 that says why:\n%s", n, logs)
	}
}

// The same seq with a different manifest, or another seq, is checked at
// once; a success forgets the failure.
func TestVerifyRetryAtOnce(t *testing.T) {
	v, clock, logs := newTestMemo(4)
	bad := errors.New("snapshot 5 failed verification: graph.kuzu: checksum mismatch (file is corrupt)")
	if checked, _ := check(t, v, 5, 1, bad); !checked {
		t.Fatal("first look did not check")
	}
	if checked, _ := check(t, v, 5, 1, bad); checked {
		t.Fatal("checked again at once")
	}
	if checked, _ := check(t, v, 5, 2, bad); !checked {
		t.Fatal("a different manifest for the same seq was not checked at once")
	}
	if checked, _ := check(t, v, 6, 7, bad); !checked {
		t.Fatal("a newer seq was not checked at once")
	}
	if n := warnings(logs); n != 3 {
		t.Fatalf("%d warnings for three different snapshots, want 3:\n%s", n, logs)
	}
	if checked, err := check(t, v, 6, 8, nil); !checked || err != nil {
		t.Fatalf("repaired snapshot: checked %v, %v", checked, err)
	}
	if v.last != nil {
		t.Fatal("success did not forget the failure")
	}
	clock.advance(time.Millisecond)
	if checked, _ := check(t, v, 5, 1, bad); !checked {
		t.Fatal("after a success an earlier failure was still remembered")
	}
	if v.attempts[5] != 3 || v.attempts[6] != 2 {
		t.Fatalf("attempts %v", v.attempts)
	}
}

// Opening (nothing served yet) logs nothing: the caller gets the error.
// A nil memo (JobOutcome) remembers nothing.
func TestVerifyMemoQuietOnOpen(t *testing.T) {
	v, _, logs := newTestMemo(0)
	if _, err := check(t, v, 5, 1, errors.New("bad")); err == nil {
		t.Fatal("no error")
	}
	if logs.Len() != 0 {
		t.Fatalf("logged on open: %s", logs)
	}
	var none *verifyMemo
	for i := 0; i < 3; i++ {
		if err := none.admit(5, 1); err != nil {
			t.Fatal(err)
		}
		if err := none.done(5, 1, errors.New("bad")); err == nil || err.Error() != "bad" {
			t.Fatal(err)
		}
	}
}

// A job's outcome polled without a Reader (LookInStore, behind 'enqueue
// --wait' while another writer holds the lock) checksums the key-value
// files once, not once per poll.
func TestJobOutcomePollsChecksumOnce(t *testing.T) {
	f := newFixture(t)
	f.addEntity(t)
	cur, err := f.store.Current()
	if err != nil {
		t.Fatal(err)
	}
	if !hasBirthTime(f.store.SnapshotDir(cur)) {
		t.Skip("no birth times here: a Verifier trusts nothing")
	}
	v := snapshot.NewVerifier()
	check := func(m *snapshot.Manifest, sums bool) []error { return v.KV(f.store, m, sums) }
	id := "01JZZZZZZZZZZZZZZZZZZZZZZZ"
	var first int64
	for i := 0; i < 5; i++ {
		o, err := jobOutcome(f.store, "full", id, check)
		if err != nil || o.Status != "unknown" {
			t.Fatalf("poll %d: %+v %v", i, o, err)
		}
		if i == 0 {
			first = v.BytesRead()
		}
	}
	if first == 0 || v.BytesRead() != first {
		t.Fatalf("read %d bytes on the first poll, %d after five; want the same, above 0", first, v.BytesRead())
	}
}

// LookInStore answers "pending" from CURRENT alone while CURRENT stays put,
// and reads the outcome again once a commit moves it.
func TestLookInStoreFollowsCurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.addEntity(t)
	id, err := producer.Enqueue(f.store, []byte(`{"ops":[{"op":"kv_put","key":"k","value":"v"}]}`), f.wopts.Limits)
	if err != nil {
		t.Fatal(err)
	}
	look := LookInStore(f.store, "full", id)
	for i := 0; i < 3; i++ {
		if o, err := look(ctx); err != nil || o.Status != model.StatusPending {
			t.Fatalf("look %d before the commit: %+v %v", i, o, err)
		}
	}
	if sum, err := f.w.Commit(ctx, writer.CommitOptions{}); err != nil || sum.Applied != 1 {
		t.Fatalf("commit: %+v %v", sum, err)
	}
	if o, err := look(ctx); err != nil || o.Status != model.StatusApplied {
		t.Fatalf("look after the commit: %+v %v", o, err)
	}
}
