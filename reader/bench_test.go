package reader

import (
	"context"
	"testing"
	"time"
)

// BenchmarkOpen times opening CURRENT read-only (pin, Kuzu, Pebble) and
// closing it again.
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	f := &fixture{}
	f.store, f.cfg, f.w = newBenchStore(b)
	f.addEntity(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Open(ctx, f.store, f.cfg, nil)
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
	f.store, f.cfg, f.w = newBenchStore(b)
	f.addEntity(b)
	r, err := Open(ctx, f.store, f.cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
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
	f.store, f.cfg, f.w = newBenchStore(b)
	for i := 0; i < 20; i++ {
		f.addEntity(b)
	}
	r, err := Open(ctx, f.store, f.cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Query(ctx, "MATCH (e:Entity {name: $n}) RETURN e.observations", map[string]any{"n": "e7"}); err != nil {
			b.Fatal(err)
		}
	}
}
