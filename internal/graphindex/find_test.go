package graphindex

import "fmt"
import "maps"
import "math/rand/v2"
import "runtime"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/model"

// finder.index is strings.Index on texts of few distinct bytes (so that
// the rare byte stands in many places, and near both ends), for needles
// cut from the text and random ones, of every length from 0.
func TestFinderIsStringsIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 5))
	bytesOf := []string{"ab", "a1 ", "topic 1\x00", "é日x"}
	for trial := range 20_000 {
		abc := bytesOf[trial%len(bytesOf)]
		text := make([]byte, rng.IntN(40))
		for i := range text {
			text[i] = abc[rng.IntN(len(abc))]
		}
		s := string(text)
		var needle string
		if len(s) > 0 && rng.IntN(3) > 0 {
			lo := rng.IntN(len(s))
			needle = s[lo:min(len(s), lo+rng.IntN(8))]
		} else {
			b := make([]byte, rng.IntN(5))
			for i := range b {
				b[i] = abc[rng.IntN(len(abc))]
			}
			needle = string(b)
		}
		f := newFinder(needle)
		if got, want := f.index(s), strings.Index(s, needle); got != want {
			t.Fatalf("index(%q) of %q (rare byte at %d): %d, want %d", s, needle, f.rare, got, want)
		}
	}
}

// The rare byte is the rarest by byteRank: a digit before a letter, a
// letter before space, and the field separator never.
func TestFinderTakesTheRareByte(t *testing.T) {
	for needle, want := range map[string]int{"topic 1": 6, "coffee": 2, "a b": 2, "x\x00y": 0, "\x00ey": 2} {
		if got := newFinder(needle).rare; got != want {
			t.Errorf("rare byte of %q at %d, want %d", needle, got, want)
		}
	}
}

// BestFirst yields a broad search's hits in SortHits's order where it
// compares names by their rank in the View's name order (over
// parallelMin hits): on a built View, on one Apply made (ranks from a
// carried order), and on an Overlay (hits of two Views, whose ranks do not
// compare). The entities are made to tie on every signal but the name, in
// random name order.
func TestBestFirstIsSortHitsOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	rng := rand.New(rand.NewPCG(28, 6))
	const n = 3 * parallelMin
	ents := make([]model.Entity, n)
	for i, k := range rng.Perm(n) {
		obs := []string{"topic 1 lorem", "lorem topic 12", "topic 1 lorem ipsum dolor"}[k%3]
		ents[i] = model.Entity{Name: fmt.Sprintf("e%06d", k), EntityType: "t", Observations: []string{obs}}
	}
	v := Build(ents, nil)
	v.nameOrder() // so that Apply carries it
	jobs := []*model.Job{
		{Ops: []model.Op{{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "e000100x", EntityType: "t", Observations: []string{"topic 1 lorem"}}}}}},
		{Ops: []model.Op{{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: "e000007", Contents: []string{"topic 1"}}}}}},
	}
	o, ok := v.Overlay(jobs)
	if !ok {
		t.Fatal("overlay refused")
	}
	applied := v.Apply([]string{"e000002"}, []model.Entity{{Name: "e000002", EntityType: "t", Observations: []string{"topic 1 lorem"}}}, nil)
	if applied == nil {
		t.Fatal("apply refused")
	}
	for name, hitsOf := range map[string]func(string) []Hit{"built": v.Hits, "overlay": o.Hits, "applied": applied.Hits} {
		for _, q := range []string{"topic 1", "lorem"} {
			hits := hitsOf(q)
			if len(hits) < parallelMin {
				t.Fatalf("%s %q: %d hits, under parallelMin", name, q, len(hits))
			}
			want := slices.Clone(hits)
			SortHits(want)
			next := BestFirst(hits)
			for i := range want {
				h, ok := next()
				if !ok || h.Name() != want[i].Name() {
					t.Fatalf("%s %q: hit %d of %d is %v, want %s", name, q, i, len(want), h, want[i].Name())
				}
			}
			if _, ok := next(); ok {
				t.Fatalf("%s %q: more hits than %d", name, q, len(want))
			}
		}
	}
}

// The name order Apply carries from View to View (carryOrder) is the order
// a fresh sort of each View's live documents gives, through deletions,
// replacements and new names, a few or many at a time.
func TestCarriedOrderIsNameOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 7))
	name := func() string { return fmt.Sprintf("n%03d", rng.IntN(400)) }
	live := map[string]bool{}
	var ents []model.Entity
	for range 200 {
		if n := name(); !live[n] {
			live[n] = true
			ents = append(ents, model.Entity{Name: n, EntityType: "t"})
		}
	}
	v := Build(ents, nil)
	v.nameOrder()
	for round := range 60 {
		var changed []string
		final := map[string]bool{} // each changed name: whether it exists after the round
		for k := rng.IntN([]int{3, 40}[round%2]) + 1; k > 0; k-- {
			n := name()
			changed = append(changed, n)
			final[n] = rng.IntN(3) > 0
		}
		var current []model.Entity
		for n, exists := range final {
			if live[n] = exists; exists {
				current = append(current, model.Entity{Name: n, EntityType: "t", Observations: []string{fmt.Sprint(round)}})
			} else {
				delete(live, n)
			}
		}
		next := v.Apply(changed, current, nil)
		if next == nil {
			v = Build(entitiesNamed(live), nil) // too much garbage: a fresh index, ordered anew
			v.nameOrder()
			continue
		}
		v = next
		if v.order.Load() == nil {
			t.Fatalf("round %d: the order was not carried", round)
		}
		var got []string
		for _, id := range v.nameOrder() {
			got = append(got, v.docs[id].name())
		}
		want := slices.Sorted(maps.Keys(live))
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: carried order\n%v\nwant\n%v", round, got, want)
		}
	}
}

// entitiesNamed is an entity of type t for each name in names.
func entitiesNamed(names map[string]bool) []model.Entity {
	var out []model.Entity
	for n := range names {
		out = append(out, model.Entity{Name: n, EntityType: "t"})
	}
	return out
}
