package writer

import "context"
import "errors"
import "fmt"
import "slices"

import "github.com/memsnap/memsnap/snapshot"

// RepairResult says what Repair did.
type RepairResult struct {
	// From is the snapshot CURRENT named before (0: no CURRENT file, or
	// one that did not parse; Problem says which).
	From uint64 `json:"from"`
	// Problem is what was wrong with CURRENT ("" if nothing was).
	Problem string `json:"problem,omitempty"`
	// Target is the snapshot whose content CURRENT holds now.
	Target uint64 `json:"target"`
	// Current is the snapshot CURRENT names now: Target, or the new
	// snapshot a rollback to Target published (Rollback).
	Current uint64 `json:"current"`
	// Skipped lists newer published snapshots passed over because they
	// fail verification, each with its first problem.
	Skipped []SkippedSnapshot `json:"skipped,omitempty"`
	// Rollback is set when Target is older than the newest published
	// snapshot: the jobs applied after it were queued again (see Rollback).
	Rollback *RollbackResult `json:"rollback,omitempty"`
	// PinsRecreated lists the snapshots whose missing PIN file Repair
	// created again (snapshot.RecreatePins) before it chose the target.
	PinsRecreated []uint64 `json:"pins_recreated,omitempty"`
	// Done says in one sentence what was done.
	Done string `json:"done"`
}

// listHint is the hint of a snapshot named that does not exist.
const listHint = "see 'memsnap snapshots list'"

// SkippedSnapshot is a snapshot Repair did not point CURRENT at.
type SkippedSnapshot struct {
	Seq     uint64 `json:"seq"`
	Problem string `json:"problem"`
}

// Repair points CURRENT at the newest published snapshot that verifies, or
// at seq when seq is not 0: the way out of a CURRENT that was moved back
// (the writer refuses to commit, snapshot.ErrCurrentBehind), that names a
// missing snapshot (snapshot.ErrCurrentMissing) or that is corrupt.
// "Published" is every snapshot but the provable crash leftovers (see
// snapshot.Survey); those stay for the next commit to remove. When the
// snapshot chosen is the newest published one (or newer), CURRENT is
// rewritten to name it (temp file, fsync, rename, directory fsync). When it
// is older — the newer ones fail verification, or seq names an older one —
// it is a rollback from the newest published snapshot (see Rollback): no
// acknowledged job is dropped. Nothing is deleted. First it recreates the
// PIN file of every snapshot that lost it (snapshot.Store.RecreatePins).
// Repair takes the writer lock.
func Repair(ctx context.Context, s *snapshot.Store, opts Options, seq uint64) (res RepairResult, err error) {
	lock, err := AcquireLock(ctx, s, opts.LockTimeout)
	if err != nil {
		return res, err
	}
	defer lock.Release()
	// A missing PIN is mended in place: the snapshot is otherwise whole,
	// and rolling back from it would queue its jobs again for nothing.
	if res.PinsRecreated, err = s.RecreatePins(); err != nil {
		return res, fmt.Errorf("repair: %w", err)
	}
	seqs, err := s.Seqs()
	if err != nil {
		return res, err
	}
	if len(seqs) == 0 {
		return res, snapshot.WithHint(errors.New("repair: the store has no snapshot"), "run 'memsnap init' or 'memsnap commit'")
	}
	if seq != 0 && !slices.Contains(seqs, seq) {
		return res, snapshot.WithHint(fmt.Errorf("repair: snapshot %d does not exist", seq), listHint)
	}
	published := seqs
	cur, curErr := s.Current()
	var ce *snapshot.CurrentError
	if errors.As(curErr, &ce) {
		problem := *ce
		problem.Hint = "" // the repair is what runs
		res.Problem = problem.Error()
	} else if curErr != nil {
		res.Problem = curErr.Error()
	} else {
		res.From = cur
		sv, err := s.CheckCurrent("commit")
		var ce *snapshot.CurrentError
		switch {
		case errors.As(err, &ce):
			res.Problem = ce.Error()
		case err != nil:
			return res, fmt.Errorf("repair: %w", err)
		}
		published = slices.DeleteFunc(slices.Clone(seqs), func(n uint64) bool { return slices.Contains(sv.Leftovers, n) })
	}
	if len(published) == 0 {
		return res, snapshot.WithHint(errors.New("repair: every snapshot on disk was left unpublished by a crashed writer"),
			"'memsnap commit' removes them and applies their jobs")
	}
	newest := published[len(published)-1]
	target := seq
	if target == 0 {
		for i := len(published) - 1; i >= 0 && target == 0; i-- {
			if err := snapshot.VerifyError(published[i], s.Verify(published[i])); err != nil {
				res.Skipped = append(res.Skipped, SkippedSnapshot{Seq: published[i], Problem: err.Error()})
				continue
			}
			target = published[i]
		}
		if target == 0 {
			return res, snapshot.WithHint(fmt.Errorf("repair: no snapshot verifies (snapshot %d: %s)", newest, res.Skipped[0].Problem),
				"see 'memsnap snapshots verify SEQ'")
		}
	} else if err := snapshot.VerifyError(target, s.Verify(target)); err != nil {
		return res, fmt.Errorf("repair: %w; choose another snapshot", err)
	}
	res.Target = target
	if target >= newest {
		if curErr == nil && cur == target && res.Problem == "" {
			res.Current = cur
			res.Done = fmt.Sprintf("CURRENT already names snapshot %d, the newest published, which verifies; nothing to do", cur)
			if n := len(res.PinsRecreated); n > 0 {
				res.Done = fmt.Sprintf("recreated the missing PIN file of %d snapshot(s) (%v); CURRENT already names snapshot %d, the newest published, which verifies",
					n, res.PinsRecreated, cur)
			}
			return res, nil
		}
		if err := s.PointCurrent(target); err != nil {
			return res, fmt.Errorf("repair: %w", err)
		}
		res.Current = target
		res.Done = fmt.Sprintf("CURRENT now names snapshot %d (it named %s)", target, named(cur, curErr))
		return res, nil
	}
	rb, err := rollbackTo(ctx, s, opts, target, newest, RollbackResult{From: newest, To: target})
	if err != nil {
		return res, fmt.Errorf("repair: %w", err)
	}
	res.Rollback, res.Current = &rb, rb.Snapshot
	jobs := "jobs"
	if len(rb.Requeued) == 1 {
		jobs = "job"
	}
	res.Done = fmt.Sprintf("CURRENT now names snapshot %d, a rollback to snapshot %d from %d, the newest published (it named %s); %d later %s queued again",
		rb.Snapshot, target, newest, named(cur, curErr), len(rb.Requeued), jobs)
	return res, nil
}

// named says what CURRENT named, for Repair's sentence.
func named(cur uint64, err error) string {
	switch {
	case err != nil:
		return "nothing readable"
	case cur == 0:
		return "nothing: there was no CURRENT file"
	}
	return fmt.Sprintf("%d", cur)
}
