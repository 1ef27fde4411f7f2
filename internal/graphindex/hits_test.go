package graphindex

import "fmt"
import "math/rand/v2"
import "runtime"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/model"

// wantSignals is what Hits must give a hit of document id for q: the name
// match and best field as phraseField and strings.Contains find them field
// by field (the way every hit's signals were computed before Hits read
// them from where the query first stands).
func wantSignals(v *View, id int32, q string, h Hit) (nameMatch bool, field Field, bounded bool, span int) {
	d := &v.docs[id]
	lq := Lower(q)
	nq := NFC(lq)
	nameMatch = strings.Contains(d.text[:d.nameLen], lq) || strings.Contains(d.foldedName(), nq)
	if h.Substring || h.Tier == TierExactName {
		field, bounded = d.phraseField(lq, nq)
		return nameMatch, field, bounded, 0
	}
	v.ix.mu.RLock()
	defer v.ix.mu.RUnlock()
	field, span = d.wordsField(uniq(Terms(nq)), v.ix.stems)
	return nameMatch, field, false, span
}

// Every hit of Hits carries the tier and signals the field-by-field scan gives
// (ASCII documents take the shortcut from the query's first place, others
// the scan), its Name, StringBytes and Load agree with the entity Search
// builds, and Search is Hits with the entities: over ASCII entities where
// a query stands bounded and not ("thing 1" in "thing 1" and "thing 12"),
// in the name, the type and several observations, and over random unicode.
func TestHitsSignalsMatchTheFieldScan(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // the parallel checks (inParallel) in four parts, whatever the machine
	rng := rand.New(rand.NewPCG(28, 2))
	words := strings.Fields("thing 1 12 topic coffee cafe deploy 7 x1 ab")
	phrase := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = words[rng.IntN(len(words))]
		}
		return strings.Join(w, pick(rng, " ", "-", "", ", "))
	}
	var ents []model.Entity
	for i := range 3000 {
		e := model.Entity{Name: fmt.Sprintf("%s %d", phrase(1+rng.IntN(2)), i), EntityType: phrase(1 + rng.IntN(2))}
		for range rng.IntN(4) {
			e.Observations = append(e.Observations, phrase(1+rng.IntN(6)))
		}
		ents = append(ents, e)
	}
	r := randText{rand.New(rand.NewPCG(28, 3))}
	ents = append(ents, r.entities(1000)...)
	v := Build(ents, nil)
	queries := append(r.queries(ents, 60), "thing 1", "Thing", "1", "topic 1", "coffee", "x1 ab", "cafe deploy", "1 12", "ab", "g 1")
	for i := range 40 {
		queries = append(queries, phrase(1+i%3), ents[rng.IntN(len(ents))].Name)
	}
	for _, q := range queries {
		hits, full := v.Hits(q), v.Search(q)
		if len(hits) != len(full) {
			t.Fatalf("%q: Hits %d, Search %d", q, len(hits), len(full))
		}
		for i := range hits {
			h := &hits[i]
			nm, f, b, span := wantSignals(v, h.id, q, *h)
			d := &v.docs[h.id]
			tier := map[bool]Tier{true: TierPhrase, false: TierAllWords}[h.Substring]
			if lq := Lower(q); d.text[:d.nameLen] == lq || d.foldedName() == NFC(lq) {
				tier = TierExactName
			}
			if h.Tier != tier {
				t.Fatalf("%q in %q: tier %d, want %d", q, d.orig, h.Tier, tier)
			}
			if h.NameMatch != nm || h.Field != f || h.Bounded != b || h.Span != span {
				t.Fatalf("%q in %q: name match %v field %d bounded %v span %d, the field scan gives %v %d %v %d",
					q, v.docs[h.id].orig, h.NameMatch, h.Field, h.Bounded, h.Span, nm, f, b, span)
			}
			e := *full[i].Entity
			if h.Entity != nil || h.Name() != e.Name || h.StringBytes() != e.StringBytes() || fmt.Sprint(h.Load()) != fmt.Sprint(e) {
				t.Fatalf("%q: hit %d: Name %q StringBytes %d Load %v, Search's entity %v", q, i, h.Name(), h.StringBytes(), h.Load(), e)
			}
			full[i].Entity = nil
			if fmt.Sprint(*h) != fmt.Sprint(full[i]) {
				t.Fatalf("%q: hit %d: Hits %+v, Search %+v", q, i, *h, full[i])
			}
		}
	}
}

func pick(rng *rand.Rand, s ...string) string { return s[rng.IntN(len(s))] }
