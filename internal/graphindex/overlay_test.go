package graphindex

import "math/rand/v2"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/model"

// An Overlay of a View by queued jobs answers Open, Page, Search (with
// RelationsTouching), In and Out as a View built afresh on the graph the
// jobs leave (the independent model applyJob, a rejected job skipped)
// does, and leaves the View it follows as it was.
func TestOverlayEqualsModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 1))
	names := []string{"ash", "bay", "cove", "dell", "elm", "fir", "gum"}
	gen := newOpGen(rng, names, []string{"amber", "birch", "cedar", "dune wood"})
	pick, obs, rel, randomOp := gen.pick, gen.obs, gen.rel, gen.op
	queries := []string{"a", "amber", "dune", "wood dune", "ash", "t2", "e"}
	rejected := 0
	for round := 0; round < 300; round++ {
		g := &graphModel{ents: map[string]model.Entity{}, rels: map[model.Relation]bool{}}
		for _, n := range names[:rng.IntN(len(names))] {
			g.ents[n] = model.Entity{Name: n, EntityType: pick([]string{"t1", "t2"}), Observations: slices.Compact(slices.Sorted(slices.Values(obs())))}
		}
		for k := rng.IntN(6); k > 0; k-- {
			if r := rel(); g.ents[r.From].Name != "" && g.ents[r.To].Name != "" {
				g.rels[r] = true
			}
		}
		es, rs := g.lists()
		base := Build(es, rs)
		beforeDigest, beforeLive := base.Digest(), base.Live()
		var jobs []*model.Job
		for n := 1 + rng.IntN(4); n > 0; n-- {
			job := &model.Job{}
			for k := 1 + rng.IntN(3); k > 0; k-- {
				job.Ops = append(job.Ops, randomOp())
			}
			jobs = append(jobs, job)
			if !g.applyJob(job) {
				rejected++
			}
		}
		o, ok := base.Overlay(jobs)
		if !ok {
			t.Fatalf("round %d: Overlay refused the newest View", round)
		}
		es, rs = g.lists()
		want := Build(es, rs)
		checkOverlay(t, round, o, want, append(slices.Clone(names), "nobody"), queries)
		if base.Digest() != beforeDigest || base.Live() != beforeLive || !base.Newest() {
			t.Fatalf("round %d: the Overlay changed the View it follows", round)
		}
	}
	if rejected < 50 {
		t.Fatalf("only %d jobs rejected: the test does not exercise skipping them", rejected)
	}
}

// checkOverlay compares o's answers with want's, a View of the same graph.
func checkOverlay(t *testing.T, round int, o *Overlay, want *View, names, queries []string) {
	t.Helper()
	ents, rels := o.Open(names)
	wents, wrels, _ := want.Open(names)
	if entString(ents) != entString(wents) || sortedRels(rels) != sortedRels(wrels) {
		t.Fatalf("round %d: Open\n got %s | %s\nwant %s | %s", round, entString(ents), sortedRels(rels), entString(wents), sortedRels(wrels))
	}
	for _, typ := range []string{"", "t1"} {
		wents, wrels, _, _ := want.Page("", 0, typ)
		for _, limit := range []int{0, 2} {
			// Paged to the end, the pages hold what one page of all does.
			var pents []model.Entity
			var prels []model.Relation
			for after, more := "", true; more; {
				pe, pr, m, ok := o.Page(after, limit, typ)
				if !ok || (limit > 0 && len(pe) > limit) {
					t.Fatalf("round %d: Page(%q, %d, %q): %d entities, ok %v", round, after, limit, typ, len(pe), ok)
				}
				pents, prels = append(pents, pe...), append(prels, pr...)
				if more = m && len(pe) > 0; more {
					after = pe[len(pe)-1].Name
				}
			}
			if entString(pents) != entString(wents) || sortedRels(prels) != sortedRels(wrels) {
				t.Fatalf("round %d: Page(limit %d, type %q)\n got %s | %s\nwant %s | %s", round, limit, typ,
					entString(pents), sortedRels(prels), entString(wents), sortedRels(wrels))
			}
		}
	}
	for _, q := range queries {
		hits, whits := o.Search(q), want.Search(q)
		if g, w := tierString(hits), tierString(whits); g != w {
			t.Fatalf("round %d: Search(%q)\n got %s\nwant %s", round, q, g, w)
		}
		if g, w := sortedRels(o.RelationsTouching(hits)), sortedRels(want.RelationsTouching(whits)); g != w {
			t.Fatalf("round %d: RelationsTouching(Search(%q))\n got %s\nwant %s", round, q, g, w)
		}
	}
	for _, n := range names {
		_, out, _ := want.Lookup(n)
		if g, w := sortedRels(o.Out(n)), sortedRels(out); g != w {
			t.Fatalf("round %d: Out(%s) got %s want %s", round, n, g, w)
		}
		_, touching, _ := want.Open([]string{n})
		in := slices.DeleteFunc(touching, func(r model.Relation) bool { return r.To != n })
		if g, w := sortedRels(o.In(n)), sortedRels(in); g != w {
			t.Fatalf("round %d: In(%s) got %s want %s", round, n, g, w)
		}
		ents, rels := o.Open([]string{n})
		wents, wrels, _ := want.Open([]string{n})
		if entString(ents) != entString(wents) || sortedRels(rels) != sortedRels(wrels) {
			t.Fatalf("round %d: Open(%s) got %s | %s want %s | %s", round, n, entString(ents), sortedRels(rels), entString(wents), sortedRels(wrels))
		}
	}
}

// entString lists entities in order, with type and observations.
func entString(es []model.Entity) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Name + ":" + e.EntityType + "[" + strings.Join(e.Observations, ",") + "]"
	}
	return strings.Join(s, " ")
}

// tierString lists hits sorted by name with tier and flags (scores of the
// Overlay's changed entities are its small index's; see Search).
func tierString(hs []Hit) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = h.Entity.Name + ":" + string(rune('0'+h.Tier))
		if h.Substring {
			s[i] += "s"
		}
		if h.NameMatch {
			s[i] += "n"
		}
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}
