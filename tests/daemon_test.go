package tests

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// enqueue --wait gives read-your-writes with no daemon running: it commits
// the queue itself and prints the outcome.
func TestEnqueueWaitWithoutDaemon(t *testing.T) {
	store := newStore(t)
	job, _ := json.Marshal(ops(entities(entity("now", "t", "visible"))))
	out := mustMemsnap(t, store, job, "enqueue", "--wait=30s")
	var o outcome
	if err := json.Unmarshal([]byte(out), &o); err != nil || o.Status != "applied" || o.Snapshot != 2 { // 1 is init's empty snapshot
		t.Fatalf("enqueue --wait printed %q (%v)", out, err)
	}
	if n := queryInt(t, store, "MATCH (e:Entity {name: 'now'}) RETURN count(e)"); n != 1 {
		t.Fatalf("the job is not visible right after --wait returned")
	}
	// A job that fails at apply time: --wait reports the rejection, exit 1.
	bad, _ := json.Marshal(ops(map[string]any{"op": "add_observations", "observations": []map[string]any{{"entityName": "nope", "contents": []string{"x"}}}}))
	r := memsnap(t, store, bad, nil, "enqueue", "--wait")
	if r.code != 1 || !contains(r.stderr, "rejected: op 0 (add_observations): Entity with name nope not found") || !contains(r.stdout, `"status":"rejected"`) {
		t.Fatalf("rejected job under --wait: exit %d, out %q, err %q", r.code, r.stdout, r.stderr)
	}
}

// The daemon commits on its schedule, collects garbage, and stops cleanly
// (exit 0) on SIGTERM.
func TestDaemonSchedules(t *testing.T) {
	store := newStore(t)
	ctx := testContext(t)
	d := daemonCmd(ctx, store, "MEMSNAP_WRITER_COMMIT=@every 1s", "MEMSNAP_GC_SCHEDULE=@every 1s", "MEMSNAP_GC_KEEP=1")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, enqueue(t, store, ops(entities(entity("d"+string(rune('a'+i)), "t")))))
		waitUntil(t, ctx, fmt.Sprintf("the daemon to apply job %d", i), 100*time.Millisecond, func() bool {
			return jobOutcome(t, store, ids[i]).Status == "applied"
		})
	}
	// GC on schedule: with keep=1 only CURRENT remains, eventually.
	waitUntil(t, ctx, "daemon gc to leave only CURRENT", 100*time.Millisecond, func() bool {
		return len(dirNames(t, store+"/snapshots")) == 1
	})
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("daemon did not exit cleanly on SIGTERM: %v", err)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 3 {
		t.Fatalf("entities: %d", n)
	}
}
