package tests

import "crypto/rand"
import "encoding/json"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "slices"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"
import "github.com/oklog/ulid/v2"

import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/snapshot"

// Issue 12, done-when 3: a write acknowledged on durability that the writer
// later rejects (another process deleted its entity in between) is
// dead-lettered with its reason, reported in the server's next answer, and
// listed by memory_status. The other process's delete is queued after the
// write was acknowledged, under an earlier id (its producer's clock is an
// hour behind), so the writer applies it first: a delete queued before the
// write was answered makes the write wait for the writer instead
// (TestDurableAckWithAnotherProcessesQueuedJobs).
func TestLateRejection(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	enqueue(t, store, map[string]any{"ops": []any{map[string]any{"op": "create_entities",
		"entities": []any{entity("Ent_X", "note", "first")}}}})
	mustMemsnap(t, store, nil, "commit")
	// This server leaves commits to others, so that its job waits in the
	// queue for the other process's delete.
	cs := mcpSession(t, ctx, store, "MEMSNAP_MCP_COMMIT_WHEN_IDLE=false", "MEMSNAP_READER_REFRESH=@every 100ms")
	mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": "Ent_X"}) // the server reads the snapshot with Ent_X

	text, res := call(t, ctx, cs, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "Ent_X", "contents": []string{"second"}}}})
	if res.IsError || !strings.Contains(text, "second") {
		t.Fatalf("add_observations on an entity the snapshot holds: want it acknowledged, got error=%v %s", res.IsError, text)
	}
	job, _ := res.Meta["memsnap/job"].(string)
	if job == "" || res.Meta["memsnap/jobStatus"] != "pending" {
		t.Fatalf("acknowledged on durability: want the job id and status pending in the metadata, got %v", res.Meta)
	}
	s, err := snapshot.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	earlier := ulid.MustNew(ulid.Timestamp(time.Now().Add(-time.Hour)), rand.Reader).String()
	if err := s.Queue().Enqueue(earlier, []byte(`{"ops":[{"op":"delete_entities","entityNames":["Ent_X"]}]}`)); err != nil {
		t.Fatal(err)
	}
	mustMemsnap(t, store, nil, "commit") // the delete applies first, then the write fails

	// The next answer (a read, which waits until the snapshot holds the
	// server's write) carries the warning.
	_, res = call(t, ctx, cs, "read_graph", map[string]any{})
	if res.IsError || len(res.Content) < 2 {
		t.Fatalf("answer after a late rejection: want the graph and a warning, got %d parts (error=%v)", len(res.Content), res.IsError)
	}
	warning := res.Content[len(res.Content)-1].(*mcp.TextContent).Text
	for _, want := range []string{job, "add_observations", "Ent_X", "Entity with name Ent_X not found"} {
		if !strings.Contains(warning, want) {
			t.Errorf("warning %q does not contain %q", warning, want)
		}
	}
	// Reported once: the answer after that carries no warning.
	if _, res = call(t, ctx, cs, "read_graph", map[string]any{}); len(res.Content) != 1 {
		t.Errorf("late rejection reported twice: %d parts", len(res.Content))
	}
	var st struct {
		LateRejections []struct{ JobID, Summary, Reason string } `json:"lateRejections"`
		PendingWrites  int                                       `json:"pendingWrites"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "memory_status", map[string]any{})), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.LateRejections) != 1 || st.LateRejections[0].JobID != job || st.PendingWrites != 0 {
		t.Errorf("memory_status: want one late rejection of %s and nothing pending, got %+v", job, st)
	}
	// Dead-lettered with its reason, as any rejected job.
	out := mustMemsnap(t, store, nil, "job", job)
	if !strings.Contains(out, `"rejected"`) || !strings.Contains(out, "not found") {
		t.Errorf("memsnap job %s: %s", job, out)
	}
	if q := mustMemsnap(t, store, nil, "status", "--json"); !strings.Contains(q, `"dead": 1`) && !strings.Contains(q, `"dead":1`) {
		t.Errorf("status: want one dead job: %s", q)
	}
}

// Issue 12, done-when 3: right after a write is acknowledged, every reference
// tool of the same server (and neighbors, kv_get, kv_scan, query) shows it.
// No daemon runs: the server commits its own writes.
func TestReadYourWrites(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cs := mcpSession(t, ctx, store, "MEMSNAP_READER_REFRESH=@every 1h") // only its own commits move the reader
	graph := func(tool string, args map[string]any) graphJSON {
		t.Helper()
		return parseGraph(t, mustCall(t, ctx, cs, tool, args))
	}
	has := func(g graphJSON, name string, obs ...string) bool {
		for _, e := range g.Entities {
			if e.Name == name {
				for _, o := range obs {
					if !slices.Contains(e.Observations, o) {
						return false
					}
				}
				return true
			}
		}
		return false
	}
	rels := func(g graphJSON) int { return len(g.Relations) }
	check := func(step string, ok bool, g any) {
		t.Helper()
		if !ok {
			t.Errorf("after %s: the server's own write is not visible: %+v", step, g)
		}
	}

	createEntities(t, ctx, cs,
		entity("ryw-a", "note", "alpha"),
		entity("ryw-b", "note"),
	)
	g := graph("search_nodes", map[string]any{"query": "alpha"})
	check("create_entities (search_nodes)", has(g, "ryw-a"), g)
	mustCall(t, ctx, cs, "create_relations", map[string]any{"relations": []any{
		map[string]any{"from": "ryw-a", "to": "ryw-b", "relationType": "knows"}}})
	g = graph("read_graph", map[string]any{})
	check("create_relations (read_graph)", rels(g) == 1 && has(g, "ryw-b"), g)
	mustCall(t, ctx, cs, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "ryw-b", "contents": []string{"beta"}}}})
	g = graph("open_nodes", map[string]any{"names": []string{"ryw-b"}})
	check("add_observations (open_nodes)", has(g, "ryw-b", "beta"), g)
	g = graph("neighbors", map[string]any{"name": "ryw-a"})
	check("add_observations (neighbors)", has(g, "ryw-b", "beta"), g)
	mustCall(t, ctx, cs, "delete_observations", map[string]any{"deletions": []any{
		map[string]any{"entityName": "ryw-a", "observations": []string{"alpha"}}}})
	g = graph("search_nodes", map[string]any{"query": "alpha"})
	check("delete_observations (search_nodes)", !has(g, "ryw-a"), g)
	mustCall(t, ctx, cs, "delete_relations", map[string]any{"relations": []any{
		map[string]any{"from": "ryw-a", "to": "ryw-b", "relationType": "knows"}}})
	g = graph("read_graph", map[string]any{})
	check("delete_relations (read_graph)", rels(g) == 0, g)
	mustCall(t, ctx, cs, "delete_entities", map[string]any{"entityNames": []string{"ryw-b"}})
	g = graph("open_nodes", map[string]any{"names": []string{"ryw-b"}})
	check("delete_entities (open_nodes)", len(g.Entities) == 0, g)

	mustCall(t, ctx, cs, "kv_put", map[string]any{"key": "ryw/k", "value": "v1"})
	if text := mustCall(t, ctx, cs, "kv_get", map[string]any{"key": "ryw/k"}); !strings.Contains(text, `"v1"`) {
		t.Errorf("after kv_put: kv_get answers %s", text)
	}
	mustCall(t, ctx, cs, "kv_put", map[string]any{"key": "ryw/k", "value": "v2"})
	if text := mustCall(t, ctx, cs, "kv_scan", map[string]any{"prefix": "ryw/"}); !strings.Contains(text, `"v2"`) {
		t.Errorf("after kv_put: kv_scan answers %s", text)
	}
	createEntities(t, ctx, cs, entity("ryw-c", "note"))
	var q struct{ Rows [][]int64 }
	text := mustCall(t, ctx, cs, "query", map[string]any{"cypher": "MATCH (e:Entity) RETURN count(*)"})
	if err := json.Unmarshal([]byte(text), &q); err != nil || len(q.Rows) != 1 || q.Rows[0][0] != 2 {
		t.Errorf("after create_entities: query answers %s, want a count of 2 (ryw-a, ryw-c)", text)
	}
}

// Issue 12, done-when 4: 1000 writes through one MCP server with no daemon
// leave at most the retention's worth of snapshots on disk (gc.keep, plus
// any a reader still pins): whoever commits also collects.
func TestWritesWithoutDaemonKeepDiskBounded(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	const writes, keep = 1000, 3
	// At most 50 jobs a snapshot: at least 20 snapshots are published,
	// however the machine's speed groups the commits.
	cs := mcpSession(t, ctx, store, fmt.Sprintf("MEMSNAP_GC_KEEP=%d", keep), "MEMSNAP_WRITER_MAX_BATCH_JOBS=50")
	for i := range writes {
		createEntities(t, ctx, cs, entity(fmt.Sprintf("bounded-%04d", i), "note", "x"))
	}
	// query (Cypher reads the snapshot alone) waits for the server's own
	// writes: every one is applied then. The graph reads answer with the
	// queued writes and wait for nothing.
	mustCall(t, ctx, cs, "query", map[string]any{"cypher": "RETURN 1"})
	g := parseGraph(t, mustCall(t, ctx, cs, "read_graph", map[string]any{"limit": 1}))
	if len(g.Entities) != 1 {
		t.Fatalf("read_graph: %+v", g)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(*)"); n != writes {
		t.Fatalf("%d entities, want %d", n, writes)
	}
	// The last commit collected what it could; a server may still pin the
	// snapshot it read before it moved on.
	snaps, err := os.ReadDir(filepath.Join(store, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	bytes := fsutil.TreeSize(store)
	var st struct{ Current uint64 }
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Current < writes/50 {
		t.Fatalf("CURRENT is snapshot %d: fewer than %d snapshots for %d jobs at 50 a snapshot", st.Current, writes/50, writes)
	}
	t.Logf("%d writes: %d snapshots published, %d snapshot directories left, %d bytes in the store", writes, st.Current, len(snaps), bytes)
	if len(snaps) > keep+1 {
		t.Errorf("%d snapshot directories after %d writes without a daemon, want at most gc.keep (%d) + 1 pinned", len(snaps), writes, keep)
	}
}

// With mcp.write_ack applied, a write the writer would refuse is refused at
// once, as with durable: nothing is queued and nothing is dead-lettered.
func TestAppliedAckRefusesWithoutQueueing(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cs := mcpSession(t, ctx, store, "MEMSNAP_MCP_WRITE_ACK=applied")
	wantToolError(t, ctx, cs, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "Ghost", "contents": []string{"boo"}}}}, "Entity with name Ghost not found")
	text, res := call(t, ctx, cs, "create_entities", map[string]any{"entities": []any{
		entity("Real", "note")}})
	if res.IsError || res.Meta["memsnap/jobStatus"] != "applied" {
		t.Fatalf("create_entities with write_ack applied: %s %v", text, res.Meta)
	}
	var st struct {
		Queue struct {
			New  int `json:"new"`
			Cur  int `json:"claimed"`
			Dead int `json:"dead"`
		} `json:"queue"`
	}
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Queue.New+st.Queue.Cur+st.Queue.Dead != 0 {
		t.Errorf("a refused write left jobs behind: %+v", st.Queue)
	}
}

// A server that stops with writes it acknowledged still queued commits them
// before it exits, instead of leaving them for the next writer.
func TestServerCommitsItsWritesOnExit(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	// A group commit window of an hour: only the exit commits.
	cs := mcpSession(t, ctx, store, "MEMSNAP_WRITER_COMMIT_DELAY=1h")
	for i := range 3 {
		createEntities(t, ctx, cs, entity(fmt.Sprintf("exit-%d", i), "note"))
	}
	if err := cs.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(*)"); n != 3 {
		t.Errorf("after the server exited: %d entities, want its 3 acknowledged writes", n)
	}
}

// A commit whose output nobody reads any more (the server that started it
// exited) still finishes: it publishes and cleans the queue up instead of
// dying of SIGPIPE at its first log line.
func TestCommitOutlivesItsReader(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("orphan", "t"))))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close() // every write to pw now fails with EPIPE
	cmd := exec.Command(bin, "--store", store, "--log-level", "debug", "commit")
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Run()
	pw.Close()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("commit died of %v (%v)", ws.Signal(), err)
	}
	var st struct {
		Current uint64 `json:"current"`
		Queue   struct {
			New int `json:"new"`
			Cur int `json:"claimed"`
		} `json:"queue"`
	}
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Current != 2 || st.Queue.New+st.Queue.Cur != 0 { // 1 is the empty snapshot init publishes
		t.Errorf("after a commit with nobody reading its output: %+v, want snapshot 2 and an empty queue", st)
	}
}

// A write that waited for the writer (another process's queued job names
// its entity) and was answered "it stays queued and will apply" is
// followed like an acknowledged one: when the writer then rejects it, the
// server's next answer carries the warning and memory_status lists it.
func TestLateRejectionOfAWriteLeftQueued(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	env := []string{"MEMSNAP_MCP_COMMIT_WHEN_IDLE=false", "MEMSNAP_MCP_WRITE_TIMEOUT=1s"}
	a := mcpSession(t, ctx, store, env...)
	b := mcpSession(t, ctx, store, env...)
	createEntities(t, ctx, a, entity("Left_Y", "note"))
	// B's delete names what A's queued create names: it waits, then stays queued.
	if text, res := call(t, ctx, b, "delete_entities", map[string]any{"entityNames": []string{"Left_Y"}}); !res.IsError || !strings.Contains(text, "stays queued") {
		t.Fatalf("delete behind another server's queued create: want it left queued, got error=%v %s", res.IsError, text)
	}
	text, res := call(t, ctx, a, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "Left_Y", "contents": []string{"too late"}}}})
	if !res.IsError || !strings.Contains(text, "stays queued") {
		t.Fatalf("add_observations behind another server's queued delete: want it left queued, got error=%v %s", res.IsError, text)
	}
	mustMemsnap(t, store, nil, "commit") // create, delete, then the add fails
	_, res = call(t, ctx, a, "read_graph", map[string]any{})
	last := res.Content[len(res.Content)-1].(*mcp.TextContent).Text
	if !strings.Contains(last, "add_observations") || !strings.Contains(last, "Entity with name Left_Y not found") {
		t.Errorf("answer after the writer rejected the write left queued: last part %q, want the late-rejection warning", last)
	}
	var st struct {
		LateRejections []struct{ Summary, Reason string } `json:"lateRejections"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, ctx, a, "memory_status", map[string]any{})), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.LateRejections) != 1 || !strings.Contains(st.LateRejections[0].Reason, "Left_Y") {
		t.Errorf("memory_status: want the write left queued listed as a late rejection, got %+v", st.LateRejections)
	}
}
