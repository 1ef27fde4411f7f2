package tests

import "encoding/json"
import "os"
import "path/filepath"
import "reflect"
import "regexp"
import "slices"
import "strings"
import "testing"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/internal/testutil"

// Issue 30: the memory-tool commands (entities, relations, observations)
// answer as the MCP tools they stand for. Each step runs the command on one
// store and the tool through a real 'memsnap mcp' on another, both stores
// holding the same memory, and compares the answers: the text (default),
// the structured content (--json), or the refusal (exit 1, the tool
// error's text on stderr). --file takes the tool's arguments, a JSON array
// or JSON Lines.
func TestMemoryToolCommandsAnswerAsMCP(t *testing.T) {
	ctx := testContext(t)
	cliStore := newStore(t)
	mcpStore := newStore(t)
	cs := mcpSession(t, ctx, mcpStore)
	dir := t.TempDir()
	file := func(name, content string) string { return testutil.WriteFile(t, filepath.Join(dir, name), content) }
	ent := func(name, typ string, obs ...string) map[string]any {
		return map[string]any{"name": name, "entityType": typ, "observations": append([]string{}, obs...)}
	}
	rel := func(from, typ, to string) map[string]any {
		return map[string]any{"from": from, "relationType": typ, "to": to}
	}
	steps := []struct {
		cli     []string
		tool    string
		args    map[string]any
		asJSON  bool
		refused string // the tool error, when the write is refused
	}{
		{[]string{"entities", "create", "--type", "database", "--obs", "embedded graph DB", "Kuzu", "memsnap"},
			"create_entities", map[string]any{"entities": []any{ent("Kuzu", "database", "embedded graph DB"), ent("memsnap", "database", "embedded graph DB")}}, false, ""},
		{[]string{"entities", "create", "--json", "--type", "kv", "Kuzu", "Pebble"},
			"create_entities", map[string]any{"entities": []any{ent("Kuzu", "kv"), ent("Pebble", "kv")}}, true, ""},
		{[]string{"relations", "create", "memsnap", "uses", "Kuzu"},
			"create_relations", map[string]any{"relations": []any{rel("memsnap", "uses", "Kuzu")}}, false, ""},
		{[]string{"relations", "create", "memsnap", "uses", "Nope"},
			"create_relations", map[string]any{"relations": []any{rel("memsnap", "uses", "Nope")}}, false, "Entity with name Nope not found"},
		{[]string{"observations", "add", "--json", "Kuzu", "archived Oct 2025", "embedded graph DB"},
			"add_observations", map[string]any{"observations": []any{map[string]any{"entityName": "Kuzu", "contents": []string{"archived Oct 2025", "embedded graph DB"}}}}, true, ""},
		{[]string{"observations", "add", "Nope", "x"},
			"add_observations", map[string]any{"observations": []any{map[string]any{"entityName": "Nope", "contents": []string{"x"}}}}, false, "Entity with name Nope not found"},
		{[]string{"observations", "delete", "Kuzu", "archived Oct 2025", "never said"},
			"delete_observations", map[string]any{"deletions": []any{map[string]any{"entityName": "Kuzu", "observations": []string{"archived Oct 2025", "never said"}}}}, false, ""},
		{[]string{"entities", "create", "--file", file("ents.jsonl", `{"name":"A","entityType":"letter","observations":["first"]}`+"\n"+`{"name":"B","entityType":"letter","observations":[]}`+"\n")},
			"create_entities", map[string]any{"entities": []any{ent("A", "letter", "first"), ent("B", "letter")}}, false, ""},
		{[]string{"relations", "create", "--json", "-f", file("rels.json", `{"relations":[{"from":"A","to":"B","relationType":"precedes"},{"from":"B","to":"Pebble","relationType":"likes"}]}`)},
			"create_relations", map[string]any{"relations": []any{rel("A", "precedes", "B"), rel("B", "likes", "Pebble")}}, true, ""},
		{[]string{"relations", "delete", "memsnap", "uses", "Kuzu"},
			"delete_relations", map[string]any{"relations": []any{rel("memsnap", "uses", "Kuzu")}}, false, ""},
		{[]string{"relations", "delete", "--file", file("gone.json", `[{"from":"A","to":"B","relationType":"precedes"},{"from":"A","to":"B","relationType":"follows"}]`)},
			"delete_relations", map[string]any{"relations": []any{rel("A", "precedes", "B"), rel("A", "follows", "B")}}, false, ""},
		{[]string{"observations", "delete", "--json", "Nope", "x"},
			"delete_observations", map[string]any{"deletions": []any{map[string]any{"entityName": "Nope", "observations": []string{"x"}}}}, true, ""},
		{[]string{"entities", "delete", "--json", "Old", "Pebble"},
			"delete_entities", map[string]any{"entityNames": []string{"Old", "Pebble"}}, true, ""},
		{[]string{"entities", "delete", "memsnap"},
			"delete_entities", map[string]any{"entityNames": []string{"memsnap"}}, false, ""},
	}
	for _, st := range steps {
		r := memsnap(t, cliStore, nil, nil, st.cli...)
		text, res := call(t, ctx, cs, st.tool, st.args)
		if st.refused != "" {
			if !res.IsError || !contains(text, st.refused) {
				t.Fatalf("%s: MCP answered %q, want the refusal %q", st.tool, text, st.refused)
			}
			if r.code != 1 || r.stderr != "memsnap: "+text+"\n" {
				t.Errorf("memsnap %v: exit %d, stderr %q; want exit 1 and the MCP refusal %q", st.cli, r.code, r.stderr, text)
			}
			continue
		}
		if res.IsError || r.code != 0 {
			t.Fatalf("memsnap %v: exit %d %s; MCP %s: %s", st.cli, r.code, r.stderr, st.tool, text)
		}
		if !st.asJSON {
			if r.stdout != text+"\n" {
				t.Errorf("memsnap %v printed\n%s\nMCP %s answered\n%s", st.cli, r.stdout, st.tool, text)
			}
			continue
		}
		var got any
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("memsnap %v --json: %v: %q", st.cli, err, r.stdout)
		}
		if !reflect.DeepEqual(got, res.StructuredContent) {
			t.Errorf("memsnap %v printed %s, MCP %s's structured answer is %v", st.cli, r.stdout, st.tool, res.StructuredContent)
		}
	}
	// The same writes leave the same memory: the commands committed theirs
	// before exiting, the server commits its own when its client leaves.
	cs.Close()
	cliMemory, mcpMemory := exportLines(t, cliStore), exportLines(t, mcpStore)
	if !slices.Equal(cliMemory, mcpMemory) || len(cliMemory) != 3 {
		t.Errorf("the memories differ:\ncommands: %v\nmcp:      %v", cliMemory, mcpMemory)
	}
}

