package fsm

import "fmt"
import "testing"

import "github.com/memsnap/memsnap/internal/model"

// BenchmarkDigestEntities hashes the entities of a 1000-entity
// create_entities job (the bench's apply rows: three observations each)
// and one relation per entity. Metric: ns per row.
func BenchmarkDigestEntities(b *testing.B) {
	names := make([]string, 1000)
	obs := make([][]string, len(names))
	for i := range names {
		names[i] = fmt.Sprintf("entity-%07d", i)
		obs[i] = []string{fmt.Sprintf("observation %d about a topic", i), "a second observation of typical length for a memory", "shared"}
	}
	b.ResetTimer()
	for range b.N {
		var d Digest
		for i, n := range names {
			d = d.Add(EntityHash(n, "memory", obs[i]))
			d = d.Add(RelationHash(model.Relation{From: n, To: names[(i+1)%len(names)], RelationType: "next"}))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(names)*2), "ns/row")
}
