package tests

import "context"
import "encoding/json"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strconv"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/internal/testutil"

// repairAnswer is what 'memsnap snapshots repair' prints.
type repairAnswer struct {
	From     uint64 `json:"from"`
	Problem  string `json:"problem"`
	Target   uint64 `json:"target"`
	Current  uint64 `json:"current"`
	Done     string `json:"done"`
	Rollback *struct {
		Requeued []string `json:"requeued"`
	} `json:"rollback"`
}

func repair(t *testing.T, store string, args ...string) repairAnswer {
	t.Helper()
	return decodeAnswer[repairAnswer](t, "repair answer", mustMemsnap(t, store, nil, append([]string{"snapshots", "repair"}, args...)...))
}

// refusedCommit runs a commit that must refuse because of CURRENT, saying
// want and naming the repair command, and change nothing on disk.
func refusedCommit(t *testing.T, store, want string) {
	t.Helper()
	r := refused(t, store, want, "commit")
	if !contains(r.stderr, "nothing deleted") {
		t.Fatalf("the refusal does not say nothing was deleted: %s", r.stderr)
	}
	refusedStatus(t, store, want)
}

// refused runs memsnap args, which must refuse because of CURRENT: one
// line saying want and naming the repair command, and snapshots/, CURRENT
// and the queue as they were. It returns the run for further checks.
func refused(t *testing.T, store, want string, args ...string) result {
	t.Helper()
	snaps := dirNames(t, filepath.Join(store, "snapshots"))
	before := stateOf(t, store)
	r := memsnap(t, store, nil, nil, args...)
	oneLineError(t, r, want)
	if !contains(r.stderr, "memsnap snapshots repair") {
		t.Fatalf("memsnap %v: the refusal does not name the repair command: %s", args, r.stderr)
	}
	if after := dirNames(t, filepath.Join(store, "snapshots")); !slices.Equal(after, snaps) {
		t.Fatalf("a refused %v changed the snapshots: %v -> %v", args, snaps, after)
	}
	if after := stateOf(t, store); after != before {
		t.Fatalf("a refused %v changed the store: %+v -> %+v", args, before, after)
	}
	return r
}

