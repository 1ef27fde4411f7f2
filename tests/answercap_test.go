package tests

import "context"
import "encoding/json"
import "fmt"
import "slices"
import "strings"
import "testing"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// answerCap is the mcp.max_answer_bytes these tests set: small, so that a
// few hundred entities pass it.
const answerCap = 64 << 10

// answerPage is one part of a cut answer: a graph and the note that says
// how it was cut.
type answerPage struct {
	graphJSON
	Note string `json:"note"`
}

// pageThrough calls tool with args, then again with each nextCursor, and
// returns every part. Each answer must fit the cap as sent (its structured
// content and its text together).
func pageThrough(t *testing.T, ctx context.Context, cs *mcp.ClientSession, tool string, args map[string]any) []answerPage {
	t.Helper()
	var pages []answerPage
	for cursor := ""; ; {
		a := map[string]any{}
		for k, v := range args {
			a[k] = v
		}
		if cursor != "" {
			a["cursor"] = cursor
		}
		text, res := call(t, ctx, cs, tool, a)
		if res.IsError {
			t.Fatalf("%s %v: %s", tool, a, text)
		}
		structured, _ := json.Marshal(res.StructuredContent)
		quoted, _ := json.Marshal(text)
		if n := len(structured) + len(quoted); n > answerCap {
			t.Errorf("%s part %d: %d bytes as sent, over mcp.max_answer_bytes %d", tool, len(pages)+1, n, answerCap)
		}
		var p answerPage
		if err := json.Unmarshal(structured, &p); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		pages = append(pages, p)
		if p.NextCursor == "" {
			return pages
		}
		if p.Note == "" || !strings.Contains(p.Note, "more") {
			t.Errorf("%s part %d is cut without a note saying how many more: %q", tool, len(pages), p.Note)
		}
		if len(pages) > 1000 {
			t.Fatalf("%s: no end after 1000 parts", tool)
		}
		cursor = p.NextCursor
	}
}

