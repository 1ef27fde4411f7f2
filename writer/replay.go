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
// result is CURRENT's graph. It returns the graph still open, for the batch
// (jobs) to apply to. If anything fails (a job
// file that does not match its snapshot's checksum, a job that no longer
// applies, counts that differ) it logs a warning and stages a full copy of
// CURRENT's graph instead, returning nil; only a cancelled ctx or a failed
// copy is returned as an error. A stage made any other way is left alone.
func (w *Writer) replay(ctx context.Context, stage *snapshot.Stage, jobs []*batchJob) (*openGraph, error) {
	src := stage.Source()
	if src.Fallback != "" {
		w.log.Debug("staged without recycling", "method", src.Method, "why", src.Fallback)
	}
	if src.Method != snapshot.StagedRecycled {
		return nil, nil
	}
	steps := newStepTimer()
	defer func() { w.log.Debug("replay steps (ms)", steps.attrs()...) }()
	g, err := w.openStageGraph(ctx, stage, jobs)
	steps.mark("open_graph")
	if err == nil {
		if err = w.replayJobs(ctx, g.conn, stage, src.Replay, steps); err == nil {
			failpoint.Hit("after-replay")
			return g, nil
		}
		g.close()
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	w.log.Warn("replaying the batches a recycled snapshot missed failed; copying CURRENT's graph instead",
		"recycled", src.Recycled, "jobs", src.Replayed, "error", err)
	return nil, stage.CopyGraph(fmt.Sprintf("replay onto snapshot %d failed: %v", src.Recycled, err))
}

// errReplayDiffers marks a replay whose result is not CURRENT's graph.
var errReplayDiffers = errors.New("writer: replayed graph differs from CURRENT")

// replayJobs applies batches to the stage's graph on conn, all in one
// transaction and checkpoint (a batch of jobs applies as the same jobs one
// after the other do, TestBatchEqualsSequence; one checkpoint instead of
// one per batch writes a third of the bytes less at two batches), and
// checks the result's counts against CURRENT's manifest.
func (w *Writer) replayJobs(ctx context.Context, conn *graphdb.Conn, stage *snapshot.Stage, batches [][]snapshot.ReplayJob, steps *stepTimer) error {
	var scratch Summary // replay's index time is not the batch's
	var jobs []*batchJob
	from := uint64(0)
	for _, b := range batches {
		if len(b) == 0 {
			continue
		}
		bjs, err := w.replayBatch(b)
		if err != nil {
			return err
		}
		if from == 0 {
			from = b[0].Snapshot
		}
		jobs = append(jobs, bjs...)
	}
	steps.mark("read_jobs")
	if len(jobs) > 0 {
		if err := w.applyTx(ctx, conn, jobs, &scratch); err != nil {
			return fmt.Errorf("replay snapshots %d on: %w", from, err)
		}
		steps.mark("apply")
		for _, bj := range jobs {
			if bj.reason != "" {
				return fmt.Errorf("replay snapshots %d on: job %s, applied there, now fails: %s: %w", from, bj.c.ID, bj.reason, errReplayDiffers)
			}
		}
		// Kuzu 0.11.3 crashes (SIGSEGV in CSRNodeGroup::scanCommittedInMemRandom)
		// when a transaction scans relations that an earlier transaction of
		// the same session committed but no checkpoint has written yet: the
		// replay is checkpointed before the batch's transaction reads.
		if err := conn.Exec(ctx, "CHECKPOINT", nil); err != nil {
			return fmt.Errorf("replay snapshots %d on: checkpoint: %w", from, err)
		}
		steps.mark("checkpoint")
		failpoint.Hit("mid-replay")
	}
	if err := graphdb.EnsureFTS(ctx, conn); err != nil { // a bulk replay may have dropped it
		return err
	}
	steps.mark("index")
	ents, err := count(ctx, conn, "MATCH (e:Entity) RETURN count(*)")
	if err != nil {
		return err
	}
	rels, err := count(ctx, conn, "MATCH ()-[r:Relation]->() RETURN count(*)")
	if err != nil {
		return err
	}
	steps.mark("count")
	if p := stage.Parent(); ents != p.Entities || rels != p.Relations {
		return fmt.Errorf("%w: %d entities and %d relations, CURRENT (snapshot %d) has %d and %d",
			errReplayDiffers, ents, rels, p.Seq, p.Entities, p.Relations)
	}
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
