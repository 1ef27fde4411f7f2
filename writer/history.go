package writer

import "context"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "slices"
import "time"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"

// ErrPointDiffers is returned when a point of history rebuilt from a kept
// snapshot and the jobs after it does not have the content its manifest
// records (a job rejected on the way, or another content digest).
var ErrPointDiffers = errors.New("writer: rebuilt point of history differs from its manifest")

// RestoreResult says what a restore did.
type RestoreResult struct {
	// From is the snapshot CURRENT named before.
	From uint64 `json:"from"`
	// To is the point of history whose content CURRENT holds now.
	To uint64 `json:"to"`
	// Snapshot is the new snapshot the restore published (CURRENT now).
	Snapshot uint64 `json:"snapshot"`
	// Base is the snapshot kept in full that To was rebuilt from, and
	// Replayed how many jobs were applied on it.
	Base     uint64 `json:"base"`
	Replayed int    `json:"replayed"`
	// Undone lists, oldest first, the jobs whose effect the restore takes
	// away: applied after To on CURRENT's line. They stay in history.
	Undone []JobSummary `json:"undone"`
	// Redone lists the jobs whose effect comes back: applied on To's line
	// and not on CURRENT's (restoring a point before an earlier restore).
	Redone []JobSummary `json:"redone"`
}

// JobSummary names an archived job and what its ops did.
type JobSummary struct {
	ID string `json:"id"`
	// Snapshot is the snapshot (or history entry) that applied it.
	Snapshot uint64 `json:"snapshot"`
	// Ops is one line per op, e.g. "delete_entities Alice, Bob".
	Ops []string `json:"ops"`
}

// Restore publishes a new snapshot holding the content of point seq of
// the history (a snapshot kept in full, or one thinned whose jobs are in
// history/), numbered after every snapshot there is, and does not apply
// again what came after it: an undo. The jobs it takes away are listed and
// stay in history, so that restoring the point before the restore brings
// them back. Unlike Rollback it queues nothing. The content is rebuilt
// through the writer's apply (the memory state machine) from the kept
// snapshot at or before seq plus the jobs after it, which the new snapshot
// archives in its jobs/ (its parent is that kept snapshot), and it must
// reach the content digest seq's manifest records (ErrPointDiffers). The
// new snapshot's watermark stays CURRENT's: the jobs taken away are never
// applied again. Restore takes the writer lock and publishes as a commit
// does (manifest, atomic CURRENT swap).
func Restore(ctx context.Context, s *snapshot.Store, opts Options, seq uint64, log *slog.Logger) (res RestoreResult, err error) {
	lock, err := AcquireLock(ctx, s, opts.LockTimeout)
	if err != nil {
		return res, err
	}
	defer lock.Release()
	res.To = seq
	sv, err := s.CheckCurrent("restore")
	if err != nil {
		return res, err
	}
	cur := sv.Current
	res.From = cur
	if seq == cur {
		return res, fmt.Errorf("restore: snapshot %d is CURRENT already: nothing to undo", seq)
	}
	curM, err := s.Manifest(cur)
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	plan, err := s.PlanPoint(seq)
	if err != nil {
		return res, fmt.Errorf("restore: %w", s.ExplainNoPoint(opts.History, seq, time.Now(), err))
	}
	w := New(s, opts, log)
	if err := w.finishCleanup(curM); err != nil { // applied jobs a crashed writer left claimed
		return res, err
	}
	if res.Undone, res.Redone, err = chainDiff(s, cur, seq, opts.Limits); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	st, counts, jobs, err := w.buildPoint(ctx, s, plan, 0)
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	defer st.Abort()
	for _, bj := range jobs {
		if err := st.ArchiveJob(bj.path, bj.c.Name); err != nil {
			return res, fmt.Errorf("restore: %w", err)
		}
	}
	man := snapshot.Manifest{Watermark: max(curM.Watermark, plan.Target.Watermark), Applied: len(jobs),
		Entities: counts.entities, Relations: counts.relations, KVKeys: counts.kvKeys, Digest: counts.digest.String(), RestoreOf: seq}
	if err := st.Publish(man); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	res.Snapshot, res.Base, res.Replayed = st.Seq(), plan.Base, len(jobs)
	w.log.Info("restored", "point", seq, "snapshot", res.Snapshot, "base", plan.Base, "replayed", len(jobs), "undone", len(res.Undone))
	return res, nil
}

