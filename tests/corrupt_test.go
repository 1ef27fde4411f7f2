package tests

import "context"
import "encoding/json"
import "fmt"
import "os"
import "path/filepath"
import "strings"
import "syscall"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"

func currentSeq(t *testing.T, store string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(store, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func snapDir(store, seq string) string {
	return filepath.Join(store, "snapshots", strings.Repeat("0", 12-len(seq))+seq)
}

// Done-when 3: each kind of corruption is detected by verify, by readers
// (which keep serving what they have) and by the writer (which refuses to
// build on it and says how to recover); rollback points CURRENT back and the
// jobs applied after the good snapshot are applied again, none lost.
func TestCorruptionDetected(t *testing.T) {
	kinds := []struct {
		name, file, want string
	}{
		{"graph.kuzu", "graph.kuzu", "graph.kuzu: checksum mismatch"},
		{"MANIFEST.json", "MANIFEST.json", "manifest is corrupt"},
		{"pebble file", "kv/*.sst", ".sst: checksum mismatch"},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			c := newChain(t, 3)
			good := currentSeq(t, c.store)
			// A long-lived reader serves the good snapshot.
			_, r := openReader(t, c.store)
			c.enqueue(t)
			commit(t, c.store)
			bad := currentSeq(t, c.store)
			target := filepath.Join(snapDir(c.store, bad), k.file)
			if strings.Contains(k.file, "*") {
				m, _ := filepath.Glob(target)
				if len(m) == 0 {
					t.Fatalf("no %s in snapshot %s", k.file, bad)
				}
				target = m[len(m)-1]
			}
			testutil.FlipByte(t, target, testutil.Middle)

			// verify names the damage.
			v := memsnap(t, c.store, nil, nil, "snapshots", "verify")
			oneLineErrorLast(t, v, k.want)
			// The reader refuses the damaged snapshot and keeps serving.
			if _, err := r.Refresh(context.Background()); err == nil || !contains(err.Error(), "failed verification") || !contains(err.Error(), "still serving snapshot "+good) {
				t.Fatalf("refresh onto a damaged snapshot: %v", err)
			}
			if res, err := r.Query(context.Background(), "MATCH (e:Entity) RETURN count(e)", nil); err != nil || res.Snapshot != r.Seq() || r.Seq() != mustUint(t, good) {
				t.Fatalf("reader stopped serving snapshot %s: %v %+v", good, err, res)
			}
			// A new reader process refuses it too, saying why.
			q := memsnap(t, c.store, nil, nil, "query", "MATCH (e:Entity) RETURN count(e)")
			oneLineError(t, q, "failed verification")
			// The writer refuses to build on it and says how to recover.
			c.enqueue(t)
			before := stateOf(t, c.store)
			w := memsnap(t, c.store, nil, nil, "commit")
			oneLineError(t, w, "refusing to build on it")
			if !contains(w.stderr, "Run 'memsnap snapshots repair'") {
				t.Fatalf("writer error does not say how to recover: %s", w.stderr)
			}
			if after := stateOf(t, c.store); after != before {
				t.Fatalf("refused commit changed the store: %+v -> %+v", before, after)
			}
			if k.file == "kv/*.sst" {
				// sstables are hard-linked between snapshots: when the good
				// snapshot holds the damaged file (the same inode), it is
				// damaged as well and verify says so; when it does not, it
				// verifies.
				shared := false
				if other, err := os.Stat(filepath.Join(snapDir(c.store, good), "kv", filepath.Base(target))); err == nil {
					damaged, err := os.Stat(target)
					if err != nil {
						t.Fatal(err)
					}
					shared = os.SameFile(other, damaged)
				}
				v := memsnap(t, c.store, nil, nil, "snapshots", "verify", good)
				if shared {
					oneLineErrorLast(t, v, k.want)
					return
				}
				if v.code != 0 {
					t.Fatalf("snapshot %s does not share the damaged sstable, yet verify fails: %s", good, v.stderr)
				}
			}
			// Roll back to the good snapshot: the later jobs are queued again.
			out := mustMemsnap(t, c.store, nil, "snapshots", "rollback", good)
			var rb struct {
				From     uint64   `json:"from"`
				To       uint64   `json:"to"`
				Snapshot uint64   `json:"snapshot"`
				Requeued []string `json:"requeued"`
			}
			if err := json.Unmarshal([]byte(out), &rb); err != nil {
				t.Fatalf("rollback answer %q: %v", out, err)
			}
			// A new snapshot, numbered after the damaged one, holds the good
			// one's content.
			if fmt.Sprint(rb.To) != good || rb.Snapshot <= rb.From || currentSeq(t, c.store) != fmt.Sprint(rb.Snapshot) ||
				len(rb.Requeued) != 1 || rb.Requeued[0] != c.ids[len(c.ids)-2] {
				t.Fatalf("rollback: %+v, CURRENT %s; want a new snapshot with %s's content and job %s queued again", rb, currentSeq(t, c.store), good, c.ids[len(c.ids)-2])
			}
			if _, err := r.Refresh(context.Background()); err != nil {
				t.Fatalf("refresh after rollback: %v", err)
			}
			c.check(t) // every job applied exactly once, state as predicted
		})
	}
}

