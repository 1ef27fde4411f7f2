package snapshot

import "errors"
import "fmt"
import "slices"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/fsutil"

// Telling a crash leftover from a published snapshot
//
// A writer renames a finished snapshot into snapshots/ and then points
// CURRENT at it. A crash in between leaves a snapshot newer than CURRENT
// that was never published: garbage, whose batch the next writer applies
// again. An edit of CURRENT that moves it back (or a CURRENT restored from
// an old backup) leaves the same picture, but those snapshots were
// published: readers served them, and acknowledged jobs live only in them.
// CURRENT cannot tell the two apart, so the writer decides by evidence
// CURRENT does not hold: the claimed job files. Two rules of the writer
// make it evidence:
//
//   - a batch's job files leave queue/cur only after the CURRENT swap that
//     published the batch (Writer.finishCleanup runs after Publish returns);
//   - a writer builds only on CURRENT, and Publish refuses if CURRENT moved
//     while it staged: a leftover's parent is the CURRENT it was built on,
//     and since nothing was published after it, that is still CURRENT.
//
// So a snapshot S is a provable leftover (Survey, leftover) when all of these hold:
//
//  1. S is newer than CURRENT and its manifest reads;
//  2. S was built on CURRENT (S.Parent is CURRENT's seq, 0 with no CURRENT
//     file) by a commit (S.RollbackOf and S.RestoreOf are 0);
//  3. S's batch claimed jobs: S.Watermark is above CURRENT's watermark;
//  4. every job S's batch recorded (the applied ones archived under jobs/,
//     the rejected ones in RejectedJobs) is still in queue/cur under the same
//     name (claim seq and id), and queue/cur holds a job whose claim seq is
//     in S's batch, (CURRENT's watermark, S.Watermark]: a batch whose jobs
//     were all applied before (duplicates) records none of them.
//
// At each crash point: killed after-snapshot-rename or before-current, the
// batch is still claimed (1-4 hold): S is removed and its jobs are applied
// again by the next batch, once. A power cut inside the CURRENT swap that
// loses the rename leaves the same. Killed after-current, S is CURRENT and
// nothing is newer. Killed while the applied files are removed, S is
// CURRENT; if CURRENT were then moved back, the files already gone break
// rule 4 and S is kept. The recycle path only takes ancestors of CURRENT
// (older, never newer) and unpublishes them into staging/ first. A
// rollback's snapshot and init's empty first snapshot have no batch, so no
// evidence (rules 2 and 3): a crash before their swap leaves a snapshot
// the writer reports and does not remove; 'memsnap snapshots repair' then
// points CURRENT at it, which completes the rollback (its jobs are already
// queued again) or the init.
//
// The one window in which a published snapshot passes the test: after its
// swap and before its batch's files are removed, if CURRENT is moved back by
// hand then. Its jobs are all still claimed, so removing it and applying
// them again loses nothing.

// Sentinel errors of *CurrentError (errors.Is).
var (
	// ErrCurrentBehind: a snapshot newer than CURRENT was published (it is
	// not a provable crash leftover); CURRENT was moved back or replaced.
	ErrCurrentBehind = errors.New("snapshot: CURRENT is older than the newest published snapshot")
	// ErrCurrentMissing: CURRENT names a snapshot that does not exist, or
	// there is no CURRENT file beside published snapshots.
	ErrCurrentMissing = errors.New("snapshot: CURRENT names no snapshot on disk")
	// ErrCurrentCorrupt: the CURRENT file does not hold a snapshot seq
	// (empty, or not one non-zero decimal number): ParseCurrent.
	ErrCurrentCorrupt = errors.New("snapshot: CURRENT is corrupt")
)

// RepairCommand is the command that points CURRENT at the newest published
// snapshot that verifies (writer.Repair).
const RepairCommand = "memsnap snapshots repair"

// CurrentError is returned when CURRENT cannot be built on as it stands:
// it names an older snapshot than the newest published one, or one that
// does not exist, or it is corrupt (ParseCurrent, Reading, no Op). The writer refuses to commit and deletes nothing; Hint
// is the command that repairs it. PinCurrent returns one (Reading) when
// CURRENT names a snapshot that does not exist.
type CurrentError struct {
	Op      string   // what was refused: "commit", "publish the empty first snapshot"
	Path    string   // the CURRENT file
	Current uint64   // the seq CURRENT names; 0 when there is no CURRENT file
	Newer   []uint64 // published snapshots newer than CURRENT, ascending
	Err     error    // ErrCurrentBehind, ErrCurrentMissing or ErrCurrentCorrupt
	Hint    string   // the repair command, with what it does
	// Detail says what is wrong with a corrupt CURRENT (ErrCurrentCorrupt).
	Detail string
	// Reading: a read found it (PinCurrent), so nothing but that read was
	// refused.
	Reading bool
}

