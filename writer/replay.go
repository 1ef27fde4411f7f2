package writer

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "slices"

import "github.com/memsnap/memsnap/internal/failpoint"
import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/kvstore"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/internal/steptimer"
import "github.com/memsnap/memsnap/snapshot"

// replay brings a recycled stage's graph up to CURRENT's. It opens the
// graph and reads the accepted jobs of every snapshot after the recycled
// one, in the order they were published, each checked against its
// snapshot's manifest, and returns both: the batch's transaction applies
// them first (applyWithReplay), so that one checkpoint writes the replay
// and the batch (a checkpoint that changes the last node group rewrites
// its column chunks, so two of them wrote twice the bytes). Job times come
// from the job ids, so the result is CURRENT's graph plus the batch. With
// no job to replay it checks the graph's counts and content digest against
// CURRENT's manifest (checkReplayed) and returns the graph alone. If
// anything fails (an archived job that does not match its checksum, counts
// or a digest that differ) it logs a warning and stages a full copy of
// CURRENT's graph instead, returning a nil graph; only a cancelled ctx or
// a failed copy is returned as an error. A stage made any other way is
// left alone.
func (w *Writer) replay(ctx context.Context, stage *snapshot.Stage, jobs []*batchJob) (*openGraph, []*batchJob, error) {
	src := stage.Source()
	if src.Fallback != "" {
		w.log.Debug("staged without recycling", "method", src.Method, "why", src.Fallback)
	}
	if src.Method != snapshot.StagedRecycled {
		return nil, nil, nil
	}
	steps := steptimer.New()
	defer func() { w.log.Debug("replay steps (ms)", steps.Attrs()...) }()
	g, err := w.openStageGraph(ctx, stage, jobs)
	steps.Mark("open_graph")
	if err == nil {
		var rjobs []*batchJob
		if rjobs, err = w.readReplay(src.Replay); err == nil {
			steps.Mark("read_jobs")
			if len(rjobs) > 0 {
				return g, rjobs, nil
			}
			if err = w.checkReplayed(ctx, g.conn, stage, nil); err == nil {
				steps.Mark("count")
				failpoint.Hit("after-replay")
				return g, nil, nil
			}
		}
		g.close()
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	return nil, nil, w.replayFailed(stage, err)
}

// replayFailed stages a full copy of CURRENT's graph in place of the
// recycled one, whose replay failed with err.
func (w *Writer) replayFailed(stage *snapshot.Stage, err error) error {
	src := stage.Source()
	w.log.Warn("replaying the batches a recycled snapshot missed failed; copying CURRENT's graph instead",
		"recycled", src.Recycled, "jobs", src.Replayed, "error", err)
	return stage.CopyGraph(fmt.Sprintf("replay onto snapshot %d failed: %v", src.Recycled, err))
}

// errReplayDiffers marks a replay whose result is not CURRENT's graph.
var errReplayDiffers = errors.New("writer: replayed graph differs from CURRENT")

// Test hooks (set through export_test.go): the replay-and-batch transaction
// fails before it writes; then the replay on its own fails too; a replayed
// job's check runs (and, when the hook says so, finds a difference).
var (
	hookMergedTxFails    func() bool
	hookReplayAloneFails func() bool
	hookReplayChecked    func() (differs bool)
)

// readReplay reads and decodes the archived jobs of batches, in order.
func (w *Writer) readReplay(batches [][]snapshot.ReplayJob) ([]*batchJob, error) {
	var jobs []*batchJob
	for _, b := range batches {
		if len(b) == 0 {
			continue
		}
		bjs, err := w.replayBatch(b)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, bjs...)
	}
	return jobs, nil
}

// applyWithReplay writes the replayed jobs and then the batch's jobs (ok)
// in one transaction, and checks that every replayed job did exactly what
// CURRENT's kv records it did (a stronger check than the counts: any
// difference in the graph it ran on shows in which items were new and how
// many rows a delete removed) and that the replay reached the content
// digest CURRENT's manifest records (replayedDigest). A difference is
// errReplayDiffers, after
// the transaction committed: the caller copies CURRENT's graph and
// applies the batch again. If the transaction fails (rolled back), it
// replays on its own and checkpoints (applyReplay) and reports merged
// false: the batch is then applied as usual.
func (w *Writer) applyWithReplay(ctx context.Context, conn *graphdb.Conn, stage *snapshot.Stage, kv *kvstore.DB,
	replay, ok []*batchJob, sum *Summary) (merged bool, err error) {
	var scratch Summary // the replayed jobs' counts are not the batch's
	all := append(slices.Clone(replay), ok...)
	if hookMergedTxFails != nil && hookMergedTxFails() {
		err = errors.New("test hook: the transaction fails")
	} else {
		err = w.applyTx(ctx, conn, all, &scratch)
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		w.log.Warn("the replay and the batch in one transaction failed; replaying first on its own", "error", err)
		resetJobs(all)
		if hookReplayAloneFails != nil && hookReplayAloneFails() {
			err = errors.New("test hook: the replay alone fails")
		} else {
			err = w.applyReplay(ctx, conn, stage, replay)
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, errReplayDiffers) {
			// Whatever the reason, this graph cannot be brought up to
			// CURRENT's here: the caller copies CURRENT's instead.
			err = fmt.Errorf("%w: %v", errReplayDiffers, err)
		}
		return false, err
	}
	failpoint.Hit("mid-replay")
	for _, bj := range replay {
		if err := replayedAsRecorded(kv, bj); err != nil {
			return true, err
		}
	}
	if err := replayedDigest(stage, replay); err != nil {
		return true, err
	}
	failpoint.Hit("after-replay")
	return true, nil
}

