package tests

import "fmt"
import "os"
import "path/filepath"
import "strings"
import "testing"

// storeState is what a fault must not change: CURRENT and the jobs waiting.
type storeState struct {
	current string
	queued  int // queue/new + queue/cur
}

func stateOf(t *testing.T, store string) storeState {
	t.Helper()
	cur, err := os.ReadFile(filepath.Join(store, "CURRENT"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return storeState{current: string(cur),
		queued: len(dirNames(t, filepath.Join(store, "queue", "new"))) + len(dirNames(t, filepath.Join(store, "queue", "cur")))}
}

// oneLineError asserts a failed run printed one clear error line naming want.
func oneLineError(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != 1 || r.signal != 0 {
		t.Fatalf("exit %d signal %v, want exit 1; stderr %q", r.code, r.signal, r.stderr)
	}
	// Log lines (time=... level=...) may come first; the error is the one
	// line that starts with "memsnap: ", and it is the last.
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "time=") {
			t.Fatalf("error is not one clear line: %q", r.stderr)
		}
	}
	if !strings.HasPrefix(last, "memsnap: ") {
		t.Fatalf("error is not one clear line: %q", r.stderr)
	}
	if !contains(last, want) {
		t.Fatalf("error %q does not name the step %q", last, want)
	}
}

// Done-when 2: every injected I/O fault at every step of the write path
// (enqueue, claim, staging copy, fsync, rename, CURRENT swap, cleanup, GC)
// fails with a clear error naming the step and leaves CURRENT unchanged and
// the jobs queued; once the fault clears the next run succeeds and every job
// is applied exactly once.
func TestInjectedFaults(t *testing.T) {
	type fault struct {
		name, spec, cmd, want string
		// published: the fault hits after CURRENT was renamed, so CURRENT
		// moves (durability of the swap is what failed), and the jobs are
		// applied; nothing may be lost or doubled.
		published bool
	}
	// warnings are the faults that hit only garbage (trash/): the command
	// succeeds and says so in one warning line naming want.
	warnings := map[string]bool{"gc remove EIO": true}
	faults := []fault{
		{"enqueue create ENOSPC", "create@queue/tmp=ENOSPC", "enqueue", "enqueue: create job file", false},
		{"enqueue write ENOSPC", "write@queue/tmp=ENOSPC", "enqueue", "enqueue: write job file: write", false},
		{"enqueue write EIO", "write@queue/tmp=EIO", "enqueue", "input/output error", false},
		{"enqueue fsync EIO", "sync@queue/tmp=EIO", "enqueue", "enqueue: fsync job file", false},
		{"enqueue rename EIO", "rename@queue/tmp=EIO", "enqueue", "enqueue: move job into queue/new", false},
		{"enqueue dir fsync EIO", "syncdir@queue/new=EIO", "enqueue", "enqueue: fsync queue/new (job not queued)", false},
		{"claim rename EIO", "rename@queue/new=EIO", "commit", "claim", false},
		{"claim dir fsync EIO", "syncdir@queue/cur=EIO", "commit", "claim: sync dir", false},
		{"staging mkdir ENOSPC", "mkdir@staging/next=ENOSPC", "commit", "create staging", false},
		{"staging reflink EIO", "clone@graph.kuzu=EIO", "commit", "stage graph: reflink", false},
		{"staging copy ENOSPC", "copy@graph.kuzu=ENOSPC", "commit", "stage graph: copy", false},
		{"staging copy EIO", "copy@graph.kuzu=EIO", "commit", "stage graph: copy", false},
		{"staging kv link EIO", "link@staging/next/kv=EIO", "commit", "stage kv: link", false},
		{"staging kv copy ENOSPC", "copy@staging/next/kv=ENOSPC", "commit", "stage kv", false},
		{"publish fsync EIO", "sync@staging/next/graph.kuzu=EIO", "commit", "publish: fsync", false},
		{"publish manifest ENOSPC", "write@MANIFEST.json.tmp=ENOSPC", "commit", "publish: write manifest", false},
		{"publish manifest fsync EIO", "sync@MANIFEST.json.tmp=EIO", "commit", "publish: write manifest: fsync", false},
		{"publish rename EIO", "rename@staging/next ->=EIO", "commit", "publish: rename staging to", false},
		{"publish dir fsync EIO", "syncdir@/snapshots$=EIO", "commit", "publish: sync dir", false},
		{"CURRENT write ENOSPC", "write@CURRENT.tmp=ENOSPC", "commit", "swap CURRENT", false},
		{"CURRENT fsync EIO", "sync@CURRENT.tmp=EIO", "commit", "swap CURRENT", false},
		{"CURRENT rename EIO", "rename@CURRENT.tmp=EIO", "commit", "rename CURRENT.tmp over CURRENT", false},
		{"CURRENT dir fsync EIO", "syncdir@/store$=EIO", "commit", "is current, but swap CURRENT", true},
		{"cleanup remove EIO", "remove@queue/cur/=EIO", "commit", "remove applied job", true},
		{"dead-letter rename EIO", "rename@queue/dead=EIO", "commit", "dead-letter", true},
		{"dead-letter write ENOSPC", "write@queue/dead=ENOSPC", "commit", "dead-letter", true},
		{"gc rename EIO", "rename@trash=EIO", "gc", "gc: move snapshot", false},
		{"gc remove EIO", "remove@trash/=EIO", "gc", "gc: empty trash", false},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel() // each fault has its own store; go test -parallel bounds how many run
			// Two snapshots, so GC has one to collect with keep=1.
			c := newChain(t, 2)
			c.enqueue(t)
			// A job that fails at apply time, so the batch dead-letters one.
			enqueue(t, c.store, ops(map[string]any{"op": "add_observations", "observations": []map[string]any{{"entityName": "ghost", "contents": []string{"boo"}}}}))
			c.dead = 1
			c.enqueue(t)
			before := stateOf(t, c.store)
			env := []string{"MEMSNAP_FSFAULT=" + f.spec, "MEMSNAP_GC_KEEP=1"}
			var r result
			switch f.cmd {
			case "enqueue":
				r = memsnap(t, c.store, []byte(`{"ops":[{"op":"kv_put","key":"never","value":"x"}]}`), env, "enqueue")
			case "commit":
				r = memsnap(t, c.store, nil, env, "commit")
			case "gc":
				r = memsnap(t, c.store, nil, env, "snapshots", "gc")
			}
			if warnings[f.name] {
				if line := strings.TrimSpace(r.stderr); r.code != 0 || strings.Contains(line, "\n") || !strings.HasPrefix(line, "memsnap: warning: ") || !contains(line, f.want) {
					t.Fatalf("exit %d, stderr %q; want exit 0 and one warning line naming %q", r.code, r.stderr, f.want)
				}
			} else {
				oneLineError(t, r, f.want)
			}
			after := stateOf(t, c.store)
			if f.published {
				if after.current == before.current {
					t.Fatalf("expected the swap to have landed; CURRENT still %q", after.current)
				}
			} else if after != before {
				t.Fatalf("fault changed the store: before %+v, after %+v", before, after)
			}
			if n := dirNames(t, filepath.Join(c.store, "queue", "tmp")); len(n) != 0 {
				t.Fatalf("a failed enqueue left %v in queue/tmp", n)
			}
			opensReadOnly(t, c.store)
			mustMemsnap(t, c.store, nil, "snapshots", "verify")
			// The fault clears: the next writer finishes the work.
			c.enqueue(t)
			c.check(t)
			if r := memsnap(t, c.store, nil, nil, "kv", "get", "never"); !contains(r.stderr, "not found") {
				t.Fatalf("a job whose enqueue failed was applied: %+v", r)
			}
			if f.cmd == "gc" {
				mustMemsnap(t, c.store, nil, "snapshots", "gc")
			}
		})
	}
}

