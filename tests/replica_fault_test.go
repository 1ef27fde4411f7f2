package tests

import "context"
import "encoding/json"
import "flag"
import "fmt"
import "math/rand/v2"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/testutil"

var uploaderKills = flag.Int("replica.kills", 30, "TestUploaderKilled: how many uploads to SIGKILL")

// bulkJob creates n entities named prefix-<i>, each with an observation,
// so that a commit changes many chunks of the graph.
func bulkJob(prefix string, n int) map[string]any {
	es := make([]map[string]any, n)
	for i := range es {
		es[i] = entity(fmt.Sprintf("%s-%04d", prefix, i), "bulk", strings.Repeat(fmt.Sprintf("%s %d ", prefix, i), 8))
	}
	list := make([]any, n)
	for i, e := range es {
		list[i] = e
	}
	return ops(map[string]any{"op": "create_entities", "entities": list})
}

// queryFrom runs 'memsnap query --from url --json' with the replica's cache
// in cacheDir.
func queryFrom(t *testing.T, srv *testutil.S3Server, url, cacheDir, cypher string) (queryResult, result) {
	t.Helper()
	r := memsnap(t, "", nil, replicaEnv(srv, cacheDir), "query", "--from", url, "--json", cypher)
	var q queryResult
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &q); err != nil {
			t.Fatalf("query --from answer %q: %v", r.stdout, err)
		}
	}
	return q, r
}

// execMemsnap is the command that runs memsnap on store with args and env.
func execMemsnap(store string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"--store", store, "--log-level", "error"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// TestUploaderKilled SIGKILLs 'memsnap replicate' at random moments of its
// upload (-replica.kills times, each after a new commit) and checks after
// each kill that the remote CURRENT names a complete snapshot: restore
// --from, which checks every object against its hash and the snapshot's
// manifest, rebuilds it. A last, whole upload then restores equal to the
// source, and remote retention has kept replica.keep snapshots.
func TestUploaderKilled(t *testing.T) {
	srv := testutil.StartS3(t)
	url := srv.URL("killed")
	store := newStore(t)
	env := replicaEnv(srv, filepath.Join(t.TempDir(), "unused"), "MEMSNAP_REPLICA_KEEP=5")
	rng := rand.New(rand.NewPCG(29, 2))
	killed, finished := 0, 0
	for run := range *uploaderKills {
		enqueueDirect(t, store, bulkJob(fmt.Sprintf("r%02d", run), 40))
		commit(t, store)
		cmd := execMemsnap(store, env, "replicate", "--to", url)
		mustStart(t, cmd)
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		_ = cmd.Process.Kill() // SIGKILL
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else if err == nil {
			finished++
		} else {
			t.Fatalf("run %d: replicate failed: %v", run, err)
		}
		remote := remoteCurrentOf(t, srv, "killed")
		if remote == 0 {
			continue
		}
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("restore-%02d", run))
		r := memsnap(t, dir, nil, srv.Env(), "restore", "--from", url, dir)
		if r.code != 0 {
			t.Fatalf("run %d: the remote CURRENT names snapshot %d, which does not restore: %s", run, remote, r.stderr)
		}
		if seq, _ := writerCurrent(t, dir); seq != remote {
			t.Fatalf("run %d: restored snapshot %d, the remote CURRENT names %d", run, seq, remote)
		}
		_ = os.RemoveAll(dir)
	}
	t.Logf("%d uploads killed part-way, %d finished before the kill", killed, finished)
	if killed == 0 {
		t.Fatalf("no upload was killed part-way in %d runs: the test checks nothing", *uploaderKills)
	}
	memsnap(t, store, nil, env, "replicate", "--to", url)
	checkRestore(t, srv, url, store)
	// Remote retention (replica.keep 5) kept the newest 5 snapshots.
	if n := len(dirNames(t, filepath.Join(srv.Dir, testutil.S3Bucket, "killed", "snapshots"))); n > 5 {
		t.Fatalf("the remote holds %d snapshots, replica.keep is 5", n)
	}
}

// replicatedStore starts versitygw and a writer store of 100 entities
// replicated to its prefix; first is that snapshot.
func replicatedStore(t *testing.T, prefix string) (srv *testutil.S3Server, url, store string, env []string, first uint64) {
	t.Helper()
	srv = testutil.StartS3(t)
	url = srv.URL(prefix)
	store = newStore(t)
	env = replicaEnv(srv, filepath.Join(t.TempDir(), "unused"))
	enqueueDirect(t, store, bulkJob("first", 100))
	commit(t, store)
	memsnap(t, store, nil, env, "replicate", "--to", url)
	first, _ = writerCurrent(t, store)
	return srv, url, store, env, first
}

