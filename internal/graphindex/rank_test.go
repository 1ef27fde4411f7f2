package graphindex

import "bufio"
import "encoding/json"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/testutil"

// loadMemoryFile reads a reference memory server JSONL file.
func loadMemoryFile(t *testing.T, path string) ([]model.Entity, []model.Relation) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ents []model.Entity
	var rels []model.Relation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Type, Name, EntityType, From, To, RelationType string
			Observations                                   []string
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Type == "entity" {
			ents = append(ents, model.Entity{Name: l.Name, EntityType: l.EntityType, Observations: l.Observations})
		} else {
			rels = append(rels, model.Relation{From: l.From, To: l.To, RelationType: l.RelationType})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ents, rels
}

// ranked is the names of v's hits for q, best first.
func ranked(v *View, q string) []string {
	hits := v.Search(q)
	SortHits(hits)
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Entity.Name
	}
	return out
}

// refHits is the names the reference server's substring rule finds for q.
func refHits(ents []model.Entity, q string) []string {
	lq := Lower(q)
	var out []string
	for _, e := range ents {
		if strings.Contains(Lower(e.Name), lq) || strings.Contains(Lower(e.EntityType), lq) ||
			slices.ContainsFunc(e.Observations, func(o string) bool { return strings.Contains(Lower(o), lq) }) {
			out = append(out, e.Name)
		}
	}
	return out
}

// Issue 28, point 3: the reference's hits come first, every one of them is
// returned, and ties are not put in name order.
func TestRankingPutsTheReferencesHitsFirst(t *testing.T) {
	ents, rels := loadMemoryFile(t, filepath.Join("..", "..", "testdata", "mcp", "ranking.jsonl"))
	v := Build(ents, rels)
	for _, tc := range []struct {
		q    string
		want int // the reference's hits
	}{
		{"roadmap item 7", 1},
		{"Joined in 2023", 2},
		{"ROADMAP", 21},
		{"owner: Dana", 2},
	} {
		ref := refHits(ents, tc.q)
		if len(ref) != tc.want {
			t.Fatalf("%q: the fixture gives %d reference hits, want %d", tc.q, len(ref), tc.want)
		}
		got := ranked(v, tc.q)
		if len(got) < len(ref) {
			t.Fatalf("%q: %d hits, fewer than the reference's %d", tc.q, len(got), len(ref))
		}
		if head := got[:len(ref)]; !testutil.SameElements(head, ref) {
			t.Errorf("%q: first %d hits %v, the reference's %v", tc.q, len(ref), head, ref)
		}
	}
	// The word hits that follow: every word, digits included, the closest
	// words first. "Gus" holds "joined ... in 2023" in one observation
	// (span 5), "Ivo" as "in 2023 joined" (span 2), "Kira" as "2023 review:
	// joined" (3), "Team" as "joined in a 2023" (2 words: "a" is a stop word).
	got := ranked(v, "Joined in 2023")
	if want := []string{"Ivo", "Team", "Kira", "Gus"}; !slices.Equal(got[2:], want) {
		t.Errorf("Joined in 2023: word hits %v, want %v", got[2:], want)
	}
}

// Issue 28: `search --limit 3 "thing 19999"` on 20k entities did not show
// ent-19999; the same holds at 2k with "thing 1999".
func TestRankingFindsTheNumberedEntity(t *testing.T) {
	var ents []model.Entity
	for i := range 2000 {
		ents = append(ents, model.Entity{Name: fmt.Sprintf("ent-%d", i), EntityType: "thing",
			Observations: []string{fmt.Sprintf("thing %d", i), "a thing among many"}})
	}
	v := Build(ents, nil)
	if got := ranked(v, "thing 1999"); len(got) == 0 || got[0] != "ent-1999" {
		t.Fatalf("thing 1999: %v", got[:min(3, len(got))])
	}
	// "thing 1" as whole words first, then the longer numbers.
	if got := ranked(v, "thing 1"); got[0] != "ent-1" || len(got) != 1111 {
		t.Fatalf("thing 1: %d hits, first %v", len(got), got[:3])
	}
	if got := ranked(v, "ent-19"); got[0] != "ent-19" {
		t.Fatalf("ent-19: first %v", got[:3])
	}
}

