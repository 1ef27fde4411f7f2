package tests

import "encoding/json"
import "fmt"
import "os"
import "path/filepath"
import "syscall"
import "testing"
import "time"

// enqueue --wait gives read-your-writes with no daemon running: it commits
// the queue itself and prints the outcome.
func TestEnqueueWaitWithoutDaemon(t *testing.T) {
	store := newStore(t)
	out := enqueueWait(t, store, ops(entities(entity("now", "t", "visible"))), "30s")
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

// A running daemon dead-letters files in queue/new not named <job id>.job
// on its own (they count as queued), then applies the good job behind them.
// Before, "X.JOB", "X", "X.job.tmp" and "X.job " stayed there forever.
func TestDaemonDeadLettersBadNames(t *testing.T) {
	store := newStore(t)
	ctx := testContext(t)
	d := daemonCmd(ctx, store, "MEMSNAP_WRITER_COMMIT=@every 1s")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = d.Process.Signal(syscall.SIGTERM)
		_ = d.Wait()
	}()
	newDir := filepath.Join(store, "queue", "new")
	for _, name := range []string{"X.JOB", "X", "X.job.tmp", "X.job "} {
		if err := os.WriteFile(filepath.Join(newDir, name), []byte(`{"ops":[{"op":"kv_put","key":"a","value":"x"}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, ctx, "the daemon to empty queue/new", 100*time.Millisecond, func() bool {
		return len(dirNames(t, newDir)) == 0
	})
	good := enqueue(t, store, ops(entities(entity("behind", "t"))))
	waitUntil(t, ctx, "the daemon to apply the good job", 100*time.Millisecond, func() bool {
		return jobOutcome(t, store, good).Status == "applied"
	})
	if out := mustMemsnap(t, store, nil, "status"); !contains(out, "0 queued") || !contains(out, "4 dead") {
		t.Errorf("status:\n%s", out)
	}
}
