package snapshot

import "context"
import "errors"
import "fmt"
import "maps"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/queue"

// ErrCorrupt is matched (errors.Is) by every Check finding that shows
// damage memsnap does not mend by itself: a CURRENT that is corrupt, names
// no snapshot or was moved back, a snapshot that does not verify, a
// lineage whose numbers do not grow, a job applied twice, content that
// disagrees with its manifest. As pebble marks corruption
// (base.ErrCorruption), callers tell damage from a failed read with it.
var ErrCorrupt = errors.New("snapshot: store is corrupt")

// FindingKind says which invariant a Check finding breaks.
type FindingKind int

// The invariants Check checks, in the order it reports them.
const (
	// FindCurrent: CURRENT is corrupt, names a snapshot that does not
	// exist, or is older than a published snapshot (Err is the
	// *CurrentError, which carries the repair as its Hint).
	FindCurrent FindingKind = iota + 1
	// FindDamaged: CURRENT's snapshot does not verify against its manifest
	// (Err is one problem Verify found). A snapshot of a newer format is
	// not damaged (Err is a *NewerFormatError; not ErrCorrupt).
	FindDamaged
	// FindContent: CURRENT's content disagrees with its manifest
	// (CheckOptions.Content found it; Err says how).
	FindContent
	// FindLineage: a manifest of CURRENT's lineage names a parent that is
	// not older than itself (snapshot numbers only grow).
	FindLineage
	// FindAppliedTwice: one job id is among the applied jobs (jobs/) of two
	// snapshots of CURRENT's lineage.
	FindAppliedTwice
	// FindHistory: an entry of the history log (history/<seq>/) is
	// damaged: its manifest, a job file it lists, or its agreement with
	// snapshots/ (Err is a *HistoryError naming the file).
	FindHistory
	// FindLost: a point of the history window is neither a snapshot
	// directory nor a history entry (Seq; see LostPoints): something other
	// than memsnap removed it (CheckOptions.History).
	FindLost
	// FindQueuedApplied: a job waits in queue/new that a snapshot of
	// CURRENT's lineage applied. An interrupted rollback leaves such jobs;
	// the writer skips a job whose outcome is recorded. Not ErrCorrupt.
	FindQueuedApplied
	// FindStaging: staging/ holds something while no writer runs: a
	// crashed writer's leftovers, which the next commit wipes. Not
	// ErrCorrupt.
	FindStaging
	// FindQueuedDamaged: a job file in queue/new or queue/cur is not
	// well-formed JSON (Err is its *queue.DamagedError): enqueue writes only
	// jobs that decode, so it was damaged on disk after it was queued. Its
	// job is lost; the next commit dead-letters it.
	FindQueuedDamaged
)

// Finding is one broken invariant Check found. errors.Is(f, ErrCorrupt)
// holds for damage (see ErrCorrupt); errors.Is and errors.As see Err.
type Finding struct {
	Kind FindingKind
	// Seq is the snapshot concerned (the newer one for FindAppliedTwice);
	// 0 when none is (FindStaging).
	Seq uint64
	// Other is, for FindAppliedTwice, the older snapshot that applied Job
	// too; for FindLineage, the parent Seq's manifest names.
	Other uint64
	// Job is the job id of FindAppliedTwice and FindQueuedApplied.
	Job string
	// Entries are what FindStaging found in staging/, sorted.
	Entries []string
	// Err is the problem found, for FindCurrent, FindDamaged and
	// FindContent; nil otherwise.
	Err error
	// Hint says what to do about it, for the kinds whose Err does not (a
	// *CurrentError names its repair itself); empty otherwise.
	Hint string
}

func (f *Finding) Error() string {
	switch f.Kind {
	case FindCurrent, FindDamaged:
		return f.Err.Error() // these name the snapshot and CURRENT themselves
	case FindHistory:
		return f.Err.Error() // a *HistoryError names the entry and the file
	case FindLost:
		return fmt.Sprintf("point %d of history is lost: %s", f.Seq, lostWhat(f.Seq))
	case FindContent:
		return fmt.Sprintf("snapshot %d: content disagrees with its manifest: %v", f.Seq, f.Err)
	case FindLineage:
		return fmt.Sprintf("snapshot %d: manifest names parent %d, which is not older (snapshot numbers only grow)", f.Seq, f.Other)
	case FindAppliedTwice:
		return fmt.Sprintf("job %s applied by snapshots %d and %d of CURRENT's lineage", f.Job, f.Other, f.Seq)
	case FindQueuedApplied:
		return fmt.Sprintf("job %s is in queue/new but snapshot %d applied it", f.Job, f.Seq)
	case FindStaging:
		return fmt.Sprintf("staging/ holds %s with no writer running", entryList(f.Entries))
	case FindQueuedDamaged:
		return fmt.Sprintf("job %s: %v", f.Job, f.Err)
	}
	return fmt.Sprintf("store check: finding of kind %d", f.Kind)
}

