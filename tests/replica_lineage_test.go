package tests

import "encoding/json"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/internal/testutil"

// One history per prefix (issue 29, second trial): a copy of a store made
// by 'restore --from' shares its store id, yet only one of the two may go
// on replicating there; a job a point of history applied is never applied
// again after a restore undid it, and a replica stops showing a forwarded
// write the writer applied and then undid.

// remoteFile is the path of key under prefix in versitygw's backend
// directory.
func remoteFile(srv *testutil.S3Server, prefix, key string) string {
	return filepath.Join(srv.Dir, testutil.S3Bucket, prefix, filepath.FromSlash(key))
}

// TestRestoredCopyCannotForkPrefix: a store restored from a prefix (same
// store id, same history up to the remote CURRENT) goes on replicating
// there; the original, whose history then differs, is refused, whether
// its CURRENT is behind the remote or it published another snapshot under
// the remote CURRENT's seq, and the remote is left as the copy made it.
func TestRestoredCopyCannotForkPrefix(t *testing.T) {
	srv, url, orig, env, _ := replicatedStore(t, "fork")
	cp := filepath.Join(t.TempDir(), "copy")
	if r := memsnap(t, cp, nil, srv.Env(), "restore", "--from", url, cp); r.code != 0 {
		t.Fatalf("restore --from: exit %d: %s", r.code, r.stderr)
	}
	if storeID(t, cp) != storeID(t, orig) {
		t.Fatalf("the restored copy has id %s, the original %s", storeID(t, cp), storeID(t, orig))
	}
	enqueueDirect(t, cp, ops(entities(entity("ForkEntity", "t"))))
	commit(t, cp)
	forkSeq, _ := writerCurrent(t, cp)
	if rep := replicateJSON(t, cp, env, "replicate", "--to", url); rep.Current != forkSeq {
		t.Fatalf("the restored copy replicated up to %d, want its CURRENT %d", rep.Current, forkSeq)
	}

	refused := func(when, reason string) {
		t.Helper()
		before, _ := os.ReadFile(remoteFile(srv, "fork", "CURRENT"))
		r := memsnap(t, orig, nil, env, "replicate", "--to", url)
		msg := oneLine(t, when, r.stderr)
		for _, want := range []string{"has diverged", reason, "another copy of this store replicates there", "new prefix"} {
			if r.code != 1 || !strings.Contains(msg, want) {
				t.Fatalf("%s: replicate of the original: exit %d, %q; want exit 1 saying %q", when, r.code, msg, want)
			}
		}
		if after, _ := os.ReadFile(remoteFile(srv, "fork", "CURRENT")); string(after) != string(before) {
			t.Fatalf("%s: the refused replicate changed the remote CURRENT to %q, was %q", when, after, before)
		}
	}
	refused("original behind the remote", "the remote is ahead")
	enqueueDirect(t, orig, ops(entities(entity("OrigEntity", "t"))))
	commit(t, orig)
	if seq, _ := writerCurrent(t, orig); seq != forkSeq {
		t.Fatalf("the original's new snapshot is %d, want %d (the copy's)", seq, forkSeq)
	}
	refused("original with its own snapshot under the same seq", fmt.Sprintf("snapshot %d there is not this store's", forkSeq))
	enqueueDirect(t, orig, ops(entities(entity("OrigEntity2", "t"))))
	commit(t, orig)
	refused("original ahead of the remote", fmt.Sprintf("snapshot %d there is not this store's", forkSeq))

	// The copy goes on; a new reader reads its history.
	enqueueDirect(t, cp, ops(entities(entity("ForkEntity2", "t"))))
	commit(t, cp)
	next, _ := writerCurrent(t, cp)
	if rep := replicateJSON(t, cp, env, "replicate", "--to", url); rep.Current != next {
		t.Fatalf("the copy's second replicate went up to %d, want %d", rep.Current, next)
	}
	q, r := queryFrom(t, srv, url, filepath.Join(t.TempDir(), "cache"), "MATCH (e:Entity) WHERE e.name STARTS WITH 'Fork' OR e.name STARTS WITH 'Orig' RETURN e.name ORDER BY e.name")
	if r.code != 0 || fmt.Sprint(q.Rows) != "[[ForkEntity] [ForkEntity2]]" {
		t.Fatalf("query --from: exit %d %v: %s", r.code, q.Rows, r.stderr)
	}
}

