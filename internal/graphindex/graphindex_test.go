package graphindex

import "encoding/json"
import "fmt"
import "math/rand/v2"
import "os"
import "runtime"
import "slices"
import "sort"
import "strings"
import "testing"

import "golang.org/x/text/unicode/norm"

import "github.com/memsnap/memsnap/internal/model"

// refSubstring is the reference server's rule, a plain scan: the
// lower-cased query (JavaScript's toLowerCase, Lower) is in the lower-cased
// name, type or one observation.
// lowered holds the entities with every field lower-cased, in the same
// order.
func refSubstring(ents, lowered, nfc []model.Entity, q string) []string {
	lq := Lower(q)
	nq := norm.NFC.String(lq)
	var out []string
	for i, e := range lowered {
		n := nfc[i]
		hit := strings.Contains(e.Name, lq) || strings.Contains(e.EntityType, lq) ||
			strings.Contains(n.Name, nq) || strings.Contains(n.EntityType, nq)
		for k, o := range e.Observations {
			hit = hit || strings.Contains(o, lq) || strings.Contains(n.Observations[k], nq)
		}
		if hit {
			out = append(out, ents[i].Name)
		}
	}
	sort.Strings(out)
	return out
}

// lower returns ents with every field as f gives it.
func lower(ents []model.Entity, f func(string) string) []model.Entity {
	out := make([]model.Entity, len(ents))
	for i, e := range ents {
		out[i] = model.Entity{Name: f(e.Name), EntityType: f(e.EntityType)}
		for _, o := range e.Observations {
			out[i].Observations = append(out[i].Observations, f(o))
		}
	}
	return out
}

type randText struct{ rng *rand.Rand }

var alphabet = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" +
	"éèüöäßçñÉÜÖÅøæΩωλΣσςЖжДдİıẞǄᾼ日本語中文한국🙂 \t\n.,;:-_/'\"()+#&@!?%*[]{}<>|~^=\x00\u0301")

func (r randText) word(n int) string {
	w := make([]rune, n)
	for i := range w {
		w[i] = alphabet[r.rng.IntN(len(alphabet))]
	}
	return string(w)
}

func (r randText) entities(n int) []model.Entity {
	seen := map[string]bool{}
	var out []model.Entity
	for len(out) < n {
		name := r.word(2 + r.rng.IntN(12))
		if seen[name] {
			continue
		}
		seen[name] = true
		e := model.Entity{Name: name, EntityType: r.word(1 + r.rng.IntN(6)), Observations: []string{}}
		for k := r.rng.IntN(4); k > 0; k-- {
			e.Observations = append(e.Observations, r.word(1+r.rng.IntN(30)))
		}
		out = append(out, e)
	}
	return out
}

// queries cuts substrings from the data (so each finds at least its
// source), in mixed case, and adds random and edge-case ones.
func (r randText) queries(ents []model.Entity, n int) []string {
	var qs []string
	for i := 0; i < n; i++ {
		e := ents[r.rng.IntN(len(ents))]
		src := []rune(e.Name)
		switch {
		case i%3 == 1:
			src = []rune(e.EntityType)
		case i%3 == 2 && len(e.Observations) > 0:
			src = []rune(e.Observations[r.rng.IntN(len(e.Observations))])
		}
		if len(src) == 0 {
			continue
		}
		lo := r.rng.IntN(len(src))
		q := string(src[lo:min(len(src), lo+1+r.rng.IntN(6))])
		if i%2 == 0 {
			q = strings.ToUpper(q)
		}
		qs = append(qs, q)
	}
	for i := 0; i < n/3; i++ {
		qs = append(qs, r.word(1+r.rng.IntN(3)))
	}
	return append(qs, "", " ", "é", "Ω", "-", "0", "日本", "🙂", "ß", "\"", "'", "\x00", "a\x00b", "İ")
}

