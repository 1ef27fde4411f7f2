package reader

import "context"
import "encoding/base64"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "math/rand/v2"
import "reflect"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/graphindex"
import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// commitJob enqueues one job and commits it.
func (f *fixture) commitJob(t testing.TB, job any) {
	t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(f.store, b, f.wopts.Limits); err != nil {
		t.Fatal(err)
	}
	if sum, err := f.w.Commit(context.Background(), writer.CommitOptions{}); err != nil || sum.Applied != 1 {
		t.Fatalf("commit: %+v %v", sum, err)
	}
}

func createOp(es ...Entity) map[string]any {
	return map[string]any{"op": "create_entities", "entities": es}
}

func relOp(rs ...Relation) map[string]any {
	return map[string]any{"op": "create_relations", "relations": rs}
}

// refSearch is the reference memory server's search: entities whose name,
// type or any observation contains the lower-cased query.
func refSearch(all []Entity, q string) []string {
	q = graphindex.Lower(q)
	var out []string
	for _, e := range all {
		hit := strings.Contains(graphindex.Lower(e.Name), q) || strings.Contains(graphindex.Lower(e.EntityType), q)
		for _, o := range e.Observations {
			hit = hit || strings.Contains(graphindex.Lower(o), q)
		}
		if hit {
			out = append(out, e.Name)
		}
	}
	slices.Sort(out)
	return out
}

func memoryFixture(t *testing.T) (*fixture, []Entity, *Reader) {
	f := newFixture(t)
	words := []string{"coffee", "graph", "database", "embedded", "Kuzu", "lock", "snapshot", "reader", "writer",
		"München", "ÉCOLE", "v2", "2024", "x", "C++", "multi\nline", "tab\there"}
	rng := rand.New(rand.NewPCG(1, 2))
	var all []Entity
	for i := 0; i < 120; i++ {
		e := Entity{Name: fmt.Sprintf("%s_%d", words[rng.IntN(len(words))], i), EntityType: []string{"person", "project", "tool"}[i%3], Observations: []string{}}
		for k := rng.IntN(4); k > 0; k-- {
			e.Observations = append(e.Observations, words[rng.IntN(len(words))]+" "+words[rng.IntN(len(words))])
		}
		all = append(all, e)
	}
	all = append(all,
		Entity{Name: "Kuzu", EntityType: "database", Observations: []string{"embedded graph database", "archived Oct 2025"}},
		Entity{Name: "memsnap", EntityType: "project", Observations: []string{"reads snapshots of a kuzu graph without locks"}},
		Entity{Name: "coffee machine", EntityType: "thing", Observations: []string{"makes coffee for the graph team"}},
	)
	f.commitJob(t, map[string]any{"ops": []any{createOp(all...)}})
	f.commitJob(t, map[string]any{"ops": []any{relOp(
		Relation{From: "memsnap", To: "Kuzu", RelationType: "uses"},
		Relation{From: "coffee machine", To: "memsnap", RelationType: "fuels"},
		Relation{From: "Kuzu", To: all[0].Name, RelationType: "knows"},
		Relation{From: all[0].Name, To: all[1].Name, RelationType: "knows"},
	)}})
	r := f.open(t)
	return f, all, r
}

