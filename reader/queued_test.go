package reader

import "fmt"
import "log/slog"
import "os"
import "path/filepath"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"

// newTestQueue makes an empty spool under a temporary directory.
func newTestQueue(t *testing.T) *queue.Queue {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "queue")
	for _, sub := range queue.Subdirs {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return queue.New(dir)
}

// enqueueEntity queues a job creating entity name and returns its id.
func enqueueEntity(t *testing.T, q *queue.Queue, name string) string {
	t.Helper()
	id := queue.NewID()
	job := fmt.Sprintf(`{"ops":[{"op":"create_entities","entities":[{"name":%q,"entityType":"t","observations":[]}]}]}`, name)
	if err := q.Enqueue(id, []byte(job)); err != nil {
		t.Fatal(err)
	}
	return id
}

// waitState waits, up to a minute, until the watch's state (as its
// background scans left it: state does not scan) satisfies ok.
func waitState(t *testing.T, w *queueWatch, what string, ok func(queueState) bool) queueState {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st := w.state()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never seen; state %+v", what, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func holds(st queueState, id string, claim uint64) bool {
	for _, j := range st.jobs {
		if j.id == id && j.claim == claim && j.job != nil {
			return true
		}
	}
	return false
}

// The queue watch follows queue/new and queue/cur by their events: a job
// acknowledged, then claimed (renamed into cur/ under its claim seq), then
// removed (the writer published it). A job whose event was missed (written before
// the watch started) is found by the rescan, and a read that finds the
// directories changed since the last scan scans itself.
func TestQueueWatchFollowsEventsAndRescans(t *testing.T) {
	q := newTestQueue(t)
	log := slog.New(slog.DiscardHandler)
	w := newQueueWatch(q, model.Limits{}, log)
	w.start(make(chan time.Time))
	a := enqueueEntity(t, q, "a")
	waitState(t, w, "a job created in queue/new", func(st queueState) bool { return holds(st, a, 0) })
	claimed := filepath.Join(q.CurDir(), fmt.Sprintf("%016d-%s%s", 7, a, queue.Ext))
	if err := os.Rename(q.NewPath(a), claimed); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, "the job claimed into queue/cur", func(st queueState) bool { return holds(st, a, 7) })
	if err := os.Remove(claimed); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, "the job removed", func(st queueState) bool { return !holds(st, a, 7) })
	w.close()

	// A missed event: the job is queued after the last scan and before
	// the watch starts.
	w = newQueueWatch(q, model.Limits{}, log)
	if err := w.scan(); err != nil {
		t.Fatal(err)
	}
	missed := enqueueEntity(t, q, "missed")
	tick := make(chan time.Time)
	w.start(tick)
	defer w.close()
	if holds(w.state(), missed, 0) {
		t.Fatalf("the job queued before the watch started is seen without a rescan: the test misses nothing")
	}
	tick <- time.Now()
	waitState(t, w, "the missed job after a rescan", func(st queueState) bool { return holds(st, missed, 0) })

	// Reads look at the directories' modification times: a job whose
	// event is not handled yet is read all the same.
	idle := newQueueWatch(q, model.Limits{}, log) // never started: no events at all
	if _, err := idle.current(); err != nil {
		t.Fatal(err)
	}
	b := enqueueEntity(t, q, "b")
	st, err := idle.current()
	if err != nil || !holds(st, b, 0) || !holds(st, missed, 0) {
		t.Errorf("a read after a job was queued: %+v, %v", st, err)
	}
	if st.jobs[len(st.jobs)-1].id != b {
		t.Errorf("queue/new's jobs not in id order: the last is %s, want %s", st.jobs[len(st.jobs)-1].id, b)
	}
}

// A job renamed into queue/new after a scan listed it, in the same tick of
// the file system's clock (here: the directory's time put back to what
// the scan saw, a time later than the scan's start), leaves the
// directory's time unchanged; the next read still finds the job, because
// a scan that saw so recent a time does not vouch for it.
func TestQueueWatchRescansARacyDirectory(t *testing.T) {
	q := newTestQueue(t)
	w := newQueueWatch(q, model.Limits{}, slog.New(slog.DiscardHandler))
	tick := time.Now().Add(time.Second).Truncate(time.Millisecond)
	if err := os.Chtimes(q.NewDir(), tick, tick); err != nil {
		t.Fatal(err)
	}
	if st, err := w.current(); err != nil || len(st.jobs) != 0 {
		t.Fatalf("empty queue: %+v, %v", st, err)
	}
	id := enqueueEntity(t, q, "same-tick")
	if err := os.Chtimes(q.NewDir(), tick, tick); err != nil {
		t.Fatal(err)
	}
	st, err := w.current()
	if err != nil || !holds(st, id, 0) {
		t.Fatalf("a job queued in the tick of the last scan: %+v, %v; want it read", st, err)
	}
}
