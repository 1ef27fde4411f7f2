package tests

import "encoding/json"
import "fmt"
import "path/filepath"
import "strings"
import "syscall"
import "testing"

// chain is a workload in which re-applying any old job is visible: job k
// creates c-k, deletes c-(k-1) and moves the KV pointer to k. Applied exactly
// once in order, only the last entity exists and the pointer names it.
type chain struct {
	store string
	next  int
	ids   []string // acknowledged job ids, in order
	wm    uint64   // last watermark seen: must never go backwards
	dead  int      // rejected jobs the test put in on purpose
}

// newChain is a chain on a new store (newStore) that has committed n
// steps.
func newChain(t *testing.T, n int) *chain {
	t.Helper()
	c := &chain{store: newStore(t)}
	c.steps(t, n)
	return c
}

// steps enqueues and commits n steps of the chain, one commit each,
// checking the store after each (check).
func (c *chain) steps(t *testing.T, n int) {
	t.Helper()
	for range n {
		c.enqueue(t)
		c.check(t)
	}
}

func (c *chain) enqueue(t *testing.T) {
	t.Helper()
	o := []map[string]any{entities(entity(fmt.Sprintf("c-%04d", c.next), "link", fmt.Sprintf("step %d", c.next)))}
	if c.next > 0 {
		o = append(o, map[string]any{"op": "delete_entities", "entityNames": []string{fmt.Sprintf("c-%04d", c.next-1)}})
	}
	o = append(o, map[string]any{"op": "kv_put", "key": "chain/last", "value": fmt.Sprint(c.next)})
	c.ids = append(c.ids, enqueue(t, c.store, ops(o...)))
	c.next++
}

// check asserts the invariants after a clean commit: every acknowledged job
// applied exactly once, state exactly as the chain predicts, watermark
// monotonic, queue, staging and trash empty, CURRENT verifies and opens.
func (c *chain) check(t *testing.T) {
	t.Helper()
	s := commit(t, c.store)
	if s.QueueLeft != 0 {
		t.Fatalf("queue not drained: %+v", s)
	}
	q := query(t, c.store, "MATCH (e:Entity) RETURN e.name ORDER BY e.name")
	want := [][]any{{fmt.Sprintf("c-%04d", c.next-1)}}
	if fmt.Sprint(q.Rows) != fmt.Sprint(want) {
		t.Fatalf("after %d jobs the graph holds %v, want %v (a job was lost or applied twice)", c.next, q.Rows, want)
	}
	if got := strings.TrimSpace(mustMemsnap(t, c.store, nil, "kv", "get", "chain/last")); got != fmt.Sprint(c.next-1) {
		t.Fatalf("chain/last = %s, want %d", got, c.next-1)
	}
	for _, id := range c.ids {
		if o := jobOutcome(t, c.store, id); o.Status != "applied" {
			t.Fatalf("acknowledged job %s: %+v", id, o)
		}
	}
	var st struct {
		Watermark uint64 `json:"watermark"`
		Queue     struct {
			New, Claimed, Dead int
		} `json:"queue"`
	}
	if err := json.Unmarshal([]byte(mustMemsnap(t, c.store, nil, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Watermark < c.wm {
		t.Fatalf("watermark went back from %d to %d", c.wm, st.Watermark)
	}
	c.wm = st.Watermark
	if st.Queue.New+st.Queue.Claimed != 0 || st.Queue.Dead != c.dead {
		t.Fatalf("queue after clean commit: %+v", st.Queue)
	}
	for _, d := range []string{"staging", "trash", "queue/tmp"} {
		if n := dirNames(t, filepath.Join(c.store, d)); len(n) != 0 {
			t.Fatalf("%s not clean after recovery: %v", d, n)
		}
	}
	mustMemsnap(t, c.store, nil, "snapshots", "verify")
}

// opensReadOnly asserts CURRENT (if any) opens and answers a query.
func opensReadOnly(t *testing.T, store string) {
	t.Helper()
	r := memsnap(t, store, nil, nil, "query", "--json", "MATCH (e:Entity) RETURN count(e)")
	if r.code != 0 && !contains(r.stderr, "nothing published yet") {
		t.Fatalf("CURRENT does not open read-only after a crash: %s", r.stderr)
	}
}

// Done-when 3 (named points): the writer is SIGKILLed after claim, mid-apply,
// after the snapshot rename before CURRENT, and after CURRENT before queue
// cleanup; the next writer recovers with no manual step.
func TestCrashAtFailpoints(t *testing.T) {
	points := []string{"after-claim", "mid-apply", "after-snapshot-rename", "after-current"}
	for _, first := range []bool{true, false} {
		for _, point := range points {
			t.Run(fmt.Sprintf("%s/first=%v", point, first), func(t *testing.T) {
				c := &chain{store: newStore(t)}
				if !first {
					c.enqueue(t)
					c.enqueue(t)
					c.check(t)
				}
				for i := 0; i < 3; i++ {
					c.enqueue(t)
				}
				r := memsnap(t, c.store, nil, []string{"MEMSNAP_FAILPOINT=" + point}, "commit")
				if r.signal != syscall.SIGKILL {
					t.Fatalf("writer was not killed at %s: exit %d signal %v: %s", point, r.code, r.signal, r.stderr)
				}
				opensReadOnly(t, c.store)
				c.enqueue(t) // producers keep going while nobody writes
				c.check(t)
			})
		}
	}
}

// The steps of a recycled stage and of the chunk table: the writer is
// SIGKILLed after it moved the snapshot it recycles into staging, between
// replayed batches, after the replay before the batch, and while
// checksumming the new graph's chunks. The next writer recovers with no
// manual step: nothing lost, nothing applied twice, every snapshot left
// verifies, and no more than gc.keep (3) stay on disk.
func TestCrashWhileRecycling(t *testing.T) {
	for _, point := range []string{"after-recycle-move", "mid-replay", "after-replay", "mid-chunk-sums"} {
		t.Run(point, func(t *testing.T) {
			c := newChain(t, 3) // snapshots 1-3: the next commit recycles 1
			c.enqueue(t)
			r := memsnap(t, c.store, nil, []string{"MEMSNAP_FAILPOINT=" + point}, "commit")
			if r.signal != syscall.SIGKILL {
				t.Fatalf("writer was not killed at %s: exit %d signal %v: %s", point, r.code, r.signal, r.stderr)
			}
			opensReadOnly(t, c.store)
			c.enqueue(t)
			c.check(t)
			c.enqueue(t)
			out := mustMemsnap(t, c.store, nil, "commit")
			var s struct {
				Stages []struct {
					Method string `json:"method"`
				} `json:"stages"`
			}
			if err := json.Unmarshal([]byte(out), &s); err != nil || len(s.Stages) != 1 || s.Stages[0].Method != "recycled" {
				t.Fatalf("commit after recovery did not recycle: %s (%v)", out, err)
			}
			c.check(t)
			if n := dirNames(t, filepath.Join(c.store, "snapshots")); len(n) > 3 {
				t.Fatalf("%d snapshots on disk with gc.keep 3: %v", len(n), n)
			}
		})
	}
}