// TestPullSkipsJobARestoreUndid: a job pulled from the remote queue,
// applied, then undone by 'snapshots restore', is not queued again when
// the same job file reappears in the remote queue (a replica re-sending
// it after a crash): the pull drops it, and the store never holds it
// again.
func TestPullSkipsJobARestoreUndid(t *testing.T) {
	srv, url, store, env, first := replicatedStore(t, "undo")
	id := queue.NewID()
	job, err := json.Marshal(ops(entities(entity("UndoMe", "t"))))
	if err != nil {
		t.Fatal(err)
	}
	path := remoteFile(srv, "undo", "queue/"+id+queue.Ext)
	put := func() {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, job, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put()
	if rep := replicateJSON(t, store, env, "replicate", "--to", url); rep.Pulled != 1 {
		t.Fatalf("first pull: %d jobs, want 1", rep.Pulled)
	}
	commit(t, store)
	if n := queryInt(t, store, "MATCH (e:Entity {name: 'UndoMe'}) RETURN count(e)"); n != 1 {
		t.Fatalf("UndoMe applied %d times, want 1", n)
	}
	a := restore(t, store, fmt.Sprint(first))
	if !slices.ContainsFunc(a.Undone, func(j struct {
		ID  string   `json:"id"`
		Ops []string `json:"ops"`
	}) bool {
		return j.ID == id
	}) {
		t.Fatalf("restore %d undid %+v, not job %s", first, a.Undone, id)
	}

	put()
	if rep := replicateJSON(t, store, env, "replicate", "--to", url); rep.Pulled != 0 {
		t.Fatalf("pull of the job a restore undid: %d jobs queued, want 0", rep.Pulled)
	}
	if exists(path) {
		t.Fatalf("the remote queue still holds %s after the pull", path)
	}
	commit(t, store)
	if n := queryInt(t, store, "MATCH (e:Entity {name: 'UndoMe'}) RETURN count(e)"); n != 0 {
		t.Fatalf("UndoMe is in the store %d times after the restore and a second pull, want 0", n)
	}
}

// TestUndoneForwardedWriteLeavesReplica: a write made on a replica ('mcp
// --from', which forwards it as it exits), pulled, committed, then undone
// by 'snapshots restore' on the writer, is no longer in the replica's
// answers once the snapshots after it come down, and the cache's queue no
// longer holds it.
func TestUndoneForwardedWriteLeavesReplica(t *testing.T) {
	srv, url, store, env, first := replicatedStore(t, "fwdundo")
	cache := filepath.Join(t.TempDir(), "cache")
	renv := replicaEnv(srv, cache, "MEMSNAP_READER_REFRESH=@every 1h")
	in := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" +
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"UndoMe","entityType":"t","observations":[]}]}}}` + "\n"
	if r := memsnap(t, "", []byte(in), renv, "mcp", "--from", url); r.code != 0 || !strings.Contains(r.stdout, `"id":2`) {
		t.Fatalf("mcp --from: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	graph := func(when string) []string {
		t.Helper()
		r := memsnap(t, "", nil, renv, "graph", "--from", url, "--json")
		if r.code != 0 {
			t.Fatalf("%s: graph --from: exit %d: %s", when, r.code, r.stderr)
		}
		return names(t, r.stdout)
	}
	if !slices.Contains(graph("forwarded"), "UndoMe") {
		t.Fatalf("the replica's forwarded write is not in its answer")
	}

	if rep := replicateJSON(t, store, env, "replicate", "--to", url); rep.Pulled != 1 {
		t.Fatalf("replicate pulled %d jobs, want 1", rep.Pulled)
	}
	commit(t, store)
	restore(t, store, fmt.Sprint(first))
	replicateJSON(t, store, env, "replicate", "--to", url)
	if g := graph("applied then undone"); len(g) == 0 || slices.Contains(g, "UndoMe") {
		t.Fatalf("after the restore, the replica shows %d entities, UndoMe among them: %v", len(g), slices.Contains(g, "UndoMe"))
	}
	if left, _ := filepath.Glob(filepath.Join(cacheStore(t, cache).Dir(), "queue", "*", "*.job")); len(left) != 0 {
		t.Fatalf("the cache's queue still holds %v", left)
	}
}
