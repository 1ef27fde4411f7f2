package mcpserver

import "errors"
import "fmt"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/reader"

// chain is a graph of n entities, each with one observation of obsBytes,
// and a relation from each to the next.
func chain(n, obsBytes int) *reader.Graph {
	obs := strings.Repeat("\"x\" <y>\n", obsBytes/8)
	return chainOf(n, "next", func(i int) reader.Entity {
		return reader.Entity{Name: fmt.Sprintf("e%04d", i), EntityType: "t", Observations: []string{obs}}
	})
}

// chainOf is a graph of the n entities entity(0) to entity(n-1) and a
// relation of type relType from each to the next.
func chainOf(n int, relType string, entity func(i int) reader.Entity) *reader.Graph {
	g := &reader.Graph{Entities: []reader.Entity{}, Relations: []reader.Relation{}}
	for i := range n {
		g.Entities = append(g.Entities, entity(i))
		if i > 0 {
			g.Relations = append(g.Relations, reader.Relation{From: g.Entities[i-1].Name, To: g.Entities[i].Name, RelationType: relType})
		}
	}
	return g
}

// An answer that fits is the whole answer, the very same lists.
func TestGraphPageWholeWhenItFits(t *testing.T) {
	full := chain(10, 64)
	out, shown := graphPage(full, 0, 0, 1<<20, true)
	if shown != 10 || len(out.Entities) != 10 || len(out.Relations) != 9 || out.Note != "" {
		t.Fatalf("graphPage of a small graph: %d shown, %d relations, note %q", shown, len(out.Relations), out.Note)
	}
	if &out.Entities[0] != &full.Entities[0] || &out.Relations[0] != &full.Relations[0] {
		t.Errorf("the whole answer was copied or rebuilt, want it unchanged")
	}
}

// Parts from successive offsets fit the budget and reach every entity once,
// each with every relation touching it; escapes (quotes, <, newlines) are
// counted as sent.
func TestGraphPagePartsReachEverything(t *testing.T) {
	full := chain(300, 400)
	const budget = 32 << 10
	var names []string
	relsSeen := map[reader.Relation]bool{}
	parts := 0
	for offset := 0; offset < len(full.Entities); parts++ {
		out, shown := graphPage(full, offset, 0, budget, true)
		if shown == 0 {
			t.Fatalf("no progress at offset %d", offset)
		}
		if n := sizeOf(out); n > budget-noteReserve {
			t.Errorf("part at offset %d: %d bytes as sent, over %d", offset, n, budget-noteReserve)
		}
		in := map[string]bool{}
		for _, e := range out.Entities {
			names = append(names, e.Name)
			in[e.Name] = true
		}
		for _, r := range full.Relations {
			if (in[r.From] || in[r.To]) && !slices.Contains(out.Relations, r) {
				t.Errorf("part at offset %d lacks relation %v touching its entities", offset, r)
			}
		}
		for _, r := range out.Relations {
			relsSeen[r] = true
		}
		offset += shown
	}
	if parts < 5 {
		t.Errorf("%d parts, want the graph (about %d KiB as sent) cut", parts, sizeOf(graphOut{Entities: full.Entities, Relations: full.Relations})>>10)
	}
	want := make([]string, len(full.Entities))
	for i, e := range full.Entities {
		want[i] = e.Name
	}
	if !slices.Equal(names, want) || len(relsSeen) != len(full.Relations) {
		t.Errorf("the parts hold %d entities and %d relations, want %d and %d, in order", len(names), len(relsSeen), len(want), len(full.Relations))
	}
	// A limit stops a part before the budget does.
	if out, shown := graphPage(full, 0, 3, budget, true); shown != 3 || len(out.Entities) != 3 {
		t.Errorf("limit 3: %d shown", shown)
	}
}

