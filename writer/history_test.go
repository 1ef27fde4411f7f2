package writer_test

import "context"
import "encoding/json"
import "errors"
import "math/rand/v2"
import "path/filepath"
import "slices"
import "testing"
import "time"

import "github.com/oklog/ulid/v2"

import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// TestThinnedHistoryRebuildsEveryPoint commits random batches with a
// history window whose tiers thin every snapshot but the day's first and
// the newest as the commits go (the GC that ends each commit), records
// what each snapshot served, then rebuilds every point from what is left
// (a kept snapshot plus the jobs after it, history/) and compares: graph
// with times, KV, search. A GC at an injected time past the window then
// drops the points older than its base, and only those.
func TestThinnedHistoryRebuildsEveryPoint(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	hist := snapshot.History{KeepFor: time.Hour} // no tier of every snapshot nor hourly: one per day
	s.withOptions(func(o *writer.Options) { o.Keep, o.History = 1, hist })
	rng := rand.New(rand.NewPCG(29, 29))
	served := map[uint64]string{}
	for i := range 12 {
		for range 1 + rng.IntN(3) {
			job, err := json.Marshal(genJob(rng))
			if err != nil {
				t.Fatal(err)
			}
			s.put(t, ulid.Make().String(), job)
		}
		sum := s.commit(t, writer.CommitOptions{})
		if len(sum.Snapshots) != 1 {
			t.Fatalf("commit %d published %v", i, sum.Snapshots)
		}
		served[sum.Current] = s.dump(t, nil)
	}
	seqs, err := s.store.Seqs()
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) > 3 {
		t.Fatalf("snapshots %v kept in full after thinning, want the day's first and CURRENT (a third across midnight)", seqs)
	}
	opts := s.cfg.WriterOptions()
	for seq, want := range served {
		view, err := writer.BuildView(ctx, s.store, opts, seq, filepath.Join(t.TempDir(), "view"), nil)
		if err != nil {
			t.Fatalf("point %d: %v", seq, err)
		}
		v := &storeUnderTest{store: view, cfg: s.cfg}
		if got := v.dump(t, nil); got != want {
			t.Errorf("point %d rebuilt from snapshots %v:\n got %s\nwant %s", seq, seqs, got, want)
		}
	}

	// An hour and more later the window's base is CURRENT: the points
	// before it go, CURRENT stays.
	cur, _ := s.store.Current()
	res, err := s.store.GC(snapshot.GCOptions{Keep: 1, History: hist, Now: time.Now().Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if res.HistoryFrom != cur {
		t.Errorf("history from %d after the window passed, want CURRENT (%d)", res.HistoryFrom, cur)
	}
	for seq := range served {
		_, err := s.store.PlanPoint(seq)
		if seq == cur && err != nil {
			t.Errorf("CURRENT %d: %v", seq, err)
		}
		if seq != cur && !errors.Is(err, snapshot.ErrNoPoint) {
			t.Errorf("point %d, older than the window: %v, want ErrNoPoint", seq, err)
		}
	}
	if h, _ := s.store.HistorySeqs(); len(h) != 0 {
		t.Errorf("history entries %v left after the window passed", h)
	}
	if seqs, _ := s.store.Seqs(); !slices.Equal(seqs, []uint64{cur}) {
		t.Errorf("snapshots %v, want CURRENT alone", seqs)
	}
}
