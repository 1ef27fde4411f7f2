package writer

import (
	"context"
	"errors"
	"fmt"

	"github.com/memsnap/memsnap/internal/failpoint"
	"github.com/memsnap/memsnap/internal/graphdb"
	"github.com/memsnap/memsnap/internal/model"
	"github.com/memsnap/memsnap/internal/queue"
	"github.com/memsnap/memsnap/snapshot"
)

// replay brings a recycled stage's graph up to CURRENT's: it applies, batch
// by batch in the order they were published, the accepted jobs of every
// snapshot after the recycled one, through the same overlay and columnar
// write as a batch, then checks the graph's entity and relation counts
// against CURRENT's manifest. Job times come from the job ids, so the
// result is CURRENT's graph. If anything fails (a job file that does not
// match its snapshot's checksum, a job that no longer applies, counts that
// differ) it logs a warning and stages a full copy of CURRENT's graph
// instead; only a cancelled ctx or a failed copy is returned. A stage made
// any other way is left alone.
func (w *Writer) replay(ctx context.Context, stage *snapshot.Stage) error {
	src := stage.Source()
	if src.Fallback != "" {
		w.log.Debug("staged without recycling", "method", src.Method, "why", src.Fallback)
	}
	if src.Method != snapshot.StagedRecycled {
		return nil
	}
	err := w.replayJobs(ctx, stage, src.Replay)
	if err == nil {
		failpoint.Hit("after-replay")
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	w.log.Warn("replaying the batches a recycled snapshot missed failed; copying CURRENT's graph instead",
		"recycled", src.Recycled, "jobs", src.Replayed, "error", err)
	return stage.CopyGraph(fmt.Sprintf("replay onto snapshot %d failed: %v", src.Recycled, err))
}

// errReplayDiffers marks a replay whose result is not CURRENT's graph.
var errReplayDiffers = errors.New("writer: replayed graph differs from CURRENT")

// replayJobs opens the stage's graph and applies batches to it, one
// transaction per batch, then checkpoints, counts and closes it.
func (w *Writer) replayJobs(ctx context.Context, stage *snapshot.Stage, batches [][]snapshot.ReplayJob) error {
	gdb, conn, err := graphdb.OpenConn(stage.GraphPath(), graphdb.Options{BufferPoolBytes: w.bufferPool(stage, nil), Threads: 2})
	if err != nil {
		return err
	}
	defer gdb.Close()
	defer conn.Close()
	if err := graphdb.EnsureSchema(ctx, conn); err != nil {
		return err
	}
	var scratch Summary // replay's index time is not the batch's
	for _, b := range batches {
		if len(b) == 0 {
			continue
		}
		jobs, err := w.replayBatch(b)
		if err != nil {
			return err
		}
		if err := w.applyTx(ctx, conn, jobs, &scratch); err != nil {
			return fmt.Errorf("replay snapshot %d: %w", b[0].Snapshot, err)
		}
		for _, bj := range jobs {
			if bj.reason != "" {
				return fmt.Errorf("replay snapshot %d: job %s, applied there, now fails: %s: %w", b[0].Snapshot, bj.c.ID, bj.reason, errReplayDiffers)
			}
		}
		failpoint.Hit("mid-replay")
	}
	if err := graphdb.EnsureFTS(ctx, conn); err != nil {
		return err
	}
	if err := conn.Exec(ctx, "CHECKPOINT", nil); err != nil {
		return fmt.Errorf("checkpoint replayed graph: %w", err)
	}
	ents, err := count(ctx, conn, "MATCH (e:Entity) RETURN count(*)")
	if err != nil {
		return err
	}
	rels, err := count(ctx, conn, "MATCH ()-[r:Relation]->() RETURN count(*)")
	if err != nil {
		return err
	}
	if p := stage.Parent(); ents != p.Entities || rels != p.Relations {
		return fmt.Errorf("%w: %d entities and %d relations, CURRENT (snapshot %d) has %d and %d",
			errReplayDiffers, ents, rels, p.Seq, p.Entities, p.Relations)
	}
	conn.Close()
	gdb.Close()
	return nil
}

// replayBatch reads and decodes the archived jobs of one snapshot, each
// checked against its snapshot's manifest, in claim order.
func (w *Writer) replayBatch(b []snapshot.ReplayJob) ([]*batchJob, error) {
	jobs := make([]*batchJob, 0, len(b))
	for _, rj := range b {
		c, ok := queue.ParseClaimedName(rj.Name)
		if !ok {
			return nil, fmt.Errorf("replay snapshot %d: archived job %q has no claim name", rj.Snapshot, rj.Name)
		}
		data, err := queue.ReadJobFile(rj.Path, w.opts.Limits.MaxBytes)
		if err != nil {
			return nil, fmt.Errorf("replay snapshot %d: %w", rj.Snapshot, err)
		}
		if !rj.Sum.Matches(data) {
			return nil, fmt.Errorf("replay snapshot %d: archived job %s does not match its checksum", rj.Snapshot, rj.Name)
		}
		job, err := model.DecodeJob(data, w.opts.Limits)
		if err != nil {
			return nil, fmt.Errorf("replay snapshot %d: job %s: %w", rj.Snapshot, c.ID, err)
		}
		jobs = append(jobs, &batchJob{c: c, job: job, at: queue.JobTime(c.ID)})
	}
	return jobs, nil
}