// Is makes errors.Is(f, ErrCorrupt) hold for damage.
func (f *Finding) Is(target error) bool {
	if target != ErrCorrupt {
		return false
	}
	switch f.Kind {
	case FindQueuedApplied, FindStaging:
		return false
	case FindDamaged, FindHistory:
		return !errors.Is(f.Err, ErrNewerFormat)
	}
	return true
}

// Unwrap returns Err.
func (f *Finding) Unwrap() error { return f.Err }

// ErrorHint returns Hint, or the hint of Err when Hint is empty.
func (f *Finding) ErrorHint() string {
	if f.Hint != "" {
		return f.Hint
	}
	return HintOf(f.Err)
}

// entryList renders staging/'s entries as "2 entries (next, recycle-3)".
func entryList(names []string) string {
	shown := names
	if len(shown) > 5 {
		shown = shown[:5]
	}
	more := ""
	if len(names) > len(shown) {
		more = fmt.Sprintf(", ... %d more", len(names)-len(shown))
	}
	noun := "entries"
	if len(names) == 1 {
		noun = "entry"
	}
	return fmt.Sprintf("%d %s (%s%s)", len(names), noun, strings.Join(shown, ", "), more)
}

// CheckOptions adjusts Check.
type CheckOptions struct {
	// Idle keeps writers out while Check runs the checks that hold only
	// with no writer at work (a writer stages in staging/, and between its
	// rename into snapshots/ and its CURRENT swap a new snapshot is newer
	// than CURRENT): staging/ is empty, no snapshot newer than CURRENT was
	// published, no job in queue/new was applied. It returns the release.
	// A caller that holds the writer lock, or knows that no process uses
	// the store (a test after its processes stopped), passes NoWriter;
	// 'memsnap snapshots verify' passes one that tries the writer lock.
	// nil, or an error from it, skips those checks (CheckReport.Idle is
	// false then). Default nil.
	Idle func() (release func(), err error)
	// Content checks that snapshot m's content agrees with its manifest:
	// the place for the manifest's content digest against the graph, which
	// this package cannot read (it opens no graph). It runs on CURRENT's
	// snapshot once its files verified. A disagreement is an error marked
	// ErrCorrupt (fmt.Errorf("%w: ...", ErrCorrupt)), which becomes a
	// FindContent finding; any other error means the check could not run,
	// and Check returns it. Default nil: content is not checked.
	Content func(ctx context.Context, s *Store, m *Manifest) error
	// History is the history window the store keeps (history.*): every
	// point of it must be a snapshot or a history entry (FindLost, see
	// LostPoints), judged at Now (zero: the time now). Default zero: no
	// window, lost points are not looked for.
	History History
	Now     time.Time
}

// NoWriter is CheckOptions.Idle for a caller that holds the writer lock or
// knows no process uses the store: it keeps nothing out.
func NoWriter() (release func(), err error) { return func() {}, nil }

// CheckReport is what Check looked at and found.
type CheckReport struct {
	// Current is the snapshot CURRENT names; 0 when nothing is published
	// or CURRENT does not parse.
	Current uint64
	// Lineage is CURRENT's snapshot and its ancestors still on disk,
	// newest first: the snapshots whose applied jobs were compared.
	Lineage []uint64
	// Idle: the checks that need no writer at work ran (CheckOptions.Idle).
	Idle bool
	// Findings are every broken invariant, in the order of FindingKind;
	// empty when the store is sound.
	Findings []*Finding
}

// Err returns the findings joined as one error (errors.Is(err, ErrCorrupt)
// holds when one of them is damage), nil when there are none.
func (r *CheckReport) Err() error {
	errs := make([]error, len(r.Findings))
	for i, f := range r.Findings {
		errs[i] = f
	}
	return errors.Join(errs...)
}