// An entity too large for the budget alone is shown with the observations
// and relations that fit, and the note says how many of each.
func TestGraphPageTrimsALoneEntity(t *testing.T) {
	big := reader.Entity{Name: "big", EntityType: "t"}
	for i := range 100 {
		big.Observations = append(big.Observations, fmt.Sprintf("%03d %s", i, strings.Repeat("é", 500)))
	}
	full := &reader.Graph{Entities: []reader.Entity{big, {Name: "small", EntityType: "t", Observations: []string{}}}}
	for i := range 500 {
		full.Relations = append(full.Relations, reader.Relation{From: "big", To: fmt.Sprintf("other%03d", i), RelationType: "knows"})
	}
	const budget = 32 << 10
	out, shown := graphPage(full, 0, 0, budget, true)
	if shown != 1 || len(out.Entities) != 1 {
		t.Fatalf("%d entities shown, want big alone", shown)
	}
	o, r := len(out.Entities[0].Observations), len(out.Relations)
	if o == 0 || o == 100 || r == 0 || r == 500 {
		t.Errorf("big shown with %d observations and %d relations, want some of each", o, r)
	}
	if n := sizeOf(out); n > budget-noteReserve {
		t.Errorf("the trimmed part is %d bytes as sent, over %d", n, budget-noteReserve)
	}
	if want := fmt.Sprintf("%d of its 100 observations and %d of its 500 relations", o, r); !strings.Contains(out.Note, want) {
		t.Errorf("note %q does not say %q", out.Note, want)
	}
}

// A cursor continues the call that gave it, and only that call.
func TestPageCursor(t *testing.T) {
	d := argsDigest("topic", "", "")
	c := pageCursor{Tool: "search_nodes", Offset: 42, Args: d}.String()
	if off, err := offsetOf("search_nodes", d, c); err != nil || off != 42 {
		t.Errorf("offsetOf its own cursor: %d, %v", off, err)
	}
	if off, err := offsetOf("search_nodes", d, ""); err != nil || off != 0 {
		t.Errorf("no cursor: %d, %v", off, err)
	}
	for _, bad := range []struct{ tool, digest, cursor string }{
		{"search_nodes", argsDigest("other", "", ""), c},
		{"open_nodes", d, c},
		{"search_nodes", d, "bmVudGl0eQ"}, // a read_graph cursor
		{"search_nodes", d, "p!!!"},
		{"search_nodes", d, pageCursor{Tool: "search_nodes", Offset: -1, Args: d}.String()},
	} {
		if _, err := offsetOf(bad.tool, bad.digest, bad.cursor); !errors.Is(err, reader.ErrBadOption) {
			t.Errorf("offsetOf(%s, %q): %v, want ErrBadOption", bad.tool, bad.cursor, err)
		}
	}
}

// An entity too large for the budget, after others on the same part,
// ends that part without leaking its relations into it: the part holds
// the entities before it with only their own relations, as many as fit
// (found by a fresh-user trial: the relations of the large entity showed
// on the part before it, and every part before it held one entity).
func TestGraphPageStopsBeforeALargeEntity(t *testing.T) {
	full := &reader.Graph{}
	for _, n := range []string{"a", "b", "c", "d"} {
		full.Entities = append(full.Entities, reader.Entity{Name: n, EntityType: "t", Observations: []string{"o"}})
	}
	full.Relations = append(full.Relations, reader.Relation{From: "a", To: "b", RelationType: "r"})
	for i := range 2000 { // c: far over the budget with its relations
		full.Relations = append(full.Relations, reader.Relation{From: "c", To: fmt.Sprintf("x%04d", i), RelationType: "links to"})
	}
	const budget = 32 << 10
	out, shown := graphPage(full, 0, 0, budget, true)
	if shown != 2 {
		t.Fatalf("first part shows %d entities, want a and b (2)", shown)
	}
	for _, r := range out.Relations {
		if r.From != "a" && r.To != "a" && r.From != "b" && r.To != "b" {
			t.Errorf("first part holds %+v, which touches neither a nor b", r)
		}
	}
	if len(out.Relations) != 1 {
		t.Errorf("first part holds %d relations, want a's and b's one", len(out.Relations))
	}
	out, shown = graphPage(full, 2, 0, budget, true)
	if shown != 1 || out.Entities[0].Name != "c" || !strings.Contains(out.Note, "alone is over") {
		t.Errorf("second part: %d shown (%v), note %q; want c alone, trimmed", shown, out.Entities, out.Note)
	}
}
