package writer

import "context"
import "fmt"
import "os"
import "path/filepath"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"

func benchGraph(b *testing.B) (*graphdb.DB, *graphdb.Conn) {
	b.Helper()
	db, c, err := graphdb.OpenConn(filepath.Join(b.TempDir(), "g.kuzu"), graphdb.Options{BufferPoolBytes: 512 << 20, Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	if err := graphdb.EnsureSchema(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	return db, c
}

func createJob(offset, n int) *model.Job {
	es := make([]model.Entity, n)
	for i := range es {
		es[i] = model.Entity{Name: fmt.Sprintf("entity-%07d", offset+i), EntityType: "memory",
			Observations: []string{fmt.Sprintf("observation %d", offset+i), "shared"}}
	}
	return &model.Job{Ops: []model.Op{{Op: model.OpCreateEntities, Entities: es}}}
}

// benchApplyJob runs one job through the writer's overlay and columnar write
// (COPY for creates, as the writer does for a bulk batch).
func benchApplyJob(b *testing.B, c *graphdb.Conn, job *model.Job) {
	b.Helper()
	ctx := context.Background()
	reads := fsm.Reads([]*model.Job{job})
	st, err := graphdb.LoadState(ctx, c, reads.Names, reads.Sources)
	if err != nil {
		b.Fatal(err)
	}
	o := newOverlay()
	o.fill(st)
	if _, err := o.run(job, time.Now().UTC().Truncate(time.Millisecond)); err != nil {
		b.Fatal(err)
	}
	if _, err := o.write(ctx, c, writeOptions{copyThreshold: 1000, scratch: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkApply compares memsnap's batch apply of create_entities (bulk
// path: COPY) with one MERGE statement per row, both in one transaction on
// the same machine. Metric: rows/s.
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	for _, rows := range []int{10000, 50000} {
		b.Run(fmt.Sprintf("columnar_%dk", rows/1000), func(b *testing.B) {
			applyRounds(b, rows, func(c *graphdb.Conn, job *model.Job) {
				start := time.Now()
				inTransaction(b, c, func() { benchApplyJob(b, c, job) })
				b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
			})
		})
	}
	b.Run("per_statement_2k", func(b *testing.B) {
		const rows = 2000
		applyRounds(b, rows, func(c *graphdb.Conn, job *model.Job) {
			start := time.Now()
			inTransaction(b, c, func() {
				now := time.Now().UTC().Truncate(time.Millisecond)
				for _, e := range job.Ops[0].Entities {
					if err := c.Exec(ctx, "MERGE (x:Entity {name: $n}) ON CREATE SET x.entityType = $t, x.observations = $o, x.created_at = $c, x.updated_at = $c",
						map[string]any{"n": e.Name, "t": e.EntityType, "o": graphdb.List(e.Observations), "c": now}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(rows/time.Since(start).Seconds(), "rows/s")
		})
	})
}

// applyRounds runs b.N rounds of apply, each on a fresh graph with a
// create_entities job of rows entities; only apply is timed.
func applyRounds(b *testing.B, rows int, apply func(c *graphdb.Conn, job *model.Job)) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, c := benchGraph(b)
		job := createJob(0, rows)
		b.StartTimer()
		apply(c, job)
		b.StopTimer()
		c.Close()
		db.Close()
		b.StartTimer()
	}
}

// inTransaction runs f between BEGIN TRANSACTION and COMMIT.
func inTransaction(b *testing.B, c *graphdb.Conn, f func()) {
	if err := c.Exec(context.Background(), "BEGIN TRANSACTION", nil); err != nil {
		b.Fatal(err)
	}
	f()
	if err := c.Exec(context.Background(), "COMMIT", nil); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPublish times staging + publish of a snapshot (copy graph, link
// kv, fsync, checksum, manifest, renames) beside a plain copy + fsync of the
// same files, for a graph of 100k entities.
func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	s := snapshottest.NewStore(b)
	opts := DefaultOptions()
	w := New(s, opts, nil)
	for k := 0; k < 10; k++ {
		data := []byte(fmt.Sprintf(`{"ops":[{"op":"kv_put","key":"seed%d","value":"v"}]}`, k))
		if _, err := enqueue(s, data, opts.Limits); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Commit(ctx, CommitOptions{}); err != nil {
		b.Fatal(err)
	}
	// Grow the graph directly through one staged snapshot.
	st, err := s.NewStage(ctx)
	if err != nil {
		b.Fatal(err)
	}
	db, c, err := graphdb.OpenConn(st.GraphPath(), graphdb.Options{BufferPoolBytes: 512 << 20, Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	for off := 0; off < 100000; off += 20000 {
		benchApplyJob(b, c, createJob(off, 20000))
	}
	if err := c.Exec(ctx, "CHECKPOINT", nil); err != nil {
		b.Fatal(err)
	}
	c.Close()
	db.Close()
	if err := st.Publish(snapshot.Manifest{Watermark: 10}); err != nil {
		b.Fatal(err)
	}
	cur, _ := s.Current()
	info, _ := os.Stat(filepath.Join(s.SnapshotDir(cur), snapshot.GraphFile))
	b.Logf("graph.kuzu: %.1f MB", float64(info.Size())/(1<<20))

	b.Run("stage_and_publish", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			st, err := s.NewStage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p := st.Parent()
			if err := st.Publish(snapshot.Manifest{Watermark: p.Watermark}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain_copy_fsync", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			cur, _ := s.Current()
			src := s.SnapshotDir(cur)
			dst := filepath.Join(b.TempDir(), "copy")
			if err := os.MkdirAll(filepath.Join(dst, "kv"), 0o700); err != nil {
				b.Fatal(err)
			}
			err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(src, p)
				to := filepath.Join(dst, rel)
				if err := fsutil.CopyFile(to, p); err != nil {
					return err
				}
				return fsutil.SyncFile(to)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