// Within a tier, relevance decides, not the name: the field, whole words,
// proximity, BM25.
func TestRankingTiesByRelevance(t *testing.T) {
	v := Build([]model.Entity{
		{Name: "a observation", EntityType: "t", Observations: []string{"kiwi fruit"}},
		{Name: "b type", EntityType: "kiwi fruit", Observations: []string{}},
		{Name: "z kiwi fruit name", EntityType: "t", Observations: []string{}},
		{Name: "a inside a word", EntityType: "t", Observations: []string{"kiwi fruity"}},
		{Name: "a far", EntityType: "t", Observations: []string{"fruit of one sort and another, kiwi"}},
		{Name: "b near", EntityType: "t", Observations: []string{"fruit kiwi"}},
		{Name: "c spread", EntityType: "fruit", Observations: []string{"kiwi"}},
	}, nil)
	got := ranked(v, "Kiwi fruit")
	want := []string{"z kiwi fruit name", "b type", "a observation", "a inside a word", "b near", "a far", "c spread"}
	if !slices.Equal(got, want) {
		t.Errorf("kiwi fruit:\n got %v\nwant %v", got, want)
	}
	// The exact name first, whatever else holds it.
	if got := ranked(v, "B TYPE"); got[0] != "b type" {
		t.Errorf("b type: %v", got)
	}
	// BM25: a rarer word weighs more; a shorter entity ranks first.
	w := Build([]model.Entity{
		{Name: "a", EntityType: "t", Observations: []string{"common words here and there", "common again"}},
		{Name: "b", EntityType: "t", Observations: []string{"common"}},
	}, nil)
	if got := ranked(w, "common"); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("common: %v", got)
	}
}

