package tests

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "slices"
import "sort"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/google/jsonschema-go/jsonschema"
import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/internal/testutil"

// mcpSession starts the real 'memsnap mcp' binary on store and connects the
// Go SDK client to it over stdio.
func mcpSession(t *testing.T, ctx context.Context, store string, env ...string) *mcp.ClientSession {
	t.Helper()
	return mcpSessionWith(t, ctx, store, nil, env...)
}

// mcpOnNewStore starts an MCP server on a new, empty store and returns the
// test's context and the client's session.
func mcpOnNewStore(t *testing.T) (context.Context, *mcp.ClientSession) {
	t.Helper()
	ctx := testContext(t)
	return ctx, mcpSession(t, ctx, newStore(t))
}

// mcpSessionWith is mcpSession with client options.
func mcpSessionWith(t *testing.T, ctx context.Context, store string, opts *mcp.ClientOptions, env ...string) *mcp.ClientSession {
	t.Helper()
	cs, _ := mcpProcess(t, ctx, store, opts, env...)
	return cs
}

// mcpProcess is mcpSessionWith that also returns the server's process, to
// be killed.
func mcpProcess(t *testing.T, ctx context.Context, store string, opts *mcp.ClientOptions, env ...string) (*mcp.ClientSession, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, "--store", store, "--log-level", "warn", "mcp")
	return connectMCP(t, ctx, cmd, opts, env), cmd
}

// connectMCP starts cmd, a 'memsnap mcp' command line, with env added to
// the environment, and connects the Go SDK client to it over stdio; the
// session is closed when the test ends.
func connectMCP(t *testing.T, ctx context.Context, cmd *exec.Cmd, opts *mcp.ClientOptions, env []string) *mcp.ClientSession {
	t.Helper()
	// A write waits for its snapshot as long as the test may run: on a
	// loaded machine commits are slow, and go test -timeout is the guard.
	cmd.Env = append(append(os.Environ(), "MEMSNAP_MCP_WRITE_TIMEOUT=30m"), env...)
	cmd.Stderr = os.Stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "memsnap-test", Version: "1"}, opts)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to memsnap %s: %v", strings.Join(cmd.Args[1:], " "), err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// call runs a tool and returns its text, failing the test on a protocol error.
func call(t *testing.T, ctx context.Context, cs *mcp.ClientSession, tool string, args any) (text string, res *mcp.CallToolResult) {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", tool, err)
	}
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	return text, res
}

// mustCall runs a tool that must succeed.
func mustCall(t *testing.T, ctx context.Context, cs *mcp.ClientSession, tool string, args any) string {
	t.Helper()
	text, res := call(t, ctx, cs, tool, args)
	if res.IsError {
		t.Fatalf("%s(%v) failed: %s", tool, args, text)
	}
	return text
}

// createEntities calls create_entities with es (entity's maps), which must
// succeed, and returns its answer.
func createEntities(t *testing.T, ctx context.Context, cs *mcp.ClientSession, es ...map[string]any) string {
	t.Helper()
	return mustCall(t, ctx, cs, "create_entities", map[string]any{"entities": es})
}

// wantToolError runs a tool that must answer with a tool error containing want.
func wantToolError(t *testing.T, ctx context.Context, cs *mcp.ClientSession, tool string, args any, want string) {
	t.Helper()
	text, res := call(t, ctx, cs, tool, args)
	if !res.IsError || !strings.Contains(text, want) {
		t.Errorf("%s(%.200v): want a tool error containing %q, got error=%v %q", tool, args, want, res.IsError, text)
	}
	if strings.Contains(text, "\n") {
		t.Errorf("%s: error is not one line: %q", tool, text)
	}
}

// graphJSON is a graph answer as an MCP client reads it: entities, relations
// and the cursor of the next page.
type graphJSON struct {
	Entities []struct {
		Name         string   `json:"name"`
		EntityType   string   `json:"entityType"`
		Observations []string `json:"observations"`
	} `json:"entities"`
	Relations []struct {
		From, To, RelationType string
	} `json:"relations"`
	NextCursor string `json:"nextCursor"`
}

func parseGraph(t *testing.T, text string) graphJSON {
	t.Helper()
	return decodeAnswer[graphJSON](t, "graph answer", text)
}