// refusedStatus checks that 'memsnap status' shows the refusal (cause want
// and the repair command), in text and as JSON, and exits 1.
func refusedStatus(t *testing.T, store, want string) {
	t.Helper()
	r := memsnap(t, store, nil, nil, "status")
	if r.code != 1 || !contains(r.stdout, "failing:   commit: ") || !contains(r.stdout, want) || !contains(r.stdout, "Run 'memsnap snapshots repair'") {
		t.Fatalf("status while commits are refused: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	oneLineError(t, r, "memsnap snapshots repair")
	r = memsnap(t, store, nil, nil, "status", "--json")
	var st struct {
		Writer struct{ State, Cause, Hint string } `json:"writer"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 1 {
		t.Fatalf("status --json while commits are refused: exit %d %q: %v", r.code, r.stdout, err)
	}
	if w := st.Writer; w.State != "failing" || !contains(w.Cause, want) || !contains(w.Hint, "memsnap snapshots repair") {
		t.Fatalf("status --json while commits are refused: writer %+v; want failing with %q and the repair", w, want)
	}
}

// refusedInit runs 'memsnap init' on a store whose CURRENT must be
// repaired: it refuses, saying want and naming the repair, and changes
// nothing (it used to say "store ready").
func refusedInit(t *testing.T, store, want string) {
	t.Helper()
	if r := refused(t, store, want, "init"); contains(r.stdout, "store ready") {
		t.Fatalf("init with CURRENT to repair: %s%s", r.stdout, r.stderr)
	}
}

// Issue 25, done-when 1: CURRENT rewritten to an older published snapshot.
// The commit refuses, naming the repair command, and deletes nothing (it
// used to remove the newer snapshots and reuse their numbers, losing the
// acknowledged jobs they held); the acknowledged job queued meanwhile stays
// queued; 'memsnap snapshots repair' points CURRENT back at the newest
// published snapshot, and every job is then applied exactly once.
func TestCurrentMovedBack(t *testing.T) {
	c := newChain(t, 1)
	old := currentSeq(t, c.store)
	c.steps(t, 2)
	newest := currentSeq(t, c.store)
	writeCurrent(t, c.store, mustUint(t, old))
	c.enqueue(t) // acknowledged while CURRENT is wrong
	refusedCommit(t, c.store, "CURRENT names snapshot "+old+", older than snapshots")
	refusedInit(t, c.store, "CURRENT names snapshot "+old+", older than snapshots")
	if st := stateOf(t, c.store); st.queued != 1 {
		t.Fatalf("the job acknowledged meanwhile is not queued: %+v", st)
	}
	// Readers refuse it too: it would serve an older state than one
	// already served.
	refused(t, c.store, "CURRENT names snapshot "+old+", older than snapshots", "query", "MATCH (e:Entity) RETURN count(e)")
	// A rollback from the moved-back CURRENT would drop the newer
	// snapshots' jobs: refused too, pointing at the repair.
	rb := memsnap(t, c.store, nil, nil, "snapshots", "rollback", "1")
	oneLineError(t, rb, "memsnap snapshots repair")

	r := repair(t, c.store)
	if r.From != mustUint(t, old) || r.Current != mustUint(t, newest) || r.Target != r.Current || !contains(r.Problem, "older than") {
		t.Fatalf("repair: %+v; want CURRENT back at %s", r, newest)
	}
	if currentSeq(t, c.store) != newest {
		t.Fatalf("CURRENT is %s after the repair, want %s", currentSeq(t, c.store), newest)
	}
	c.check(t) // every acknowledged job applied exactly once, the chain intact
	if r := repair(t, c.store); !contains(r.Done, "nothing to do") {
		t.Fatalf("repair of a sound CURRENT: %+v", r)
	}
}

// Issue 25, done-when 1: CURRENT naming a snapshot that does not exist (99)
// or missing altogether: the commit refuses, naming the repair command,
// and the repair restores service.
func TestCurrentNamesMissingSnapshot(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"seq 99", "99\n", "CURRENT names snapshot 99, which does not exist"},
		{"no file", "", "there is no CURRENT file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChain(t, 2)
			newest := currentSeq(t, c.store)
			if tc.content == "" {
				if err := os.Remove(filepath.Join(c.store, "CURRENT")); err != nil {
					t.Fatal(err)
				}
			} else {
				writeCurrent(t, c.store, 99)
			}
			c.enqueue(t)
			refusedCommit(t, c.store, tc.want)
			if tc.content != "" { // a read names the missing snapshot and the repair
				r := memsnap(t, c.store, nil, nil, "kv", "get", "k")
				oneLineError(t, r, "read: CURRENT names snapshot 99, which does not exist. Run 'memsnap snapshots repair'")
				refusedInit(t, c.store, tc.want)
			}
			if tc.content == "" { // init must not publish an empty snapshot over them either
				r := memsnap(t, c.store, nil, nil, "init")
				oneLineError(t, r, "there is no CURRENT file")
			}
			r := repair(t, c.store)
			if r.Current != mustUint(t, newest) {
				t.Fatalf("repair: %+v; want CURRENT at %s", r, newest)
			}
			c.check(t)
		})
	}
}

// Issue 25, done-when 1: when the newest published snapshot fails
// verification, the repair steps back to the newest one that verifies as
// a rollback would: the jobs applied after it are queued again, none lost.
func TestRepairSkipsDamagedSnapshot(t *testing.T) {
	c := newChain(t, 3)
	good := currentSeq(t, c.store)
	c.enqueue(t)
	c.check(t)
	bad := currentSeq(t, c.store)
	testutil.FlipByte(t, filepath.Join(snapDir(c.store, bad), "graph.kuzu"), testutil.Middle)
	writeCurrent(t, c.store, 99)
	r := repair(t, c.store)
	if r.Target != mustUint(t, good) || r.Rollback == nil || len(r.Rollback.Requeued) != 1 || r.Current <= mustUint(t, bad) {
		t.Fatalf("repair past damaged snapshot %s: %+v; want a rollback to %s with one job queued again", bad, r, good)
	}
	c.check(t)
}

// A snapshot a writer renamed into place but never published (killed at
// after-snapshot-rename or before-current) is a provable leftover: its
// batch is still claimed. The next commit removes it and applies the
// batch again, once.
func TestCrashLeftoverRemoved(t *testing.T) {
	for _, point := range []string{"after-snapshot-rename", "before-current"} {
		t.Run(point, func(t *testing.T) {
			c := newChain(t, 1)
			cur := currentSeq(t, c.store)
			c.enqueue(t)
			c.enqueue(t)
			r := memsnap(t, c.store, nil, []string{"MEMSNAP_FAILPOINT=" + point}, "commit")
			if r.signal != syscall.SIGKILL {
				t.Fatalf("writer was not killed at %s: exit %d signal %v: %s", point, r.code, r.signal, r.stderr)
			}
			snaps := dirNames(t, filepath.Join(c.store, "snapshots"))
			leftover := snaps[len(snaps)-1]
			if strings.TrimLeft(leftover, "0") == cur || currentSeq(t, c.store) != cur {
				t.Fatalf("no leftover after a kill at %s: snapshots %v, CURRENT %s", point, snaps, currentSeq(t, c.store))
			}
			made, err := os.ReadFile(filepath.Join(c.store, "snapshots", leftover, "MANIFEST.json"))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t) // the commit removes it, then applies its batch again
			if now, err := os.ReadFile(filepath.Join(c.store, "snapshots", leftover, "MANIFEST.json")); err == nil && string(now) == string(made) {
				t.Fatalf("the leftover snapshot %s is still on disk after recovery", leftover)
			}
		})
	}
}

// The CURRENT swap is durable before anything relies on it: after CURRENT
// is renamed into place, the store directory is fsynced, and before that
// no applied job file is removed from queue/cur. Read from the order of
// calls through the fs seam (MEMSNAP_FSLOG).
func TestCurrentSwapIsDurable(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("a", "t"))))
	log := filepath.Join(t.TempDir(), "fs.log")
	if r := memsnap(t, store, nil, []string{"MEMSNAP_FSLOG=" + log}, "commit"); r.code != 0 {
		t.Fatalf("commit: %s", r.stderr)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	swap := "rename " + filepath.Join(store, "CURRENT.tmp") + " -> " + filepath.Join(store, "CURRENT")
	at := slices.Index(lines, swap)
	if at < 0 {
		t.Fatalf("no %q among the commit's %d calls", swap, len(lines))
	}
	for _, l := range lines[at+1:] {
		if l == "syncdir "+store {
			return
		}
		if strings.HasPrefix(l, "remove "+filepath.Join(store, "queue", "cur")) {
			t.Fatalf("%q before the store directory was fsynced after the CURRENT swap", l)
		}
	}
	t.Fatalf("the store directory is never fsynced after the CURRENT swap (calls after it: %q)", lines[at+1:])
}

// A rollback killed between renaming its snapshot into place and swapping
// CURRENT leaves a snapshot with no batch: nothing proves it unpublished,
// so the commit refuses and deletes nothing; the repair points CURRENT at
// it, which completes the rollback (its jobs were queued again first).
func TestCrashedRollbackRepaired(t *testing.T) {
	c := newChain(t, 3)
	bad := currentSeq(t, c.store)
	good := mustUint(t, bad) - 1
	r := memsnap(t, c.store, nil, []string{"MEMSNAP_FAILPOINT=before-current"}, "snapshots", "rollback", strconv.FormatUint(good, 10))
	if r.signal != syscall.SIGKILL {
		t.Fatalf("rollback was not killed at before-current: exit %d signal %v: %s", r.code, r.signal, r.stderr)
	}
	refusedCommit(t, c.store, "CURRENT names snapshot "+bad+", older than snapshot ")
	rp := repair(t, c.store)
	if rp.Current <= mustUint(t, bad) || rp.Rollback != nil {
		t.Fatalf("repair after a crashed rollback: %+v; want CURRENT at the rollback's snapshot", rp)
	}
	c.check(t)
}

// Issue 25, done-when 4: a long-lived reader never follows CURRENT
// backwards. An mcp session writes; CURRENT is then moved back by hand to
// the snapshot before the write. The session keeps serving the newer
// snapshot (its own write still reads), and memory_status names the
// moved-back CURRENT and the repair command.
func TestMCPKeepsServingWhenCurrentMovedBack(t *testing.T) {
	store := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := mcpSession(t, ctx, store)
	mustCall(t, ctx, cs, "kv_put", map[string]any{"key": "ryw", "value": "mine"})
	text := mustCall(t, ctx, cs, "kv_get", map[string]any{"key": "ryw"})
	if !contains(text, `"found": true`) {
		t.Fatalf("kv_get after kv_put: %s", text)
	}
	served := mustUint(t, currentSeq(t, store))
	writeCurrent(t, store, served-1)

	type status struct {
		Snapshot uint64 `json:"snapshot"`
		Writer   struct{ State, Cause, Hint string }
	}
	var st status
	for st.Writer.State != "failing" { // the reader's refresh finds the moved-back CURRENT
		st = status{}
		if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "memory_status", map[string]any{})), &st); err != nil {
			t.Fatal(err)
		}
		if st.Snapshot != served {
			t.Fatalf("memory_status with CURRENT moved back: serving snapshot %d, want %d (seqs only grow)", st.Snapshot, served)
		}
		if ctx.Err() != nil {
			t.Fatalf("memory_status never showed the moved-back CURRENT: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := fmt.Sprintf("CURRENT names snapshot %d, older than snapshot %d", served-1, served)
	if st.Snapshot != served || !contains(st.Writer.Cause, want) || !contains(st.Writer.Hint, "memsnap snapshots repair") {
		t.Fatalf("memory_status with CURRENT moved back: %+v; want snapshot %d, failing with %q and the repair", st, served, want)
	}
	text = mustCall(t, ctx, cs, "kv_get", map[string]any{"key": "ryw"})
	if !contains(text, `"found": true`) || !contains(text, fmt.Sprintf(`"snapshot": %d`, served)) {
		t.Fatalf("kv_get with CURRENT moved back hides the session's write: %s", text)
	}
	if r := repair(t, store); r.Current != served {
		t.Fatalf("repair: %+v; want CURRENT back at %d", r, served)
	}
	for st.Writer.State != "ok" { // the repair clears the state
		st = status{}
		if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "memory_status", map[string]any{})), &st); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("memory_status after the repair: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A CURRENT moved back behind a published snapshot is refused by every
// open of CURRENT, not only by the writer: a read would serve an older
// state than one already served, and a write predicted on it would be
// acknowledged with an outcome the writer, once CURRENT is repaired, does
// not give (create_entities of a name the newer snapshot holds answered
// "created" and its observations were never applied). Reads, searches,
// the memory-tool commands, a new 'memsnap mcp' and one already running
// when CURRENT moves back all refuse in one line naming the repair, and
// nothing is queued; after the repair they all work.
func TestCurrentMovedBackRefusedByReadsAndWrites(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("Kuzu", "database", "graph")), entities(entity("memsnap", "tool", "store"))))
	commit(t, store)
	enqueue(t, store, ops(entities(entity("Pebble", "database", "kv"))))
	commit(t, store)
	newest := mustUint(t, currentSeq(t, store))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	running := mcpSession(t, ctx, store) // serves the newest snapshot
	mustCall(t, ctx, running, "open_nodes", map[string]any{"names": []string{"Pebble"}})
	writeCurrent(t, store, newest-1) // Pebble is not in it

	want := fmt.Sprintf("CURRENT names snapshot %d, older than snapshot %d", newest-1, newest)
	refused(t, store, want, "open", "Pebble")
	refused(t, store, want, "search", "Pebble")
	refused(t, store, want, "query", "MATCH (e:Entity) RETURN count(e)")
	refused(t, store, want, "entities", "create", "Pebble", "--obs", "new obs")
	refused(t, store, want, "relations", "create", "Pebble", "uses", "Kuzu")
	refused(t, store, want, "enqueue", "--wait=durable", "-f", writeJob(t, ops(entities(entity("Other", "t")))))

	fresh := mcpSession(t, ctx, store)
	for name, cs := range map[string]*mcp.ClientSession{"new mcp": fresh, "running mcp": running} {
		before := stateOf(t, store)
		for _, c := range []struct {
			tool string
			args map[string]any
		}{
			{"create_entities", map[string]any{"entities": []any{entity("Pebble", "database", "new obs")}}},
			{"add_observations", map[string]any{"observations": []any{map[string]any{"entityName": "Pebble", "contents": []string{"more"}}}}},
		} {
			text, res := call(t, ctx, cs, c.tool, c.args)
			if !res.IsError || !contains(text, want) || !contains(text, "memsnap snapshots repair") || strings.Contains(text, "\n") {
				t.Fatalf("%s: %s with CURRENT moved back: error %v, %q; want one line saying %q and the repair", name, c.tool, res.IsError, text, want)
			}
		}
		if after := stateOf(t, store); after != before {
			t.Fatalf("%s: writes refused with CURRENT moved back changed the store: %+v -> %+v", name, before, after)
		}
	}
	if text, res := call(t, ctx, fresh, "open_nodes", map[string]any{"names": []string{"Pebble"}}); !res.IsError || !contains(text, want) {
		t.Fatalf("new mcp: open_nodes with CURRENT moved back: error %v, %q; want %q", res.IsError, text, want)
	}

	if r := repair(t, store); r.Current != newest {
		t.Fatalf("repair: %+v; want CURRENT back at %d", r, newest)
	}
	if r := memsnap(t, store, nil, nil, "open", "Pebble"); r.code != 0 || !contains(r.stdout, "kv") {
		t.Fatalf("open after the repair: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustCall(t, ctx, running, "add_observations", map[string]any{"observations": []any{map[string]any{"entityName": "Pebble", "contents": []string{"after repair"}}}})
}

// writeJob writes job as JSON into a file of the test's and returns its path.
func writeJob(t *testing.T, job any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.json")
	if err := os.WriteFile(path, mustJSON(t, job), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A snapshot that lost its PIN file (the empty lock file readers hold to
// keep GC off it) is not taken for one GC removed: a read says the PIN is
// missing and names the repair, verify does too, and 'snapshots repair'
// recreates the PIN in place. Reads used to retry a hundred times and
// blame GC ("snapshots keep disappearing under the reader"), and repair
// rolled back to the snapshot before, queueing its jobs again.
func TestMissingPinRecreated(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("Kuzu", "database", "graph"))))
	commit(t, store)
	enqueue(t, store, ops(entities(entity("Pebble", "database", "kv"))))
	commit(t, store)
	cur := currentSeq(t, store)
	if err := os.Remove(filepath.Join(snapDir(store, cur), "PIN")); err != nil {
		t.Fatal(err)
	}
	want := "snapshot " + cur + ": missing PIN"
	for _, args := range [][]string{{"search", "Pebble"}, {"open", "Pebble"}} {
		r := memsnap(t, store, nil, nil, args...)
		oneLineError(t, r, want)
		if !contains(r.stderr, "memsnap snapshots repair") || contains(r.stderr, "disappearing") {
			t.Fatalf("%v without PIN: %s", args, r.stderr)
		}
	}
	v := memsnap(t, store, nil, nil, "snapshots", "verify")
	oneLineErrorLast(t, v, "missing PIN")
	if !contains(v.stderr, "memsnap snapshots repair") {
		t.Fatalf("verify of a missing PIN does not say what to do: %s", v.stderr)
	}
	out := mustMemsnap(t, store, nil, "snapshots", "repair")
	r := decodeAnswer[repairAnswer](t, "repair answer", out)
	if r.Current != mustUint(t, cur) || r.Rollback != nil || !contains(out, `"pins_recreated":[`+cur+`]`) {
		t.Fatalf("repair of a missing PIN: %s; want the PIN of %s recreated and no rollback", out, cur)
	}
	if r := memsnap(t, store, nil, nil, "open", "Pebble"); r.code != 0 || !contains(r.stdout, "kv") {
		t.Fatalf("open after the repair: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st := stateOf(t, store); st.queued != 0 {
		t.Fatalf("repair of a missing PIN queued jobs: %+v", st)
	}
	mustMemsnap(t, store, nil, "snapshots", "verify")
}