// The substring tier finds exactly what the reference's rule finds, and
// what the same rule finds with the lower-cased fields and query in NFC
// (issue 14, input 3), over 10k entities of random unicode (combining
// accents too), digits, punctuation, whitespace and NUL; every other hit
// holds every word of the query.
func TestSubstringParity(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // the parallel checks (inParallel) in four parts, whatever the machine
	r := randText{rand.New(rand.NewPCG(13, 10_000))}
	ents := r.entities(10_000)
	v := Build(ents, nil)
	lowered := lower(ents, Lower)
	nfc := lower(lowered, norm.NFC.String)
	for _, q := range r.queries(ents, 300) {
		var got []string
		v.substring(Lower(q), func(id int32) { got = append(got, v.docs[id].entity().Name) })
		sort.Strings(got)
		want := refSubstring(ents, lowered, nfc, q)
		if !slices.Equal(got, want) {
			t.Errorf("substring %q: %d entities, the reference's rule %d", q, len(got), len(want))
			continue
		}
		in := map[string]bool{}
		for _, n := range want {
			in[n] = true
		}
		for _, h := range v.Search(q) {
			if !in[h.Entity.Name] && h.Tier != TierAllWords {
				t.Errorf("search %q: %q in tier %d without a substring match", q, h.Entity.Name, h.Tier)
			}
			delete(in, h.Entity.Name)
		}
		if len(in) > 0 {
			t.Errorf("search %q misses %d substring matches", q, len(in))
		}
	}
}

func names(hits []Hit) map[string]Tier {
	m := map[string]Tier{}
	for _, h := range hits {
		m[h.Entity.Name] = h.Tier
	}
	return m
}

func TestSearchTiersAndWords(t *testing.T) {
	ents := []model.Entity{
		{Name: "Deploy", EntityType: "task", Observations: []string{}},
		{Name: "pipeline", EntityType: "tool", Observations: []string{"deploying every friday", "owned by ops"}},
		{Name: "notes", EntityType: "doc", Observations: []string{"Friday: we deployed it"}},
		{Name: "other", EntityType: "doc", Observations: []string{"nothing here", "x1 y2"}},
	}
	v := Build(ents, []model.Relation{{From: "pipeline", To: "notes", RelationType: "feeds"}, {From: "notes", To: "other", RelationType: "cites"}})
	got := names(v.Search("deploy"))
	// "deploying" holds "deploy" and stems to it too: the better tier (the
	// phrase) counts.
	want := map[string]Tier{"Deploy": TierExactName, "pipeline": TierPhrase, "notes": TierPhrase}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deploy: %v, want %v", got, want)
	}
	// Every word, stemmed, in any order, across fields.
	got = names(v.Search("friday deploys"))
	want = map[string]Tier{"pipeline": TierAllWords, "notes": TierAllWords}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("friday deploys: %v, want %v", got, want)
	}
	// Words with digits are words; the phrase is the better tier.
	if got := names(v.Search("x1 y2")); fmt.Sprint(got) != fmt.Sprint(map[string]Tier{"other": TierPhrase}) {
		t.Errorf("x1 y2: %v", got)
	}
	// A word with a digit is kept whole, not stemmed to a shorter word:
	// "ticket123" does not find what holds "ticket" alone.
	tk := Build([]model.Entity{
		{Name: "Bug tracker", EntityType: "t", Observations: []string{"ticket123 fixed the crash"}},
		{Name: "Support", EntityType: "t", Observations: []string{"ticket", "ticket queue ticket triage"}},
	}, nil)
	if got := names(tk.Search("ticket123")); fmt.Sprint(got) != fmt.Sprint(map[string]Tier{"Bug tracker": TierPhrase}) {
		t.Errorf("ticket123: %v", got)
	}
	// Every relation with at least one end among the hits.
	hits := v.Search("friday")
	if rels := sortedRels(v.RelationsTouching(hits)); rels != "notes>other:cites pipeline>notes:feeds" {
		t.Errorf("relations touching pipeline and notes: %v", rels)
	}
	hits = v.Search("nothing here")
	if rels := sortedRels(v.RelationsTouching(hits)); rels != "notes>other:cites" {
		t.Errorf("relations touching other: %v", rels)
	}
}

// Lower gives what JavaScript's toLowerCase gives (the pairs below were
// printed by node 2026-11-30), where strings.ToLower differs: the final
// sigma and İ.
func TestLowerIsJavaScripts(t *testing.T) {
	for in, want := range map[string]string{
		"ΣΊΣΥΦΟΣ": "σίσυφος", "İstanbul": "i\u0307stanbul", "ΌΣΟΣ Σ": "όσος σ", "AΣ.": "aς.", "ﬃ": "ﬃ",
		"ẞ": "ß", "Ǆ": "ǆ", "ᾼ": "ᾳ", "ΑΣ1": "ας1", "Σ": "σ", "ASCII Only": "ascii only",
	} {
		if got := Lower(in); got != want {
			t.Errorf("Lower(%q) = %q, JavaScript gives %q", in, got, want)
		}
	}
	v := Build([]model.Entity{{Name: "trip", EntityType: "t", Observations: []string{"İstanbul ΣΊΣΥΦΟΣ"}}}, nil)
	for _, q := range []string{"σίσυφος", "ς", "i\u0307stanbul", "İSTANBUL"} {
		if got := names(v.Search(q)); len(got) != 1 {
			t.Errorf("search %q: %v; the reference finds trip", q, got)
		}
	}
}