// Issue 28, point 4: no answer is larger than mcp.max_answer_bytes. On a
// store whose search for "topic" answers about ten times the cap,
// search_nodes answers the best-ranked part that fits, a nextCursor and a
// note saying how many more; paging with the cursor reaches every entity
// the reference's substring rule finds, each once; so do read_graph,
// open_nodes and neighbors. search_nodes and open_nodes take a limit. An
// answer that fits is the whole answer (no cursor, no note).
func TestAnswersFitTheCap(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cs := mcpSession(t, ctx, store, fmt.Sprintf("MEMSNAP_MCP_MAX_ANSWER_BYTES=%dKiB", answerCap>>10))

	const n = 400
	pad := strings.Repeat("lorem ipsum dolor sit amet ", 40) // about 1 KiB an observation
	var want, all []string
	for batch := 0; batch < n; batch += 100 {
		var ents []any
		for i := batch; i < batch+100; i++ {
			name := fmt.Sprintf("ent-%03d", i)
			obs := []string{fmt.Sprintf("note %d: %s", i, pad)}
			if i%3 != 0 { // two in three hold the query, the third in a different case
				obs = append(obs, fmt.Sprintf("about Topic %d", i%7))
				want = append(want, name)
			}
			all = append(all, name)
			ents = append(ents, entity(name, "thing", obs...))
		}
		mustCall(t, ctx, cs, "create_entities", map[string]any{"entities": ents})
	}
	var rels []any
	for i := 1; i < n; i++ {
		rels = append(rels, map[string]any{"from": fmt.Sprintf("ent-%03d", i-1), "to": fmt.Sprintf("ent-%03d", i), "relationType": "next"})
	}
	mustCall(t, ctx, cs, "create_relations", map[string]any{"relations": rels})

	seen := func(tool string, pages []answerPage) []string {
		var names []string
		for _, p := range pages {
			for _, e := range p.Entities {
				names = append(names, e.Name)
			}
		}
		slices.Sort(names)
		if d := slices.Compact(slices.Clone(names)); len(d) != len(names) {
			t.Errorf("%s: an entity came back in two parts", tool)
		}
		return names
	}

	// search_nodes: cut, and paging reaches every substring match.
	pages := pageThrough(t, ctx, cs, "search_nodes", map[string]any{"query": "topic"})
	if len(pages) < 3 {
		t.Errorf("search_nodes over about %d KiB came in %d parts, want it cut", n*2, len(pages))
	}
	if got := seen("search_nodes", pages); !slices.Equal(got, want) {
		t.Errorf("paging search_nodes reached %d entities, want the %d the substring rule finds", len(got), len(want))
	}
	if !strings.Contains(pages[0].Note, fmt.Sprintf("of %d", len(want))) || !strings.Contains(pages[0].Note, "mcp.max_answer_bytes") {
		t.Errorf("search_nodes' note does not say the cap and how many in all: %q", pages[0].Note)
	}
	// Relations come with the entities they touch.
	if len(pages[0].Relations) == 0 {
		t.Errorf("the first part of search_nodes holds no relation")
	}

	// limit: that many at most, and a cursor to the rest.
	pages = pageThrough(t, ctx, cs, "search_nodes", map[string]any{"query": "topic", "limit": 7})
	if len(pages[0].Entities) != 7 || pages[0].NextCursor == "" || !strings.Contains(pages[0].Note, "limit 7") {
		t.Errorf("search_nodes limit 7: %d entities, cursor %q, note %q", len(pages[0].Entities), pages[0].NextCursor, pages[0].Note)
	}
	if got := seen("search_nodes limit 7", pages); !slices.Equal(got, want) {
		t.Errorf("paging search_nodes by 7 reached %d entities, want %d", len(got), len(want))
	}

	// read_graph, open_nodes and neighbors page through everything too.
	if got := seen("read_graph", pageThrough(t, ctx, cs, "read_graph", map[string]any{})); !slices.Equal(got, all) {
		t.Errorf("paging read_graph reached %d entities, want %d", len(got), n)
	}
	pages = pageThrough(t, ctx, cs, "open_nodes", map[string]any{"names": all})
	if got := seen("open_nodes", pages); !slices.Equal(got, all) || len(pages) < 3 {
		t.Errorf("paging open_nodes reached %d entities in %d parts, want %d in several", len(got), len(pages), n)
	}
	if p := pageThrough(t, ctx, cs, "open_nodes", map[string]any{"names": all[:5], "limit": 2}); len(p) != 3 || len(p[0].Entities) != 2 {
		t.Errorf("open_nodes of 5 by 2: %d parts", len(p))
	}
	if got := seen("neighbors", pageThrough(t, ctx, cs, "neighbors", map[string]any{"name": "ent-200", "depth": 6})); len(got) != 13 {
		t.Errorf("paging neighbors of ent-200 at depth 6 reached %d entities, want 13", len(got))
	}

	// An answer that fits is whole: no cursor, no note.
	if p := pageThrough(t, ctx, cs, "search_nodes", map[string]any{"query": "ent-005"}); len(p) != 1 || p[0].Note != "" ||
		len(p[0].Entities) == 0 || p[0].Entities[0].Name != "ent-005" {
		t.Errorf("a small search: %d parts, note %q, want one whole answer, ent-005 first", len(p), p[0].Note)
	}

	// A cursor is for the call that gave it.
	first := pageThrough(t, ctx, cs, "search_nodes", map[string]any{"query": "topic", "limit": 1})[0]
	text, res := call(t, ctx, cs, "search_nodes", map[string]any{"query": "lorem", "cursor": first.NextCursor})
	if !res.IsError || !strings.Contains(text, "cursor") {
		t.Errorf("a cursor passed with another query: %s, want an error naming the cursor", text)
	}
}