// Faults while recycling: the rename that unpublishes the recycled snapshot
// and the fsync of snapshots/ after it fail with an error naming the step,
// CURRENT and the queue stay as they were, and the next commit applies
// every job exactly once.
// (Snapshot 1 is the empty one init publishes; 2 is the oldest commit.)
func TestRecycleFaults(t *testing.T) {
	for _, f := range []struct{ name, spec, want string }{
		{"unpublish rename EIO", "rename@staging/recycle=EIO", "recycle snapshot 2"},
		{"unpublish dir fsync EIO", "syncdir@/snapshots$=EIO:1", "recycle snapshot 2"},
	} {
		t.Run(f.name, func(t *testing.T) {
			c := newChain(t, 3)
			c.enqueue(t)
			before := stateOf(t, c.store)
			r := memsnap(t, c.store, nil, []string{"MEMSNAP_FSFAULT=" + f.spec}, "commit")
			oneLineError(t, r, f.want)
			if after := stateOf(t, c.store); after != before {
				t.Fatalf("fault changed the store: %+v -> %+v", before, after)
			}
			c.check(t)
		})
	}
}

// Garbage the system refuses to delete never stops a commit: trash/
// entries that fail to delete (here EIO on every removal under trash/,
// as Wine 8.0 answers Go's os.RemoveAll) stay for a later pass while
// commits publish and collect; a staging leftover that fails to delete is
// moved to trash/. Once removal works again, GC empties trash/.
func TestUndeletableGarbageDoesNotStopCommits(t *testing.T) {
	store := newStore(t)
	env := []string{"MEMSNAP_FSFAULT=remove@trash=EIO", "MEMSNAP_GC_KEEP=1"}
	for k := range 4 {
		enqueue(t, store, ops(entities(entity(fmt.Sprintf("g%d", k), "t"))))
		if r := memsnap(t, store, nil, env, "commit"); r.code != 0 {
			t.Fatalf("commit %d with trash/ undeletable: exit %d: %s", k, r.code, r.stderr)
		}
	}
	if len(dirNames(t, filepath.Join(store, "trash"))) == 0 {
		t.Fatal("the fault left nothing in trash/: the test checks nothing")
	}

	// A leftover in staging/ (a writer killed mid-stage) that cannot be deleted.
	if err := os.MkdirAll(filepath.Join(store, "staging", "leftover", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	enqueue(t, store, ops(entities(entity("g4", "t"))))
	env = []string{"MEMSNAP_FSFAULT=remove@staging=EIO,remove@trash=EIO", "MEMSNAP_GC_KEEP=1"}
	if r := memsnap(t, store, nil, env, "commit"); r.code != 0 {
		t.Fatalf("commit with an undeletable staging leftover: exit %d: %s", r.code, r.stderr)
	}
	if left := dirNames(t, filepath.Join(store, "staging")); len(left) != 0 {
		t.Errorf("staging/ after the commit: %v", left)
	}

	if r := memsnap(t, store, nil, []string{"MEMSNAP_GC_KEEP=1"}, "snapshots", "gc"); r.code != 0 {
		t.Fatalf("gc once removal works: exit %d: %s", r.code, r.stderr)
	}
	if left := dirNames(t, filepath.Join(store, "trash")); len(left) != 0 {
		t.Errorf("trash/ after a gc that can delete: %v", left)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 5 {
		t.Errorf("entities: %d, want 5", n)
	}
}