// replayedAsRecorded checks that a replayed job was accepted and did what
// its outcome in CURRENT's kv says.
func replayedAsRecorded(kv *kvstore.DB, bj *batchJob) error {
	if hookReplayChecked != nil && hookReplayChecked() {
		return fmt.Errorf("test hook: replayed job %s: %w", bj.c.ID, errReplayDiffers)
	}
	if bj.reason != "" {
		return fmt.Errorf("replayed job %s, applied there, now fails: %s: %w", bj.c.ID, bj.reason, errReplayDiffers)
	}
	b, found, err := kv.GetJob(bj.c.ID)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("replayed job %s has no outcome in CURRENT: %w", bj.c.ID, errReplayDiffers)
	}
	rec, err := model.DecodeOutcome(b)
	if err != nil {
		return fmt.Errorf("replayed job %s: recorded outcome: %w", bj.c.ID, err)
	}
	want, _ := json.Marshal(rec.Results)
	got, _ := json.Marshal(bj.results)
	if rec.Status != model.StatusApplied || !bytes.Equal(want, got) {
		return fmt.Errorf("replayed job %s did %s, CURRENT records %s (%s): %w", bj.c.ID, got, want, rec.Status, errReplayDiffers)
	}
	return nil
}

// resetJobs clears what an apply attempt set on jobs.
func resetJobs(jobs []*batchJob) {
	for _, bj := range jobs {
		bj.reason, bj.rej, bj.results, bj.kv, bj.delta = "", nil, nil, nil, fsm.Digest{}
	}
}

// applyReplay applies the replayed jobs in one transaction, checkpoints
// (Kuzu 0.11.3 crashes, SIGSEGV in CSRNodeGroup::scanCommittedInMemRandom,
// when a transaction scans relations that an earlier transaction of the
// same session committed but no checkpoint has written yet, and the
// batch's transaction reads), and checks the graph's counts and content
// digest against CURRENT's manifest (checkReplayed). A difference is
// errReplayDiffers.
func (w *Writer) applyReplay(ctx context.Context, conn *graphdb.Conn, stage *snapshot.Stage, jobs []*batchJob) error {
	var scratch Summary
	src := stage.Source()
	if err := w.applyTx(ctx, conn, jobs, &scratch); err != nil {
		return fmt.Errorf("replay snapshots after %d: %w", src.Recycled, err)
	}
	for _, bj := range jobs {
		if bj.reason != "" {
			return fmt.Errorf("replay snapshots after %d: job %s, applied there, now fails: %s: %w", src.Recycled, bj.c.ID, bj.reason, errReplayDiffers)
		}
	}
	if err := conn.Exec(ctx, "CHECKPOINT", nil); err != nil {
		return fmt.Errorf("replay snapshots after %d: checkpoint: %w", src.Recycled, err)
	}
	failpoint.Hit("mid-replay")
	if err := w.checkReplayed(ctx, conn, stage, jobs); err != nil {
		return err
	}
	failpoint.Hit("after-replay")
	return nil
}

// checkReplayed checks the graph, once the replayed jobs are applied, against
// CURRENT's manifest: its entity and relation counts, and its content digest
// (replayedDigest). A difference is errReplayDiffers.
func (w *Writer) checkReplayed(ctx context.Context, conn *graphdb.Conn, stage *snapshot.Stage, replay []*batchJob) error {
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
	return replayedDigest(stage, replay)
}

// replayedDigest checks the content digest the replay reached against the
// one CURRENT's manifest records: the recycled snapshot's digest (its
// graph passed its checksums, so it holds that content) plus what each
// replayed job changed (fsm.Result.Delta, computed from the rows the job
// read in this graph), as the writer's own digest is kept (batchDigest),
// so the check costs what the replay changed. Unlike the counts, it sees
// an observation or a relation type that differs. A difference is
// errReplayDiffers; a manifest on either side that records no digest
// (written before digests) leaves the counts as the only check.
func replayedDigest(stage *snapshot.Stage, replay []*batchJob) error {
	p, rm := stage.Parent(), stage.Source().RecycledManifest
	if p == nil || rm == nil {
		return nil
	}
	want, ok := p.ContentDigest()
	got, rok := rm.ContentDigest()
	if !ok || !rok {
		return nil
	}
	for _, bj := range replay {
		got = got.Add(bj.delta)
	}
	if got != want {
		return fmt.Errorf("%w: content digest %s after replaying %d jobs onto snapshot %d, CURRENT (snapshot %d) records %s",
			errReplayDiffers, got, len(replay), rm.Seq, p.Seq, want)
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
			return nil, snapshot.MarkCorrupt(fmt.Errorf("replay snapshot %d: archived job %s does not match its checksum", rj.Snapshot, rj.Name))
		}
		job, err := model.DecodeAppliedJob(data, w.opts.Limits)
		if err != nil {
			return nil, fmt.Errorf("replay snapshot %d: job %s: %w", rj.Snapshot, c.ID, err)
		}
		jobs = append(jobs, &batchJob{c: c, path: rj.Path, job: job, at: queue.JobTime(c.ID)})
	}
	return jobs, nil
}
