package tests

import "context"
import "fmt"
import "maps"
import "path/filepath"
import "slices"
import "sort"
import "strings"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// canon is a graph answer as one comparable string: entities sorted by
// name with their type and observations, then the relations sorted.
func (g graphJSON) canon() string {
	var es, rs []string
	for _, e := range g.Entities {
		es = append(es, e.Name+":"+e.EntityType+"["+strings.Join(e.Observations, ",")+"]")
	}
	for _, r := range g.Relations {
		rs = append(rs, r.From+">"+r.To+":"+r.RelationType)
	}
	sort.Strings(es)
	sort.Strings(rs)
	return strings.Join(es, " ") + " | " + strings.Join(rs, " ")
}

// Issue 28, point 1: the queue is the store's write-ahead log. A write one
// 'memsnap mcp' server acknowledged is read at once, before any commit (no
// daemon runs and neither server commits: mcp.commit_when_idle=false), by
// another server on the same store over stdio, by 'memsnap serve' over
// HTTP and by the command line, through every graph read (search_nodes,
// open_nodes, read_graph, neighbors); deletes and add_observations too.
// Once the jobs are committed, every read answers the same.
func TestQueuedWritesReadByEveryProcess(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	env := []string{"MEMSNAP_MCP_COMMIT_WHEN_IDLE=false", "MEMSNAP_READER_REFRESH=@every 1h"}
	writer := mcpSession(t, ctx, store, env...)
	other := mcpSession(t, ctx, store, env...)
	srv := startServe(t, ctx, store, env...)
	web, err := srv.session(ctx, srv.token, nil)
	if err != nil {
		t.Fatalf("connect over HTTP: %v", err)
	}
	t.Cleanup(func() { web.Close() })
	readers := map[string]*mcp.ClientSession{"stdio": other, "http": web}
	// Both readers have read the first snapshot before any write.
	for _, cs := range readers {
		mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": "qw"})
	}
	current := func() string { return currentSeq(t, store) }
	first := current()

	createEntities(t, ctx, writer, entity("qw-a", "note", "alpha apples"), entity("qw-b", "note"), entity("qw-c", "place", "gone soon"))
	mustCall(t, ctx, writer, "create_relations", map[string]any{"relations": []any{
		map[string]any{"from": "qw-a", "to": "qw-b", "relationType": "knows"},
		map[string]any{"from": "qw-c", "to": "qw-a", "relationType": "near"}}})
	mustCall(t, ctx, writer, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "qw-b", "contents": []string{"beta"}}}})
	mustCall(t, ctx, writer, "delete_entities", map[string]any{"entityNames": []string{"qw-c"}})

	if n := len(dirNames(t, filepath.Join(store, "queue", "new"))); n != 4 || current() != first {
		t.Fatalf("the writes must wait in queue/new uncommitted: %d jobs there, CURRENT %q then %q", n, first, current())
	}
	want := map[string]string{
		"search_nodes alpha": "qw-a:note[alpha apples] | qw-a>qw-b:knows",
		"open_nodes qw-b":    "qw-b:note[beta] | qw-a>qw-b:knows",
		"open_nodes qw-c":    " | ",
		"read_graph":         "qw-a:note[alpha apples] qw-b:note[beta] | qw-a>qw-b:knows",
		"neighbors qw-a":     "qw-a:note[alpha apples] qw-b:note[beta] | qw-a>qw-b:knows",
		"search_nodes beta":  "qw-b:note[beta] | qw-a>qw-b:knows",
		"search_nodes soon":  " | ",
	}
	check := func(when string) {
		t.Helper()
		for name, cs := range readers {
			for key, got := range graphReads(t, ctx, cs, slices.Collect(maps.Keys(want))) {
				if got != want[key] {
					t.Errorf("%s, %s server, %s:\n got %s\nwant %s", when, name, key, got, want[key])
				}
			}
		}
		if got := parseGraph(t, mustMemsnap(t, store, nil, "search", "--json", "alpha")).canon(); got != want["search_nodes alpha"] {
			t.Errorf("%s, memsnap search alpha: got %s", when, got)
		}
		if got := parseGraph(t, mustMemsnap(t, store, nil, "open", "--json", "qw-b")).canon(); got != want["open_nodes qw-b"] {
			t.Errorf("%s, memsnap open qw-b: got %s", when, got)
		}
	}
	check("acknowledged, not committed")
	if current() != first {
		t.Fatalf("a read committed the queued writes: CURRENT %q, was %q", current(), first)
	}

	// A later write changes what was read: observations deleted and added.
	mustCall(t, ctx, writer, "delete_observations", map[string]any{"deletions": []any{
		map[string]any{"entityName": "qw-a", "observations": []string{"alpha apples"}}}})
	mustCall(t, ctx, writer, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "qw-a", "contents": []string{"alpha pears"}}}})
	for key, v := range want {
		want[key] = strings.ReplaceAll(v, "alpha apples", "alpha pears")
	}
	want["search_nodes apples"] = " | "
	check("after a delete_observations and an add_observations")

	commit(t, store)
	if current() == first || len(dirNames(t, filepath.Join(store, "queue", "new"))) != 0 {
		t.Fatalf("commit: CURRENT %q, queue/new %v", current(), dirNames(t, filepath.Join(store, "queue", "new")))
	}
	check("committed")
	// The answers came from the committed snapshot.
	_, res := call(t, ctx, other, "read_graph", map[string]any{})
	if snap, cur := fmt.Sprint(res.Meta["memsnap/snapshot"]), current(); snap != cur {
		t.Errorf("after the commit, read_graph answered from snapshot %s, CURRENT is %s", snap, cur)
	}
}