// exportLines is 'memsnap export' of store, its lines sorted.
func exportLines(t *testing.T, store string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(mustMemsnap(t, store, nil, "export")), "\n")
	slices.Sort(lines)
	return lines
}

// --wait answers once the write is applied; a write acknowledged on
// durability is committed before the command exits (no daemon runs
// here); a bad flags form is a usage error (exit 2).
func TestMemoryToolCommandsCommit(t *testing.T) {
	store := newStore(t)
	mustMemsnap(t, store, nil, "entities", "create", "--wait", "--type", "t", "A")
	mustMemsnap(t, store, nil, "entities", "create", "--type", "t", "B")
	mustMemsnap(t, store, nil, "relations", "create", "A", "knows", "B")
	if n := queryInt(t, store, "MATCH (:Entity)-[r:Relation]->(:Entity) RETURN count(r)"); n != 1 {
		t.Errorf("CURRENT holds %d relations after the commands, want 1", n)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 2 {
		t.Errorf("CURRENT holds %d entities after the commands, want 2", n)
	}
	for _, args := range [][]string{
		{"relations", "create", "A", "knows"},
		{"observations", "add", "A"},
		{"entities", "delete"},
		{"entities", "create", "--file", "x.json", "A"},
	} {
		if r := memsnap(t, store, nil, nil, args...); r.code != 2 {
			t.Errorf("memsnap %v: exit %d (%s), want 2", args, r.code, r.stderr)
		}
	}
}

// Issue 30: import into a store that does not exist yet makes it as init
// does and says so once; into an existing store it says nothing of it.
func TestImportCreatesMissingStore(t *testing.T) {
	dir := t.TempDir()
	mem := filepath.Join(dir, "memory.jsonl")
	if err := os.WriteFile(mem, []byte(`{"type":"entity","name":"A","entityType":"t","observations":["o"]}`+"\n"+
		`{"type":"entity","name":"B","entityType":"t","observations":[]}`+"\n"+
		`{"type":"relation","from":"A","to":"B","relationType":"knows"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file that is not there, or a bad flag, makes no store.
	never := filepath.Join(dir, "never")
	for _, args := range [][]string{{"import", filepath.Join(dir, "missing.jsonl")}, {"import", "--batch", "0", mem},
		{"entities", "create", "--file", filepath.Join(dir, "missing.json")}, {"relations", "create", "A", "knows"}} {
		if r := memsnap(t, never, nil, nil, args...); r.code == 0 || fileExists(never) {
			t.Errorf("memsnap %v: exit %d, store made: %v", args, r.code, fileExists(never))
		}
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, store := range []string{filepath.Join(dir, "new", "store"), empty} {
		r := memsnap(t, store, nil, nil, "import", "--wait", mem)
		if r.code != 0 {
			t.Fatalf("import into %s: exit %d: %s", store, r.code, r.stderr)
		}
		if n := strings.Count(r.stderr, "created the store at "+store); n != 1 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("import into %s: stderr %q, want one line saying the store was created", store, r.stderr)
		}
		checkStore(t, store)
		if n := queryInt(t, store, "MATCH (a:Entity)-[r:Relation]->(b:Entity) RETURN count(r)"); n != 1 {
			t.Errorf("import into %s: %d relations, want 1", store, n)
		}
		r = memsnap(t, store, nil, nil, "import", "--wait", mem)
		if r.code != 0 || contains(r.stderr, "created") {
			t.Errorf("import into the existing %s: exit %d, stderr %q", store, r.code, r.stderr)
		}
	}
}

// Issue 30: 'memsnap mcp --help' lists the tools the server lists over MCP
// (tools/list), from the server's registration, and tells reads from
// writes as their annotations do; 'open --help' says what open returns,
// and open does return every relation touching the named entities.
func TestHelpTextsMatchBehaviour(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	help := mustMemsnap(t, store, nil, "mcp", "--help")
	_, list, ok := strings.Cut(help, "\nTools (")
	if !ok {
		t.Fatalf("mcp --help has no tool list:\n%s", help)
	}
	line := regexp.MustCompile(`(?m)^  ([a-z_]+) +(read|write) +\S`)
	helpTools := map[string]string{}
	for _, m := range line.FindAllStringSubmatch(list, -1) {
		helpTools[m[1]] = m[2]
	}
	cs := mcpSession(t, ctx, store)
	listed, err := cs.ListTools(ctx, &mcp.ListToolsParams{})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]string{}
	for _, tool := range listed.Tools {
		served[tool.Name] = "write"
		if tool.Annotations != nil && tool.Annotations.ReadOnlyHint {
			served[tool.Name] = "read"
		}
	}
	if !reflect.DeepEqual(helpTools, served) || served["recent_changes"] != "read" {
		t.Errorf("mcp --help lists %v, tools/list %v", helpTools, served)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"open", "--help"}, "every relation touching them"},
		{[]string{"search", "--help"}, "the matches and every relation touching them"},
		{[]string{"help", "mcp"}, "recent_changes"},
		{[]string{"import", "--help"}, "made first, as\n'memsnap init' makes it"},
		{[]string{"entities", "create", "--help"}, "create_entities"},
	} {
		if out := mustMemsnap(t, store, nil, c.args...); !contains(out, c.want) {
			t.Errorf("memsnap %v does not say %q:\n%s", c.args, c.want, out)
		}
	}
	mustMemsnap(t, store, nil, "entities", "create", "--type", "t", "A", "B", "C")
	mustMemsnap(t, store, nil, "relations", "create", "B", "knows", "A")
	mustMemsnap(t, store, nil, "relations", "create", "B", "knows", "C")
	var g graphJSON
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "open", "--json", "A")), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Relations) != 1 || g.Relations[0].From != "B" || g.Relations[0].To != "A" {
		t.Errorf("open A: relations %+v, want B -[knows]-> A (one end among the names)", g.Relations)
	}
	g = graphJSON{}
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "search", "--json", "C")), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Entities) != 1 || len(g.Relations) != 1 || g.Relations[0].From != "B" || g.Relations[0].To != "C" {
		t.Errorf("search C: %+v, want C and B -[knows]-> C (one end among the matches)", g)
	}
}