// graphModel is a graph the test changes op by op, the oracle for Apply.
type graphModel struct {
	ents map[string]model.Entity
	rels map[model.Relation]bool
}

func (g *graphModel) lists() ([]model.Entity, []model.Relation) {
	var es []model.Entity
	for _, e := range g.ents {
		es = append(es, e)
	}
	var rs []model.Relation
	for r := range g.rels {
		rs = append(rs, r)
	}
	return es, rs
}

func (g *graphModel) outOf(names []string) []model.Relation {
	in := map[string]bool{}
	for _, n := range names {
		in[n] = true
	}
	var out []model.Relation
	for r := range g.rels {
		if in[r.From] {
			out = append(out, r)
		}
	}
	return out
}

func sortedRels(rs []model.Relation) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.From + ">" + r.To + ":" + r.RelationType
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// A View derived by Apply, change after change, answers every query as a
// View built afresh on the same graph does: same hits, tiers, scores and
// relations. Deleting an entity takes the relations to it from their
// sources (found by Sources), also when the name is created again.
func TestApplyEqualsBuild(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	words := strings.Fields("red green blue deploy deploying friday coffee graph memory note Ωmega café")
	sentence := func() string {
		w := make([]string, 1+rng.IntN(4))
		for i := range w {
			w[i] = words[rng.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	name := func() string { return fmt.Sprintf("E%d", rng.IntN(60)) }
	g := &graphModel{ents: map[string]model.Entity{}, rels: map[model.Relation]bool{}}
	v := Build(nil, nil)
	for step := 0; step < 300; step++ {
		var changed, deleted []string
		for k := 1 + rng.IntN(3); k > 0; k-- {
			n := name()
			switch rng.IntN(5) {
			case 0, 1: // create or change
				g.ents[n] = model.Entity{Name: n, EntityType: words[rng.IntN(len(words))], Observations: []string{sentence(), sentence()}}
				changed = append(changed, n)
			case 2: // delete with its relations
				delete(g.ents, n)
				for r := range g.rels {
					if r.From == n || r.To == n {
						delete(g.rels, r)
					}
				}
				changed, deleted = append(changed, n), append(deleted, n)
			case 3: // relate
				to := name()
				if _, ok := g.ents[n]; ok {
					if _, ok := g.ents[to]; ok {
						g.rels[model.Relation{From: n, To: to, RelationType: words[rng.IntN(3)]}] = true
						changed = append(changed, n)
					}
				}
			case 4: // unrelate
				for r := range g.rels {
					if r.From == n {
						delete(g.rels, r)
						changed = append(changed, n)
						break
					}
				}
			}
		}
		changed = append(changed, v.Sources(deleted)...)
		var current []model.Entity
		for _, n := range changed {
			if e, ok := g.ents[n]; ok {
				current = append(current, e)
			}
		}
		next := v.Apply(changed, current, g.outOf(changed))
		if next == nil {
			es, rs := g.lists()
			next = Build(es, rs)
		}
		v = next
		es, rs := g.lists()
		fresh := Build(es, rs)
		if v.Live() != len(g.ents) {
			t.Fatalf("step %d: %d live entities, want %d", step, v.Live(), len(g.ents))
		}
		for _, q := range []string{"", "e1", "deploy", "friday coffee", "ωmega", "CAFÉ"} {
			a, b := v.Search(q), fresh.Search(q)
			sortHits(a)
			sortHits(b)
			if ha, hb := hitString(a), hitString(b); ha != hb {
				t.Fatalf("step %d: search %q derived:\n%s\nbuilt:\n%s", step, q, ha, hb)
			}
			if ra, rb := sortedRels(v.RelationsTouching(a)), sortedRels(fresh.RelationsTouching(b)); ra != rb {
				t.Fatalf("step %d: relations of %q derived %s, built %s", step, q, ra, rb)
			}
			// Against a plain scan of the model's relations.
			hit := map[string]bool{}
			for _, h := range a {
				hit[h.Entity.Name] = true
			}
			var want []model.Relation
			for r := range g.rels {
				if hit[r.From] || hit[r.To] {
					want = append(want, r)
				}
			}
			if ra, rw := sortedRels(v.RelationsTouching(a)), sortedRels(want); ra != rw {
				t.Fatalf("step %d: relations touching the hits of %q: %s, want %s", step, q, ra, rw)
			}
		}
	}
}

func sortHits(hs []Hit) {
	sort.Slice(hs, func(i, j int) bool { return hs[i].Entity.Name < hs[j].Entity.Name })
}

func hitString(hs []Hit) string {
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "%s %d %v %.6f %q\n", h.Entity.Name, h.Tier, h.NameMatch, h.Score, h.Entity.Observations)
	}
	return b.String()
}

// An older View keeps answering for its snapshot after newer ones are
// derived from its lineage, and cannot itself be extended.
func TestOlderViewsStay(t *testing.T) {
	v1 := Build([]model.Entity{{Name: "a", EntityType: "t", Observations: []string{"apple"}}}, nil)
	v2 := v1.Apply([]string{"a", "b"}, []model.Entity{{Name: "b", EntityType: "t", Observations: []string{"apple pie"}}}, nil)
	if v2 == nil {
		t.Fatal("Apply on the newest View returned nil")
	}
	if got := names(v1.Search("apple")); fmt.Sprint(got) != "map[a:1]" {
		t.Errorf("v1 apple: %v", got)
	}
	if got := names(v2.Search("apple")); fmt.Sprint(got) != "map[b:1]" {
		t.Errorf("v2 apple: %v", got)
	}
	if v1.Apply(nil, nil, nil) != nil {
		t.Error("Apply on an older View must return nil")
	}
}

// Searches on older Views run while newer ones are derived (go test -race
// checks the sharing).
func TestSearchWhileApplying(t *testing.T) {
	var ents []model.Entity
	for i := 0; i < 500; i++ {
		ents = append(ents, model.Entity{Name: fmt.Sprintf("e%d", i), EntityType: "t", Observations: []string{"coffee graph", fmt.Sprintf("n%d", i)}})
	}
	v := Build(ents, []model.Relation{{From: "e1", To: "e2", RelationType: "r"}})
	views := make(chan *View, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for old := range views {
			for _, q := range []string{"coffee", "e1", "graph coffee"} {
				hits := old.Search(q)
				_ = old.RelationsTouching(hits)
			}
			_ = old.Sources([]string{"e2"})
		}
	}()
	for i := 0; i < 200; i++ {
		views <- v
		n := fmt.Sprintf("e%d", i%50)
		next := v.Apply([]string{n}, []model.Entity{{Name: n, EntityType: "t", Observations: []string{"tea", fmt.Sprint(i)}}},
			[]model.Relation{{From: n, To: "e2", RelationType: "r"}})
		if next == nil {
			next = Build(ents, nil)
		}
		v = next
	}
	close(views)
	<-done
	if got := len(v.Search("tea")); got == 0 {
		t.Fatal("no entity holds tea after the changes")
	}
}

// An Apply refused because the index would be mostly garbage leaves the
// View whole: it still answers, and smaller changes still extend it (a
// refused Apply that had already changed the shared Index made later
// derives panic or keep deleted entities).
func TestRefusedApplyLeavesTheViewWhole(t *testing.T) {
	var ents []model.Entity
	for i := 0; i < 4000; i++ {
		ents = append(ents, model.Entity{Name: fmt.Sprintf("n%d", i), EntityType: "t", Observations: []string{"coffee"}})
	}
	v := Build(ents, []model.Relation{{From: "n1", To: "n2", RelationType: "r"}})
	var gone []string
	for i := 0; i < 1100; i++ {
		gone = append(gone, fmt.Sprintf("n%d", i))
	}
	if v.Apply(gone, nil, nil) != nil {
		t.Fatal("Apply deleting 1100 of 4000 entities did not ask for a rebuild")
	}
	if _, _, ok := v.Lookup("n5"); !ok || v.Live() != 4000 || len(v.Search("coffee")) != 4000 {
		t.Fatalf("after a refused Apply: n5 found %v, %d live, %d found by search; want true, 4000, 4000", ok, v.Live(), len(v.Search("coffee")))
	}
	next := v.Apply([]string{"n5"}, []model.Entity{{Name: "n5", EntityType: "t", Observations: []string{"tea"}}}, nil)
	if next == nil {
		t.Fatal("a one-entity Apply after a refused one returned nil")
	}
	if got := names(next.Search("tea")); fmt.Sprint(got) != "map[n5:1]" || next.Live() != 4000 || next.Relations() != 1 {
		t.Errorf("after the small Apply: tea finds %v, %d live, %d relations; want n5, 4000, 1", got, next.Live(), next.Relations())
	}
}

// Lower gives what Node's String.prototype.toLowerCase gives (the
// reference server's search lower-cases with it) on the cases in
// testdata/jslower.json, made by testdata/jslower.js: Greek final sigmas
// after and before long runs of case-ignorable characters and near
// 128-byte boundaries, İ, the capitals Unicode 16 and 17 added, and random
// mixes of them.
func TestLowerMatchesJavaScript(t *testing.T) {
	b, err := os.ReadFile("testdata/jslower.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Generator string      `json:"generator"`
		Cases     [][2]string `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 600 {
		t.Fatalf("testdata/jslower.json holds %d cases", len(f.Cases))
	}
	bad := 0
	for _, c := range f.Cases {
		if got := Lower(c[0]); got != c[1] {
			if bad++; bad <= 5 {
				t.Errorf("Lower(%q) = %q; %s gives %q", c[0], got, f.Generator, c[1])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d cases differ", bad, len(f.Cases))
	}
}

// applyJob runs job on the model with the writer's rules for jobs (those of the
// reference server), written independently of ApplyJobs: a job is applied
// whole or not at all (a relation or observation naming a missing entity
// rejects it); a created entity that exists is left as it is; a deleted
// entity takes every relation from or to it.
func (g *graphModel) applyJob(job *model.Job) bool {
	next := &graphModel{ents: map[string]model.Entity{}, rels: map[model.Relation]bool{}}
	for n, e := range g.ents {
		e.Observations = slices.Clone(e.Observations)
		next.ents[n] = e
	}
	for r := range g.rels {
		next.rels[r] = true
	}
	add := func(base, more []string) []string {
		for _, s := range more {
			if !slices.Contains(base, s) {
				base = append(base, s)
			}
		}
		return base
	}
	for _, op := range job.Ops {
		switch op.Op {
		case model.OpCreateEntities:
			for _, e := range op.Entities {
				if _, ok := next.ents[e.Name]; !ok {
					next.ents[e.Name] = model.Entity{Name: e.Name, EntityType: e.EntityType, Observations: add([]string{}, e.Observations)}
				}
			}
		case model.OpCreateRelations:
			for _, r := range op.Relations {
				if _, ok := next.ents[r.From]; !ok {
					return false
				}
				if _, ok := next.ents[r.To]; !ok {
					return false
				}
				next.rels[r] = true
			}
		case model.OpAddObservations:
			for _, a := range op.Observations {
				e, ok := next.ents[a.EntityName]
				if !ok {
					return false
				}
				e.Observations = add(e.Observations, a.Contents)
				next.ents[a.EntityName] = e
			}
		case model.OpDeleteObservations:
			for _, d := range op.Deletions {
				if e, ok := next.ents[d.EntityName]; ok {
					e.Observations = slices.DeleteFunc(e.Observations, func(o string) bool { return slices.Contains(d.Observations, o) })
					next.ents[d.EntityName] = e
				}
			}
		case model.OpDeleteRelations:
			for _, r := range op.Relations {
				delete(next.rels, r)
			}
		case model.OpDeleteEntities:
			for _, n := range op.EntityNames {
				delete(next.ents, n)
				for r := range next.rels {
					if r.From == n || r.To == n {
						delete(next.rels, r)
					}
				}
			}
		}
	}
	*g = *next
	return true
}

// opGen makes random memory ops over a few colliding names (every op
// kind, relations to missing entities, deletes of what may not exist).
type opGen struct {
	rng          *rand.Rand
	names, words []string
}

func newOpGen(rng *rand.Rand, names, words []string) *opGen {
	return &opGen{rng: rng, names: names, words: words}
}

func (g *opGen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// obs is 0 to 2 observations drawn from g's words.
func (g *opGen) obs() []string {
	var out []string
	for n := g.rng.IntN(3); n > 0; n-- {
		out = append(out, g.pick(g.words))
	}
	return out
}

func (g *opGen) rel() model.Relation {
	return model.Relation{From: g.pick(g.names), To: g.pick(g.names), RelationType: g.pick([]string{"r1", "r2"})}
}

func (g *opGen) op() model.Op {
	switch g.rng.IntN(8) {
	case 0, 1:
		return model.Op{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: g.pick(g.names), EntityType: g.pick([]string{"t1", "t2"}), Observations: g.obs()}}}
	case 2, 3:
		return model.Op{Op: model.OpCreateRelations, Relations: []model.Relation{g.rel(), g.rel()}}
	case 4:
		return model.Op{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: g.pick(g.names), Contents: g.obs()}}}
	case 5:
		return model.Op{Op: model.OpDeleteEntities, EntityNames: []string{g.pick(g.names)}}
	case 6:
		return model.Op{Op: model.OpDeleteObservations, Deletions: []model.ObservationDelete{{EntityName: g.pick(g.names), Observations: g.obs()}}}
	default:
		return model.Op{Op: model.OpDeleteRelations, Relations: []model.Relation{g.rel()}}
	}
}

// The View ApplyJobs derives from the archived jobs of batch after batch is
// the graph an independent model of the jobs gives, entity by entity and
// relation by relation, and ApplyJobs never refuses the jobs (a refusal
// makes a reader silently read the changed entities from Kuzu instead, so
// a wrong rule would otherwise go unseen). The names collide on purpose:
// relations to deleted entities, entities deleted and created again, jobs
// rejected for naming a missing entity (which the writer does not archive).
func TestApplyJobsEqualsModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 7))
	names := []string{"ash", "bay", "cove", "dell", "elm", "fir"}
	gen := newOpGen(rng, names, []string{"amber", "birch", "cedar", "dune"})
	rel, randomOp := gen.rel, gen.op
	g := &graphModel{ents: map[string]model.Entity{}, rels: map[model.Relation]bool{}}
	v := Build(nil, nil)
	deletesWithRelations := 0
	for round := 0; round < 400; round++ {
		var batch []*model.Job
		for n := 1 + rng.IntN(3); n > 0; n-- {
			job := &model.Job{}
			for k := 1 + rng.IntN(3); k > 0; k-- {
				job.Ops = append(job.Ops, randomOp())
			}
			if rng.IntN(2) == 0 { // ends that exist: most jobs apply
				rl := rel()
				job.Ops = append(job.Ops, model.Op{Op: model.OpCreateEntities, Entities: []model.Entity{
					{Name: rl.From, EntityType: "t1", Observations: []string{}}, {Name: rl.To, EntityType: "t1", Observations: []string{}}}},
					model.Op{Op: model.OpCreateRelations, Relations: []model.Relation{rl}})
			}
			before := len(g.rels)
			if g.applyJob(job) { // a rejected job is not archived
				batch = append(batch, job)
				for _, op := range job.Ops {
					if op.Op == model.OpDeleteEntities && len(g.rels) < before {
						deletesWithRelations++
						break
					}
				}
			}
		}
		next, err := v.ApplyJobs(batch, int64(len(g.ents)), int64(len(g.rels)))
		if err != nil {
			t.Fatalf("round %d: ApplyJobs refused jobs the model applies: %v", round, err)
		}
		if next == nil { // a rebuild asked for
			es, rs := g.lists()
			next = Build(es, rs)
		}
		v = next
		for _, n := range names {
			e, out, ok := v.Lookup(n)
			want, exists := g.ents[n]
			if ok != exists {
				t.Fatalf("round %d: %s in the derived index: %v, in the model: %v", round, n, ok, exists)
			}
			if !exists {
				continue
			}
			if e.EntityType != want.EntityType || !slices.Equal(e.Observations, want.Observations) {
				t.Fatalf("round %d: %s derived %+v, model %+v", round, n, e, want)
			}
			if got, w := sortedRels(out), sortedRels(g.outOf([]string{n})); got != w {
				t.Fatalf("round %d: relations from %s derived %s, model %s", round, n, got, w)
			}
		}
		if v.Live() != len(g.ents) || v.Relations() != int64(len(g.rels)) {
			t.Fatalf("round %d: derived %d entities %d relations, model %d and %d", round, v.Live(), v.Relations(), len(g.ents), len(g.rels))
		}
	}
	if deletesWithRelations < 20 {
		t.Fatalf("only %d deletes took relations with them: the test does not exercise the delete rule", deletesWithRelations)
	}
}