// BuildView rebuilds point seq of s's history as the one snapshot of a
// new store in dir (an empty directory), for reading: the kept snapshot at
// or before seq, copied, plus the jobs after it, applied as a commit does.
// s is only read (its CURRENT never changes) and needs no writer lock; the
// kept snapshot is pinned while it is copied. The caller opens the
// returned store read-only and removes dir when done.
func BuildView(ctx context.Context, s *snapshot.Store, opts Options, seq uint64, dir string, log *slog.Logger) (*snapshot.Store, error) {
	plan, err := s.PlanPoint(seq)
	if err != nil {
		return nil, s.ExplainNoPoint(opts.History, seq, time.Now(), err)
	}
	view, err := snapshot.Init(dir)
	if err != nil {
		return nil, fmt.Errorf("history view: %w", err)
	}
	w := New(view, opts, log)
	st, counts, _, err := w.buildPoint(ctx, s, plan, seq)
	if err != nil {
		return nil, err
	}
	defer st.Abort()
	man := snapshot.Manifest{Watermark: plan.Target.Watermark, Entities: counts.entities, Relations: counts.relations,
		KVKeys: counts.kvKeys, Digest: counts.digest.String()}
	if err := st.Publish(man); err != nil {
		return nil, fmt.Errorf("history view: %w", err)
	}
	return view, nil
}

// ViewPoint is BuildView in a new directory (snapshot.Store.NewViewDir):
// done removes it; call it once the view is closed.
func ViewPoint(ctx context.Context, s *snapshot.Store, opts Options, seq uint64) (view *snapshot.Store, done func(), err error) {
	dir, release, err := s.NewViewDir()
	if err != nil {
		return nil, nil, err
	}
	done = func() { _ = os.RemoveAll(dir); release() }
	// Its commit is no news: no log.
	if view, err = BuildView(ctx, s, opts, seq, dir, nil); err != nil {
		done()
		return nil, nil, err
	}
	return view, done, nil
}

// buildPoint stages, in w's store, the content of plan's point of src's
// history: plan.Base's graph and key-value store, then plan.Jobs applied
// through apply (graph, key-value changes, outcomes), checked against the
// point's manifest. seq is as snapshot.Store.NewPointStage takes it. The
// stage is closed and ready to publish; the caller aborts it on failure.
func (w *Writer) buildPoint(ctx context.Context, src *snapshot.Store, plan *snapshot.PointPlan, seq uint64) (*snapshot.Stage, storeCounts, []*batchJob, error) {
	var counts storeCounts
	pin, err := src.Pin(plan.Base)
	if err != nil {
		return nil, counts, nil, fmt.Errorf("point %d: %w", plan.Target.Seq, err)
	}
	defer pin.Release()
	jobs, err := w.replayBatch(plan.Jobs)
	if errors.Is(err, snapshot.ErrCorrupt) {
		return nil, counts, nil, snapshot.WithHint(fmt.Errorf("point %d: %w", plan.Target.Seq, err),
			"a job file of its history is damaged: the points that need it cannot be read or restored until it is copied back from a backup or a replica location; 'memsnap snapshots verify' names every damaged file")
	}
	if err != nil {
		return nil, counts, nil, snapshot.WithHint(fmt.Errorf("point %d: %w", plan.Target.Seq, err), "history changed meanwhile? try again")
	}
	st, err := w.store.NewPointStage(ctx, src, plan.Base, seq)
	if err != nil {
		return nil, counts, nil, err
	}
	var sum Summary
	if counts, err = w.apply(ctx, st, jobs, &sum, nil, nil); err != nil {
		st.Abort()
		return nil, counts, nil, fmt.Errorf("point %d: %w", plan.Target.Seq, err)
	}
	if err := pointMatches(plan, jobs, counts); err != nil {
		st.Abort()
		return nil, counts, nil, err
	}
	return st, counts, jobs, nil
}

