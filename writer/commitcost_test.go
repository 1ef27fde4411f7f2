package writer

import "bufio"
import "context"
import "encoding/json"
import "fmt"
import "os"
import "strconv"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"

// BenchmarkCommitCost measures a one-job commit on stores of 1k and 100k
// entities (two relations each), staged by copying CURRENT's graph
// (NoRecycle, the path before recycling) and by recycling, in the same run
// on the same store. Two jobs: "create" makes one entity and one relation
// to an existing one; "observe" adds an observation to an existing entity
// (Kuzu rewrites a whole STRING or LIST column at checkpoint when one row
// of it changes, so that job costs in proportion to the store whatever the
// staging). Each observation is logged with its phases and the bytes the
// process wrote (write_bytes of /proc/self/io: pages dirtied, Kuzu's
// threads included); the reported metrics are their means. Building the
// 100k store takes about a minute:
//
//	go test -run '^$' -bench BenchmarkCommitCost -benchtime 3x -v ./writer
func BenchmarkCommitCost(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("entities=%d", n), func(b *testing.B) {
			s := buildCostStore(b, n)
			size := storeBytes(b, s)
			b.Logf("store of %d entities: %.1f MiB in CURRENT", n, float64(size)/(1<<20))
			for _, kind := range []string{"create", "observe"} {
				for _, path := range []string{"copy", "recycle"} {
					b.Run("job="+kind+"/path="+path, func(b *testing.B) {
						opts := DefaultOptions()
						opts.NoRecycle, opts.RecycleMinMB = path == "copy", 0
						benchCommits(b, New(s, opts, nil), n, kind, size)
					})
				}
			}
		})
	}
}

// benchCommits runs b.N one-job commits of kind and reports their cost.
func benchCommits(b *testing.B, w *Writer, n int, kind string, size int64) {
	var wrote int64
	var ms float64
	for i := 0; i < b.N; i++ {
		sum, bytes := costCommit(b, w.store, w, n, kind)
		wrote += bytes
		ms += sum.DurationMS
		b.Logf("%s n=%d: %.0f ms (stage %.0f, replay %.0f, apply %.0f, publish %.0f), wrote %.2f MiB = %.2f%% of the store; %+v",
			kind, n, sum.DurationMS, sum.Phases.Stage, sum.Phases.Replay, sum.Phases.Apply, sum.Phases.Publish,
			float64(bytes)/(1<<20), 100*float64(bytes)/float64(size), sum.Stages)
	}
	b.ReportMetric(ms/float64(b.N), "commit-ms")
	b.ReportMetric(float64(wrote)/float64(b.N)/(1<<20), "MiB-written")
	b.ReportMetric(100*float64(wrote)/float64(b.N)/float64(size), "%-of-store")
}

var costSeq int

// costCommit enqueues one small job of kind ("create" or "observe") and
// commits it, returning the summary and the bytes the process wrote
// meanwhile.
func costCommit(b testing.TB, s *snapshot.Store, w *Writer, n int, kind string) (Summary, int64) {
	costSeq++
	name := fmt.Sprintf("cost-%d", costSeq)
	job := model.Job{Ops: []model.Op{
		{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: name, EntityType: "probe", Observations: []string{"one"}}}},
		{Op: model.OpCreateRelations, Relations: []model.Relation{{From: name, To: fmt.Sprintf("e-%07d", costSeq%n), RelationType: "probe"}}},
	}}
	if kind == "observe" {
		job.Ops = []model.Op{{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: fmt.Sprintf("e-%07d", (costSeq*7)%n), Contents: []string{name}}}}}
	}
	data, _ := json.Marshal(job)
	if _, err := enqueue(s, data, w.opts.Limits); err != nil {
		b.Fatal(err)
	}
	before := writeBytes(b)
	sum, err := w.Commit(context.Background(), CommitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if sum.Applied != 1 {
		b.Fatalf("one-job commit: %+v", sum)
	}
	return sum, writeBytes(b) - before
}

// buildCostStore makes a store of n entities, two relations each, in bulk
// (COPY FROM), then commits three one-job batches so that recycling has a
// candidate.
func buildCostStore(b testing.TB, n int) *snapshot.Store {
	s := snapshottest.NewStore(b)
	opts := DefaultOptions()
	opts.MaxBatchJobs, opts.MaxBatchBytes, opts.BufferPoolMB = 1<<20, 1<<40, 1024
	w := New(s, opts, nil)
	name := func(i int) string { return fmt.Sprintf("e-%07d", i) }
	for _, rels := range []bool{false, true} {
		for lo := 0; lo < n; lo += 1000 {
			var op model.Op
			for i := lo; i < min(lo+1000, n); i++ {
				if rels {
					op.Op = model.OpCreateRelations
					op.Relations = append(op.Relations, model.Relation{From: name(i), To: name((i + 1) % n), RelationType: "next"},
						model.Relation{From: name(i), To: name((i*7 + 3) % n), RelationType: "mentions"})
					continue
				}
				obs := fmt.Sprintf("entity %d works on project %d with tool %d", i, i%97, i%13)
				op.Op = model.OpCreateEntities
				op.Entities = append(op.Entities, model.Entity{Name: name(i), EntityType: "thing", Observations: []string{obs, "second " + obs}})
			}
			data, _ := json.Marshal(model.Job{Ops: []model.Op{op}})
			if _, err := enqueue(s, data, opts.Limits); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Commit(context.Background(), CommitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		costCommit(b, s, New(s, DefaultOptions(), nil), n, "create")
	}
	return s
}

// storeBytes is the size of CURRENT's files.
func storeBytes(b *testing.B, s *snapshot.Store) int64 {
	cur, _ := s.Current()
	m, err := s.Manifest(cur)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// writeBytes is write_bytes of /proc/self/io.
func writeBytes(b testing.TB) int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		b.Skip("no /proc/self/io:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Skip("no write_bytes in /proc/self/io")
	return 0
}