func TestTermsKeepDigits(t *testing.T) {
	for q, want := range map[string]string{
		"roadmap item 7":   "[roadmap item 7]",
		"Joined in 2023":   "[join 2023]",
		"python 3.12":      "[python 3 12]",
		"ticket123 closed": "[ticket123 close]",
		"a b c":            "[]",
	} {
		if got := fmt.Sprint(Terms(Lower(q))); got != want {
			t.Errorf("Terms(%q) = %s, want %s", q, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	ents, rels := loadMemoryFile(t, filepath.Join("..", "..", "testdata", "mcp", "memory.jsonl"))
	v := Build(ents, rels)
	for q, want := range map[string]string{
		"Ada Lovleace":     "Ada Lovelace",
		"lovleace":         "Ada Lovelace",
		"Charls Babage":    "Charles Babbage",
		"analytcal engine": "Analytical Engine",
		"Londn":            "London",
	} {
		if hits := v.Search(q); len(hits) != 0 {
			t.Fatalf("%q matches %d entities: not a typo case", q, len(hits))
		}
		s := v.Suggest(q, 5)
		if len(s) == 0 || s[0].Entity.Name != want {
			t.Errorf("Suggest(%q) = %v, want %q first", q, s, want)
		}
		for i := 1; i < len(s); i++ {
			if s[i].Similarity > s[i-1].Similarity || s[i].Similarity < SuggestAtLeast {
				t.Errorf("Suggest(%q): out of order or under the threshold: %v", q, s)
			}
		}
	}
	for _, q := range []string{"zzqx", "", "  ", "x"} {
		if s := v.Suggest(q, 5); len(s) != 0 {
			t.Errorf("Suggest(%q) = %v, want none", q, s)
		}
	}
	// Only live entities of the View, at most n.
	w := v.Apply([]string{"London"}, nil, nil)
	if s := w.Suggest("Londn", 5); len(s) != 0 {
		t.Errorf("deleted London suggested: %v", s)
	}
	if s := v.Suggest("a", 2); len(s) > 2 {
		t.Errorf("n=2 gave %d", len(s))
	}
}

// A typo's suggestions come from the names alone: entities whose
// observations hold the query's trigrams (more than Suggest compares) do
// not crowd out the name it misspells, and an entity added by Apply is
// suggested too.
func TestSuggestComparesNames(t *testing.T) {
	var ents []model.Entity
	for i := range suggestScan + 1000 {
		ents = append(ents, model.Entity{Name: fmt.Sprintf("note-%05d", i), EntityType: "note",
			Observations: []string{"lovleace lovelace lovleace"}})
	}
	ents = append(ents, model.Entity{Name: "Ada Lovelace", EntityType: "person"})
	v := Build(ents, nil)
	if s := v.Suggest("lovleace", 5); len(s) == 0 || s[0].Entity.Name != "Ada Lovelace" {
		t.Fatalf("Suggest(lovleace) = %v, want Ada Lovelace first", s)
	}
	w := v.Apply([]string{"Grace Hopper"}, []model.Entity{{Name: "Grace Hopper", EntityType: "person"}}, nil)
	if s := w.Suggest("grace hoper", 5); len(s) == 0 || s[0].Entity.Name != "Grace Hopper" {
		t.Fatalf("Suggest(grace hoper) after Apply = %v, want Grace Hopper first", s)
	}
}

// Names equally similar to a typo by trigrams come closest edit first:
// "ent5" shares the same two trigrams with every "ent-N", and "ent-5" is
// one hyphen from it; name order alone put "ent-1" first. With more names
// than Suggest compares (suggestScan), "ent-5" is still among those it
// compares: it holds more of the query's trigrams once separators are
// dropped.
func TestSuggestTiesByEditDistance(t *testing.T) {
	var ents []model.Entity
	for i := suggestScan + 2000; i >= 0; i-- { // ent-5 last: its document is not among the first suggestScan
		ents = append(ents, model.Entity{Name: fmt.Sprintf("ent-%d", i), EntityType: "t"})
	}
	v := Build(ents, nil)
	for q, want := range map[string]string{"ent5": "ent-5", "ENT42": "ent-42"} {
		if hits := v.Search(q); len(hits) != 0 {
			t.Fatalf("%q matches %d entities: not a typo case", q, len(hits))
		}
		if s := v.Suggest(q, 5); len(s) == 0 || s[0].Entity.Name != want {
			t.Errorf("Suggest(%q) = %v, want %q first", q, s, want)
		}
	}
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"ent5", "ent5", 0}, {"ent5", "ent50", 1}, {"kitten", "sitting", 3}, {"", "abc", 3}, {"日本", "日本語", 1}} {
		if got := editDistance([]rune(c.a), []rune(c.b)); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// BenchmarkSearchRanked times Search and SortHits at 100k entities: a
// query 22% of them hold as a phrase, one of two common words most hold
// in any order, and a typo that matches nothing (Suggest).
func BenchmarkSearchRanked(b *testing.B) {
	words := strings.Fields("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore")
	var ents []model.Entity
	for i := range 100_000 {
		obs := []string{fmt.Sprintf("topic %d", i%10), fmt.Sprintf("%s %s %s", words[i%len(words)], words[(i/3)%len(words)], words[(i/7)%len(words)])}
		if i%5 == 0 {
			obs[0] = fmt.Sprintf("topic 1%d", i%7)
		}
		ents = append(ents, model.Entity{Name: fmt.Sprintf("entity-%06d", i), EntityType: "note", Observations: obs})
	}
	v := Build(ents, nil)
	for _, q := range []string{"topic 1", "dolor lorem", "entty-04217"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				hits := v.Search(q)
				SortHits(hits)
				if len(hits) == 0 {
					v.Suggest(q, 5)
				}
			}
		})
	}
}
