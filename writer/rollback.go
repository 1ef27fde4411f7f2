package writer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/memsnap/memsnap/internal/model"
	"github.com/memsnap/memsnap/internal/queue"
	"github.com/memsnap/memsnap/snapshot"
)

// RollbackResult says what a rollback did.
type RollbackResult struct {
	// From is the snapshot CURRENT named before (0 if CURRENT was unreadable).
	From uint64 `json:"from"`
	// To is the snapshot CURRENT names now.
	To uint64 `json:"to"`
	// Requeued lists, in their original order, the jobs applied after To
	// that were put back in queue/new to be applied again on top of To.
	Requeued []string `json:"requeued"`
}

// Rollback points CURRENT back at snapshot seq, which must be older than
// CURRENT and pass a full verify. No acknowledged job is dropped: the jobs
// applied by the snapshots after seq (each snapshot keeps its batch's job
// files in jobs/) and any jobs a crashed writer had claimed are put back in
// queue/new in their original order, so the next commit applies them again
// on top of seq. If a job file needed for that is missing or damaged,
// Rollback refuses and changes nothing. The snapshots rolled back from stay
// on disk until no reader pins them. Rollback takes the writer lock; it
// works when CURRENT itself is corrupt.
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
	} else if len(seqs) > 0 {
		from = seqs[len(seqs)-1] // CURRENT is unreadable: treat every newer snapshot as rolled back
	}
	if seq == 0 || !containsSeq(seqs, seq) {
		return res, fmt.Errorf("rollback: snapshot %d does not exist (see 'memsnap snapshots list')", seq)
	}
	if curErr == nil && seq >= from {
		return res, fmt.Errorf("rollback: snapshot %d is not older than CURRENT (%d)", seq, from)
	}
	if err := snapshot.VerifyError(seq, s.Verify(seq)); err != nil {
		return res, fmt.Errorf("rollback: %w; choose an older snapshot", err)
	}

	// Every job to apply again, oldest first, each once.
	type requeue struct {
		id    string
		data  []byte
		claim uint64
	}
	var jobs []requeue
	seen := map[string]bool{}
	lim := opts.Limits
	for _, later := range seqs {
		if later <= seq || later > from {
			continue
		}
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
			return res, fmt.Errorf("rollback: read jobs of snapshot %d: %w", later, err)
		}
		if merr == nil && len(ents) != len(sums) {
			return res, fmt.Errorf("rollback: snapshot %d lists %d jobs but holds %d; refusing, since some of its jobs could not be applied again", later, len(sums), len(ents))
		}
		for _, e := range ents {
			c, ok := queue.ParseClaimedName(e.Name())
			if !ok {
				return res, fmt.Errorf("rollback: snapshot %d holds an unexpected file jobs/%s", later, e.Name())
			}
			path := filepath.Join(dir, e.Name())
			data, err := queue.ReadJobFile(path, lim.MaxBytes)
			if err == nil {
				_, err = model.DecodeJob(data, lim)
			}
			if err != nil {
				return res, fmt.Errorf("rollback: job %s of snapshot %d cannot be read back (%v); refusing, since it could not be applied again", c.ID, later, err)
			}
			if f, ok := sums[e.Name()]; ok && !f.Matches(data) {
				return res, fmt.Errorf("rollback: job %s of snapshot %d is damaged (checksum mismatch); refusing, since it could not be applied again", c.ID, later)
			}
			if !seen[c.ID] {
				seen[c.ID] = true
				jobs = append(jobs, requeue{id: c.ID, data: data, claim: c.Seq})
			}
		}
	}
	// Jobs a crashed writer claimed go back to queue/new as well, so that
	// everything is applied in the order it was enqueued.
	q := s.Queue()
	inCur, err := q.Claimed()
	if err != nil {
		return res, err
	}
	var unclaim []queue.Claimed
	for _, c := range inCur {
		data, err := queue.ReadJobFile(q.Path(c), lim.MaxBytes)
		if errors.Is(err, model.ErrInvalidJob) {
			continue // stays claimed; the next writer dead-letters it
		}
		if err != nil {
			return res, fmt.Errorf("rollback: %w", err)
		}
		unclaim = append(unclaim, c)
		if !seen[c.ID] {
			seen[c.ID] = true
			jobs = append(jobs, requeue{id: c.ID, data: data, claim: c.Seq})
		}
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
	if err := s.SetCurrent(seq); err != nil {
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

func containsSeq(seqs []uint64, seq uint64) bool {
	for _, s := range seqs {
		if s == seq {
			return true
		}
	}
	return false
}
