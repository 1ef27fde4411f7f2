package tests

import "fmt"
import "os"
import "path/filepath"
import "slices"
import "sync"
import "testing"
import "time"

// chainJob is producer p's k-th job: a new entity linked to the previous one,
// and the producer's KV pointer moved to it.
func chainJob(p, k int) map[string]any {
	name := fmt.Sprintf("p%d-e%03d", p, k)
	o := []map[string]any{entities(entity(name, "memory", fmt.Sprintf("written by producer %d", p)))}
	if k > 0 {
		o = append(o, map[string]any{"op": "create_relations", "relations": []map[string]any{
			{"from": name, "to": fmt.Sprintf("p%d-e%03d", p, k-1), "relationType": "follows"}}})
	}
	o = append(o, map[string]any{"op": "kv_put", "key": fmt.Sprintf("p%d/last", p), "value": name})
	return ops(o...)
}

// Done-when 2: 4 long-lived reader processes query in a loop, 3 producer
// processes enqueue, the writer commits (and GC runs) at least 20 times
// meanwhile: zero reader errors, every job applied exactly once, exact counts.
func TestManyProcesses(t *testing.T) {
	store := newStore(t)
	const producers, jobsEach, readers = 3, 25, 4
	ctx := testContext(t)

	ready := t.TempDir()
	bg := startBackground(t, ctx, store, t.TempDir(), slices.Repeat([]string{"reader"}, readers), "MEMSNAP_TEST_READY="+ready)
	// Every reader serves a snapshot before the first commit: each must
	// then swap at least once.
	for len(dirNames(t, ready)) < readers {
		if ctx.Err() != nil {
			t.Fatalf("readers never started: %d of %d ready", len(dirNames(t, ready)), readers)
		}
		time.Sleep(10 * time.Millisecond)
	}

	ids := make([][]string, producers)
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < jobsEach; k++ {
				ids[p] = append(ids[p], enqueue(t, store, chainJob(p, k)))
			}
		}()
	}
	producing := make(chan struct{})
	go func() { wg.Wait(); close(producing) }()

	published, commits := 0, 0
	gcEnv := []string{"MEMSNAP_GC_KEEP=1"}
	for done := false; !done; {
		select {
		case <-producing:
			done = true
		default:
		}
		s := commit(t, store, "--max-jobs", "3") // 75 jobs, <= 3 per snapshot: >= 25 snapshots
		commits++
		published += len(s.Snapshots)
		if r := memsnap(t, store, nil, gcEnv, "snapshots", "gc"); r.code != 0 {
			t.Fatalf("gc: %s", r.stderr)
		}
	}
	for s := commit(t, store, "--max-jobs", "3"); s.Batches > 0; s = commit(t, store, "--max-jobs", "3") {
		published += len(s.Snapshots)
		commits++
	}
	if published < 20 {
		t.Fatalf("writer published only %d snapshots while readers ran; want at least 20", published)
	}
	final := mustUint(t, currentSeq(t, store))
	bg.stop() // each reader refreshes once more, onto the final snapshot

	var totalQueries int64
	for i, err := range bg.errs {
		if err != nil {
			t.Fatalf("reader %d: %s", i, exitDetail(ctx, err))
		}
		var st readerStats
		bg.report(t, i, &st)
		t.Logf("reader %d: %d queries, %d refreshes, %d errors, last snapshot %d", i, st.Queries, st.Refreshes, st.Errors, st.LastSeq)
		if st.Refreshes < 1 || st.LastSeq != final {
			t.Errorf("reader %d swapped %d times and serves snapshot %d; want at least once and the final snapshot %d", i, st.Refreshes, st.LastSeq, final)
		}
		if st.Errors != 0 || st.Regressed != 0 {
			t.Errorf("reader %d: %d errors (first: %s), %d count regressions", i, st.Errors, st.FirstError, st.Regressed)
		}
		totalQueries += st.Queries
	}
	t.Logf("%d commit processes, %d snapshots published, %d reader queries", commits, published, totalQueries)

	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != producers*jobsEach {
		t.Errorf("entities: got %d, want %d", n, producers*jobsEach)
	}
	if n := queryInt(t, store, "MATCH ()-[r:Relation]->() RETURN count(r)"); n != producers*(jobsEach-1) {
		t.Errorf("relations: got %d, want %d", n, producers*(jobsEach-1))
	}
	for p := 0; p < producers; p++ {
		got := mustMemsnap(t, store, nil, "kv", "get", fmt.Sprintf("p%d/last", p))
		if want := fmt.Sprintf("p%d-e%03d\n", p, jobsEach-1); got != want {
			t.Errorf("p%d/last = %q, want %q", p, got, want)
		}
		for _, id := range ids[p] {
			if o := jobOutcome(t, store, id); o.Status != "applied" {
				t.Errorf("job %s: %+v", id, o)
			}
		}
	}
	if q := dirNames(t, filepath.Join(store, "queue", "new")); len(q) != 0 {
		t.Errorf("queue not drained: %v", q)
	}
}

// Done-when 4: a second writer fails at once naming the holder (pid, host,
// start time), or waits up to its lock timeout; once the holder is killed,
// the next writer gets the lock at once.
func TestWriterLock(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("a", "t"))))
	holder := helperCmd(testContext(t), "lockholder", store)
	out := pipe(t, holder.StdoutPipe)
	holder.Stderr = os.Stderr
	mustStart(t, holder)
	line := make([]byte, 7)
	if _, err := out.Read(line); err != nil || string(line) != "locked\n" {
		t.Fatalf("lock holder did not take the lock: %q %v", line, err)
	}

	r := memsnap(t, store, nil, nil, "commit", "--lock-timeout", "0")
	if r.code != 3 {
		t.Fatalf("commit under a held lock: exit %d, want 3 (locked): %s", r.code, r.stderr)
	}
	host, _ := os.Hostname()
	for _, want := range []string{fmt.Sprintf("pid %d", holder.Process.Pid), "on " + host, "since 20"} {
		if !contains(r.stderr, want) {
			t.Errorf("lock error %q does not say %q", r.stderr, want)
		}
	}
	st := mustMemsnap(t, store, nil, "status", "--json")
	if !contains(st, fmt.Sprintf(`"pid":%d`, holder.Process.Pid)) || !contains(st, `"locked":true`) {
		t.Errorf("status does not name the holder: %s", st)
	}

	start := time.Now()
	r = memsnap(t, store, nil, nil, "commit", "--lock-timeout", "400ms")
	if waited := time.Since(start); r.code != 3 || waited < 400*time.Millisecond {
		t.Fatalf("commit with a 400ms lock timeout: exit %d after %s: %s", r.code, waited, r.stderr)
	}

	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	s := commit(t, store, "--lock-timeout", "0") // no stale lock: succeeds at once
	if s.Applied != 1 {
		t.Fatalf("after the holder died: %+v", s)
	}
	if st := mustMemsnap(t, store, nil, "status", "--json"); !contains(st, `"locked":false`) {
		t.Errorf("status after release: %s", st)
	}
}