func (g graphJSON) names() []string {
	var out []string
	for _, e := range g.Entities {
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

// schemaShape keeps what makes two schemas the same for a client: types,
// required fields, properties and items, recursively.
func schemaShape(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for _, k := range []string{"type", "items"} {
		if x, ok := m[k]; ok {
			out[k] = schemaShape(x)
		}
	}
	if req, ok := m["required"].([]any); ok && len(req) > 0 {
		out["required"] = req
	}
	if props, ok := m["properties"].(map[string]any); ok {
		p := map[string]any{}
		for k, x := range props {
			p[k] = schemaShape(x)
		}
		out["properties"] = p
	}
	return out
}

// Done-when 1 and 5: every tool of the real binary, its schema, its success
// and error answers; bad input gets a clear tool error and the server keeps
// serving.
func TestMCPServer(t *testing.T) {
	ctx, cs := mcpOnNewStore(t)

	checkReferenceSchemas(t, ctx, cs)

	// Reads before anything is published see an empty memory.
	if g := parseGraph(t, mustCall(t, ctx, cs, "read_graph", map[string]any{})); len(g.Entities) != 0 {
		t.Errorf("empty store read_graph: %+v", g)
	}

	writeSmallGraph(t, ctx, cs)

	// Reads see the server's own writes at once.
	g := parseGraph(t, mustCall(t, ctx, cs, "read_graph", map[string]any{}))
	if !slices.Equal(g.names(), []string{"Kuzu", "Pebble", "memsnap"}) || len(g.Relations) != 2 {
		t.Errorf("read_graph: %+v", g)
	}
	page := parseGraph(t, mustCall(t, ctx, cs, "read_graph", map[string]any{"limit": 2}))
	if len(page.Entities) != 2 || page.NextCursor == "" {
		t.Errorf("read_graph page: %+v", page)
	}
	rest := parseGraph(t, mustCall(t, ctx, cs, "read_graph", map[string]any{"limit": 2, "cursor": page.NextCursor}))
	if len(rest.Entities) != 1 || rest.NextCursor != "" {
		t.Errorf("read_graph second page: %+v", rest)
	}
	g = parseGraph(t, mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": "ARCHIVED"}))
	if !slices.Equal(g.names(), []string{"Kuzu"}) {
		t.Errorf("search_nodes: %+v", g)
	}
	g = parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"memsnap", "Kuzu", "Nope"}}))
	if !slices.Equal(g.names(), []string{"Kuzu", "memsnap"}) || len(g.Relations) != 2 { // memsnap->Kuzu and memsnap->Pebble
		t.Errorf("open_nodes: %+v", g)
	}
	g = parseGraph(t, mustCall(t, ctx, cs, "neighbors", map[string]any{"name": "memsnap"}))
	if !slices.Equal(g.names(), []string{"Kuzu", "Pebble", "memsnap"}) {
		t.Errorf("neighbors: %+v", g)
	}
	wantToolError(t, ctx, cs, "neighbors", map[string]any{"name": "Ghost"}, "Entity with name Ghost not found")
	text := mustCall(t, ctx, cs, "query", map[string]any{"cypher": "MATCH (e:Entity) WHERE e.entityType = $t RETURN e.name", "params": map[string]any{"t": "project"}})
	if !strings.Contains(text, `"memsnap"`) || !strings.Contains(text, `"snapshot"`) {
		t.Errorf("query: %s", text)
	}
	if text = mustCall(t, ctx, cs, "kv_put", map[string]any{"key": "session/1", "value": "hello"}); !strings.Contains(text, "session/1") {
		t.Errorf("kv_put: %s", text)
	}
	if text = mustCall(t, ctx, cs, "kv_get", map[string]any{"key": "session/1"}); !strings.Contains(text, `"value": "hello"`) || !strings.Contains(text, `"found": true`) {
		t.Errorf("kv_get: %s", text)
	}
	if text = mustCall(t, ctx, cs, "kv_scan", map[string]any{"prefix": "session/"}); !strings.Contains(text, `"hello"`) {
		t.Errorf("kv_scan: %s", text)
	}
	var st struct {
		Snapshot   uint64 `json:"snapshot"`
		QueueDepth int    `json:"queueDepth"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "memory_status", map[string]any{})), &st); err != nil || st.Snapshot == 0 {
		t.Errorf("memory_status: %+v %v", st, err)
	}

	// Deletes answer with the reference's messages.
	if text = mustCall(t, ctx, cs, "delete_observations", map[string]any{"deletions": []any{
		map[string]any{"entityName": "Kuzu", "observations": []string{"archived Oct 2025"}}}}); text != "Observations deleted successfully" {
		t.Errorf("delete_observations: %q", text)
	}
	if text = mustCall(t, ctx, cs, "delete_relations", map[string]any{"relations": []any{
		map[string]any{"from": "memsnap", "to": "Pebble", "relationType": "uses"},
		map[string]any{"from": "Pebble", "to": "memsnap", "relationType": "uses"}}}); text != "Deleted 1 of 2 relations. The rest matched nothing." {
		t.Errorf("delete_relations: %q", text)
	}
	if text = mustCall(t, ctx, cs, "delete_entities", map[string]any{"entityNames": []string{"Pebble", "Nobody"}}); text != "Deleted 1 of 2 entities. Not found: Nobody" {
		t.Errorf("delete_entities: %q", text)
	}

	// The resource.
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "memory://knowledge-graph"})
	if err != nil || len(rr.Contents) != 1 || rr.Contents[0].MIMEType != "application/json" {
		t.Fatalf("resource: %+v %v", rr, err)
	}
	if g := parseGraph(t, rr.Contents[0].Text); !slices.Equal(g.names(), []string{"Kuzu", "memsnap"}) {
		t.Errorf("resource graph: %+v", g)
	}

	sendBadInput(t, ctx, cs)
	if g := parseGraph(t, mustCall(t, ctx, cs, "read_graph", map[string]any{})); len(g.Entities) != 2 {
		t.Errorf("after bad input the memory changed: %+v", g)
	}
}

// checkReferenceSchemas checks that the reference tools take exactly the
// reference's arguments (read_graph adds only optional paging, search_nodes
// and open_nodes an optional time window, limit and cursor) and that
// memsnap's own tools are there.
func checkReferenceSchemas(t *testing.T, ctx context.Context, cs *mcp.ClientSession) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "mcp", "reference-tools.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]any
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]*mcp.Tool{}
	for _, tool := range tools.Tools {
		have[tool.Name] = tool
	}
	for _, name := range []string{"neighbors", "query", "kv_get", "kv_put", "kv_scan", "memory_status"} {
		if have[name] == nil {
			t.Errorf("tool %s is missing", name)
		}
	}
	for name, want := range ref {
		if name == "_source" {
			continue
		}
		tool := have[name]
		if tool == nil {
			t.Errorf("reference tool %s is missing", name)
			continue
		}
		var got map[string]any
		raw, _ := json.Marshal(tool.InputSchema)
		_ = json.Unmarshal(raw, &got)
		gotShape := schemaShape(got).(map[string]any)
		switch name {
		case "read_graph":
			gotShape["properties"] = map[string]any{} // optional paging arguments are memsnap's addition
		case "search_nodes", "open_nodes":
			props := gotShape["properties"].(map[string]any) // so are the optional time window, limit, cursor and at (history)
			for _, p := range []string{"since", "until", "limit", "cursor", "at"} {
				delete(props, p)
			}
		}
		gj, _ := json.Marshal(gotShape)
		wj, _ := json.Marshal(schemaShape(want))
		if string(gj) != string(wj) {
			t.Errorf("%s input schema differs from the reference:\n got %s\nwant %s", name, gj, wj)
		}
	}
}

// writeSmallGraph writes Kuzu, Pebble and memsnap, memsnap's two uses
// relations and an observation of Kuzu, checking each answer against the
// reference's, and that a write naming a missing entity is rejected with
// the reference's words.
func writeSmallGraph(t *testing.T, ctx context.Context, cs *mcp.ClientSession) {
	t.Helper()
	text := createEntities(t, ctx, cs,
		entity("Kuzu", "database", "embedded graph DB"),
		entity("memsnap", "project"),
	)
	var created []map[string]any
	if err := json.Unmarshal([]byte(text), &created); err != nil || len(created) != 2 {
		t.Fatalf("create_entities answer: %v %s", err, text)
	}
	text = createEntities(t, ctx, cs,
		entity("Kuzu", "database"),
		entity("Pebble", "kv store", "LSM"),
	)
	if err := json.Unmarshal([]byte(text), &created); err != nil || len(created) != 1 || created[0]["name"] != "Pebble" {
		t.Errorf("create_entities skips existing names: %s", text)
	}
	text = mustCall(t, ctx, cs, "create_relations", map[string]any{"relations": []any{
		map[string]any{"from": "memsnap", "to": "Kuzu", "relationType": "uses"},
		map[string]any{"from": "memsnap", "to": "Pebble", "relationType": "uses"},
	}})
	if !strings.Contains(text, `"relationType": "uses"`) {
		t.Errorf("create_relations answer: %s", text)
	}
	text = mustCall(t, ctx, cs, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "Kuzu", "contents": []string{"embedded graph DB", "archived Oct 2025"}},
	}})
	var added []struct {
		EntityName        string   `json:"entityName"`
		AddedObservations []string `json:"addedObservations"`
	}
	if err := json.Unmarshal([]byte(text), &added); err != nil || len(added) != 1 || !slices.Equal(added[0].AddedObservations, []string{"archived Oct 2025"}) {
		t.Errorf("add_observations answer: %v %s", err, text)
	}
	// The reference's error: the job is rejected as a whole, with its words.
	wantToolError(t, ctx, cs, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "Ghost", "contents": []string{"boo"}},
	}}, "Entity with name Ghost not found")
	wantToolError(t, ctx, cs, "create_relations", map[string]any{"relations": []any{
		map[string]any{"from": "memsnap", "to": "Ghost", "relationType": "haunts"},
	}}, "Entity with name Ghost not found")
}

// sendBadInput sends tool calls with bad arguments: each must get a clear
// tool error.
func sendBadInput(t *testing.T, ctx context.Context, cs *mcp.ClientSession) {
	t.Helper()
	wantToolError(t, ctx, cs, "create_entities", map[string]any{"entities": "Kuzu"}, "entities")
	wantToolError(t, ctx, cs, "create_entities", map[string]any{"entities": []any{map[string]any{"name": "x", "entityType": "t"}}}, "observations")
	wantToolError(t, ctx, cs, "create_entities", map[string]any{}, "entities")
	wantToolError(t, ctx, cs, "create_entities", map[string]any{"entities": []any{entity("", "t")}}, "name")
	wantToolError(t, ctx, cs, "open_nodes", map[string]any{"names": []int{1, 2}}, "names")
	wantToolError(t, ctx, cs, "neighbors", map[string]any{"name": "Kuzu", "depth": 99}, "depth")
	wantToolError(t, ctx, cs, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "Kuzu", "contents": []string{strings.Repeat("x", 2<<20)}}}}, "over the limit")
	wantToolError(t, ctx, cs, "search_nodes", map[string]any{"query": strings.Repeat("q", 5000)}, "query")
	for _, q := range []string{"MATCH (e:Entity) SET e.name = 'x'", "COPY (MATCH (e) RETURN e) TO '/tmp/x.csv'",
		"CALL read_text('/etc/passwd') RETURN *", "LOAD FROM '/etc/passwd' RETURN *", "ATTACH '/tmp/db' AS x (dbtype kuzu)",
		"MATCH (e) RETURN e; MATCH (e) DETACH DELETE e"} {
		wantToolError(t, ctx, cs, "query", map[string]any{"cypher": q}, "query refused")
	}
	wantToolError(t, ctx, cs, "query", map[string]any{"cypher": "MATCH (e:Nope) RETURN e"}, "Nope")
}

// Done-when 2: five 'memsnap mcp' processes, a daemon and a CLI reader on
// one store; every server writes concurrently; every write is kept, no call
// fails, and every server sees every write.
// TestManyMCPServers writes through 5 MCP servers at once with a daemon
// committing, and through 3 without one (the servers then commit
// themselves: group commit; 60 entities and 57 relations), while a CLI
// reader polls: no write is lost, and each server reads its own writes as
// soon as it has acknowledged them.
func TestManyMCPServers(t *testing.T) {
	t.Run("daemon", func(t *testing.T) { testManyMCPServers(t, true, 5, 6) })
	t.Run("no-daemon", func(t *testing.T) { testManyMCPServers(t, false, 3, 20) })
}

func testManyMCPServers(t *testing.T, withDaemon bool, servers, perServer int) {
	ctx := testContext(t)
	store := newStore(t)
	env := []string{"MEMSNAP_READER_REFRESH=@every 200ms", "MEMSNAP_WRITER_COMMIT=@every 150ms"}
	if withDaemon {
		daemon := daemonCmd(ctx, store, env...)
		if err := daemon.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = daemon.Process.Signal(os.Interrupt)
			_ = daemon.Wait()
		}()
	}

	sessions := make([]*mcp.ClientSession, servers)
	for i := range sessions {
		sessions[i] = mcpSession(t, ctx, store, env...)
	}

	// A CLI reader polls all the while.
	stopReader := make(chan struct{})
	var readerRuns, readerErrs int
	var readerWG sync.WaitGroup
	readerWG.Add(1)
	go func() {
		defer readerWG.Done()
		for {
			select {
			case <-stopReader:
				return
			default:
			}
			r := memsnap(t, store, nil, nil, "search", "--json", "srv")
			readerRuns++
			if r.code != 0 && !strings.Contains(r.stderr, "nothing published") && !strings.Contains(r.stderr, "no snapshot") {
				readerErrs++
				t.Errorf("CLI reader: %s", r.stderr)
			}
		}
	}()

	var wg sync.WaitGroup
	for i, cs := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeAsServer(t, ctx, cs, i, perServer)
		}()
	}
	wg.Wait()
	close(stopReader)
	readerWG.Wait()

	wantEntities, wantRels := servers*perServer, servers*(perServer-1)
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(*)"); n != int64(wantEntities) {
		t.Errorf("entities: %d, want %d", n, wantEntities)
	}
	if n := queryInt(t, store, "MATCH ()-[r:Relation]->() RETURN count(*)"); n != int64(wantRels) {
		t.Errorf("relations: %d, want %d", n, wantRels)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) WHERE size(e.observations) = 2 OR (size(e.observations) = 1 AND e.observations[1] <> 'first') RETURN count(*)"); n != int64(wantEntities) {
		t.Errorf("entities with every observation: %d, want %d", n, wantEntities)
	}
	// Every server sees every write once its schedule refreshes it.
	for i, cs := range sessions {
		waitUntil(t, ctx, fmt.Sprintf("server %d to see %d entities and %d relations", i, wantEntities, wantRels), 100*time.Millisecond, func() bool {
			g := parseGraph(t, mustCall(t, ctx, cs, "read_graph", map[string]any{}))
			return len(g.Entities) == wantEntities && len(g.Relations) == wantRels
		})
	}
	t.Logf("%d servers x %d writes each, CLI reader ran %d searches with %d errors", servers, perServer/2+perServer-1+perServer, readerRuns, readerErrs)
}

// writeAsServer writes through server i (cs) perServer entities named
// srv<i>-e<k>, chained by relations, and an observation of each, then
// checks that the server reads all its own writes at once
// (read-your-writes) and that a query waits until they are committed.
func writeAsServer(t *testing.T, ctx context.Context, cs *mcp.ClientSession, i, perServer int) {
	name := func(k int) string { return fmt.Sprintf("srv%d-e%d", i, k) }
	for k := 0; k < perServer; k += 2 {
		createEntities(t, ctx, cs,
			entity(name(k), "note", "first"),
			entity(name(k+1), "note"),
		)
	}
	for k := 1; k < perServer; k++ {
		mustCall(t, ctx, cs, "create_relations", map[string]any{"relations": []any{
			map[string]any{"from": name(k - 1), "to": name(k), "relationType": "next"}}})
	}
	for k := 0; k < perServer; k++ {
		mustCall(t, ctx, cs, "add_observations", map[string]any{"observations": []any{
			map[string]any{"entityName": name(k), "contents": []string{fmt.Sprintf("from server %d", i)}}}})
	}
	// Read-your-writes: the server's own writes are all visible to it
	// right after they were acknowledged.
	var names []string
	for k := range perServer {
		names = append(names, name(k))
	}
	g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": names}))
	mine := fmt.Sprintf("from server %d", i)
	for _, e := range g.Entities {
		if !slices.Contains(e.Observations, mine) {
			t.Errorf("server %d reads its own entity %s without its observation: %v", i, e.Name, e.Observations)
		}
	}
	if len(g.Entities) != perServer || len(g.Relations) != perServer-1 {
		t.Errorf("server %d reads its own writes as %d entities and %d relations, want %d and %d",
			i, len(g.Entities), len(g.Relations), perServer, perServer-1)
	}
	// query (Cypher reads the snapshot alone) waits until the
	// server's writes are committed.
	mustCall(t, ctx, cs, "query", map[string]any{"cypher": "RETURN 1"})
}

// Done-when 3: a reference JSONL memory file imports and exports back to the
// same entities, relations and observations.
func TestImportExportRoundTrip(t *testing.T) {
	store := newStore(t)
	src := filepath.Join("..", "testdata", "mcp", "memory.jsonl")
	out := mustMemsnap(t, store, nil, "import", "--wait", "--batch", "3", src)
	if !strings.Contains(out, `"rejected":0`) {
		t.Fatalf("import: %s", out)
	}
	exported := mustMemsnap(t, store, nil, "export")
	canon := func(text string) []string {
		var lines []string
		for _, l := range strings.Split(text, "\n") {
			if strings.TrimSpace(l) == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("bad line %q: %v", l, err)
			}
			b, _ := json.Marshal(m) // sorted keys
			lines = append(lines, string(b))
		}
		sort.Strings(lines)
		return lines
	}
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := canon(exported), canon(string(want)); !slices.Equal(got, want) {
		t.Errorf("round trip differs:\n got %v\nwant %v", got, want)
	}

	// The CLI reads over the same API.
	for args, want := range map[string][]string{
		"search --json babbage":                              {"Charles Babbage", "Ada Lovelace"},
		"open --json Note G":                                 {},
		"neighbors --json --depth 1 London":                  {"London", "Ada Lovelace", "Charles Babbage"},
		"graph --json --limit 2":                             {"Ada Lovelace", "Analytical Engine"},
		"graph --json --type person":                         {"Ada Lovelace", "Charles Babbage"},
		"neighbors --json --type designed Analytical Engine": {},
	} {
		fields := strings.Fields(args)
		switch fields[0] {
		case "open":
			fields = []string{"open", "--json", "Note G", "London"}
			want = []string{"Note G", "London"}
		case "neighbors":
			if strings.Contains(args, "designed") {
				fields = []string{"neighbors", "--json", "--type", "designed", "Analytical Engine"}
				want = []string{"Analytical Engine", "Charles Babbage"}
			}
		}
		g := parseGraph(t, mustMemsnap(t, store, nil, fields...))
		var got []string
		for _, e := range g.Entities {
			got = append(got, e.Name)
		}
		if fields[0] == "neighbors" && len(got) > 1 { // the start first, the rest in any order
			slices.Sort(got[1:])
			slices.Sort(want[1:])
		}
		if !slices.Equal(got, want) {
			t.Errorf("memsnap %s: %v, want %v", strings.Join(fields, " "), got, want)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"type\":\"entity\",\"name\":\"a\",\"entityType\":\"t\",\"observations\":[]}\n\n{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "import", "--strict", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "line 3") {
		t.Errorf("bad line, --strict: exit %d: %s", r.code, r.stderr)
	}
	if r := memsnap(t, store, nil, nil, "import", bad); r.code != 0 || !strings.Contains(r.stdout, `"skipped":1`) || !strings.Contains(r.stderr, "line 3: skipped: not a JSON object") {
		t.Errorf("bad line: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	// Two values on one line: the second is not dropped silently.
	two := filepath.Join(t.TempDir(), "two.jsonl")
	if err := os.WriteFile(two, []byte(`{"type":"entity","name":"T1","entityType":"t","observations":[]} {"type":"entity","name":"T2","entityType":"t","observations":[]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := memsnap(t, store, nil, nil, "import", two); !strings.Contains(r.stderr, "line 1: skipped: more than one JSON value") {
		t.Errorf("two values on a line: exit %d: %s", r.code, r.stderr)
	}
}

// Issue 13: import streams the file. A relation may come before the
// entities it names (relations are queued after the last entity); with
// --wait the whole import is one snapshot; with --strict a bad line
// anywhere, even the last, queues nothing. A byte order mark and an empty
// entityType (which export writes) are accepted.
func TestImportStreams(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	var lines []string
	lines = append(lines, `{"type":"relation","from":"e0","to":"e4","relationType":"knows"}`)
	for i := 0; i < 5; i++ {
		lines = append(lines, fmt.Sprintf(`{"type":"entity","name":"e%d","entityType":"t","observations":["obs %d"]}`, i, i))
	}
	lines = append(lines, `{"type":"relation","from":"e1","to":"e2","relationType":"knows"}`)
	// A byte order mark, and an entity of empty type, as export writes it.
	lines = append(lines, `{"type":"entity","name":"untyped","entityType":"","observations":[]}`)
	good := filepath.Join(dir, "good.jsonl")
	if err := os.WriteFile(good, []byte("\xef\xbb\xbf"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")+"\n{\"type\":\"entity\",\"name\":\"late\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "import", "--wait", "--strict", "--batch", "2", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "line 9") {
		t.Fatalf("bad last line: exit %d: %s", r.code, r.stderr)
	}
	if n := dirNames(t, filepath.Join(store, "queue", "new")); len(n) != 0 {
		t.Fatalf("a refused import queued %v", n)
	}
	before := len(dirNames(t, filepath.Join(store, "snapshots")))
	out := mustMemsnap(t, store, nil, "import", "--wait", "--batch", "2", good)
	if !strings.Contains(out, `"entities":6`) || !strings.Contains(out, `"relations":2`) || !strings.Contains(out, `"jobs":4`) || !strings.Contains(out, `"rejected":0`) {
		t.Fatalf("import: %s", out)
	}
	if exp := mustMemsnap(t, store, nil, "export"); !strings.Contains(exp, `{"type":"entity","name":"untyped","entityType":"","observations":[]}`) {
		t.Fatalf("export lost the empty entityType:\n%s", exp)
	}
	if n := queryInt(t, store, "MATCH (:Entity)-[r:Relation]->(:Entity) RETURN count(r)"); n != 2 {
		t.Fatalf("%d relations after the import, want 2", n)
	}
	if after := len(dirNames(t, filepath.Join(store, "snapshots"))); after != before+1 {
		t.Fatalf("import --wait published %d snapshots, want 1", after-before)
	}
}

// Issue 14, input 4: a "~" in the store path, from the flag, MEMSNAP_STORE
// or the config file (MCP clients pass it with no shell), is the home
// directory; no literal "~" directory appears in the current directory.
func TestTildeInStorePath(t *testing.T) {
	home, cwd := t.TempDir(), t.TempDir()
	testutil.WriteFile(t, filepath.Join(home, "memsnap.yaml"), "store: ~/from-config\n") // read as --config ~/memsnap.yaml
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		dir  string
	}{
		{"flag", []string{"--store", "~/from-flag", "init"}, nil, "from-flag"},
		{"environment", []string{"init"}, []string{"MEMSNAP_STORE=~/from-env"}, "from-env"},
		{"config file", []string{"--config", "~/memsnap.yaml", "init"}, nil, "from-config"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Dir = cwd
		cmd.Env = append(os.Environ(), append([]string{"HOME=" + home}, tc.env...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, out)
		}
		if _, err := os.Stat(filepath.Join(home, tc.dir, "queue")); err != nil {
			t.Errorf("%s: no store in the home directory: %v", tc.name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(cwd, "~")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a literal ~ directory was made in the current directory (%v)", err)
	}
	// A relative path is resolved against the working directory once, and
	// the log says to what.
	cmd := exec.Command(bin, "--store", "rel/store", "init")
	cmd.Dir = cwd
	out, err := cmd.CombinedOutput()
	abs := filepath.Join(cwd, "rel", "store")
	if err != nil || !strings.Contains(string(out), "relative store path resolved") || !strings.Contains(string(out), "path="+abs) {
		t.Errorf("relative store path: %v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(abs, "CURRENT")); err != nil {
		t.Errorf("no store at %s: %v", abs, err)
	}
}

// Issue 14, input 2: open_nodes and search_nodes return every relation
// with at least one end among the entities they return, as the reference
// does since 2026-02 (before, both ends).
func TestRelationsWithOneEndReturned(t *testing.T) {
	ctx, cs := mcpOnNewStore(t)
	createEntities(t, ctx, cs,
		entity("2025-12-17", "day", "the outage"),
		entity("incident/example", "incident", "disk full"),
	)
	mustCall(t, ctx, cs, "create_relations", map[string]any{"relations": []any{
		map[string]any{"from": "incident/example", "to": "2025-12-17", "relationType": "happened_on"},
	}})
	want := "[{incident/example 2025-12-17 happened_on}]"
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"open_nodes", map[string]any{"names": []string{"2025-12-17"}}},
		{"search_nodes", map[string]any{"query": "outage"}},
		{"search_nodes", map[string]any{"query": "disk"}},
	} {
		g := parseGraph(t, mustCall(t, ctx, cs, c.tool, c.args))
		if len(g.Entities) != 1 || fmt.Sprint(g.Relations) != want {
			t.Errorf("%s %v: %+v, want its one relation %s", c.tool, c.args, g, want)
		}
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		if (tool.Name == "open_nodes" || tool.Name == "search_nodes") && !strings.Contains(tool.Description, "at least one end") {
			t.Errorf("%s's description does not say which relations it returns: %q", tool.Name, tool.Description)
		}
	}
}

// Issue 14, input 3: search compares NFC, case-folded forms on both sides
// (a decomposed query finds the composed text and the other way round);
// stored names stay byte for byte as written.
func TestSearchNormalisesUnicode(t *testing.T) {
	ctx, cs := mcpOnNewStore(t)
	createEntities(t, ctx, cs,
		entity("Auditor\u00eda", "team", "caf\u00e9 review"),
		entity("Resume\u0301", "doc", "decomposed"),
	)
	for q, want := range map[string]string{
		"Auditori\u0301a": "Auditor\u00eda", "AUDITORI\u0301A": "Auditor\u00eda", "cafe\u0301": "Auditor\u00eda",
		"caf\u00e9 review": "Auditor\u00eda", "r\u00e9sum\u00e9": "", "resum\u00e9": "Resume\u0301", "Resume\u0301": "Resume\u0301",
	} {
		g := parseGraph(t, mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": q}))
		got := strings.Join(g.names(), ",")
		if got != want {
			t.Errorf("search_nodes %q: %q, want %q", q, got, want)
		}
	}
	g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"Resume\u0301", "Resum\u00e9"}}))
	if got := g.names(); len(got) != 1 || got[0] != "Resume\u0301" {
		t.Errorf("open_nodes matches names byte for byte: %q", got)
	}
}

// Issue 14, done-when 3: a client subscribed to memory://knowledge-graph
// is told (notifications/resources/updated) when another process writes
// (the server refreshes on its schedule; a notice that never comes fails
// the test at its deadline, not at a wall-clock bound); an unsubscribed one
// is told nothing, through two writes the subscribed one is told of.
func TestResourceSubscription(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	var told, untold atomic.Int64
	sub := mcpSessionWith(t, ctx, store, &mcp.ClientOptions{ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
		if req.Params.URI == "memory://knowledge-graph" {
			told.Add(1)
		}
	}}, "MEMSNAP_READER_REFRESH=@every 1s", "MEMSNAP_READER_WATCH=false")
	other := mcpSessionWith(t, ctx, store, &mcp.ClientOptions{ResourceUpdatedHandler: func(context.Context, *mcp.ResourceUpdatedNotificationRequest) {
		untold.Add(1)
	}}, "MEMSNAP_READER_REFRESH=@every 1s", "MEMSNAP_READER_WATCH=false")
	if err := sub.Subscribe(ctx, &mcp.SubscribeParams{URI: "memory://knowledge-graph"}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	mustCall(t, ctx, other, "read_graph", map[string]any{}) // both servers read snapshot 1
	mustCall(t, ctx, sub, "read_graph", map[string]any{})
	enqueueWait(t, store, ops(entities(entity("from-elsewhere", "t", "written by another process"))), "30s")
	waitUntil(t, ctx, "the subscribed client to be told", 50*time.Millisecond, func() bool { return told.Load() > 0 })
	g := parseGraph(t, mustCall(t, ctx, sub, "open_nodes", map[string]any{"names": []string{"from-elsewhere"}}))
	if len(g.Entities) != 1 {
		t.Errorf("told, but the entity is not there: %+v", g)
	}
	// The unsubscribed server swapped too (it serves the write), and said
	// nothing to its client.
	waitUntil(t, ctx, "the other server to serve the write", 50*time.Millisecond, func() bool {
		return len(parseGraph(t, mustCall(t, ctx, other, "open_nodes", map[string]any{"names": []string{"from-elsewhere"}})).Entities) == 1
	})
	// A second write: by the time the subscribed client is told of it and
	// the other server serves it, a notice the other server sent of the
	// first swap has had a whole refresh to arrive.
	told.Store(0)
	enqueueWait(t, store, ops(entities(entity("second", "t", "written by another process"))), "30s")
	waitUntil(t, ctx, "the subscribed client to be told of the second write", 50*time.Millisecond, func() bool { return told.Load() > 0 })
	waitUntil(t, ctx, "the other server to serve the second write", 50*time.Millisecond, func() bool {
		return len(parseGraph(t, mustCall(t, ctx, other, "open_nodes", map[string]any{"names": []string{"second"}})).Entities) == 1
	})
	if n := untold.Load(); n != 0 {
		t.Errorf("an unsubscribed client got %d notifications", n)
	}
	if err := sub.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: "memory://knowledge-graph"}); err != nil {
		t.Errorf("unsubscribe: %v", err)
	}
}

