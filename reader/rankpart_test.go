package reader

import "fmt"
import "math/rand/v2"
import "runtime"
import "slices"
import "testing"

import "github.com/memsnap/memsnap/internal/graphindex"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/testutil"

// randomHits are n hits with few distinct ranking values, so that many tie
// on all but the name, of every tier, some found by words alone, with
// strings of varied length.
func randomHits(rng *rand.Rand, n int) []graphindex.Hit {
	hits := make([]graphindex.Hit, n)
	for i := range hits {
		tier := graphindex.Tier(rng.IntN(3))
		hits[i] = graphindex.Hit{
			Entity:    &model.Entity{Name: fmt.Sprintf("e%05d", rng.IntN(1<<16)*n+i), EntityType: "t", Observations: []string{string(make([]byte, rng.IntN(40)))}},
			Tier:      tier,
			Substring: tier != graphindex.TierAllWords && rng.IntN(4) > 0,
			Field:     graphindex.Field(rng.IntN(3)),
			Bounded:   rng.IntN(2) == 0,
			Span:      rng.IntN(3),
			Score:     float64(rng.IntN(3)),
		}
	}
	return hits
}

// A part taken best first from the heap (bestPart) is the very slice of
// the whole ranking (rank, then Offset, Limit and MaxBytes as the part
// rule says) that a full sort gives, with the same total, whatever the
// ties, the word-only hits dropped past SearchWordHits and the options;
// broad searches too, whose hits are split among heaps made in parallel
// (four here, whatever the machine).
func TestBestPartIsTheRankingsSlice(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	rng := rand.New(rand.NewPCG(28, 1))
	for trial := range 330 {
		n := rng.IntN(60)
		if trial >= 300 {
			n = 2000 + rng.IntN(8000)
		}
		found := randomHits(rng, n)
		wordHits := []int{0, 1, 5}[trial%3]
		opts := SearchOptions{Offset: rng.IntN(n + 3), Limit: rng.IntN(8), MaxBytes: []int{0, 1, 50, 200, 1 << 20}[rng.IntN(5)]}
		if trial >= 300 {
			opts.Offset, opts.Limit = rng.IntN(n/2), 200+rng.IntN(300)
		}
		if opts.Limit == 0 && opts.MaxBytes == 0 {
			opts.Limit = 3
		}
		ranked := rank(slices.Clone(found), wordHits)
		from := min(opts.Offset, len(ranked))
		want := ranked[from:]
		if opts.Limit > 0 && len(want) > opts.Limit {
			want = want[:opts.Limit]
		}
		if opts.MaxBytes > 0 {
			k, sum := 0, 0
			for ; k < len(want); k++ {
				if sum += want[k].Entity.StringBytes(); k > 0 && sum > opts.MaxBytes {
					break
				}
			}
			want = want[:k]
		}
		part, gotFrom, total := bestPart(found, wordHits, opts)
		name := func(h graphindex.Hit) string { return h.Entity.Name }
		if gotFrom != from || total != len(ranked) || !slices.Equal(testutil.Map(part, name), testutil.Map(want, name)) {
			t.Fatalf("trial %d (%d hits, wordHits %d, %+v): from %d total %d %v, want from %d total %d %v",
				trial, n, wordHits, opts, gotFrom, total, testutil.Map(part, name), from, len(ranked), testutil.Map(want, name))
		}
	}
}
