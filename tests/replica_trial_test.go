package tests

import "context"
import "fmt"
import "os"
import "path/filepath"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/snapshot"

// Replication faults a first trial found (issue 29): stores sharing a
// prefix, S3 errors shown raw, a damaged remote chunk never repaired, a
// replica's write vanishing between its forward and its snapshot.

// storeID is the id a store records (snapshot.IDFile).
func storeID(t testing.TB, dir string) string {
	t.Helper()
	s, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.ID()
	if err != nil || id == "" {
		t.Fatalf("store %s: id %q, %v", dir, id, err)
	}
	return id
}

// oneLine fails unless text, trimmed, is one line.
func oneLine(t testing.TB, what, text string) string {
	t.Helper()
	text = strings.TrimSpace(text)
	if text == "" || strings.Contains(text, "\n") {
		t.Fatalf("%s: want one line, got %q", what, text)
	}
	return text
}

// TestTwoStoresOnePrefix: a second store replicating into a prefix that
// holds another store's snapshots is refused, saying which store, which
// prefix and what to do, and the remote is left as it was; a reader whose
// cache followed the first store refuses the prefix once another store's
// snapshots replace them, and a new reader reads the new store.
func TestTwoStoresOnePrefix(t *testing.T) {
	srv := testutil.StartS3(t)
	url := srv.URL("shared")
	a, b := newStore(t), newStore(t)
	enqueueDirect(t, a, ops(entities(entity("in-a", "t"))))
	commit(t, a)
	enqueueDirect(t, b, ops(entities(entity("in-b", "t"), entity("in-b2", "t"))))
	commit(t, b)
	if r := memsnap(t, a, nil, srv.Env(), "replicate", "--to", url); r.code != 0 {
		t.Fatalf("replicate a: exit %d: %s", r.code, r.stderr)
	}
	idA := storeID(t, a)
	cur, err := os.ReadFile(filepath.Join(srv.Dir, testutil.S3Bucket, "shared", "CURRENT"))
	if err != nil || !strings.Contains(string(cur), idA) {
		t.Fatalf("remote CURRENT %q (%v) does not name store %s", cur, err, idA)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	if q, r := queryFrom(t, srv, url, cache, "MATCH (e:Entity) RETURN e.name"); r.code != 0 || fmt.Sprint(q.Rows) != "[[in-a]]" {
		t.Fatalf("query --from: exit %d %v: %s", r.code, q.Rows, r.stderr)
	}

	r := memsnap(t, b, nil, srv.Env(), "replicate", "--to", url)
	idB := storeID(t, b)
	msg := oneLine(t, "replicate b", r.stderr)
	for _, want := range []string{"holds the snapshots of another store", idA, idB, url, "prefix of its own"} {
		if r.code != 1 || !strings.Contains(msg, want) {
			t.Fatalf("replicate of a second store into a's prefix: exit %d, %q; want exit 1 saying %q", r.code, msg, want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(srv.Dir, testutil.S3Bucket, "shared", "CURRENT")); string(after) != string(cur) {
		t.Fatalf("the refused replicate changed the remote CURRENT: %q, was %q", after, cur)
	}

	// a's snapshots go; b's take the prefix; the reader of a refuses it.
	if err := os.RemoveAll(filepath.Join(srv.Dir, testutil.S3Bucket, "shared")); err != nil {
		t.Fatal(err)
	}
	if r := memsnap(t, b, nil, srv.Env(), "replicate", "--to", url); r.code != 0 {
		t.Fatalf("replicate b into the emptied prefix: exit %d: %s", r.code, r.stderr)
	}
	_, r = queryFrom(t, srv, url, cache, "MATCH (e:Entity) RETURN e.name")
	if !strings.Contains(r.stderr, "now holds the snapshots of another store") || !strings.Contains(r.stderr, idB) || r.code != 1 {
		t.Fatalf("a reader that followed store a, after b took the prefix: exit %d: %s; want a refusal naming store %s", r.code, r.stderr, idB)
	}
	q, r := queryFrom(t, srv, url, filepath.Join(t.TempDir(), "new-cache"), "MATCH (e:Entity) RETURN count(e)")
	if r.code != 0 || fmt.Sprint(q.Rows) != "[[2]]" {
		t.Fatalf("a new reader of b's prefix: exit %d %v: %s", r.code, q.Rows, r.stderr)
	}
}

// TestReplicateErrorsAreOneLine: 'memsnap replicate' against a bucket that
// does not exist, with a wrong secret, and with the S3 server stopped
// fails with one line naming the S3 code and HTTP status (or the endpoint)
// and what to do, without the SDK's request ids.
func TestReplicateErrorsAreOneLine(t *testing.T) {
	srv := testutil.StartS3(t)
	store := newStore(t)
	enqueueDirect(t, store, ops(entities(entity("seed", "t"))))
	commit(t, store)
	wrongSecret := append(srv.Env(), "MEMSNAP_REPLICA_SECRET_ACCESS_KEY=wrong")
	for _, tc := range []struct {
		name  string
		url   string
		env   []string
		stop  bool
		wants []string
	}{
		{"missing bucket", "s3://nosuchbucket/p", srv.Env(), false, []string{"s3://nosuchbucket/p/", "NoSuchBucket (HTTP 404)", "the bucket does not exist"}},
		{"wrong secret", srv.URL("p"), wrongSecret, false, []string{"SignatureDoesNotMatch (HTTP 403)", "replica.secret_access_key"}},
		{"server stopped", srv.URL("p"), srv.Env(), true, []string{"nothing answers at " + srv.Endpoint, "replica.endpoint"}},
	} {
		if tc.stop {
			srv.Stop()
		}
		r := memsnap(t, store, nil, tc.env, "replicate", "--to", tc.url)
		msg := oneLine(t, tc.name, r.stderr)
		if r.code != 1 || len(msg) > 400 || strings.Contains(msg, "RequestID") || strings.Contains(msg, "HostID") {
			t.Errorf("%s: exit %d, %d characters: %s", tc.name, r.code, len(msg), msg)
		}
		for _, w := range tc.wants {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", tc.name, msg, w)
			}
		}
	}
}

// TestReplicaWriteStaysVisible: a write acknowledged by a replica MCP
// server is in every answer from then on: while it waits in the cache's
// queue, after it is forwarded to the remote queue (by another server on
// the same cache as it exits, so that the moment is the test's), while the
// writer pulls, commits and replicates it, and once the cache holds the
// snapshot with it (brought down by a query --from on the same cache);
// then it is there once, and the forwarded copy is gone from the cache.
func TestReplicaWriteStaysVisible(t *testing.T) {
	srv, url, store, env, _ := replicatedStore(t, "visible")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cache := filepath.Join(t.TempDir(), "cache")
	quiet := replicaEnv(srv, cache, "MEMSNAP_READER_REFRESH=@every 1h") // no forward or sync but the test's
	cs := replicaSession(t, ctx, url, quiet)
	createEntities(t, ctx, cs, entity("written-on-replica", "t", "acknowledged"))
	visible := func(when string) {
		t.Helper()
		text := mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"written-on-replica"}})
		if !strings.Contains(text, `"written-on-replica"`) || !strings.Contains(text, "acknowledged") {
			t.Fatalf("%s: the replica's acknowledged write is not in its answer: %s", when, text)
		}
	}
	visible("queued in the cache")

	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}` + "\n"
	if r := memsnap(t, "", []byte(init), quiet, "mcp", "--from", url); r.code != 0 {
		t.Fatalf("a second mcp --from on the cache: exit %d: %s", r.code, r.stderr)
	}
	if q, _ := filepath.Glob(filepath.Join(srv.Dir, testutil.S3Bucket, "visible", "queue", "*.job")); len(q) != 1 {
		t.Fatalf("remote queue after the forward: %v, want the one write", q)
	}
	visible("forwarded to the remote queue")

	if rep := replicateJSON(t, store, env, "replicate", "--to", url); rep.Pulled != 1 {
		t.Fatalf("replicate pulled %d jobs, want 1", rep.Pulled)
	}
	visible("pulled by the writer")
	commit(t, store)
	replicateJSON(t, store, env, "replicate", "--to", url)
	seq, _ := writerCurrent(t, store)
	visible("applied and replicated, not yet in the cache")

	if q, r := queryFrom(t, srv, url, cache, "MATCH (e:Entity {name: 'written-on-replica'}) RETURN count(e)"); r.code != 0 || q.Snapshot != seq || fmt.Sprint(q.Rows) != "[[1]]" {
		t.Fatalf("query --from on the cache: exit %d, snapshot %d, %v: %s", r.code, q.Snapshot, q.Rows, r.stderr)
	}
	visible("in the cache's CURRENT")
	if out := mcpQuery(t, ctx, cs, "MATCH (e:Entity {name: 'written-on-replica'}) RETURN count(e)"); out.Snapshot != seq || fmt.Sprint(out.Rows) != "[[1]]" {
		t.Fatalf("the replica serves snapshot %d with %v copies of its write, want snapshot %d with 1", out.Snapshot, out.Rows, seq)
	}
	if left, _ := filepath.Glob(filepath.Join(cacheStore(t, cache).Dir(), "queue", "*", "*.job")); len(left) != 0 {
		t.Fatalf("the cache's queue still holds %v after the snapshot with the write came down", left)
	}
	if n := queryInt(t, store, "MATCH (e:Entity {name: 'written-on-replica'}) RETURN count(e)"); n != 1 {
		t.Fatalf("the write is in the writer's store %d times, want 1", n)
	}
}