// pointMatches checks a rebuilt point against its manifest: every job
// applied, and the same counts and content digest.
func pointMatches(plan *snapshot.PointPlan, jobs []*batchJob, counts storeCounts) error {
	t := plan.Target
	for _, bj := range jobs {
		if bj.reason != "" || bj.dup {
			return fmt.Errorf("point %d: job %s, applied then, fails now (%s): %w", t.Seq, bj.c.ID, bj.reason, ErrPointDiffers)
		}
	}
	if d, ok := t.ContentDigest(); ok && d != counts.digest {
		return fmt.Errorf("point %d: content digest %s, its manifest records %s: %w", t.Seq, counts.digest, d, ErrPointDiffers)
	}
	if counts.entities != t.Entities || counts.relations != t.Relations {
		return fmt.Errorf("point %d: %d entities and %d relations, its manifest records %d and %d: %w",
			t.Seq, counts.entities, counts.relations, t.Entities, t.Relations, ErrPointDiffers)
	}
	return nil
}

// chainDiff compares the lines of points from (CURRENT) and to back to
// where they meet, and returns the jobs only from's line applied (undone
// by going to to) and those only to's line applied (redone), each oldest
// first. Jobs are told apart by id: a restore's own jobs are the ones it
// applied again. A line that leaves the history before they meet ends there.
func chainDiff(s *snapshot.Store, from, to uint64, lim model.Limits) (undone, redone []JobSummary, err error) {
	a, b := lineOf(s, from), lineOf(s, to)
	onA, onB := map[uint64]bool{}, map[uint64]bool{}
	for _, seq := range a {
		onA[seq] = true
	}
	for _, seq := range b {
		onB[seq] = true
	}
	aJobs, err := lineJobs(s, a, onB, lim)
	if err != nil {
		return nil, nil, err
	}
	bJobs, err := lineJobs(s, b, onA, lim)
	if err != nil {
		return nil, nil, err
	}
	return withoutIDs(aJobs, bJobs), withoutIDs(bJobs, aJobs), nil
}

// withoutIDs is the jobs of list whose ids are not in other.
func withoutIDs(list, other []JobSummary) []JobSummary {
	ids := make(map[string]bool, len(other))
	for _, j := range other {
		ids[j.ID] = true
	}
	out := []JobSummary{}
	for _, j := range list {
		if !ids[j.ID] {
			out = append(out, j)
		}
	}
	return out
}

// lineOf is the points from seq back parent by parent, newest first, as
// far as the history holds them.
func lineOf(s *snapshot.Store, seq uint64) []uint64 {
	var line []uint64
	for seq != 0 {
		m, _, err := s.PointManifest(seq)
		if err != nil {
			break
		}
		line = append(line, seq)
		if m.Parent >= seq {
			break
		}
		seq = m.Parent
	}
	return line
}

// lineJobs summarises the jobs of the points of line (newest first) up to
// the first one in stop, oldest first.
func lineJobs(s *snapshot.Store, line []uint64, stop map[uint64]bool, lim model.Limits) ([]JobSummary, error) {
	var batches [][]JobSummary
	for _, seq := range line {
		if stop[seq] {
			break
		}
		m, full, err := s.PointManifest(seq)
		if err != nil {
			return nil, err
		}
		var batch []JobSummary
		for _, rj := range s.PointJobs(m, full) {
			c, _ := queue.ParseClaimedName(rj.Name)
			js := JobSummary{ID: c.ID, Snapshot: seq, Ops: []string{}}
			if data, err := queue.ReadJobFile(rj.Path, lim.MaxBytes); err == nil {
				if job, err := model.DecodeAppliedJob(data, lim); err == nil {
					js.Ops = fsm.Summarize(job)
				}
			}
			batch = append(batch, js)
		}
		batches = append(batches, batch)
	}
	out := []JobSummary{}
	for i := len(batches) - 1; i >= 0; i-- {
		out = append(out, batches[i]...)
	}
	return out, nil
}