// Issue 14, done-when 4: recent_changes lists what changed since a time,
// oldest first, paged (without since, the newest first: issue 30), and its cursor goes on across a snapshot swap (a
// write by another process between pages); search_nodes and read_graph
// take since and until.
func TestRecentChangesAndTimeWindows(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cs := mcpSession(t, ctx, store)
	var empty struct {
		NextCursor string `json:"nextCursor"`
	}
	start := time.Now().UTC()
	if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "recent_changes", map[string]any{"since": start.Format(time.RFC3339Nano)})), &empty); err != nil || empty.NextCursor == "" {
		t.Fatalf("recent_changes since now on an empty store: cursor %q, %v; want one to page from", empty.NextCursor, err)
	}
	for _, n := range []string{"alpha", "beta", "gamma"} {
		createEntities(t, ctx, cs, entity(n, "t", "coffee "+n))
		time.Sleep(20 * time.Millisecond)
	}
	mustCall(t, ctx, cs, "create_relations", map[string]any{"relations": []any{
		map[string]any{"from": "alpha", "to": "beta", "relationType": "knows"}}})
	mid := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	mustCall(t, ctx, cs, "add_observations", map[string]any{"observations": []any{
		map[string]any{"entityName": "alpha", "contents": []string{"changed later"}}}})

	type changes struct {
		Entities []struct {
			Name      string    `json:"name"`
			UpdatedAt time.Time `json:"updatedAt"`
		} `json:"entities"`
		Relations []struct {
			From, To string
		} `json:"relations"`
		NextCursor string `json:"nextCursor"`
	}
	page := func(args map[string]any) (c changes, items []string) {
		t.Helper()
		if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "recent_changes", args)), &c); err != nil {
			t.Fatal(err)
		}
		for _, e := range c.Entities {
			items = append(items, e.Name)
		}
		for _, r := range c.Relations {
			items = append(items, r.From+">"+r.To)
		}
		return c, items
	}
	// Oldest first: beta, gamma, the relation, then alpha (changed last).
	p1, got := page(map[string]any{"since": start.Format(time.RFC3339Nano), "limit": 2})
	if fmt.Sprint(got) != "[beta gamma]" {
		t.Fatalf("first page %v, want [beta gamma]", got)
	}
	// Another process writes between the pages; the server swaps to it.
	enqueueWait(t, store, ops(entities(entity("delta", "t", "from another process"))), "30s")
	var rest []string
	cur := p1.NextCursor
	waitUntil(t, ctx, "the feed to reach delta", 50*time.Millisecond, func() bool {
		p, items := page(map[string]any{"cursor": cur, "limit": 2})
		rest, cur = append(rest, items...), p.NextCursor
		return slices.Contains(rest, "delta")
	})
	// (A page lists its entities, then its relations.)
	if want := "[alpha alpha>beta delta]"; fmt.Sprint(rest) != want {
		t.Errorf("later pages %v, want %s", rest, want)
	}
	if _, items := page(map[string]any{"cursor": cur}); len(items) != 0 {
		t.Errorf("after the end: %v, want nothing newer yet", items)
	}
	// From the empty store's cursor: everything, in order.
	if _, items := page(map[string]any{"cursor": empty.NextCursor}); fmt.Sprint(items) != "[beta gamma alpha delta alpha>beta]" {
		t.Errorf("from the empty store's cursor: %v", items)
	}
	// Without since: the newest first (delta, then alpha changed again).
	if _, items := page(map[string]any{"limit": 2}); fmt.Sprint(items) != "[delta alpha]" {
		t.Errorf("the 2 most recent changes: %v", items)
	}
	wantToolError(t, ctx, cs, "recent_changes", map[string]any{"cursor": "bogus"}, "cursor")
	wantToolError(t, ctx, cs, "recent_changes", map[string]any{"since": "yesterday"}, "not an RFC 3339 time")

	// search_nodes and read_graph with a window: gamma and beta were
	// created before mid and not changed since; alpha changed after it.
	g := parseGraph(t, mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": "coffee", "since": mid.Format(time.RFC3339Nano)}))
	if fmt.Sprint(g.names()) != "[alpha]" {
		t.Errorf("search_nodes coffee since mid: %v", g.names())
	}
	g = parseGraph(t, mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": "coffee", "until": mid.Format(time.RFC3339Nano)}))
	if got := g.names(); !slices.Equal(got, []string{"beta", "gamma"}) {
		t.Errorf("search_nodes coffee until mid: %v", got)
	}
	g = parseGraph(t, mustCall(t, ctx, cs, "read_graph", map[string]any{"since": mid.Format(time.RFC3339Nano)}))
	if got := g.names(); !slices.Equal(got, []string{"alpha", "delta"}) {
		t.Errorf("read_graph since mid: %v", got)
	}
	wantToolError(t, ctx, cs, "read_graph", map[string]any{"until": "soon"}, "until")
}

// Every tool declares an output schema, and every answer's
// structuredContent fits it: the server does not check its answers itself
// (the SDK's check cost more than a search), so this test does, for each
// tool, on answers with and without data.
func TestMCPAnswersFitOutputSchemas(t *testing.T) {
	ctx, cs := mcpOnNewStore(t)
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	resolved := map[string]*jsonschema.Resolved{}
	for _, tool := range tools.Tools {
		b, _ := json.Marshal(tool.OutputSchema)
		var sc jsonschema.Schema
		if tool.OutputSchema == nil || json.Unmarshal(b, &sc) != nil {
			t.Errorf("tool %s declares no output schema: %s", tool.Name, b)
			continue
		}
		if resolved[tool.Name], err = sc.Resolve(nil); err != nil {
			t.Errorf("tool %s: output schema does not resolve: %v", tool.Name, err)
		}
	}
	calls := []struct {
		tool string
		args map[string]any
	}{
		{"read_graph", map[string]any{}},
		{"search_nodes", map[string]any{"query": "nothing yet"}},
		{"recent_changes", map[string]any{}},
		{"create_entities", map[string]any{"entities": []any{entity("a", "t", "x", "y"), entity("b", "t")}}},
		{"create_relations", map[string]any{"relations": []any{map[string]any{"from": "a", "to": "b", "relationType": "r"}}}},
		{"add_observations", map[string]any{"observations": []any{map[string]any{"entityName": "b", "contents": []string{"z"}}}}},
		{"read_graph", map[string]any{}},
		{"read_graph", map[string]any{"limit": 1}},
		{"search_nodes", map[string]any{"query": "x"}},
		{"open_nodes", map[string]any{"names": []string{"a", "ghost"}}},
		{"neighbors", map[string]any{"name": "a", "depth": 2}},
		{"recent_changes", map[string]any{"limit": 1}},
		{"query", map[string]any{"cypher": "MATCH (e:Entity) RETURN e.name ORDER BY e.name"}},
		{"kv_put", map[string]any{"key": "k", "value": "v"}},
		{"kv_get", map[string]any{"key": "k"}},
		{"kv_get", map[string]any{"key": "missing"}},
		{"kv_scan", map[string]any{"prefix": ""}},
		{"memory_status", map[string]any{}},
		{"delete_observations", map[string]any{"deletions": []any{map[string]any{"entityName": "a", "observations": []string{"x"}}}}},
		{"delete_relations", map[string]any{"relations": []any{map[string]any{"from": "a", "to": "b", "relationType": "r"}}}},
		{"delete_entities", map[string]any{"entityNames": []string{"a", "b"}}},
	}
	seen := map[string]bool{}
	for _, c := range calls {
		_, res := call(t, ctx, cs, c.tool, c.args)
		if res.IsError {
			t.Errorf("%s(%v): tool error %v", c.tool, c.args, res.Content)
			continue
		}
		seen[c.tool] = true
		b, _ := json.Marshal(res.StructuredContent)
		var v any
		if err := json.Unmarshal(b, &v); err != nil || v == nil {
			t.Errorf("%s: structuredContent %s", c.tool, b)
			continue
		}
		if r := resolved[c.tool]; r != nil {
			if err := r.Validate(v); err != nil {
				t.Errorf("%s: structuredContent does not fit the output schema: %v\n%s", c.tool, err, b)
			}
		}
	}
	for _, tool := range tools.Tools {
		if !seen[tool.Name] {
			t.Errorf("tool %s was not called", tool.Name)
		}
	}
}

// Argument names match exactly: a key that only folds to a tool's argument
// (entityNameſ, Kelvin-sign Key) is ignored, never used in its place.
func TestMCPArgumentNamesMatchExactly(t *testing.T) {
	ctx, cs := mcpOnNewStore(t)
	createEntities(t, ctx, cs, entity("Important", "t", "keep"))
	call(t, ctx, cs, "delete_entities", map[string]any{"entityNames": []string{"no-such-entity"}, "entityName\u017f": []string{"Important"}})
	if g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"Important"}})); len(g.Entities) != 1 {
		t.Errorf("a case-folded key deleted the entity")
	}
	// memsnap's own tools refuse an argument they do not define, this one
	// (a Kelvin sign for the K) included, rather than read it as "key".
	text, res := call(t, ctx, cs, "kv_put", map[string]any{"key": "safe", "value": "v1", "\u212aey": "other"})
	if !res.IsError || !strings.Contains(text, "\u212aey") {
		t.Errorf("kv_put with a case-folded extra key: error %v, %s; want it refused naming the key", res.IsError, text)
	}
	if text := mustCall(t, ctx, cs, "kv_get", map[string]any{"key": "other"}); strings.Contains(text, "v1") {
		t.Errorf("a case-folded key chose where kv_put wrote: %s", text)
	}
}