// Check checks the store's invariants, as bbolt's tx.Check checks a
// database, and returns every broken one as a *Finding:
//
//   - CURRENT parses and names a snapshot that exists (FindCurrent);
//   - that snapshot verifies: its files and their checksums against its
//     manifest (FindDamaged, see Verify), and its content agrees with the
//     manifest (FindContent, when opts.Content is set);
//   - along CURRENT's lineage (parent by parent while the snapshots are on
//     disk: GC ends it) numbers fall (FindLineage) and no job is applied
//     twice (FindAppliedTwice);
//   - every entry of the history log (history/<seq>/) has a manifest that
//     parses and agrees with snapshots/, and every job file it lists, intact
//     (FindHistory, see checkHistory);
//   - with opts.History, every point of the history window is a snapshot
//     or a history entry (FindLost, see LostPoints);
//   - with no writer at work (opts.Idle): nothing newer than CURRENT was
//     published (FindCurrent; a provable crash leftover, which the next
//     writer removes, is not reported, see Survey), no job in queue/new was
//     applied (FindQueuedApplied), and staging/ is empty (FindStaging).
//
// It reads every byte of CURRENT's snapshot and changes nothing. The error
// is for a check that could not run (a directory that cannot be read);
// what it found is in the report.
func (s *Store) Check(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	r := &CheckReport{}
	cur, err := s.Current()
	var ce *CurrentError
	switch {
	case errors.As(err, &ce):
		r.Findings = append(r.Findings, &Finding{Kind: FindCurrent, Err: err})
	case err != nil:
		return r, fmt.Errorf("store check: %w", err)
	case cur != 0:
		r.Current = cur
		if err := s.checkCurrent(ctx, r, opts); err != nil {
			return r, err
		}
	}
	if err := s.checkHistory(r); err != nil {
		return r, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	lost, err := s.LostPoints(opts.History, now)
	if err != nil {
		return r, fmt.Errorf("store check: %w", err)
	}
	for _, seq := range lost {
		r.Findings = append(r.Findings, &Finding{Kind: FindLost, Seq: seq, Hint: lostHint(seq)})
	}
	if opts.Idle == nil {
		return r, nil
	}
	release, err := opts.Idle()
	if err != nil {
		return r, nil // a writer is at work (or may be): those checks are skipped
	}
	defer release()
	r.Idle = true
	if err := s.checkIdle(r); err != nil {
		return r, fmt.Errorf("store check: %w", err)
	}
	return r, nil
}

// checkCurrent checks that CURRENT's snapshot r.Current exists and
// verifies, and walks its lineage.
func (s *Store) checkCurrent(ctx context.Context, r *CheckReport, opts CheckOptions) error {
	if _, err := os.Stat(s.SnapshotDir(r.Current)); errors.Is(err, os.ErrNotExist) {
		e := &CurrentError{Path: s.Path(CurrentFile), Current: r.Current, Err: ErrCurrentMissing, Hint: repairHint, Reading: true}
		r.Findings = append(r.Findings, &Finding{Kind: FindCurrent, Seq: r.Current, Err: e})
		return nil
	}
	problems := s.Verify(r.Current)
	for _, p := range problems {
		hint := DamagedHint
		if errors.Is(p, ErrNewerFormat) {
			hint = "" // not damage: its message says to upgrade memsnap
		}
		r.Findings = append(r.Findings, &Finding{Kind: FindDamaged, Seq: r.Current, Err: p, Hint: hint})
	}
	if len(problems) > 0 {
		return nil // its manifest and jobs cannot be trusted
	}
	if opts.Content != nil {
		m, err := s.Manifest(r.Current)
		if err != nil {
			return fmt.Errorf("store check: %w", err)
		}
		switch err := opts.Content(ctx, s, m); {
		case errors.Is(err, ErrCorrupt):
			r.Findings = append(r.Findings, &Finding{Kind: FindContent, Seq: r.Current, Err: err, Hint: DamagedHint})
		case err != nil:
			return fmt.Errorf("store check: content of snapshot %d: %w", r.Current, err)
		}
	}
	return s.checkLineage(r)
}

// DamagedHint is what to do about damage to CURRENT's snapshot: the Hint
// of its FindDamaged and FindContent findings.
const DamagedHint = "run '" + RepairCommand + "': it goes back to the newest snapshot that verifies and queues the jobs applied after it again; " +
	"or restore the store from a replica location"

// DamagedOlderHint is what to do about damage to snapshot seq, older than
// CURRENT: the Hint of its FindDamaged finding.
func DamagedOlderHint(seq uint64) string {
	return fmt.Sprintf("CURRENT is sound and reads and commits go on; the points of history that need snapshot %d cannot be read or restored "+
		"until snapshots/%s is copied back from a backup or a replica location", seq, FormatSeq(seq))
}

// checkLineage walks CURRENT's lineage from r.Current, parent by parent,
// recording it in r.Lineage, and reports a job applied by two of its
// snapshots. The walk ends at the first snapshot GC collected.
func (s *Store) checkLineage(r *CheckReport) error {
	applied := map[string]uint64{} // job id -> the snapshot that applied it
	for seq := r.Current; seq != 0; {
		m, err := s.Manifest(seq)
		if errors.Is(err, os.ErrNotExist) {
			break // collected by GC: the lineage known here ends
		}
		if err != nil { // CURRENT's own manifest verified: an ancestor's
			r.Findings = append(r.Findings, &Finding{Kind: FindDamaged, Seq: seq, Err: err, Hint: DamagedOlderHint(seq)})
			break
		}
		r.Lineage = append(r.Lineage, seq)
		names, err := os.ReadDir(filepath.Join(s.SnapshotDir(seq), JobsDir))
		if err != nil && !errors.Is(err, os.ErrNotExist) { // a snapshot without jobs/ applied none
			return fmt.Errorf("store check: jobs of snapshot %d: %w", seq, err)
		}
		for _, n := range names {
			c, ok := queue.ParseClaimedName(n.Name())
			if !ok {
				continue // Verify saw the file; its name holds no job id
			}
			if newer, dup := applied[c.ID]; dup {
				r.Findings = append(r.Findings, &Finding{Kind: FindAppliedTwice, Seq: newer, Other: seq, Job: c.ID})
				continue
			}
			applied[c.ID] = seq
		}
		if m.Parent >= seq {
			r.Findings = append(r.Findings, &Finding{Kind: FindLineage, Seq: seq, Other: m.Parent})
			break
		}
		seq = m.Parent
	}
	return nil
}

// checkIdle runs the checks that hold only with no writer at work.
func (s *Store) checkIdle(r *CheckReport) error {
	if !slices.ContainsFunc(r.Findings, func(f *Finding) bool { return f.Kind == FindCurrent }) {
		sv, err := s.Survey()
		if err != nil {
			return err
		}
		if len(sv.Published) > 0 {
			e := &CurrentError{Path: s.Path(CurrentFile), Current: sv.Current, Newer: sv.Published, Err: ErrCurrentBehind, Hint: repairHint, Reading: true}
			if sv.Current == 0 {
				e.Err = ErrCurrentMissing
			}
			r.Findings = append(r.Findings, &Finding{Kind: FindCurrent, Seq: sv.Current, Err: e})
		}
	}
	if err := s.checkQueued(r); err != nil {
		return err
	}
	if err := s.checkQueuedDamage(r); err != nil {
		return err
	}
	left, err := os.ReadDir(s.Path("staging"))
	if err != nil {
		return fmt.Errorf("read staging/: %w", err)
	}
	if len(left) > 0 {
		names := make([]string, len(left))
		for i, e := range left {
			names[i] = e.Name()
		}
		r.Findings = append(r.Findings, &Finding{Kind: FindStaging, Entries: names,
			Hint: "a writer that crashed left it; the next commit wipes it"})
	}
	return nil
}

// checkQueued reports the jobs of queue/new that a snapshot of r.Lineage
// applied, each once.
func (s *Store) checkQueued(r *CheckReport) error {
	if len(r.Lineage) == 0 {
		return nil
	}
	queued, err := os.ReadDir(s.Queue().NewDir())
	if err != nil {
		return fmt.Errorf("read queue/new: %w", err)
	}
	waiting := map[string]bool{}
	for _, n := range queued {
		if id, ok := strings.CutSuffix(n.Name(), queue.Ext); ok {
			waiting[id] = true
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	for _, seq := range r.Lineage {
		names, _ := os.ReadDir(filepath.Join(s.SnapshotDir(seq), JobsDir)) // read by checkLineage just before
		for _, n := range names {
			if c, ok := queue.ParseClaimedName(n.Name()); ok && waiting[c.ID] {
				r.Findings = append(r.Findings, &Finding{Kind: FindQueuedApplied, Seq: seq, Job: c.ID,
					Hint: "an interrupted rollback leaves such jobs; the next commit skips it, its outcome being recorded"})
				delete(waiting, c.ID) // once, naming the newest snapshot that applied it
			}
		}
	}
	return nil
}

// checkQueuedDamage reports the job files of queue/new and queue/cur that
// are not well-formed JSON (queue.Damaged), each once.
func (s *Store) checkQueuedDamage(r *CheckReport) error {
	q := s.Queue()
	ids, err := q.QueuedIDs()
	if err != nil {
		return err
	}
	claimed, err := q.Claimed()
	if err != nil {
		return err
	}
	paths := make(map[string]string, len(ids)+len(claimed)) // path -> job id
	for _, id := range ids {
		paths[q.NewPath(id)] = id
	}
	for _, c := range claimed {
		paths[q.Path(c)] = c.ID
	}
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		data, err := queue.ReadJobFile(path, maxCheckedJobBytes)
		if err != nil {
			continue // gone, or not a job file the writer reads: it dead-letters that itself
		}
		if derr := queue.Damaged(path, data); derr != nil {
			r.Findings = append(r.Findings, &Finding{Kind: FindQueuedDamaged, Job: paths[path], Err: derr,
				Hint: "its job cannot be applied: the next commit dead-letters it; enqueue the job again"})
		}
	}
	return nil
}

// maxCheckedJobBytes bounds the job files checkQueuedDamage reads: past
// any job.max_bytes (whose default is 1 MiB), the writer refuses it unread.
const maxCheckedJobBytes = 1 << 30