// PointSummary is one point of history as 'snapshots history' lists it:
// the point's fields first, then what published it and its jobs.
type PointSummary struct {
	snapshot.Point
	// RollbackOf and RestoreOf say what a rollback or a restore published.
	RollbackOf uint64 `json:"rollback_of,omitempty"`
	RestoreOf  uint64 `json:"restore_of,omitempty"`
	// Jobs are the jobs its batch applied, in order.
	Jobs []JobSummary `json:"jobs"`
	// Damaged says why the point cannot be read or restored, and Hint what
	// to do; both empty for a sound point.
	Damaged string `json:"damaged,omitempty"`
	Hint    string `json:"hint,omitempty"`
}

// History lists every point of s's history, oldest first, with the jobs
// each applied: what 'snapshots restore' and --at can go back to. A point
// that cannot be read is listed with Damaged and Hint set: one whose
// manifest does not read, one lost from the history window h (see
// snapshot.Store.LostPoints) and one kept as jobs only whose parent cannot
// be read.
func History(s *snapshot.Store, lim model.Limits, h snapshot.History) ([]PointSummary, error) {
	_, all, err := s.PointSeqs()
	if err != nil {
		return nil, err
	}
	lost, err := s.LostPoints(h, time.Now())
	if err != nil {
		return nil, err
	}
	all = append(all, lost...)
	slices.Sort(all)
	all = slices.Compact(all)
	readable := map[uint64]bool{}
	out := make([]PointSummary, 0, len(all))
	for _, seq := range all {
		p, ok := pointSummary(s, seq, lim, readable, slices.Contains(lost, seq))
		readable[seq] = ok
		out = append(out, p)
	}
	return out, nil
}

// pointSummary is point seq as History lists it, and whether it can be
// read: kept in full with a manifest that reads, or kept as jobs only on
// a parent that can be read (readable says which earlier points can).
func pointSummary(s *snapshot.Store, seq uint64, lim model.Limits, readable map[uint64]bool, lost bool) (PointSummary, bool) {
	p := PointSummary{Point: snapshot.Point{Seq: seq}, Jobs: []JobSummary{}}
	if lost {
		err := snapshot.NewLostPointError(seq, seq)
		p.Damaged, p.Hint = err.Error(), err.Hint
		return p, false
	}
	m, full, err := s.PointManifest(seq)
	if err != nil {
		p.Damaged, p.Hint = err.Error(), hintOf(err)
		return p, false
	}
	p.CreatedAt, p.Full, p.RollbackOf, p.RestoreOf = m.CreatedAt, full, m.RollbackOf, m.RestoreOf
	if jobs, err := lineJobs(s, []uint64{seq}, nil, lim); err == nil {
		p.Jobs = jobs
	}
	if !full && m.Parent < seq && !readable[m.Parent] {
		p.Damaged = fmt.Sprintf("point %d cannot be rebuilt: point %d of its history cannot be read", seq, m.Parent)
		p.Hint = "see the point it names, or run 'memsnap snapshots verify' for every damaged or lost point"
		return p, false
	}
	return p, true
}

// hintOf is the hint an error carries as a field (its ErrorHint method),
// or the store check's advice for damage.
func hintOf(err error) string {
	var h interface{ ErrorHint() string }
	if errors.As(err, &h) && h.ErrorHint() != "" {
		return h.ErrorHint()
	}
	return "run 'memsnap snapshots verify' for every damaged or lost point"
}