// TestReplicaSurvivesServerStop: a replica MCP server follows the remote;
// a large commit goes up, and the S3 server is stopped while the replica
// fetches it (at a random moment of its poll and download). The replica
// keeps answering from the snapshot it serves, and serves the new one,
// with the writer's exact content, once the server is back.
func TestReplicaSurvivesServerStop(t *testing.T) {
	srv, url, store, env, first := replicatedStore(t, "stopped")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cache := filepath.Join(t.TempDir(), "cache")
	cs := replicaSession(t, ctx, url, replicaEnv(srv, cache))
	waitServing(t, ctx, cs, first, "the replica")

	for i := range 3 {
		enqueueDirect(t, store, bulkJob(fmt.Sprintf("big%d", i), 900))
	}
	commit(t, store)
	second, digest := writerCurrent(t, store)
	memsnap(t, store, nil, env, "replicate", "--to", url)
	time.Sleep(time.Duration(rand.New(rand.NewPCG(29, 3)).IntN(200)) * time.Millisecond)
	srv.Stop()
	// While the server is down, every read answers from a whole snapshot.
	for range 10 {
		out := mcpQuery(t, ctx, cs, "MATCH (e:Entity) RETURN count(e)")
		want := map[uint64]string{first: "[[100]]", second: "[[2800]]"}[out.Snapshot]
		if fmt.Sprint(out.Rows) != want {
			t.Fatalf("with the S3 server down the replica answers %v at snapshot %d", out.Rows, out.Snapshot)
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.Start()
	out := waitServing(t, ctx, cs, second, "the replica after the server came back")
	if fmt.Sprint(out.Rows) != "[[2800]]" {
		t.Fatalf("the replica serves %v at snapshot %d, want 2800", out.Rows, out.Snapshot)
	}
	checkServedContent(t, cache, out.Snapshot, digest)
}

// TestCorruptRemoteChunk damages chunks of the newest remote snapshot on
// the S3 server's disk, three ways:
//  1. a byte flipped in place (the server's size and ETag unchanged): a
//     replica that serves the previous snapshot keeps serving it and says,
//     in one line naming the chunk, that the writer's next replicate
//     repairs it; a new replica refuses to start, saying the same; the
//     next 'memsnap replicate' (nothing new to send) puts the chunk back
//     from the writer's store, restore --from rebuilds a store equal to
//     the source, and both replicas serve the new snapshot;
//  2. a byte flipped in place with no replica to see it: 'replicate
//     --verify' finds and repairs it;
//  3. a chunk cut short, then the remote CURRENT and manifests lost: the
//     upload that sends everything again finds the chunk there with the
//     wrong size (HEAD) and sends it again.
func TestCorruptRemoteChunk(t *testing.T) {
	srv, url, store, env, first := replicatedStore(t, "corrupt")
	cache := filepath.Join(t.TempDir(), "cache")
	const count = "MATCH (e:Entity) RETURN count(e)"
	if q, r := queryFrom(t, srv, url, cache, count); r.code != 0 || q.Snapshot != first {
		t.Fatalf("query --from: exit %d, snapshot %d: %s", r.code, q.Snapshot, r.stderr)
	}
	enqueueDirect(t, store, bulkJob("second", 500))
	commit(t, store)
	memsnap(t, store, nil, env, "replicate", "--to", url)
	second, digest := writerCurrent(t, store)
	chunks := newChunks(t, srv, "corrupt", first, second)
	if len(chunks) < 3 {
		t.Fatalf("snapshot %d has %d chunks snapshot %d lacks, want 3 or more", second, len(chunks), first)
	}

	testutil.FlipByte(t, chunks[0], testutil.Middle)
	key := "chunks/" + filepath.Base(chunks[0])
	const repairs = "the writer's next 'memsnap replicate' repairs it"
	q, r := queryFrom(t, srv, url, cache, count)
	if r.code != 0 || q.Snapshot != first || fmt.Sprint(q.Rows) != "[[100]]" {
		t.Fatalf("with a damaged chunk the replica answers exit %d, snapshot %d, %v: %s; want the previous snapshot %d", r.code, q.Snapshot, q.Rows, r.stderr, first)
	}
	if n := strings.Count(r.stderr, key); n != 1 || !strings.Contains(r.stderr, repairs) {
		t.Fatalf("the replica's log names %s %d times (want one line saying %q): %s", key, n, repairs, r.stderr)
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	if _, r := queryFrom(t, srv, url, fresh, count); r.code == 0 || strings.Count(r.stderr, key) != 1 || !strings.Contains(r.stderr, repairs) {
		t.Fatalf("a new replica with a damaged chunk: exit %d: %s; want a refusal naming %s and saying %q", r.code, r.stderr, key, repairs)
	}
	if rep := replicateJSON(t, store, env, "replicate", "--to", url); rep.Repaired != 1 {
		t.Fatalf("replicate after a replica reported %s: repaired %d, want 1", key, rep.Repaired)
	}
	checkRestore(t, srv, url, store)
	for _, dir := range []string{cache, fresh} {
		q, r := queryFrom(t, srv, url, dir, count)
		if r.code != 0 || q.Snapshot != second || fmt.Sprint(q.Rows) != "[[600]]" {
			t.Fatalf("after the repair: exit %d, snapshot %d, %v: %s", r.code, q.Snapshot, q.Rows, r.stderr)
		}
		checkServedContent(t, dir, second, digest)
	}

	testutil.FlipByte(t, chunks[1], testutil.Middle)
	if rep := replicateJSON(t, store, env, "replicate", "--to", url); rep.Repaired != 0 {
		t.Fatalf("replicate without --verify and without a report: repaired %d, want 0 (it reads nothing back)", rep.Repaired)
	}
	if rep := replicateJSON(t, store, env, "replicate", "--to", url, "--verify"); rep.Repaired != 1 {
		t.Fatalf("replicate --verify with one damaged chunk: repaired %d, want 1", rep.Repaired)
	}
	checkRestore(t, srv, url, store)

	if err := os.Truncate(chunks[2], 100); err != nil {
		t.Fatal(err)
	}
	remoteDir := filepath.Join(srv.Dir, testutil.S3Bucket, "corrupt")
	if err := os.RemoveAll(filepath.Join(remoteDir, "snapshots")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(remoteDir, "CURRENT")); err != nil {
		t.Fatal(err)
	}
	replicateJSON(t, store, env, "replicate", "--to", url)
	checkRestore(t, srv, url, store)
}

// replicateOut is what 'memsnap replicate' prints.
type replicateOut struct {
	Current  uint64 `json:"current"`
	Repaired int    `json:"repaired"`
	Pulled   int    `json:"pulled"`
}

// replicateJSON runs a replicate command on store and decodes its summary.
func replicateJSON(t *testing.T, store string, env []string, args ...string) replicateOut {
	t.Helper()
	r := memsnap(t, store, nil, env, args...)
	var out replicateOut
	if err := json.Unmarshal([]byte(r.stdout), &out); r.code != 0 || err != nil {
		t.Fatalf("%v: exit %d %v: %s %s", args, r.code, err, r.stdout, r.stderr)
	}
	return out
}

// newChunks returns the backend files of the chunks that snapshot to's
// remote manifest names and from's does not.
func newChunks(t *testing.T, srv *testutil.S3Server, prefix string, from, to uint64) []string {
	t.Helper()
	chunks := func(seq uint64) []string {
		b, err := os.ReadFile(filepath.Join(srv.Dir, testutil.S3Bucket, prefix, "snapshots", fmt.Sprintf("%012d.json", seq)))
		if err != nil {
			t.Fatal(err)
		}
		var rm struct {
			Files []struct {
				Chunks []string `json:"chunks"`
			} `json:"files"`
		}
		if err := json.Unmarshal(b, &rm); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range rm.Files {
			out = append(out, f.Chunks...)
		}
		return out
	}
	old := map[string]bool{}
	for _, c := range chunks(from) {
		old[c] = true
	}
	var out []string
	for _, c := range chunks(to) {
		if !old[c] {
			old[c] = true
			out = append(out, filepath.Join(srv.Dir, testutil.S3Bucket, prefix, "chunks", c))
		}
	}
	return out
}

// TestReplicaWritesOff: with replica.writes off a replica refuses a write
// with a sentence that says why, and the remote queue stays empty.
func TestReplicaWritesOff(t *testing.T) {
	srv, url, _, _, _ := replicatedStore(t, "readonly")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := replicaSession(t, ctx, url, replicaEnv(srv, filepath.Join(t.TempDir(), "cache"), "MEMSNAP_REPLICA_WRITES=off"))
	wantToolError(t, ctx, cs, "create_entities", map[string]any{"entities": []any{entity("refused", "t")}}, "replica.writes is off")
	if exists(filepath.Join(srv.Dir, testutil.S3Bucket, "readonly", "queue")) {
		t.Fatal("a refused write reached the remote queue")
	}
}