// Done-when 4 (correctness part): search_nodes finds every entity the
// reference substring search finds, and ranks the exact name and entities
// holding every query word first.
func TestSearchNodes(t *testing.T) {
	ctx := context.Background()
	_, all, r := memoryFixture(t)
	for _, q := range []string{"kuzu", "KUZU", "graph", "coffee", "offe", "person", "münchen", "école", "v2", "2024",
		"x", "c++", "_1", "multi\nline", "tab\th", "ti\nli", "graph database", "", "no such thing", "'; DROP", "\"(*"} {
		g, err := r.SearchNodes(ctx, q, SearchOptions{})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		got := map[string]bool{}
		for _, e := range g.Entities {
			got[e.Name] = true
		}
		for _, want := range refSearch(all, q) {
			if !got[want] {
				t.Errorf("search %q misses %q, which the reference finds", q, want)
			}
		}
		if g.Snapshot != r.Seq() {
			t.Errorf("search %q names snapshot %d, reader is on %d", q, g.Snapshot, r.Seq())
		}
	}

	g, err := r.SearchNodes(ctx, "kuzu", SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Entities[0].Name != "Kuzu" {
		t.Errorf("exact name is not first for %q: %v", "kuzu", names(g.Entities[:3]))
	}
	if !slices.Contains(g.Relations, Relation{From: "memsnap", To: "Kuzu", RelationType: "uses"}) {
		t.Errorf("relations between matches missing: %v", g.Relations)
	}
	// Multi-word: entities holding both words (in any order, stemmed) come
	// before those holding one; the substring search finds none of them.
	for _, q := range []string{"graph coffee", "snapshot locks"} {
		g, err = r.SearchNodes(ctx, q, SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		words := strings.Fields(q)
		both := func(e Entity) bool {
			text := strings.ToLower(e.Name + " " + e.EntityType + " " + strings.Join(e.Observations, " "))
			for _, w := range words {
				if !strings.Contains(text, strings.TrimSuffix(w, "s")) {
					return false
				}
			}
			return true
		}
		seenOne := false
		for i, e := range g.Entities {
			if !both(e) {
				seenOne = true
			} else if seenOne {
				t.Errorf("search %q: %q holds every word but is ranked %d, after a partial match", q, e.Name, i)
			}
		}
	}
	for q, want := range map[string]string{"graph coffee": "coffee machine", "snapshot locks": "memsnap"} {
		g, err = r.SearchNodes(ctx, q, SearchOptions{})
		if err != nil || !slices.Contains(names(g.Entities), want) {
			t.Errorf("search %q does not find %q: %v", q, want, err)
		}
	}
}

func TestOpenReadNeighbors(t *testing.T) {
	ctx := context.Background()
	_, all, r := memoryFixture(t)

	g, err := r.OpenNodes(ctx, []string{"memsnap", "ghost", "Kuzu", "memsnap"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(g.Entities); !slices.Equal(got, []string{"memsnap", "Kuzu"}) {
		t.Errorf("open_nodes entities: %v", got)
	}
	// Every relation with at least one end among them (the reference's
	// rule since 2026-02), in order.
	if want := []Relation{{From: "Kuzu", To: "x_0", RelationType: "knows"}, {From: "coffee machine", To: "memsnap", RelationType: "fuels"},
		{From: "memsnap", To: "Kuzu", RelationType: "uses"}}; !slices.Equal(g.Relations, want) {
		t.Errorf("open_nodes relations: %v, want %v", g.Relations, want)
	}
	if g, err := r.OpenNodes(ctx, nil); err != nil || len(g.Entities) != 0 {
		t.Errorf("open_nodes of nothing: %v %v", g, err)
	}

	// Paging visits every entity and every relation exactly once.
	var ents []string
	var rels []Relation
	cursor, pages := "", 0
	for {
		g, err := r.ReadGraph(ctx, ReadGraphOptions{Limit: 17, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		ents = append(ents, names(g.Entities)...)
		rels = append(rels, g.Relations...)
		if cursor = g.NextCursor; cursor == "" {
			break
		}
	}
	if len(ents) != len(all) || len(rels) != 4 || pages != (len(all)+16)/17 {
		t.Errorf("paging: %d entities of %d, %d relations of 4, %d pages", len(ents), len(all), len(rels), pages)
	}
	slices.Sort(ents)
	if len(slices.Compact(ents)) != len(all) {
		t.Errorf("paging repeated entities")
	}
	whole, err := r.ReadGraph(ctx, ReadGraphOptions{})
	if err != nil || len(whole.Entities) != len(all) || len(whole.Relations) != 4 || whole.NextCursor != "" {
		t.Fatalf("whole graph: %d entities, %d relations, cursor %q, %v", len(whole.Entities), len(whole.Relations), whole.NextCursor, err)
	}
	typed, err := r.ReadGraph(ctx, ReadGraphOptions{EntityType: "database"})
	if err != nil || len(typed.Entities) != 1 || typed.Entities[0].Name != "Kuzu" || len(typed.Relations) != 0 {
		t.Errorf("type filter: %+v %v", typed, err)
	}
	if _, err := r.ReadGraph(ctx, ReadGraphOptions{Cursor: "garbage!"}); err == nil {
		t.Error("a bad cursor was accepted")
	}

	g, err = r.Neighbors(ctx, "Kuzu", NeighborsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(g.Entities); got[0] != "Kuzu" || len(got) != 3 || !slices.Contains(got, "memsnap") || !slices.Contains(got, all[0].Name) {
		t.Errorf("neighbors depth 1: %v", got)
	}
	for depth, want := range map[int][]string{2: {"coffee machine", "memsnap", "Kuzu"}, 4: {"coffee machine", "memsnap", "Kuzu", all[0].Name, all[1].Name}} {
		g, err = r.Neighbors(ctx, "coffee machine", NeighborsOptions{Depth: depth})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(g.Entities); !slices.Equal(got, want) || len(g.Relations) != len(want)-1 {
			t.Errorf("neighbors depth %d: %v %v", depth, got, g.Relations)
		}
	}
	g, err = r.Neighbors(ctx, "coffee machine", NeighborsOptions{Depth: 3, RelationType: "fuels"})
	if err != nil || len(g.Entities) != 2 {
		t.Errorf("neighbors by relation type: %+v %v", g, err)
	}
	if _, err := r.Neighbors(ctx, "ghost", NeighborsOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("neighbors of a missing entity: %v", err)
	}
	if _, err := r.Neighbors(ctx, "Kuzu", NeighborsOptions{Depth: MaxDepth + 1}); err == nil {
		t.Error("depth beyond the cap was accepted")
	}
}

// Up to graphdb.LookupsAtMost names are looked up one query each, more in
// one listed query: both give the same entities and relations, in the order
// asked (open_nodes), and a traversal whose frontier crosses the line
// (neighbors of a hub's leaf) finds every entity once.
func TestLookupsOneByOneOrListed(t *testing.T) {
	ctx := context.Background()
	f, all, r := memoryFixture(t)
	var leaves []Relation
	for _, e := range all[10:50] { // 40 leaves: more than graphdb.LookupsAtMost
		leaves = append(leaves, Relation{From: "hub", To: e.Name, RelationType: "has"})
	}
	f.commitJob(t, map[string]any{"ops": []any{createOp(Entity{Name: "hub", EntityType: "t", Observations: []string{}}), relOp(leaves...)}})
	if _, err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"hub"}
	for i := len(all) - 1; i >= 0; i-- { // not in name order
		want = append(want, all[i].Name)
	}
	for _, n := range []int{4, 32, 33, len(want)} {
		g, err := r.OpenNodes(ctx, want[:n])
		if err != nil {
			t.Fatal(err)
		}
		if got := names(g.Entities); !slices.Equal(got, want[:n]) {
			t.Errorf("open_nodes of %d names: %d entities, first %v", n, len(got), got[:min(4, len(got))])
		}
		if n == len(want) && len(g.Relations) != 4+len(leaves) {
			t.Errorf("open_nodes of every name: %d relations, want %d", len(g.Relations), 4+len(leaves))
		}
	}
	// From a leaf: the hub at depth 1, the 39 other leaves (a frontier of
	// one, then of 40) at depth 2, nothing more at depth 3.
	g, err := r.Neighbors(ctx, all[10].Name, NeighborsOptions{Depth: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := names(g.Entities)
	reach := map[string]bool{"hub": true}
	for _, l := range leaves {
		reach[l.To] = true
	}
	if len(got) != len(reach) || got[0] != all[10].Name || got[1] != "hub" || len(g.Relations) != len(leaves) {
		t.Errorf("neighbors depth 3 of a leaf: %d entities (want %d), first %v, %d relations (want %d)",
			len(got), len(reach), got[:min(3, len(got))], len(g.Relations), len(leaves))
	}
	for _, n := range got {
		if !reach[n] {
			t.Errorf("neighbors depth 3 of a leaf reached %s", n)
		}
	}
}

// Issue 13, done-when 5: at 10k entities with random names, types and
// observations (unicode letters, digits, punctuation, spaces), search_nodes
// returns every entity the reference's rule returns (refSearch: the
// lower-cased query inside the lower-cased name, type or one observation),
// for queries cut from the data (in either case) and made up.
func TestSearchParityAt10k(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10k-entity store")
	}
	ctx := context.Background()
	f := newFixture(t)
	rng := rand.New(rand.NewPCG(13, 10_000))
	alphabet := []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" +
		"éèüöäßçñÉÜÖÅøæΩωλΣσЖжДд日本語中文한국🙂 .,;:-_/'\"()+#&@!?%*[]{}<>|~^=")
	word := func(n int) string {
		r := make([]rune, n)
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(r)
	}
	const n = 10_000
	all := make([]Entity, 0, n)
	seen := map[string]bool{}
	for len(all) < n {
		name := strings.TrimSpace(word(3 + rng.IntN(12)))
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		e := Entity{Name: name, EntityType: strings.TrimSpace(word(1+rng.IntN(6))) + "t", Observations: []string{}}
		for k := rng.IntN(4); k > 0; k-- {
			e.Observations = append(e.Observations, word(5+rng.IntN(30)))
		}
		all = append(all, e)
	}
	for i := 0; i < n; i += 1000 {
		b, err := json.Marshal(map[string]any{"ops": []any{createOp(all[i : i+1000]...)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := producer.Enqueue(f.store, b, f.wopts.Limits); err != nil {
			t.Fatal(err)
		}
	}
	if sum, err := f.w.Commit(ctx, writer.CommitOptions{}); err != nil || sum.Applied != n/1000 {
		t.Fatalf("commit: %+v %v", sum, err)
	}
	r := f.open(t)

	var queries []string
	for i := 0; i < 100; i++ { // cut from the data: each finds at least its source
		e := all[rng.IntN(n)]
		src := []rune(e.Name)
		switch {
		case i%3 == 1:
			src = []rune(e.EntityType)
		case i%3 == 2 && len(e.Observations) > 0:
			src = []rune(e.Observations[rng.IntN(len(e.Observations))])
		}
		lo := rng.IntN(len(src))
		q := string(src[lo:min(len(src), lo+1+rng.IntN(6))])
		if i%2 == 0 {
			q = strings.ToUpper(q)
		}
		queries = append(queries, q)
	}
	for i := 0; i < 30; i++ {
		queries = append(queries, word(1+rng.IntN(3)))
	}
	queries = append(queries, "", " ", "é", "Ω", "-", "0", "日本", "🙂", "ß", "\"", "'")
	for _, q := range queries {
		g, err := r.SearchNodes(ctx, q, SearchOptions{})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		got := make(map[string]bool, len(g.Entities))
		for _, e := range g.Entities {
			got[e.Name] = true
		}
		missed := 0
		for _, want := range refSearch(all, q) {
			if !got[want] {
				if missed++; missed <= 3 {
					t.Errorf("search %q misses %q, which the reference finds", q, want)
				}
			}
		}
	}
}

// A long-lived Reader derives each new snapshot's search index from the
// previous one by the entities the jobs in between changed, and answers
// as a Reader that builds it afresh: after creates, changed observations,
// new and deleted relations, and an entity deleted (its incoming
// relations go with it) then created again, across one and several
// snapshots at a time.
func TestSearchIndexFollowsSnapshots(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ent := func(name string, obs ...string) Entity {
		return Entity{Name: name, EntityType: "note", Observations: append([]string{}, obs...)}
	}
	f.commitJob(t, map[string]any{"ops": []any{createOp(ent("hub", "coffee hub"), ent("a", "coffee one"), ent("b", "tea"))}})
	f.wopts.Keep = 3 // the default: a snapshot skipped by a refresh is still there
	f.w = writer.New(f.store, f.wopts, nil)
	r := f.open(t)
	steps := [][]any{
		{relOp(Relation{From: "a", To: "hub", RelationType: "uses"}, Relation{From: "b", To: "hub", RelationType: "uses"})},
		{map[string]any{"op": "add_observations", "observations": []any{map[string]any{"entityName": "b", "contents": []string{"now coffee too"}}}}},
		{map[string]any{"op": "delete_entities", "entityNames": []string{"hub"}}, createOp(ent("hub", "coffee reborn"))},
		{map[string]any{"op": "delete_relations", "relations": []Relation{{From: "a", To: "b", RelationType: "x"}}}, relOp(Relation{From: "a", To: "b", RelationType: "likes"})},
		{map[string]any{"op": "delete_observations", "deletions": []any{map[string]any{"entityName": "a", "observations": []string{"coffee one"}}}}},
		{map[string]any{"op": "kv_put", "key": "k", "value": "v"}},
		// Text alone changes (relations out of b and into hub stay), then
		// relations alone (a's text stays).
		{map[string]any{"op": "add_observations", "observations": []any{
			map[string]any{"entityName": "hub", "contents": []string{"more coffee"}},
			map[string]any{"entityName": "b", "contents": []string{"tea again"}}}}},
		{relOp(Relation{From: "a", To: "hub", RelationType: "likes"}), map[string]any{"op": "delete_relations", "relations": []Relation{{From: "a", To: "b", RelationType: "likes"}}}},
	}
	search := func(r *Reader) string {
		var b strings.Builder
		for _, q := range []string{"coffee", "hub", "", "tea"} {
			g, err := r.SearchNodes(ctx, q, SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%q: %v %v\n", q, g.Entities, g.Relations)
		}
		return b.String()
	}
	for i, ops := range steps {
		search(r) // the index of the snapshot before the step
		f.commitJob(t, map[string]any{"ops": ops})
		if i == 3 { // two snapshots at once
			f.commitJob(t, map[string]any{"ops": []any{createOp(ent("late", "coffee late"))}})
		}
		if _, err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		fresh := f.open(t)
		got, want := search(r), search(fresh)
		fresh.Close()
		if got != want {
			t.Fatalf("step %d: derived index answers\n%s\na fresh one\n%s", i, got, want)
		}
	}
	if built, derived := r.SearchIndexStats(); built != 1 || derived != int64(len(steps)) {
		t.Errorf("search indexes built %d, derived %d; want 1 and %d", built, derived, len(steps))
	}

	// A snapshot collected before the reader saw it breaks the chain: the
	// next index is built afresh, and still answers right.
	f.wopts.Keep = 1
	f.w = writer.New(f.store, f.wopts, nil)
	f.commitJob(t, map[string]any{"ops": []any{createOp(ent("gone", "coffee gone"))}})
	f.commitJob(t, map[string]any{"ops": []any{map[string]any{"op": "delete_entities", "entityNames": []string{"gone", "b"}}}})
	if _, err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := f.open(t)
	if got, want := search(r), search(fresh); got != want {
		t.Fatalf("after a collected snapshot: index answers\n%s\na fresh one\n%s", got, want)
	}
	if built, _ := r.SearchIndexStats(); built != 2 {
		t.Errorf("search indexes built %d after a collected snapshot; want 2", built)
	}
}

// Observations are read as JSON from Kuzu (entityCols): every string comes
// back byte for byte, whatever it holds.
func TestObservationsRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	obs := []string{`back\slash`, `"quoted"`, "new\nline", "tab\there", "\x01ctl\x1f", "\u2028sep\u2029", "emoji 🙂",
		"", "ünïcödé 日本語", `{"json": [1, "x"]}`, "  spaces  ", "null", "[]", "\x7f del"}
	f.commitJob(t, map[string]any{"ops": []any{createOp(Entity{Name: "odd", EntityType: "t", Observations: obs}, Entity{Name: "none", EntityType: "t", Observations: []string{}})}})
	r := f.open(t)
	g, err := r.OpenNodes(ctx, []string{"odd", "none"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Entities) != 2 || !slices.Equal(g.Entities[0].Observations, obs) || g.Entities[1].Observations == nil || len(g.Entities[1].Observations) != 0 {
		t.Fatalf("observations read back as %q", g.Entities)
	}
	s, err := r.SearchNodes(ctx, "quoted", SearchOptions{})
	if err != nil || len(s.Entities) != 1 || !slices.Equal(s.Entities[0].Observations, obs) {
		t.Fatalf("search read back %q, %v", s.Entities, err)
	}
}

// Once the process has searched, open_nodes answers from the search index:
// the same entities, in the order asked, and the same relations as the Kuzu
// queries give (a reader that never searched), across commits that add,
// change and delete entities and relations.
func TestOpenNodesFromIndexMatchesKuzu(t *testing.T) {
	ctx := context.Background()
	f, all, r, plain := indexedFixture(t)
	rng := rand.New(rand.NewPCG(7, 8))
	pool := []string{"ghost", "Kuzu", "memsnap", "coffee machine"}
	for _, e := range all {
		pool = append(pool, e.Name)
	}
	compare := func(step string) {
		t.Helper()
		for range 30 {
			var want []string
			for k := rng.IntN(6); k >= 0; k-- {
				want = append(want, pool[rng.IntN(len(pool))])
			}
			fast, ok := r.openFromIndex(want)
			if !ok {
				t.Fatalf("%s: open_nodes did not answer from the index", step)
			}
			slow, err := plain.OpenNodes(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			if fast.Snapshot != slow.Snapshot || !reflect.DeepEqual(fast.Entities, slow.Entities) || !slices.Equal(fast.Relations, slow.Relations) {
				t.Fatalf("%s: open_nodes %q\nfrom the index: %+v\nfrom Kuzu:      %+v", step, want, fast, slow)
			}
		}
	}
	compare("first snapshot")
	steps := []map[string]any{
		{"ops": []any{relOp(Relation{From: all[5].Name, To: "Kuzu", RelationType: "likes"}, Relation{From: "Kuzu", To: "Kuzu", RelationType: "self"})}},
		{"ops": []any{map[string]any{"op": "add_observations", "observations": []any{map[string]any{"entityName": "memsnap", "contents": []string{"now with serve"}}}}}},
		{"ops": []any{map[string]any{"op": "delete_entities", "entityNames": []string{all[0].Name, all[7].Name}}}},
		{"ops": []any{createOp(Entity{Name: all[0].Name, EntityType: "reborn", Observations: []string{"again"}}), relOp(Relation{From: "memsnap", To: all[0].Name, RelationType: "revived"})}},
		{"ops": []any{map[string]any{"op": "delete_relations", "relations": []Relation{{From: "memsnap", To: "Kuzu", RelationType: "uses"}}}}},
	}
	f.commitEach(t, steps, []*Reader{r, plain}, compare)
}

// Options.SearchWordHits caps the entities found only by holding every
// query word: every entity the reference's substring rule finds stays,
// and the word-only ones kept are the best-ranked of the uncapped answer.
func TestSearchWordHitsCap(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var all []Entity
	for i := 0; i < 3; i++ { // the phrase itself: the reference finds these
		all = append(all, Entity{Name: fmt.Sprintf("phrase-%d", i), EntityType: "note",
			Observations: []string{"likes coffee deadlines less", "on friday"}})
	}
	for i := 0; i < 40; i++ { // both words apart, more often in some
		obs := []string{"deadline soon", strings.Repeat("coffee again ", 1+i%5)}
		all = append(all, Entity{Name: fmt.Sprintf("words-%02d", i), EntityType: "note", Observations: obs})
	}
	all = append(all, Entity{Name: "one-word", EntityType: "note", Observations: []string{"coffee only"}})
	f.commitJob(t, map[string]any{"ops": []any{createOp(all...)}})

	search := func(wordHits int) []string {
		t.Helper()
		opts := f.opts
		opts.SearchWordHits = wordHits
		r := f.openWith(t, opts, nil)
		defer r.Close()
		g, err := r.SearchNodes(ctx, "Coffee Deadline", SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return names(g.Entities)
	}
	uncapped := search(0)
	if len(uncapped) != 43 {
		t.Fatalf("uncapped search found %d entities, want the 3 phrases and 40 word matches: %v", len(uncapped), uncapped)
	}
	capped := search(5)
	want := []string{}
	words := 0
	for _, name := range uncapped {
		if strings.HasPrefix(name, "phrase-") {
			want = append(want, name)
		} else if words++; words <= 5 {
			want = append(want, name)
		}
	}
	if !slices.Equal(capped, want) {
		t.Errorf("capped at 5 word hits:\n got %v\nwant %v", capped, want)
	}
	for _, name := range refSearch(all, "Coffee Deadline") {
		if !slices.Contains(capped, name) {
			t.Errorf("the cap dropped %q, which the reference finds", name)
		}
	}
	if got := search(DefaultSearchWordHits); len(got) != 3+DefaultSearchWordHits {
		t.Errorf("default cap: %d entities, want %d", len(got), 3+DefaultSearchWordHits)
	}
}

// A long-lived Reader follows random jobs (every memory op, on a handful of
// names so that they collide: creates of what exists, relations to deleted
// entities, jobs the writer rejects), committed a few at a time, by
// replaying the archived jobs on its index (graphindex.View.FollowJobs): it
// answers open_nodes from that index as Kuzu answers a fresh Reader, and
// never falls back to reading the changed entities.
func TestSearchIndexFromJobsRandom(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.commitJob(t, map[string]any{"ops": []any{createOp(Entity{Name: "ash", EntityType: "t1", Observations: []string{"amber"}})}})
	f.wopts.Keep = 3
	f.w = writer.New(f.store, f.wopts, nil)
	var logs strings.Builder
	r := f.openWith(t, f.opts, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer r.Close()
	if _, err := r.SearchNodes(ctx, "x", SearchOptions{}); err != nil { // the process has searched: it derives
		t.Fatal(err)
	}
	names := []string{"ash", "bay", "cove", "dell", "elm"}
	gen := jobGen{rng: rand.New(rand.NewPCG(3, 9)), names: names}
	render := func(g *Graph) string {
		var lines []string
		for _, e := range g.Entities {
			lines = append(lines, fmt.Sprintf("%s %s %q", e.Name, e.EntityType, e.Observations))
		}
		for _, rel := range g.Relations {
			lines = append(lines, fmt.Sprintf("%s -%s-> %s", rel.From, rel.RelationType, rel.To))
		}
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	swaps, rounds := 0, 40
	if testing.Short() {
		rounds = 10
	}
	for round := 0; round < rounds; round++ {
		for n := 1 + gen.rng.IntN(4); n > 0; n-- {
			b, _ := json.Marshal(gen.job())
			if _, err := producer.Enqueue(f.store, b, f.wopts.Limits); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.w.Commit(ctx, writer.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		swapped, err := r.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if swapped {
			swaps++
		}
		fresh := f.open(t)
		want, err := fresh.OpenNodes(ctx, names) // from Kuzu: fresh has not searched
		fresh.Close()
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.OpenNodes(ctx, names) // from the derived index
		if err != nil {
			t.Fatal(err)
		}
		if render(got) != render(want) {
			t.Fatalf("round %d: the index derived from the jobs holds\n%s\nthe snapshot holds\n%s", round, render(got), render(want))
		}
	}
	if built, derived := r.SearchIndexStats(); built != 1 || derived != int64(swaps) {
		t.Errorf("search indexes built %d, derived %d; want 1 and %d", built, derived, swaps)
	}
	if n := r.SearchIndexFellBack(); n != 0 {
		t.Errorf("%d derives fell back to reading the snapshot (the jobs did not lead to its counts):\n%s", n, logs.String())
	}
}

// jobGen makes random jobs of every memory op on a few names, so that they
// collide: creates of what exists, relations to deleted entities, jobs the
// writer rejects.
type jobGen struct {
	rng   *rand.Rand
	names []string
}

func (g jobGen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g jobGen) obs() []string {
	out := []string{}
	for n := g.rng.IntN(3); n > 0; n-- {
		out = append(out, g.pick([]string{"amber", "birch", "cedar"}))
	}
	return out
}

func (g jobGen) rel() Relation {
	return Relation{From: g.pick(g.names), To: g.pick(g.names), RelationType: g.pick([]string{"r1", "r2"})}
}

func (g jobGen) op() map[string]any {
	switch g.rng.IntN(7) {
	case 0, 1:
		return createOp(Entity{Name: g.pick(g.names), EntityType: g.pick([]string{"t1", "t2"}), Observations: g.obs()})
	case 2:
		return relOp(g.rel())
	case 3:
		return map[string]any{"op": "add_observations", "observations": []any{map[string]any{"entityName": g.pick(g.names), "contents": g.obs()}}}
	case 4:
		return map[string]any{"op": "delete_entities", "entityNames": []string{g.pick(g.names)}}
	case 5:
		return map[string]any{"op": "delete_observations", "deletions": []any{map[string]any{"entityName": g.pick(g.names), "observations": g.obs()}}}
	default:
		return map[string]any{"op": "delete_relations", "relations": []Relation{g.rel()}}
	}
}

// job is one to three random ops and, every other job, a relation whose
// ends it creates (so that most jobs apply).
func (g jobGen) job() map[string]any {
	var ops []any
	for k := 1 + g.rng.IntN(3); k > 0; k-- {
		ops = append(ops, g.op())
	}
	if g.rng.IntN(2) == 0 {
		rl := g.rel()
		ops = append(ops, createOp(Entity{Name: rl.From, EntityType: "t1", Observations: []string{}},
			Entity{Name: rl.To, EntityType: "t1", Observations: []string{}}), relOp(rl))
	}
	return map[string]any{"ops": ops}
}

// read_graph pages from the search index (graphindex.View.Page) are Kuzu's
// pages: the same entities in the same order, the same relations and
// cursors, with and without an entity type, paged through to the end,
// across commits that add, change and delete entities (the name order is
// carried from snapshot to snapshot once a page was asked for).
func TestReadGraphFromIndexMatchesKuzu(t *testing.T) {
	ctx := context.Background()
	f, all, r, plain := indexedFixture(t)
	render := func(g *Graph) string {
		rels := slices.Clone(g.Relations)
		sortRelations(rels)
		return fmt.Sprintf("seq %d\n%+v\n%v\nnext %q", g.Snapshot, g.Entities, rels, g.NextCursor)
	}
	compare := func(step string) {
		t.Helper()
		for _, typ := range []string{"", "person", "thing", "no such type"} {
			for _, limit := range []int{0, 1, 7, 50} {
				opts := ReadGraphOptions{Limit: limit, EntityType: typ}
				for page := 0; ; page++ {
					var fast *Graph
					if after, err := base64.RawURLEncoding.DecodeString(opts.Cursor); err == nil {
						var ok bool
						if fast, ok = r.pageFromIndex(strings.TrimPrefix(string(after), "n"), opts); !ok {
							t.Fatalf("%s: read_graph did not answer from the index", step)
						}
					}
					slow, err := plain.ReadGraph(ctx, opts)
					if err != nil {
						t.Fatal(err)
					}
					if render(fast) != render(slow) {
						t.Fatalf("%s: read_graph %+v page %d\nfrom the index: %s\nfrom Kuzu:      %s", step, opts, page, render(fast), render(slow))
					}
					if slow.NextCursor == "" {
						break
					}
					opts.Cursor = slow.NextCursor
				}
			}
		}
	}
	compare("first snapshot")
	steps := []map[string]any{
		{"ops": []any{createOp(Entity{Name: "aaa first", EntityType: "person", Observations: []string{}},
			Entity{Name: "zzz last", EntityType: "thing", Observations: []string{"x"}}, Entity{Name: "Ünïcode ✓", EntityType: "person", Observations: []string{}}),
			relOp(Relation{From: "aaa first", To: all[3].Name, RelationType: "knows"})}},
		{"ops": []any{map[string]any{"op": "delete_entities", "entityNames": []string{all[0].Name, all[9].Name, "zzz last"}}}},
		{"ops": []any{createOp(Entity{Name: all[0].Name, EntityType: "thing", Observations: []string{"again"}}),
			map[string]any{"op": "add_observations", "observations": []any{map[string]any{"entityName": "memsnap", "contents": []string{"pages"}}}}}},
	}
	f.commitEach(t, steps, []*Reader{r, plain}, compare)
	// Through the public call too, with a cursor from a Kuzu page.
	g, err := r.ReadGraph(ctx, ReadGraphOptions{Limit: 2})
	if err != nil || g.NextCursor == "" || len(g.Entities) != 2 {
		t.Fatalf("read_graph from the index: %+v %v", g, err)
	}
}

// indexedFixture is memoryFixture with the Reader's search index built (it
// has searched) and a second Reader, plain, that has not: plain answers
// from Kuzu.
func indexedFixture(t *testing.T) (*fixture, []Entity, *Reader, *Reader) {
	t.Helper()
	ctx := context.Background()
	f, all, r := memoryFixture(t)
	plain := f.open(t)
	if _, err := r.SearchNodes(ctx, "graph", SearchOptions{}); err != nil { // builds the index
		t.Fatal(err)
	}
	return f, all, r, plain
}

// A long-lived Reader whose next index would be mostly garbage (a quarter
// of the entities deleted) builds it afresh and goes on deriving from
// there: its answers match a fresh Reader's through the big delete and the
// small commits after it (it panicked, or kept the deleted entities, when
// the refused derive had changed the index).
func TestSearchIndexAfterLargeDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var all []Entity
	for i := 0; i < 4000; i++ {
		all = append(all, Entity{Name: fmt.Sprintf("n%04d", i), EntityType: "t", Observations: []string{"coffee"}})
	}
	f.commitJob(t, map[string]any{"ops": []any{createOp(all...)}})
	r := f.open(t)
	answer := func(rd *Reader) string {
		t.Helper()
		g, err := rd.SearchNodes(ctx, "coffee", SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o, err := rd.OpenNodes(ctx, []string{"n0005", "n2000", "late-0", "late-2"})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d found, open %v", len(g.Entities), names(o.Entities))
	}
	answer(r) // the process has searched: it derives on each swap
	var gone []string
	for i := 0; i < 1100; i++ {
		gone = append(gone, all[i].Name)
	}
	steps := []map[string]any{{"ops": []any{map[string]any{"op": "delete_entities", "entityNames": gone}}}}
	for i := 0; i < 3; i++ {
		steps = append(steps, map[string]any{"ops": []any{createOp(Entity{Name: fmt.Sprintf("late-%d", i), EntityType: "t", Observations: []string{"coffee"}})}})
	}
	for i, job := range steps {
		f.commitJob(t, job)
		if _, err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		fresh := f.open(t)
		want := answer(fresh)
		fresh.Close()
		if got := answer(r); got != want {
			t.Fatalf("after commit %d: the long-lived reader answers %s, a fresh one %s", i+1, got, want)
		}
	}
}

// A cursor the server did not give out is refused with ErrBadOption, and the
// error names it cut short: a 100 KB cursor is not echoed back.
func TestBadCursorIsNotEchoed(t *testing.T) {
	ctx := context.Background()
	_, _, r := memoryFixture(t)
	long := strings.Repeat("é", 50_000)
	_, err := r.ReadGraph(ctx, ReadGraphOptions{Limit: 1, Cursor: long})
	if !errors.Is(err, ErrBadOption) || len(err.Error()) > 200 || !strings.Contains(err.Error(), "é...") {
		t.Errorf("read_graph with a 100 KB cursor: %.300v", err)
	}
	_, err = r.RecentChanges(ctx, RecentOptions{Cursor: long})
	if !errors.Is(err, ErrBadOption) || len(err.Error()) > 200 {
		t.Errorf("recent_changes with a 100 KB cursor: %.300v", err)
	}
}

// commitEach commits each job in turn, refreshes readers after each, and
// calls check with the step's name.
func (f *fixture) commitEach(t *testing.T, jobs []map[string]any, readers []*Reader, check func(step string)) {
	t.Helper()
	for i, job := range jobs {
		f.commitJob(t, job)
		for _, rd := range readers {
			if _, err := rd.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		check(fmt.Sprintf("after commit %d", i+1))
		for _, rd := range readers {
			if n := rd.SearchIndexFellBack(); n != 0 {
				t.Fatalf("after commit %d: %d search index derives could not follow the archived jobs and read the snapshot instead", i+1, n)
			}
		}
	}
}

// Every read of the Reader's own runs under reader.query_timeout: with a
// timeout already past, each ends with context.DeadlineExceeded.
func TestBuiltInReadsRunUnderTheQueryTimeout(t *testing.T) {
	testutil.SkipKuzuExecErrorOnWine(t, "Kuzu's query timeout")
	f := newFixture(t)
	f.addEntity(t)
	f.opts.QueryTimeout = time.Nanosecond
	r := f.open(t)
	ctx := context.Background()
	reads := map[string]func() error{
		"ReadGraph":     func() error { _, err := r.ReadGraph(ctx, ReadGraphOptions{}); return err },
		"OpenNodes":     func() error { _, err := r.OpenNodes(ctx, []string{"e0"}); return err },
		"SearchNodes":   func() error { _, err := r.SearchNodes(ctx, "e0", SearchOptions{}); return err },
		"Neighbors":     func() error { _, err := r.Neighbors(ctx, "e0", NeighborsOptions{}); return err },
		"RecentChanges": func() error { _, err := r.RecentChanges(ctx, RecentOptions{}); return err },
		"State":         func() error { _, err := r.State(ctx, []string{"e0"}, nil, nil); return err },
		"KVScan":        func() error { _, _, err := r.KVScan(ctx, "", 0); return err },
		"Query":         func() error { _, err := r.Query(ctx, "MATCH (e:Entity) RETURN e.name", nil); return err },
	}
	for name, read := range reads {
		if err := read(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with reader.query_timeout past: got %v, want a deadline error", name, err)
		}
	}
}

// A search asked for a part (Offset, Limit, MaxBytes) answers the slice of
// the whole ranked answer that starts at Offset, as long as Limit and
// MaxBytes allow (at least one entity), with exactly the whole answer's
// relations that touch the part's entities, in the same order.
func TestSearchParts(t *testing.T) {
	ctx := context.Background()
	_, _, r := memoryFixture(t)
	for _, q := range []string{"coffee", "graph", "kuzu", "person", "no such thing"} {
		whole, err := r.SearchNodes(ctx, q, SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := len(whole.Entities)
		if whole.From != 0 || whole.Total != n {
			t.Errorf("search %q: whole answer From %d Total %d, want 0 and %d", q, whole.From, whole.Total, n)
		}
		for _, o := range []SearchOptions{{Offset: 1}, {Offset: 3, Limit: 2}, {MaxBytes: 1}, {MaxBytes: 60}, {Offset: 2, MaxBytes: 200},
			{Offset: n}, {Offset: n + 5, Limit: 1}, {Limit: 4, MaxBytes: 1 << 20}} {
			part, err := r.SearchNodes(ctx, q, o)
			if err != nil {
				t.Fatal(err)
			}
			from := min(o.Offset, n)
			want := whole.Entities[from:]
			if o.Limit > 0 && len(want) > o.Limit {
				want = want[:o.Limit]
			}
			if o.MaxBytes > 0 {
				k, sum := 0, 0
				for ; k < len(want); k++ {
					if sum += want[k].StringBytes(); k > 0 && sum > o.MaxBytes {
						break
					}
				}
				want = want[:k]
			}
			if part.From != from || part.Total != n || !slices.EqualFunc(part.Entities, want, func(a, b Entity) bool { return a.Name == b.Name }) {
				t.Errorf("search %q %+v: From %d Total %d %v, want From %d Total %d %v", q, o, part.From, part.Total, names(part.Entities), from, n, names(want))
			}
			in := map[string]bool{}
			for _, e := range want {
				in[e.Name] = true
			}
			wantRels := []Relation{}
			for _, rel := range whole.Relations {
				if in[rel.From] || in[rel.To] {
					wantRels = append(wantRels, rel)
				}
			}
			if !slices.Equal(part.Relations, wantRels) {
				t.Errorf("search %q %+v: relations %v, want %v", q, o, part.Relations, wantRels)
			}
		}
	}
}