// A corrupt CURRENT file: the writer refuses, quoting what CURRENT holds,
// and names the repair; the listing and the check of a named snapshot still
// work; the repair mends it.
func TestCorruptCurrentFile(t *testing.T) {
	c := newChain(t, 2)
	good := currentSeq(t, c.store)
	c.enqueue(t)
	commit(t, c.store)
	for _, tc := range []struct{ content, want string }{
		{"-1\n", `CURRENT is corrupt: "-1" is not a snapshot seq`},
		{"", "CURRENT is corrupt: the file is empty"},
		{"3x\n", `CURRENT is corrupt: "3x" is not a snapshot seq`},
		{"garbage", `CURRENT is corrupt: "garbage" is not a snapshot seq`},
	} {
		if err := os.WriteFile(filepath.Join(c.store, "CURRENT"), []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		w := memsnap(t, c.store, nil, nil, "commit")
		oneLineError(t, w, tc.want)
		if strings.Count(w.stderr, "Run 'memsnap snapshots repair'") != 1 || contains(w.stderr, "rollback") {
			t.Fatalf("writer error does not advise the repair, once: %s", w.stderr)
		}
		// status prints its report, the writer failing with the cause and
		// the repair, in text and JSON, and exits 1; every read names the
		// repair too.
		refusedStatus(t, c.store, tc.want)
		for _, args := range [][]string{{"kv", "get", "k"}, {"query", "RETURN 1"}, {"snapshots", "verify"}, {"snapshots", "gc"}} {
			r := memsnap(t, c.store, nil, nil, args...)
			oneLineError(t, r, tc.want)
			if !contains(r.stderr, "Run 'memsnap snapshots repair'") {
				t.Fatalf("%v with CURRENT corrupt does not name the repair: %s", args, r.stderr)
			}
		}
	}
	// The listing and the check of a named snapshot work with CURRENT
	// damaged (none marked current, the damage and the repair said).
	l := memsnap(t, c.store, nil, nil, "snapshots", "list")
	if l.code != 0 || !contains(l.stdout, good+" ") || !contains(l.stderr, "CURRENT is corrupt") || !contains(l.stderr, "Run 'memsnap snapshots repair'") || contains(l.stdout, "true") {
		t.Fatalf("snapshots list with CURRENT damaged: exit %d\nstdout: %s\nstderr: %s", l.code, l.stdout, l.stderr)
	}
	if out := mustMemsnap(t, c.store, nil, "snapshots", "verify", good); !contains(out, "ok") {
		t.Fatalf("snapshots verify %s with CURRENT damaged: %s", good, out)
	}
	repair(t, c.store)
	c.check(t)
}

func oneLineErrorLast(t *testing.T, r result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if r.code != 1 || !strings.HasPrefix(last, "memsnap: ") || !contains(last, want) {
		t.Fatalf("exit %d, stderr %q; want exit 1 and a last line naming %q", r.code, r.stderr, want)
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	var n uint64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// 'snapshots list' shows a snapshot whose manifest does not parse as
// unreadable, and says why on stderr, instead of a row of zeros; a
// format-5 manifest without its chunk size says the field is missing.
func TestListShowsUnreadableManifest(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("a", "t"))))
	mustMemsnap(t, store, nil, "commit")
	path := filepath.Join(snapDir(store, currentSeq(t, store)), "MANIFEST.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.WriteFile(path, b, 0o600) }) // before the store check
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, `"chunk_size"`) {
			lines = append(lines, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "snapshots", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "(unreadable manifest)") || !strings.Contains(r.stderr, "chunk_size is missing") {
		t.Fatalf("snapshots list: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// A queued job whose file is damaged on disk (truncated after enqueue) is
// not lost silently: 'snapshots verify' reports it with what to do, a read
// logs it at warn, and the commit dead-letters it with a reason saying
// the file is damaged. It used to pass verify, be left out of reads at
// debug level and be dead-lettered as "invalid job: malformed JSON", the
// wording of a user's bad input.
func TestDamagedQueuedJob(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("Kuzu", "database", "graph"))))
	commit(t, store)
	id := enqueue(t, store, ops(map[string]any{"op": "add_observations", "observations": []map[string]any{{"entityName": "Kuzu", "contents": []string{"lost"}}}}))
	if err := os.Truncate(filepath.Join(store, "queue", "new", id+".job"), 20); err != nil {
		t.Fatal(err)
	}
	const want = "damaged job file queue/new/"
	v := memsnap(t, store, nil, nil, "snapshots", "verify")
	oneLineErrorLast(t, v, want)
	if !contains(v.stderr, "job "+id) || !contains(v.stderr, "enqueue the job again") {
		t.Fatalf("verify does not name the job and what to do: %s", v.stderr)
	}
	r := memsnap(t, store, nil, nil, "open", "Kuzu")
	if r.code != 0 || strings.Count(r.stderr, "job file damaged") != 1 || !contains(r.stderr, id) {
		t.Fatalf("a read over the damaged job: exit %d; want one warning naming it\n%s", r.code, r.stderr)
	}
	if s := commit(t, store); s.Rejected != 1 {
		t.Fatalf("commit: %+v; want the damaged job dead-lettered", s)
	}
	o := jobOutcome(t, store, id)
	if o.Status != "rejected" || !contains(o.Reason, "damaged job file") || !contains(o.Reason, "enqueue it again") || contains(o.Reason, "invalid job") {
		t.Fatalf("outcome of the damaged job: %+v; want rejected as a damaged file", o)
	}
	if v := memsnap(t, store, nil, nil, "snapshots", "verify"); v.code != 0 {
		t.Fatalf("verify once the damaged job is dead-lettered: %s", v.stderr)
	}

	// The same damage to a claimed job, left in queue/cur by a writer
	// killed after it claimed it.
	id = enqueue(t, store, ops(map[string]any{"op": "kv_put", "key": "k", "value": "v"}))
	if r := memsnap(t, store, nil, []string{"MEMSNAP_FAILPOINT=after-claim"}, "commit"); r.signal != syscall.SIGKILL {
		t.Fatalf("writer was not killed after claiming: exit %d signal %v: %s", r.code, r.signal, r.stderr)
	}
	claimed, err := filepath.Glob(filepath.Join(store, "queue", "cur", "*-"+id+".job"))
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed job %s: %v %v", id, claimed, err)
	}
	if err := os.Truncate(claimed[0], 20); err != nil {
		t.Fatal(err)
	}
	oneLineErrorLast(t, memsnap(t, store, nil, nil, "snapshots", "verify"), "damaged job file queue/cur/")
	commit(t, store)
	if o := jobOutcome(t, store, id); o.Status != "rejected" || !contains(o.Reason, "damaged job file queue/cur/") {
		t.Fatalf("outcome of the damaged claimed job: %+v; want rejected as a damaged file", o)
	}
}
