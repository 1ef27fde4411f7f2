package tests

import "encoding/json"
import "os"
import "path/filepath"
import "testing"

import "github.com/memsnap/memsnap/internal/queue"

// Issue 25, done-when 1: a 100 GB sparse job file dropped into queue/new
// (named like a real job, queued before the others) is rejected by its size
// alone, dead-lettered with its reason and a job outcome, and does not hold
// back the jobs claimed with it; the free-space check does not count it.
func TestSparseJobFileIsDeadLettered(t *testing.T) {
	store := newStore(t)
	big := queue.NewID() // sorts before the jobs enqueued after it
	path := filepath.Join(store, "queue", "new", big+queue.Ext)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(path, 100<<30); err != nil {
		t.Skipf("this filesystem cannot hold a 100 GB sparse file: %v", err)
	}
	a := enqueue(t, store, ops(entities(entity("after-a", "t"))))
	b := enqueue(t, store, ops(entities(entity("after-b", "t"))))
	// Nor does the free-space estimate every process makes count it: the
	// writer is not shown blocked for want of 100 GB.
	var st struct {
		Writer struct {
			State string `json:"state"`
			Cause string `json:"cause"`
		} `json:"writer"`
	}
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Writer.State != "ok" {
		t.Fatalf("status with a 100 GB job file queued first: writer %+v; want ok", st.Writer)
	}

	s := commit(t, store)
	if s.Applied != 2 || s.Rejected != 1 || s.QueueLeft != 0 {
		t.Fatalf("commit with a 100 GB job file queued first: %+v; want 2 applied, 1 rejected, nothing left", s)
	}
	for _, id := range []string{a, b} {
		if o := jobOutcome(t, store, id); o.Status != "applied" {
			t.Fatalf("job %s behind the 100 GB file: %+v", id, o)
		}
	}
	o := jobOutcome(t, store, big)
	if o.Status != "rejected" || !contains(o.Reason, "job.max_bytes") {
		t.Fatalf("the 100 GB job file: %+v; want rejected naming job.max_bytes", o)
	}
	dead := filepath.Join(store, "queue", "dead", big+queue.Ext)
	if _, err := os.Stat(dead); err != nil {
		t.Fatalf("the 100 GB job file is not in queue/dead: %v", err)
	}
	if reason, err := os.ReadFile(dead + ".err"); err != nil || !contains(string(reason), "over the limit") {
		t.Fatalf("queue/dead/%s.err: %q %v", big+queue.Ext, reason, err)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 2 {
		t.Fatalf("%d entities, want 2", n)
	}
	// The next commit has nothing left to trip over.
	c := enqueue(t, store, ops(entities(entity("after-c", "t"))))
	if s := commit(t, store); s.Applied != 1 || s.Rejected != 0 {
		t.Fatalf("next commit: %+v", s)
	}
	if o := jobOutcome(t, store, c); o.Status != "applied" {
		t.Fatalf("job %s: %+v", c, o)
	}
	_ = os.Remove(dead) // 100 GB of nothing: do not leave it to the temp directory's cleaner
}
