package tests

import "context"
import "encoding/json"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"

// Replication through S3-compatible storage (issue 29), against a real
// versitygw on loopback: a writer's daemon replicates, replicas in other
// processes read through their own caches, one replica writes back.

// replicaEnv points memsnap at srv (endpoint, credentials), with the
// remote reader's cache in cacheDir and quick schedules.
func replicaEnv(srv *testutil.S3Server, cacheDir string, extra ...string) []string {
	env := append(srv.Env(), "MEMSNAP_REPLICA_CACHE_DIR="+cacheDir, "MEMSNAP_READER_REFRESH=@every 200ms",
		"MEMSNAP_REPLICA_SCHEDULE=@every 200ms")
	return append(env, extra...)
}

// writerCurrent returns the writer store's CURRENT and its manifest's
// content digest.
func writerCurrent(t testing.TB, dir string) (uint64, string) {
	t.Helper()
	s, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := snapshottest.CurrentManifest(t, s)
	return m.Seq, m.Digest
}

// remoteCurrent reads the remote CURRENT straight from versitygw's backend
// directory (0 when there is none).
func remoteCurrentOf(t testing.TB, srv *testutil.S3Server, prefix string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(srv.Dir, testutil.S3Bucket, prefix, "CURRENT"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var seq uint64
	if _, err := fmt.Sscan(string(b), &seq); err != nil {
		t.Fatalf("remote CURRENT %q: %v", b, err)
	}
	return seq
}

// enqueueDirect queues a job in the store's queue as a producer does.
func enqueueDirect(t testing.TB, dir string, job any) string {
	t.Helper()
	s, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	id := queue.NewID()
	if err := s.Queue().Enqueue(id, b); err != nil {
		t.Fatal(err)
	}
	return id
}

// replicaSession starts 'memsnap mcp --from url' (a replica: no store of
// its own) and connects the Go SDK client to it over stdio.
func replicaSession(t *testing.T, ctx context.Context, url string, env []string) *mcp.ClientSession {
	t.Helper()
	return connectMCP(t, ctx, exec.Command(bin, "--log-level", "warn", "mcp", "--from", url), nil, env)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// mcpQueryOut is the MCP query tool's answer.
type mcpQueryOut struct {
	Snapshot uint64  `json:"snapshot"`
	Rows     [][]any `json:"rows"`
}

func mcpQuery(t *testing.T, ctx context.Context, cs *mcp.ClientSession, cypher string) mcpQueryOut {
	t.Helper()
	var out mcpQueryOut
	text := mustCall(t, ctx, cs, "query", map[string]any{"cypher": cypher})
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatalf("query answer %q: %v", text, err)
	}
	return out
}

// waitServing waits until the replica behind cs serves snapshot seq or a
// newer one, and returns what it serves.
func waitServing(t *testing.T, ctx context.Context, cs *mcp.ClientSession, seq uint64, what string) mcpQueryOut {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out := mcpQuery(t, ctx, cs, "MATCH (e:Entity) RETURN count(e)")
		if out.Snapshot >= seq {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s serves snapshot %d, not %d, after 2 minutes", what, out.Snapshot, seq)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cacheStore is the one store under a replica's cache directory.
func cacheStore(t testing.TB, cacheDir string) *snapshot.Store {
	t.Helper()
	ents, err := os.ReadDir(cacheDir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("replica cache %s: %v entries, %v", cacheDir, len(ents), err)
	}
	s, err := snapshot.Open(filepath.Join(cacheDir, ents[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkServedContent checks that snapshot seq in the replica's cache holds
// the content the writer's manifest records: the manifest's digest is the
// writer's, and the graph's own content digest matches it.
func checkServedContent(t *testing.T, cacheDir string, seq uint64, digest string) {
	t.Helper()
	s := cacheStore(t, cacheDir)
	m, err := s.Manifest(seq)
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest != digest {
		t.Fatalf("replica's snapshot %d has digest %s, the writer's %s", seq, m.Digest, digest)
	}
	if err := reader.CheckContent(config.Default().MaxDBMB)(context.Background(), s, m); err != nil {
		t.Fatalf("replica's snapshot %d: %v", seq, err)
	}
}

// TestReplicasConverge: a writer's daemon replicating to versitygw, two
// replica MCP servers in their own processes and caches; 200 jobs through
// the writer's queue in waves; both replicas end serving the writer's
// CURRENT with its exact content; a write made on a replica lands once in
// the writer's store (and a copy of it put back in the remote queue is not
// applied again); restore --from rebuilds a store equal to the source.
func TestReplicasConverge(t *testing.T) {
	srv := testutil.StartS3(t)
	url := srv.URL("team")
	store := newStore(t)
	env := replicaEnv(srv, filepath.Join(t.TempDir(), "unused"), "MEMSNAP_REPLICA_TO="+url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first snapshot, replicated, before the replicas start.
	enqueueDirect(t, store, ops(entities(entity("seed", "t"))))
	commit(t, store)
	memsnap(t, store, nil, env, "replicate")
	daemon := daemonCmd(ctx, store, env...)
	mustStart(t, daemon)
	defer terminate(daemon)

	caches := []string{filepath.Join(t.TempDir(), "cache1"), filepath.Join(t.TempDir(), "cache2")}
	var replicas []*mcp.ClientSession
	for _, c := range caches {
		replicas = append(replicas, replicaSession(t, ctx, url, replicaEnv(srv, c)))
	}
	for wave := range 10 {
		for i := range 20 {
			n := wave*20 + i
			enqueueDirect(t, store, ops(entities(entity(fmt.Sprintf("e%03d", n), "t", fmt.Sprintf("obs %d", n)))))
		}
		time.Sleep(150 * time.Millisecond)
	}
	// The daemon commits and replicates; wait for the remote to hold all.
	var seq uint64
	var digest string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		seq, digest = writerCurrent(t, store)
		n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)")
		// The count must be snapshot seq's: a commit between the two reads
		// would pair the newer count with the older snapshot.
		if again, _ := writerCurrent(t, store); n == 201 && again == seq && remoteCurrentOf(t, srv, "team") == seq {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer's 200 jobs were not all committed and replicated in 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, cs := range replicas {
		out := waitServing(t, ctx, cs, seq, fmt.Sprintf("replica %d", i+1))
		if fmt.Sprint(out.Rows) != "[[201]]" {
			t.Fatalf("replica %d serves %v entities at snapshot %d, want 201", i+1, out.Rows, out.Snapshot)
		}
		checkServedContent(t, caches[i], out.Snapshot, digest)
	}

	// A write on replica 1 reaches the writer through the remote queue.
	mustCall(t, ctx, replicas[0], "create_entities", map[string]any{"entities": []any{entity("from-replica", "t", "written remotely")}})
	deadline = time.Now().Add(2 * time.Minute)
	for queryInt(t, store, "MATCH (e:Entity {name: 'from-replica'}) RETURN count(e)") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the replica's write did not reach the writer's store in 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	id, data := replicaJob(t, store, "from-replica")
	before := jobOutcome(t, store, id)
	if before.Status != "applied" {
		t.Fatalf("the replica's job %s: %+v", id, before)
	}
	for i, cs := range replicas {
		seq, _ := writerCurrent(t, store)
		out := waitServing(t, ctx, cs, seq, fmt.Sprintf("replica %d", i+1))
		if fmt.Sprint(out.Rows) != "[[202]]" {
			t.Fatalf("replica %d serves %v entities after the remote write, want 202", i+1, out.Rows)
		}
	}
	if err := terminate(daemon); err != nil {
		t.Fatalf("daemon: %v", err)
	}
	// The same job put back in the remote queue (a forward repeated after
	// a crash) is pulled and dropped: it is not queued again.
	dup := filepath.Join(srv.Dir, testutil.S3Bucket, "team", "queue", id+".job")
	if err := os.MkdirAll(filepath.Dir(dup), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dup, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Pulled int `json:"pulled"`
	}
	r := memsnap(t, store, nil, env, "replicate")
	if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil {
		t.Fatalf("replicate: exit %d %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	if rep.Pulled != 0 || exists(dup) {
		t.Fatalf("the repeated job: pulled %d, still in the remote queue: %v; want it dropped", rep.Pulled, exists(dup))
	}
	if after := jobOutcome(t, store, id); after.Snapshot != before.Snapshot {
		t.Fatalf("the replica's job was applied again: snapshot %d, then %d", before.Snapshot, after.Snapshot)
	}
	checkRestore(t, srv, url, store)
}

// checkRestore restores url into a new directory and checks the store
// equals the writer's: same CURRENT, same manifest digest, a store that
// passes the store check (content digest included), same entities.
func checkRestore(t *testing.T, srv *testutil.S3Server, url, store string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	r := memsnap(t, dir, nil, srv.Env(), "restore", "--from", url, dir)
	if r.code != 0 {
		t.Fatalf("restore: exit %d: %s", r.code, r.stderr)
	}
	checkStore(t, dir)
	seq, digest := writerCurrent(t, store)
	rseq, rdigest := writerCurrent(t, dir)
	if rseq != seq || rdigest != digest {
		t.Fatalf("restored store: snapshot %d digest %s; the source: %d %s", rseq, rdigest, seq, digest)
	}
	q := "MATCH (e:Entity) RETURN e.name, e.observations ORDER BY e.name"
	if a, b := query(t, dir, q), query(t, store, q); fmt.Sprint(a.Rows) != fmt.Sprint(b.Rows) {
		t.Fatalf("restored store's entities differ from the source's")
	}
}

// replicaJob finds, in the writer's snapshots, the job file that created
// entity name, and returns its job id and bytes.
func replicaJob(t *testing.T, store, name string) (string, []byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(store, "snapshots", "*", snapshot.JobsDir, "*"+queue.Ext))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), `"`+name+`"`) {
			continue
		}
		base := strings.TrimSuffix(filepath.Base(f), queue.Ext)
		return base[strings.LastIndex(base, "-")+1:], b
	}
	t.Fatalf("no job file in %s creates %s", store, name)
	return "", nil
}

// A short 'memsnap mcp --from' session (a write, then the client leaves)
// sends its acknowledged write to the remote queue before the process
// exits, as a local server commits before it exits; the refresh schedule
// is an hour, so only the exit can have sent it.
func TestShortReplicaSessionForwardsItsWrite(t *testing.T) {
	srv := testutil.StartS3(t)
	url := srv.URL("short")
	store := newStore(t)
	enqueueDirect(t, store, ops(entities(entity("seed", "t"))))
	commit(t, store)
	memsnap(t, store, nil, srv.Env(), "replicate", "--to", url)
	cache := filepath.Join(t.TempDir(), "cache")
	in := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" +
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"Bob","entityType":"person","observations":["short session"]}]}}}` + "\n"
	r := memsnap(t, "", []byte(in), replicaEnv(srv, cache, "MEMSNAP_READER_REFRESH=@every 1h"), "mcp", "--from", url)
	if r.code != 0 || !strings.Contains(r.stdout, `"id":2`) || !strings.Contains(r.stdout, "Bob") {
		t.Fatalf("mcp --from: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	queued, err := filepath.Glob(filepath.Join(srv.Dir, testutil.S3Bucket, "short", "queue", "*"))
	if err != nil || len(queued) != 1 {
		t.Fatalf("remote queue after the session: %v, %v; want the one write", queued, err)
	}
	if b, err := os.ReadFile(queued[0]); err != nil || !strings.Contains(string(b), `"Bob"`) {
		t.Errorf("remote queue holds %s (%v), want the job creating Bob", b, err)
	}
	// The writer takes it in once.
	memsnap(t, store, nil, srv.Env(), "replicate", "--to", url)
	commit(t, store)
	if n := queryInt(t, store, "MATCH (e:Entity {name: 'Bob'}) RETURN count(e)"); n != 1 {
		t.Errorf("Bob in the writer's store %d times, want 1", n)
	}
}
