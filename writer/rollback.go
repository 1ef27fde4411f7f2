package writer

import "context"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "sort"
import "strings"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"

// RollbackResult says what a rollback did.
type RollbackResult struct {
	// From is the snapshot CURRENT named before (0 if CURRENT was unreadable).
	From uint64 `json:"from"`
	// To is the snapshot whose content CURRENT holds now.
	To uint64 `json:"to"`
	// Snapshot is the new snapshot the rollback published, holding To's
	// content and numbered after every snapshot there was: CURRENT names
	// it now.
	Snapshot uint64 `json:"snapshot"`
	// Requeued lists, in their original order, the jobs applied after To
	// that were put back in queue/new to be applied again on top of To.
	Requeued []string `json:"requeued"`
}

// Rollback brings CURRENT back to the content of snapshot seq, which must
// be older than CURRENT and pass a full verify, by publishing a new
// snapshot that holds seq's content (its graph copied, its key-value store
// shared) and is numbered after every snapshot there is: snapshot numbers
// only grow and are never reused, as readers, 'enqueue --wait' and
// replicas take them as positions. No acknowledged job is dropped: the jobs
// applied by the snapshots after seq (each snapshot keeps its batch's job
// files in jobs/) and any jobs a crashed writer had claimed are put back in
// queue/new in their original order, so the next commit applies them again
// on top of it. If a job file needed for that is missing or damaged,
// Rollback refuses and changes nothing. The snapshots rolled back from stay
// on disk until retention (gc.keep, gc.min_age) and readers' pins let GC
// remove them. Rollback takes the writer lock; it works when CURRENT itself
// is corrupt.
func Rollback(ctx context.Context, s *snapshot.Store, opts Options, seq uint64) (res RollbackResult, err error) {
	lock, err := AcquireLock(ctx, s, opts.LockTimeout)
	if err != nil {
		return res, err
	}
	defer lock.Release()
	res.To = seq
	seqs, err := s.Seqs()
	if err != nil {
		return res, err
	}
	from, curErr := s.Current()
	if curErr == nil {
		res.From = from
		// A CURRENT moved back would have the jobs of the published
		// snapshots after it dropped: repair it first.
		if _, err := s.CheckCurrent("rollback"); err != nil {
			return res, err
		}
	} else if len(seqs) > 0 {
		from = seqs[len(seqs)-1] // CURRENT is unreadable: treat every newer snapshot as rolled back
	}
	if seq == 0 || !slices.Contains(seqs, seq) {
		return res, snapshot.WithHint(fmt.Errorf("rollback: snapshot %d does not exist", seq), listHint)
	}
	if curErr == nil && seq >= from {
		return res, fmt.Errorf("rollback: snapshot %d is not older than CURRENT (%d)", seq, from)
	}
	if err := snapshot.VerifyError(seq, s.Verify(seq)); err != nil {
		return res, fmt.Errorf("rollback: %w; choose an older snapshot", err)
	}
	return rollbackTo(ctx, s, opts, seq, from, res)
}

// rollbackTo is Rollback once checked, under the writer lock: it queues
// again the jobs applied by the snapshots after seq up to from (seq's
// descendant) and publishes a new snapshot holding seq's content.
func rollbackTo(ctx context.Context, s *snapshot.Store, opts Options, seq, from uint64, res RollbackResult) (RollbackResult, error) {
	// Every job to apply again, oldest first, each once.
	jobs, err := archivedJobs(s, seq, from, opts.Limits)
	if err != nil {
		return res, err
	}
	q := s.Queue()
	unclaim, err := reclaimJobs(q, opts.Limits, &jobs)
	if err != nil {
		return res, err
	}
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].claim < jobs[j].claim })

	// Queue them, then swap CURRENT. If this dies half-way, the jobs already
	// queued are harmless: CURRENT still records them as applied, and the
	// writer skips jobs it has outcomes for.
	for _, j := range jobs {
		if !q.Queued(j.id) {
			_ = q.RemoveTemp(j.id) // an earlier, interrupted rollback
			if _, err := q.Spool(j.id, j.data); err != nil {
				return res, fmt.Errorf("rollback: queue job %s again: %w", j.id, err)
			}
		}
		res.Requeued = append(res.Requeued, j.id)
	}
	if err := q.SyncNew(); err != nil {
		return res, fmt.Errorf("rollback: %w", err)
	}
	if res.Snapshot, err = publishRollback(ctx, s, seq); err != nil {
		return res, fmt.Errorf("rollback: %w", err)
	}
	// The claimed copies are queued again; drop them so that recovery does
	// not apply them ahead of older jobs.
	for _, c := range unclaim {
		if err := q.RemoveClaimed(c); err != nil {
			return res, fmt.Errorf("rollback: %w", err)
		}
	}
	if res.Requeued == nil {
		res.Requeued = []string{}
	}
	return res, nil
}