func (e *CurrentError) Error() string {
	var what string
	switch {
	case errors.Is(e.Err, ErrCurrentCorrupt):
		what = "CURRENT is corrupt: " + e.Detail
	case errors.Is(e.Err, ErrCurrentMissing) && e.Current == 0:
		n := len(e.Newer)
		what = fmt.Sprintf("there is no CURRENT file, but snapshot%s %s %s on disk", oneOrMany(n, "", "s"), seqList(e.Newer), oneOrMany(n, "is", "are"))
	case errors.Is(e.Err, ErrCurrentMissing):
		what = fmt.Sprintf("CURRENT names snapshot %d, which does not exist", e.Current)
	default:
		what = fmt.Sprintf("CURRENT names snapshot %d, older than snapshot%s %s, which %s published (nothing shows a crashed writer left %s); was CURRENT moved back?",
			e.Current, oneOrMany(len(e.Newer), "", "s"), seqList(e.Newer), oneOrMany(len(e.Newer), "was", "were"), oneOrMany(len(e.Newer), "it", "them"))
	}
	msg := what
	if e.Op != "" {
		msg = e.Op + ": " + what
	}
	if !e.Reading {
		msg += "; refusing to write, nothing deleted"
	}
	if e.Hint != "" && strings.HasSuffix(msg, "?") {
		msg += " " + e.Hint
	} else if e.Hint != "" {
		msg += ". " + e.Hint
	}
	return msg
}

// ErrorHint returns Hint (Error says it too).
func (e *CurrentError) ErrorHint() string { return e.Hint }

// Unwrap makes errors.Is(err, ErrCurrentBehind) (or ErrCurrentMissing) hold.
func (e *CurrentError) Unwrap() error { return e.Err }

