package reader

import "fmt"
import "math/rand/v2"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/graphindex"
import "github.com/memsnap/memsnap/internal/model"

// benchWords are the words of benchEntity's observations (the mcp bench
// scenario's vocabulary, in part).
var benchWords = strings.Fields(`graph database memory snapshot reader writer lock editor dashboard server
	agent tool session project meeting note coffee deadline release version python golang rust typescript
	kernel network socket storage disk cache query index search vector embedding model prompt context window
	token user customer team manager engineer designer review budget invoice report monday friday morning`)

// benchEntity is entity i of the store the mcp bench scenario searches:
// three observations of eight words, the second after "topic i%50", so
// that "topic 1" is in 22% of the entities by substring.
func benchEntity(i int) model.Entity {
	rng := rand.New(rand.NewPCG(uint64(i), 13))
	sentence := func() string {
		w := make([]string, 8)
		for j := range w {
			w[j] = benchWords[rng.IntN(len(benchWords))]
		}
		return strings.Join(w, " ")
	}
	return model.Entity{Name: fmt.Sprintf("entity-%07d", i), EntityType: "concept",
		Observations: []string{sentence(), fmt.Sprintf("topic %d %s", i%50, sentence()), sentence()}}
}

// BenchmarkSearch100kBroad times a broad search_nodes part in process at
// 100k entities (one relation each), as the MCP server asks for it (the
// ranked part whose strings fit half of mcp.max_answer_bytes, with its
// relations): on the snapshot's index, and on it followed by two queued
// jobs (a new entity, an observation holding the query: the read right
// after a write). "topic 1" is in 22,000 entities, "coffee" in about a
// third.
func BenchmarkSearch100kBroad(b *testing.B) {
	const n = 100_000
	ents := make([]model.Entity, n)
	rels := make([]model.Relation, n)
	for i := range ents {
		ents[i] = benchEntity(i)
		rels[i] = model.Relation{From: ents[i].Name, To: fmt.Sprintf("entity-%07d", (i*7+3)%n), RelationType: "mentions"}
	}
	v := graphindex.Build(ents, rels)
	o, ok := v.Overlay([]*model.Job{
		{Ops: []model.Op{{Op: model.OpCreateEntities, Entities: []model.Entity{benchEntity(n)}}}},
		{Ops: []model.Op{{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: ents[7].Name, Contents: []string{"topic 1 coffee"}}}}}},
	})
	if !ok {
		b.Fatal("overlay on the newest view refused")
	}
	for _, q := range []string{"topic 1", "coffee"} {
		for _, capBytes := range []int{256 << 10, 4 << 20} {
			opts := SearchOptions{MaxBytes: capBytes / 2}
			b.Run(fmt.Sprintf("%s/cap=%dKiB/view", q, capBytes>>10), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					g := &Graph{}
					g.part(v.Hits(q), DefaultSearchWordHits, opts, v.RelationsTouching)
				}
			})
			b.Run(fmt.Sprintf("%s/cap=%dKiB/queued", q, capBytes>>10), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					g := &Graph{}
					g.part(o.Hits(q), DefaultSearchWordHits, opts, o.RelationsTouching)
				}
			})
		}
	}
}