// publishRollback publishes a new snapshot holding seq's content and
// returns its number.
func publishRollback(ctx context.Context, s *snapshot.Store, seq uint64) (uint64, error) {
	m, err := s.Manifest(seq)
	if err != nil {
		return 0, err
	}
	st, err := s.NewRollbackStage(ctx, seq)
	if err != nil {
		return 0, err
	}
	if err := st.Publish(snapshot.Manifest{Watermark: m.Watermark, Entities: m.Entities, Relations: m.Relations, Digest: m.Digest,
		KVKeys: m.KVKeys, RollbackOf: seq}); err != nil {
		st.Abort()
		return 0, err
	}
	return st.Seq(), nil
}

// requeue is a job a rollback queues again.
type requeue struct {
	id    string
	data  []byte
	claim uint64
}

// archivedJobs reads back the jobs that the snapshots after seq, up to
// from, applied (each snapshot keeps its batch's job files in jobs/),
// checking each against its snapshot's manifest, oldest first. They are
// the snapshots on the Parent chain from from back to seq: every one must
// still be there, since a collected one's jobs could not be applied again,
// and seq must be on the chain (an ancestor of CURRENT). A snapshot whose
// manifest is damaged is taken to be the commit after the snapshot before
// it. Any job that cannot be read back whole is an error too.
func archivedJobs(s *snapshot.Store, seq, from uint64, lim model.Limits) ([]requeue, error) {
	seqs, err := s.Seqs()
	if err != nil {
		return nil, err
	}
	var chain []uint64
	for n := from; n != seq; {
		if !slices.Contains(seqs, n) {
			return nil, fmt.Errorf("rollback: snapshot %d, between %d and CURRENT, is gone; refusing, since its jobs could not be applied again: choose a newer snapshot", n, seq)
		}
		chain = append(chain, n)
		parent := n - 1 // a damaged manifest: a commit's parent is the snapshot before it
		if m, err := s.Manifest(n); err == nil {
			parent = m.Parent
		}
		if parent == 0 || parent < seq {
			return nil, fmt.Errorf("rollback: snapshot %d is not an ancestor of CURRENT (it was rolled back from, or built on something else); choose one of its ancestors", seq)
		}
		n = parent
	}
	var jobs []requeue
	seen := map[string]bool{}
	for i := len(chain) - 1; i >= 0; i-- {
		got, err := snapshotJobs(s, chain[i], lim)
		if err != nil {
			return nil, err
		}
		for _, j := range got {
			if !seen[j.id] {
				seen[j.id] = true
				jobs = append(jobs, j)
			}
		}
	}
	return jobs, nil
}

// snapshotJobs reads back the jobs snapshot seq applied.
func snapshotJobs(s *snapshot.Store, later uint64, lim model.Limits) ([]requeue, error) {
	dir := filepath.Join(s.SnapshotDir(later), snapshot.JobsDir)
	m, merr := s.Manifest(later)
	sums := map[string]snapshot.FileSum{}
	if merr == nil {
		for _, f := range m.Files {
			if name, ok := strings.CutPrefix(f.Path, snapshot.JobsDir+"/"); ok {
				sums[name] = f
			}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("rollback: read jobs of snapshot %d: %w", later, err)
	}
	if merr == nil && len(ents) != len(sums) {
		return nil, fmt.Errorf("rollback: snapshot %d lists %d jobs but holds %d; refusing, since some of its jobs could not be applied again", later, len(sums), len(ents))
	}
	var out []requeue
	for _, e := range ents {
		c, ok := queue.ParseClaimedName(e.Name())
		if !ok {
			return nil, fmt.Errorf("rollback: snapshot %d holds an unexpected file jobs/%s", later, e.Name())
		}
		data, err := queue.ReadJobFile(filepath.Join(dir, e.Name()), lim.MaxBytes)
		if err == nil {
			_, err = model.DecodeJob(data, lim)
		}
		if err != nil {
			return nil, fmt.Errorf("rollback: job %s of snapshot %d cannot be read back (%v); refusing, since it could not be applied again", c.ID, later, err)
		}
		if f, ok := sums[e.Name()]; ok && !f.Matches(data) {
			return nil, fmt.Errorf("rollback: job %s of snapshot %d is damaged (checksum mismatch); refusing, since it could not be applied again", c.ID, later)
		}
		out = append(out, requeue{id: c.ID, data: data, claim: c.Seq})
	}
	return out, nil
}

// reclaimJobs adds to jobs the jobs a crashed writer claimed, so that
// everything is applied in the order it was enqueued, and returns their
// claimed copies, to drop once they are queued again. A claimed job that can
// never be applied stays claimed: the next writer dead-letters it.
func reclaimJobs(q *queue.Queue, lim model.Limits, jobs *[]requeue) ([]queue.Claimed, error) {
	seen := map[string]bool{}
	for _, j := range *jobs {
		seen[j.id] = true
	}
	inCur, err := q.Claimed()
	if err != nil {
		return nil, err
	}
	var unclaim []queue.Claimed
	for _, c := range inCur {
		data, err := queue.ReadJobFile(q.Path(c), lim.MaxBytes)
		if errors.Is(err, model.ErrInvalidJob) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rollback: %w", err)
		}
		unclaim = append(unclaim, c)
		if !seen[c.ID] {
			seen[c.ID] = true
			*jobs = append(*jobs, requeue{id: c.ID, data: data, claim: c.Seq})
		}
	}
	return unclaim, nil
}