// oneOrMany is one when n is 1, else many: the word a count of n takes
// ("is" or "are").
func oneOrMany(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// seqList renders seqs as "4, 5 and 6" (the first and last five of a long
// list).
func seqList(seqs []uint64) string {
	parts := make([]string, 0, len(seqs))
	for i, s := range seqs {
		if len(seqs) > 10 && i == 5 {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(seqs)-10))
		}
		if len(seqs) > 10 && i >= 5 && i < len(seqs)-5 {
			continue
		}
		parts = append(parts, fmt.Sprint(s))
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// repairHint is CurrentError.Hint.
const repairHint = "Run '" + RepairCommand + "' to point CURRENT at the newest published snapshot that verifies (or '" +
	RepairCommand + " SEQ' for another one)"

// Survey is what Survey found newer than CURRENT.
type Survey struct {
	// Current is the seq CURRENT names (0: no CURRENT file).
	Current uint64
	// Exists: CURRENT's snapshot is on disk (true when Current is 0).
	Exists bool
	// Leftovers are the provable crash leftovers newer than CURRENT.
	Leftovers []uint64
	// Published are the other snapshots newer than CURRENT: published, or
	// with no evidence that they were not.
	Published []uint64
}

// Survey classifies every snapshot newer than CURRENT as a provable crash
// leftover or not (see the rules above). It fails if CURRENT does not
// parse. Caller holds the writer lock.
func (s *Store) Survey() (Survey, error) {
	cur, err := s.Current()
	if err != nil {
		return Survey{}, err
	}
	seqs, err := s.Seqs()
	if err != nil {
		return Survey{}, err
	}
	sv := Survey{Current: cur, Exists: cur == 0 || slices.Contains(seqs, cur)}
	if n := len(seqs); n == 0 || seqs[n-1] <= cur {
		return sv, nil // nothing newer: the common case costs no more reads
	}
	var watermark uint64
	known := sv.Exists // CURRENT's watermark is known
	if cur > 0 && sv.Exists {
		if m, err := s.Manifest(cur); err == nil {
			watermark = m.Watermark
		} else {
			known = false
		}
	}
	var claimed map[string]uint64 // queue/cur file name -> claim seq
	for _, seq := range seqs {
		if seq <= cur {
			continue
		}
		if known {
			if claimed == nil {
				list, err := s.Queue().Claimed()
				if err != nil {
					return sv, err
				}
				claimed = make(map[string]uint64, len(list))
				for _, c := range list {
					claimed[c.Name] = c.Seq
				}
			}
			if s.leftover(seq, cur, watermark, claimed) {
				sv.Leftovers = append(sv.Leftovers, seq)
				continue
			}
		}
		sv.Published = append(sv.Published, seq)
	}
	return sv, nil
}

// leftover applies rules 1-4 to snapshot seq, newer than CURRENT (cur,
// whose watermark is watermark); claimed maps queue/cur's file names to
// their claim seqs.
func (s *Store) leftover(seq, cur, watermark uint64, claimed map[string]uint64) bool {
	m, err := s.Manifest(seq)
	if err != nil || m.Parent != cur || m.RollbackOf != 0 || m.RestoreOf != 0 || m.Watermark <= watermark {
		return false
	}
	for _, f := range m.Files {
		if name, ok := strings.CutPrefix(f.Path, JobsDir+"/"); ok {
			if _, ok := claimed[name]; !ok {
				return false
			}
		}
	}
	for _, r := range m.RejectedJobs {
		if _, ok := claimed[r.File]; !ok {
			return false
		}
	}
	for _, c := range claimed {
		if c > watermark && c <= m.Watermark {
			return true
		}
	}
	return false
}

// CheckCurrent returns a *CurrentError when CURRENT names a snapshot that
// does not exist, or when a snapshot newer than CURRENT is not a provable
// crash leftover (see Survey); op names what is refused. Otherwise it
// returns the survey, whose Leftovers RemoveLeftovers may remove. Caller
// holds the writer lock.
func (s *Store) CheckCurrent(op string) (Survey, error) {
	sv, err := s.Survey()
	if err != nil {
		return sv, err
	}
	e := &CurrentError{Op: op, Path: s.Path(CurrentFile), Current: sv.Current, Newer: sv.Published, Hint: repairHint}
	switch {
	case !sv.Exists:
		e.Err = ErrCurrentMissing
	case sv.Current == 0 && len(sv.Published) > 0:
		e.Err = ErrCurrentMissing
	case len(sv.Published) > 0:
		e.Err = ErrCurrentBehind
	default:
		return sv, nil
	}
	return sv, e
}

// publishWait bounds how long CurrentForRead waits for a publish under way
// to swap CURRENT: a rollback, a restore or a replica's adoption renames
// its snapshot into snapshots/ and then swaps CURRENT (a temp file, an
// fsync, a rename and a directory fsync later); until the swap, that
// snapshot is newer than CURRENT and, having no claimed batch, is no
// provable crash leftover. A CURRENT moved back by hand stays so.
const publishWait = 2 * time.Second

// CurrentForRead is Current for a read or a write's prediction, which do
// not hold the writer lock: it returns the seq CURRENT names (0 with no
// CURRENT file), or a *CurrentError (ErrCurrentBehind, Reading; op names
// what was refused) when a snapshot newer than CURRENT was published, as
// CheckCurrent finds for the writer: reading a moved-back CURRENT serves
// an older state than one already served, and predicting a write on it
// acknowledges an outcome the writer, once CURRENT is repaired, does not
// give. A snapshot newer than CURRENT that is no provable leftover is
// watched for up to publishWait, since a publish under way looks the same
// until its swap. Reads of CURRENT that fail return their error (a corrupt
// CURRENT is a *CurrentError too). The common case costs a read of CURRENT
// and a listing of snapshots/.
func (s *Store) CurrentForRead(op string) (uint64, error) {
	deadline := time.Now().Add(publishWait)
	for {
		sv, err := s.Survey()
		if err != nil || sv.Current == 0 || len(sv.Published) == 0 {
			return sv.Current, err
		}
		if again, err := s.Current(); err != nil || again != sv.Current {
			continue // a publish swapped CURRENT while Survey read the queue
		}
		if time.Now().After(deadline) {
			return sv.Current, &CurrentError{Op: op, Path: s.Path(CurrentFile), Current: sv.Current, Newer: sv.Published,
				Err: ErrCurrentBehind, Hint: repairHint, Reading: true}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BehindError is the *CurrentError (ErrCurrentBehind, Reading) of a
// long-lived reader that serves snapshot served and finds CURRENT naming
// the older snapshot current: it keeps serving served rather than hide
// what was published after current. op names what was refused.
func (s *Store) BehindError(op string, current, served uint64) *CurrentError {
	return &CurrentError{Op: op, Path: s.Path(CurrentFile), Current: current, Newer: []uint64{served},
		Err: ErrCurrentBehind, Hint: repairHint, Reading: true}
}

// RemoveLeftovers removes the provable crash leftovers sv lists that no
// reader pins (a power cut inside a CURRENT swap can leave one that readers
// used), and returns the seqs removed. Caller holds the writer lock and
// got sv from CheckCurrent under it.
func (s *Store) RemoveLeftovers(sv Survey) ([]uint64, error) {
	var removed []uint64
	for _, seq := range sv.Leftovers {
		release, pinned, err := s.lockUnpinned(seq)
		if err != nil {
			return removed, err
		}
		if pinned {
			continue
		}
		err = s.moveUnpinned(seq, release)
		if errors.Is(err, fsutil.ErrBusy) {
			continue // files still open (Windows): left for a later repair
		}
		if err != nil {
			return removed, err
		}
		removed = append(removed, seq)
	}
	if len(removed) > 0 {
		if err := fsutil.SyncDir(s.Path("snapshots")); err != nil {
			return removed, fmt.Errorf("remove leftover snapshots: %w", err)
		}
		_ = s.EmptyTrash() // a leftover it cannot delete yet is GC's to report
	}
	return removed, nil
}

// PointCurrent points CURRENT at snapshot seq, which must exist (the
// caller has verified it), through the same temp, fsync, rename and
// directory fsync as a publish. It is the repair of a CURRENT that was
// moved back, names a missing snapshot or is corrupt. Caller holds the
// writer lock.
func (s *Store) PointCurrent(seq uint64) error {
	if _, err := s.Manifest(seq); err != nil {
		return fmt.Errorf("point CURRENT at %d: %w", seq, err)
	}
	return s.writeCurrent(seq)
}
