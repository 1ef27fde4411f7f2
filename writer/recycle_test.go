package writer_test

import "encoding/json"
import "math/rand/v2"
import "os"
import "path/filepath"
import "testing"

import "github.com/oklog/ulid/v2"

import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// recycleJobs makes n random jobs with fixed ids (and so fixed times).
func recycleJobs(n int, seed uint64) (ids []string, data [][]byte) {
	rng := rand.New(rand.NewPCG(seed, 42))
	entropy := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < n; i++ {
		ids = append(ids, ulid.MustNew(uint64(1_700_000_000_000+i*1000), ulidEntropy{entropy}).String())
		d, _ := json.Marshal(genJob(rng))
		data = append(data, d)
	}
	return ids, data
}

// recycleStore makes recycleJobs(n, seed) and a store that committed the
// first commits of them, one snapshot each.
func recycleStore(t *testing.T, n int, seed uint64, commits int) (s *storeUnderTest, ids []string, data [][]byte) {
	t.Helper()
	ids, data = recycleJobs(n, seed)
	s = newTestStore(t)
	for i := 0; i < commits; i++ {
		s.put(t, ids[i], data[i])
		s.commit(t, writer.CommitOptions{})
	}
	return s, ids, data
}

// snapshotsOnDisk counts snapshots/ entries.
func snapshotsOnDisk(t *testing.T, s *snapshot.Store) []uint64 {
	t.Helper()
	seqs, err := s.Seqs()
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// Recycling: with gc.keep 3, from the fourth commit on the writer stages
// the graph of the snapshot GC would collect, replays the two batches it
// missed, and ends with the same graph, KV and outcomes as a store that
// copies CURRENT every time and as the reference model. Every snapshot
// verifies, and the commits' own GC keeps at most gc.keep on disk.
func TestRecycledStageEqualsCopy(t *testing.T) {
	ids, data := recycleJobs(12, 3)
	recycled, copied := newTestStore(t), newTestStore(t)
	copied.cfg.GC.Keep = 100
	opts := copied.cfg.WriterOptions()
	opts.NoRecycle = true
	copied.w = writer.New(copied.store, opts, nil)
	recycledCommits := 0
	for i := range ids {
		recycled.put(t, ids[i], data[i])
		copied.put(t, ids[i], data[i])
		sum := recycled.commit(t, writer.CommitOptions{})
		if len(sum.Stages) != 1 {
			t.Fatalf("commit %d: %+v", i, sum)
		}
		st := sum.Stages[0]
		switch {
		case i == 0 && st.Method != snapshot.StagedEmpty:
			t.Fatalf("first commit staged %+v", st)
		case i >= 3 && (st.Method != snapshot.StagedRecycled || st.Recycled != sum.Snapshots[0]-3 || st.Replayed > 2):
			// The newest two stay with the new one (keep 3); the one before
			// them is recycled and misses two one-job batches (a job they
			// rejected is not replayed).
			t.Fatalf("commit %d: staged %+v, want recycled snapshot %d with at most 2 jobs replayed", i, st, sum.Snapshots[0]-3)
		case st.Method == snapshot.StagedRecycled:
			recycledCommits++
		}
		if c := copied.commit(t, writer.CommitOptions{}); i > 0 && c.Stages[0].Method != snapshot.StagedCopy {
			t.Fatalf("NoRecycle commit %d staged %+v", i, c.Stages[0])
		}
		if n := len(snapshotsOnDisk(t, recycled.store)); n > 3 {
			t.Fatalf("after commit %d: %d snapshots on disk, gc.keep is 3", i, n)
		}
		for _, seq := range snapshotsOnDisk(t, recycled.store) {
			if err := snapshot.VerifyError(seq, recycled.store.Verify(seq)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if recycledCommits == 0 {
		t.Fatal("no commit recycled a snapshot")
	}
	want := modelDump(ids, data)
	if got := recycled.dump(t, ids); got != want {
		t.Fatalf("recycled store differs from the model:\ngot:   %s\nmodel: %s", got, want)
	}
	if got := copied.dump(t, ids); got != want {
		t.Fatalf("copying store differs from the model:\ngot:   %s\nmodel: %s", got, want)
	}
}

// A replay that cannot be trusted (here an archived job file that no longer
// matches its snapshot's checksum) falls back to a full copy of CURRENT's
// graph, says so in the summary, and loses nothing.
func TestRecycleFallsBackToCopy(t *testing.T) {
	s, ids, data := recycleStore(t, 5, 4, 4)
	// Snapshots 2, 3, 4 remain; the next commit would recycle 2 and replay
	// 3 and 4. Damage the job archived by 3.
	jobs, err := filepath.Glob(s.store.Path("snapshots", snapshot.FormatSeq(3), snapshot.JobsDir, "*.job"))
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs of snapshot 3: %v %v", jobs, err)
	}
	if err := os.WriteFile(jobs[0], []byte(`{"ops":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s.put(t, ids[4], data[4])
	sum := s.commit(t, writer.CommitOptions{})
	if st := sum.Stages[0]; st.Method != snapshot.StagedCopy || st.Fallback == "" {
		t.Fatalf("staged %+v, want a copy with the failed replay as fallback", st)
	}
	if got, want := s.dump(t, ids), modelDump(ids, data); got != want {
		t.Fatalf("after the fallback:\ngot:   %s\nmodel: %s", got, want)
	}
}

// A snapshot a reader pins is neither recycled nor collected; once the pin
// is gone the next commit collects it.
func TestRecycleSkipsPinned(t *testing.T) {
	s, ids, data := recycleStore(t, 6, 5, 3)
	pin, err := s.store.Pin(1)
	if err != nil {
		t.Fatal(err)
	}
	s.put(t, ids[3], data[3])
	sum := s.commit(t, writer.CommitOptions{})
	if st := sum.Stages[0]; st.Method != snapshot.StagedCopy {
		t.Fatalf("staged %+v with the only candidate pinned", st)
	}
	if got := snapshotsOnDisk(t, s.store); len(got) != 4 || got[0] != 1 {
		t.Fatalf("snapshots on disk with 1 pinned: %v", got)
	}
	pin.Release()
	s.put(t, ids[4], data[4])
	sum = s.commit(t, writer.CommitOptions{})
	// 1 and 2 are both collectable now: the newest (2) is recycled, with
	// fewer batches to replay, and the commit's GC collects 1.
	if st := sum.Stages[0]; st.Method != snapshot.StagedRecycled || st.Recycled != 2 {
		t.Fatalf("staged %+v, want snapshot 2 recycled", st)
	}
	if got := snapshotsOnDisk(t, s.store); len(got) != 3 || got[0] != 3 {
		t.Fatalf("snapshots on disk after the pin is gone: %v (collected %v)", got, sum.Collected)
	}
}

// A recycled graph's replay goes into the batch's transaction, and every
// replayed job is checked against the outcome CURRENT records for it. If
// that transaction fails, the writer replays on its own first and applies
// the batch after it; if that fails too, or a replayed job does not do
// what CURRENT records, the writer stages a copy of CURRENT and applies
// the batch to that. Each way the store ends equal to the reference model.
func TestReplayWithTheBatch(t *testing.T) {
	for _, tc := range []struct {
		name          string
		mergedFails   bool
		aloneFails    bool
		differs       bool
		method        string
		checksAtLeast int
	}{
		{"one transaction", false, false, false, snapshot.StagedRecycled, 1},
		{"transaction fails", true, false, false, snapshot.StagedRecycled, 0},
		{"transaction and replay fail", true, true, false, snapshot.StagedCopy, 0},
		{"outcome differs", false, false, true, snapshot.StagedCopy, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ids, data := recycleStore(t, 6, 9, 5)
			checks := 0
			restore := writer.SetReplayHooks(func() bool { return tc.mergedFails }, func() bool { return tc.aloneFails },
				func() bool { checks++; return tc.differs })
			defer restore()
			s.put(t, ids[5], data[5])
			sum := s.commit(t, writer.CommitOptions{})
			st := sum.Stages[0]
			if st.Method != tc.method || (tc.method == snapshot.StagedCopy) != (st.Fallback != "") || checks < tc.checksAtLeast ||
				(tc.mergedFails && checks != 0) {
				t.Fatalf("staged %+v after %d outcome checks; want %s", st, checks, tc.method)
			}
			if sum.Applied+sum.Rejected != 1 || sum.Duplicates != 0 {
				t.Fatalf("summary %+v", sum)
			}
			if got, want := s.dump(t, ids), modelDump(ids, data); got != want {
				t.Fatalf("store differs from the model:\ngot:   %s\nmodel: %s", got, want)
			}
		})
	}
}