// graphReads makes each read of keys ("search_nodes QUERY", "open_nodes
// NAME", "read_graph", "neighbors NAME") through cs and returns each answer
// as graphJSON.canon gives it.
func graphReads(t *testing.T, ctx context.Context, cs *mcp.ClientSession, keys []string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, key := range keys {
		tool, arg, _ := strings.Cut(key, " ")
		args := map[string]any{}
		switch tool {
		case "search_nodes":
			args["query"] = arg
		case "open_nodes":
			args["names"] = []string{arg}
		case "neighbors":
			args["name"] = arg
		}
		got[key] = parseGraph(t, mustCall(t, ctx, cs, tool, args)).canon()
	}
	return got
}

// A write acknowledged by one process is read at once by a process started
// after it, while a daemon commits it: the new process opens the snapshot
// before that commit, and the writer may remove the job from the queue
// before the new process's queue watch ever looks. Each round enqueues an
// entity (acknowledged once durable) and reads it at once with 'memsnap
// open' and 'memsnap search'. Before reads looked at CURRENT after the
// queue, 15 of 20 such reads answered without the write.
func TestNewProcessReadsAWriteTheDaemonIsCommitting(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	d := daemonCmd(ctx, store)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The daemon idles once the queue is empty: killed then, it
		// leaves nothing half done for the store check.
		waitUntil(t, ctx, "the daemon to apply every job", 50*time.Millisecond, func() bool {
			return len(dirNames(t, filepath.Join(store, "queue", "new")))+len(dirNames(t, filepath.Join(store, "queue", "cur"))) == 0
		})
		_ = d.Process.Kill()
		_ = d.Wait()
	})
	for i := range 12 {
		name := fmt.Sprintf("fresh-%d", i)
		job := fmt.Sprintf(`{"ops":[{"op":"create_entities","entities":[{"name":%q,"entityType":"t","observations":["round %d"]}]}]}`, name, i)
		mustMemsnap(t, store, []byte(job), "enqueue")
		if got := parseGraph(t, mustMemsnap(t, store, nil, "open", "--json", name)).canon(); !strings.HasPrefix(got, name+":") {
			t.Errorf("round %d: memsnap open %s right after its write: %s", i, name, got)
		}
		if got := parseGraph(t, mustMemsnap(t, store, nil, "search", "--json", name)).canon(); !strings.HasPrefix(got, name+":") {
			t.Errorf("round %d: memsnap search %s right after its write: %s", i, name, got)
		}
	}
}
