package tests

import "bufio"
import "encoding/json"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"

// searchJSON is `search --json`'s answer, suggestions included.
type searchJSON struct {
	graphJSON
	Suggestions []struct {
		Name       string  `json:"name"`
		EntityType string  `json:"entityType"`
		Similarity float64 `json:"similarity"`
	} `json:"suggestions"`
}

func searchCLI(t *testing.T, store string, args ...string) searchJSON {
	t.Helper()
	return decodeAnswer[searchJSON](t, fmt.Sprintf("search %v", args), mustMemsnap(t, store, nil, append([]string{"search", "--json"}, args...)...))
}

// referenceHits is what the reference server's substring rule finds for q
// in a memory file (ASCII: lower-casing is plain).
func referenceHits(t *testing.T, file, q string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lq := strings.ToLower(q)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Type, Name, EntityType string
			Observations           []string
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Type != "entity" {
			continue
		}
		if strings.Contains(strings.ToLower(l.Name), lq) || strings.Contains(strings.ToLower(l.EntityType), lq) ||
			slices.ContainsFunc(l.Observations, func(o string) bool { return strings.Contains(strings.ToLower(o), lq) }) {
			out = append(out, l.Name)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 28, point 3, through the binary: the reference's hits first (and
// every one of them), over the CLI and MCP; a typo gets suggestions, marked
// as such, beside the reference's empty answer.
func TestSearchRanksTheReferencesHitsFirst(t *testing.T) {
	store := newStore(t)
	file := filepath.Join("..", "testdata", "mcp", "ranking.jsonl")
	if r := memsnap(t, store, nil, nil, "import", "--wait", file); r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	for _, q := range []string{"roadmap item 7", "Joined in 2023", "roadmap"} {
		ref := referenceHits(t, file, q)
		if len(ref) == 0 {
			t.Fatalf("%q: the fixture gives no reference hit", q)
		}
		got := searchCLI(t, store, q).ranked()
		if len(got) < len(ref) || !testutil.SameElements(got[:len(ref)], ref) {
			t.Errorf("search %q: %v, the reference's hits %v first", q, got, ref)
		}
		limited := searchCLI(t, store, "--limit", "1", q).ranked()
		if len(limited) != 1 || !slices.Contains(ref, limited[0]) {
			t.Errorf("search --limit 1 %q: %v", q, limited)
		}
	}
	typo := searchCLI(t, store, "stateles-htp")
	if len(typo.Entities) != 0 || len(typo.Suggestions) == 0 || typo.Suggestions[0].Name != "stateless-http" {
		t.Errorf("search stateles-htp: %+v", typo)
	}
	if g := searchCLI(t, store, "roadmap item 7"); len(g.Suggestions) != 0 {
		t.Errorf("a search that matched suggests: %+v", g.Suggestions)
	}

	ctx := testContext(t)
	cs := mcpSession(t, ctx, store)
	g := parseGraph(t, mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": "Joined in 2023"}))
	if names := g.ranked(); len(names) < 2 || !testutil.SameElements(names[:2], []string{"Eli", "Hana"}) {
		t.Errorf("search_nodes Joined in 2023: %v", names)
	}
	var s searchJSON
	if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": "Farrah"})), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Entities) != 0 || len(s.Relations) != 0 || len(s.Suggestions) == 0 || s.Suggestions[0].Name != "Farah" {
		t.Errorf("search_nodes Farrah: %+v", s)
	}
}

// ranked is g's entity names in the answer's order (graphJSON.names sorts
// them).
func (g graphJSON) ranked() []string {
	var out []string
	for _, e := range g.Entities {
		out = append(out, e.Name)
	}
	return out
}

// Issue 28: `search --limit 3 "thing 19999"` on 20k entities did not show
// ent-19999 (the digits were dropped and every "thing" tied, in name
// order). The same at 2k: "thing 1999".
func TestSearchFindsTheNumberedEntity(t *testing.T) {
	store := newStore(t)
	file := filepath.Join(t.TempDir(), "things.jsonl")
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, `{"type":"entity","name":"ent-%d","entityType":"thing","observations":["thing %d","one thing among many"]}`+"\n", i, i)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := memsnap(t, store, nil, nil, "import", "--wait", file); r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	if got := searchCLI(t, store, "--limit", "3", "thing 1999").ranked(); len(got) == 0 || got[0] != "ent-1999" {
		t.Errorf("search --limit 3 thing 1999: %v", got)
	}
	if got := searchCLI(t, store, "--limit", "3", "thing 7").ranked(); len(got) == 0 || got[0] != "ent-7" {
		t.Errorf("search --limit 3 thing 7: %v", got)
	}
}