// A search paged with nextCursor while the memory changes says so: the
// page after a write (queued, not committed) notes that the memory changed
// since the page before, since the ranking moved under the offsets; pages
// of an unchanged memory carry no such note, neither after a kv_put nor
// after the commit of writes the page before already showed (the content
// digest of a read over queued jobs is the one their snapshot records).
func TestPagingSaysWhenTheMemoryChanged(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cs := mcpSession(t, ctx, store, "MEMSNAP_MCP_COMMIT_WHEN_IDLE=false")
	var es []map[string]any
	for i := range 30 {
		es = append(es, entity(fmt.Sprintf("pg-%02d", i), "note", "paged topic"))
	}
	createEntities(t, ctx, cs, es...)
	page := func(cursor string) answerPage {
		t.Helper()
		args := map[string]any{"query": "paged", "limit": 10}
		if cursor != "" {
			args["cursor"] = cursor
		}
		text, res := call(t, ctx, cs, "search_nodes", args)
		if res.IsError {
			t.Fatalf("search_nodes %v: %s", args, text)
		}
		var p answerPage
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const changed = "the memory changed since the page before"
	first := page("")
	mustCall(t, ctx, cs, "kv_put", map[string]any{"key": "k", "value": "v"}) // no entity changes
	second := page(first.NextCursor)
	if strings.Contains(second.Note, changed) || second.NextCursor == "" {
		t.Fatalf("page 2 of an unchanged memory (a kv_put in between): note %q, cursor %q", second.Note, second.NextCursor)
	}
	createEntities(t, ctx, cs, entity("pg-new", "note", "paged later"))
	third := page(second.NextCursor)
	if !strings.Contains(third.Note, changed) || third.NextCursor == "" {
		t.Fatalf("page 3 after a write: note %q, want it to say the memory changed", third.Note)
	}
	// The commit of the writes page 3 already showed changes nothing.
	mustMemsnap(t, store, nil, "commit")
	if fourth := page(third.NextCursor); strings.Contains(fourth.Note, changed) {
		t.Errorf("page 4 after the commit of writes page 3 showed: note %q, want none", fourth.Note)
	}
}

// A write's answer fits mcp.max_answer_bytes too: create_entities echoes
// what it created (the reference's answer), and an echo over the cap
// shows the entities that fit and a note saying how many of how many;
// every entity was written.
func TestWriteAnswersFitTheCap(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cs := mcpSession(t, ctx, store, fmt.Sprintf("MEMSNAP_MCP_MAX_ANSWER_BYTES=%dKiB", answerCap>>10))
	big := strings.Repeat("a long observation ", 1200) // 22.8 KB
	var es []map[string]any
	var names []string
	for i := range 6 {
		names = append(names, fmt.Sprintf("big-%d", i))
		es = append(es, entity(names[i], "note", big))
	}
	text, res := call(t, ctx, cs, "create_entities", map[string]any{"entities": es})
	if res.IsError {
		t.Fatalf("create_entities: %s", text)
	}
	structured, _ := json.Marshal(res.StructuredContent)
	quoted, _ := json.Marshal(text)
	if n := len(structured) + len(quoted); n > answerCap {
		t.Errorf("create_entities answered %d bytes as sent, over mcp.max_answer_bytes %d", n, answerCap)
	}
	var out struct {
		Entities []struct{ Name string } `json:"entities"`
		Note     string                  `json:"note"`
	}
	if err := json.Unmarshal(structured, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Entities) == 0 || len(out.Entities) >= 6 || !strings.Contains(out.Note, fmt.Sprintf("%d of 6 entities created shown", len(out.Entities))) {
		t.Errorf("cut echo: %d entities, note %q", len(out.Entities), out.Note)
	}
	for _, name := range names {
		if got := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{name}})); len(got.Entities) != 1 {
			t.Errorf("%s was not written", name)
		}
	}
}

// A tool error fits mcp.max_answer_bytes too: the SDK's check of the
// arguments echoes the value it refuses, here a 1 MB search query (over
// search_nodes' maxLength of 2048), and the error is cut with a word of how
// long it was; the session goes on.
func TestToolErrorsFitTheCap(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cs := mcpSession(t, ctx, store, fmt.Sprintf("MEMSNAP_MCP_MAX_ANSWER_BYTES=%dKiB", answerCap>>10))
	text, res := call(t, ctx, cs, "search_nodes", map[string]any{"query": strings.Repeat("x", 1<<20)})
	if !res.IsError {
		t.Fatalf("a 1 MB query was answered: %.200s", text)
	}
	raw, _ := json.Marshal(res)
	if len(raw) > answerCap || !strings.Contains(text, "(cut: the error was ") || !strings.Contains(text, "maxLength") {
		t.Errorf("error of %d bytes as sent (cap %d): %.300s", len(raw), answerCap, text)
	}
	mustCall(t, ctx, cs, "memory_status", map[string]any{})
}
