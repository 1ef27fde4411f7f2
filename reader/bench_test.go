package reader

import "context"
import "fmt"
import "testing"
import "time"

// BenchmarkOpen times opening CURRENT read-only (pin, Kuzu, Pebble) and
// closing it again.
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	f := &fixture{}
	f.store, f.opts, f.wopts, f.w = newBenchStore(b)
	f.addEntity(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Open(ctx, f.store, f.opts, nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// BenchmarkRefreshSwap times Refresh onto a newly published snapshot: open
// the new one, swap the pointer, close the old one. Publishing is not timed.
func BenchmarkRefreshSwap(b *testing.B) {
	ctx := context.Background()
	f := &fixture{}
	f.store, f.opts, f.wopts, f.w = newBenchStore(b)
	f.addEntity(b)
	r := f.open(b)
	defer r.Close()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f.addEntity(b)
		b.StartTimer()
		start := time.Now()
		if swapped, err := r.Refresh(ctx); err != nil || !swapped {
			b.Fatalf("refresh: %v %v", swapped, err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/swap")
}

// BenchmarkQueryPointLookup times a primary-key lookup on an open reader.
func BenchmarkQueryPointLookup(b *testing.B) {
	ctx := context.Background()
	f := &fixture{}
	f.store, f.opts, f.wopts, f.w = newBenchStore(b)
	for i := 0; i < 20; i++ {
		f.addEntity(b)
	}
	r := f.open(b)
	defer r.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Query(ctx, "MATCH (e:Entity {name: $n}) RETURN e.observations", map[string]any{"n": "e7"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchNodes10k times search_nodes (the in-memory index's word
// and substring matches, ranking and relations) on a store of 10,000
// entities.
func BenchmarkSearchNodes10k(b *testing.B) {
	ctx := context.Background()
	f := &fixture{}
	f.store, f.opts, f.wopts, f.w = newBenchStore(b)
	words := []string{"graph", "database", "coffee", "snapshot", "reader", "writer", "lock", "memory", "editor", "dashboard"}
	var es []Entity
	var rels []Relation
	for i := 0; i < 10000; i++ {
		e := Entity{Name: fmt.Sprintf("entity %d %s", i, words[i%len(words)]), EntityType: words[(i/7)%len(words)],
			Observations: []string{words[(i*3)%len(words)] + " and " + words[(i*7)%len(words)], fmt.Sprintf("note number %d", i)}}
		es = append(es, e)
		if i > 0 {
			rels = append(rels, Relation{From: es[i-1].Name, To: e.Name, RelationType: "next"})
		}
	}
	for i := 0; i < len(es); i += 2500 {
		f.commitJob(b, map[string]any{"ops": []any{createOp(es[i:min(i+2500, len(es))]...)}})
	}
	for i := 0; i < len(rels); i += 2000 {
		f.commitJob(b, map[string]any{"ops": []any{relOp(rels[i:min(i+2000, len(rels))]...)}})
	}
	r := f.open(b)
	defer r.Close()
	queries := []string{"entity 4242", "coffee snapshot", "lock", "number 99", "no such words here"}
	for _, q := range queries {
		b.Run(q, func(b *testing.B) {
			n := 0
			for i := 0; i < b.N; i++ {
				g, err := r.SearchNodes(ctx, q, SearchOptions{Limit: 50})
				if err != nil {
					b.Fatal(err)
				}
				n = len(g.Entities)
			}
			b.ReportMetric(float64(n), "results")
		})
	}
}
