package snapshot

import "errors"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strconv"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/fsutil"

// The history log
//
// history/<seq>/ holds what a thinned snapshot leaves behind for the
// history window (see Retain): its MANIFEST.json, byte for byte, and its
// jobs/ (hard links to the same job files, so keeping them costs no copy).
// GC writes it while it holds the snapshot's PIN exclusively, before it
// moves the snapshot to trash, and removes it once the snapshot is older
// than the window's base (RetainDecision.HistoryAfter). A point of
// history — the content of snapshot seq, whether kept in full or thinned —
// is its parent's content plus its own jobs (PlanPoint).

// HistoryDir is the directory of the history log under the store;
// ViewsDir, under it, holds points of history rebuilt for reading (each a
// store of its own, removed by the command that made it, or, when that
// command was killed, by the next --at read or GC a minute later; see
// NewHeldDir).
const (
	HistoryDir = "history"
	ViewsDir   = "views"
)

// viewMaxAge is the age after which GC removes a rebuilt point made by a
// build that did not hold its views (no lock file beside it).
const viewMaxAge = time.Hour

// ErrNoPoint is returned when a point of history is outside what the store
// keeps: older than the history window, or a seq never published.
var ErrNoPoint = errors.New("snapshot: point not in history")

// historyDir is the directory of snapshot seq's history entry.
func (s *Store) historyDir(seq uint64) string {
	return s.Path(HistoryDir, FormatSeq(seq))
}

// HistoryFile is the path of file rel (a manifest's slash path, or
// ManifestFile) of snapshot seq's history entry.
func (s *Store) HistoryFile(seq uint64, rel string) string {
	return filepath.Join(s.historyDir(seq), filepath.FromSlash(rel))
}

// HistorySeqs lists the seqs of the history log's entries, ascending; none
// when the store has no history/.
func (s *Store) HistorySeqs() ([]uint64, error) {
	ents, err := os.ReadDir(s.Path(HistoryDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	return seqDirs(ents), nil
}

// saveHistory writes snapshot seq's history entry (its manifest and its
// job files, hard-linked) unless there is one: in a temporary directory,
// fsynced, then renamed into place. Caller holds the writer lock and the
// snapshot's PIN exclusively.
func (s *Store) saveHistory(seq uint64) (err error) {
	final := s.historyDir(seq)
	if fsutil.Exists(final) {
		return nil
	}
	if err := os.MkdirAll(s.Path(HistoryDir), fsutil.DirPerm); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	tmp := final + ".tmp"
	if err := fsutil.RemoveAll(tmp); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	defer func() {
		if err != nil {
			_ = fsutil.RemoveAll(tmp)
		}
	}()
	src := s.SnapshotDir(seq)
	b, err := os.ReadFile(filepath.Join(src, ManifestFile))
	if err != nil {
		return fmt.Errorf("history: snapshot %d: %w", seq, err)
	}
	if err := fsutil.Mkdir(tmp); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	jobs, err := os.ReadDir(filepath.Join(src, JobsDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("history: snapshot %d: %w", seq, err)
	}
	if len(jobs) > 0 {
		if err := fsutil.Mkdir(filepath.Join(tmp, JobsDir)); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		for _, j := range jobs {
			if err := fsutil.Link(filepath.Join(src, JobsDir, j.Name()), filepath.Join(tmp, JobsDir, j.Name())); err != nil {
				return fmt.Errorf("history: snapshot %d: %w", seq, err)
			}
		}
		if err := fsutil.SyncDir(filepath.Join(tmp, JobsDir)); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(tmp, ManifestFile), b); err != nil {
		return fmt.Errorf("history: snapshot %d: %w", seq, err)
	}
	if err := fsutil.Rename(tmp, final); err != nil {
		return fmt.Errorf("history: snapshot %d: %w", seq, err)
	}
	if err := fsutil.SyncDir(s.Path(HistoryDir)); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// pruneHistory removes the history entries numbered at or below upTo, and
// leftovers of interrupted saves. An entry that cannot be removed now (a
// job file open on Windows) stays for a later pass; the first other
// failure is returned. Caller holds the writer lock.
func (s *Store) pruneHistory(upTo uint64) error {
	ents, err := os.ReadDir(s.Path(HistoryDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("prune history: %w", err)
	}
	var first error
	for _, e := range ents {
		seq, perr := strconv.ParseUint(e.Name(), 10, 64)
		if perr == nil && seq > upTo {
			continue
		}
		if perr != nil && !strings.HasSuffix(e.Name(), ".tmp") {
			continue // not ours
		}
		if err := fsutil.RemoveAll(s.Path(HistoryDir, e.Name())); err != nil && !errors.Is(err, fsutil.ErrBusy) && first == nil {
			first = fmt.Errorf("prune history: %w", err)
		}
	}
	return first
}

// PointManifest returns the manifest of point seq: the snapshot's own when
// it is kept in full (full true), else its history entry's. A seq with
// neither is ErrNoPoint.
func (s *Store) PointManifest(seq uint64) (m *Manifest, full bool, err error) {
	if fsutil.Exists(filepath.Join(s.SnapshotDir(seq), ManifestFile)) {
		m, err := s.Manifest(seq)
		return m, true, err
	}
	b, err := os.ReadFile(filepath.Join(s.historyDir(seq), ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, WithHint(fmt.Errorf("point %d: %w", seq, ErrNoPoint), "see 'memsnap snapshots list' and history.keep_for")
	}
	if err != nil {
		return nil, false, fmt.Errorf("read history of snapshot %d: %w", seq, err)
	}
	m, err = ParseManifest(b)
	if err != nil {
		return nil, false, fmt.Errorf("history of snapshot %d: %w", seq, err)
	}
	if m.Seq != seq {
		return nil, false, fmt.Errorf("history of snapshot %d: manifest names snapshot %d: %w", seq, m.Seq, ErrCorrupt)
	}
	return m, false, nil
}

// Point is one point of history: a snapshot, kept in full or thinned.
type Point struct {
	Seq       uint64    `json:"seq"`
	CreatedAt time.Time `json:"created_at"`
	// Full is true for a snapshot kept in full, false for one whose
	// manifest and jobs alone are kept (history/).
	Full bool `json:"full"`
}

// Points lists every point of history the store holds, full snapshots and
// history entries, ascending by seq. Unreadable manifests are left out.
func (s *Store) Points() ([]Point, error) {
	seqs, err := s.Seqs()
	if err != nil {
		return nil, err
	}
	hist, err := s.HistorySeqs()
	if err != nil {
		return nil, err
	}
	all := append(slices.Clone(seqs), hist...)
	slices.Sort(all)
	all = slices.Compact(all)
	out := make([]Point, 0, len(all))
	for _, seq := range all {
		m, full, err := s.PointManifest(seq)
		if err != nil {
			continue
		}
		out = append(out, Point{Seq: seq, CreatedAt: m.CreatedAt, Full: full})
	}
	return out, nil
}

// PointAt returns the point that was CURRENT at time t: the newest one
// created at or before t (PointIn over Points). Before the oldest point it
// is ErrNoPoint.
func (s *Store) PointAt(t time.Time) (uint64, error) {
	pts, err := s.Points()
	if err != nil {
		return 0, err
	}
	return PointIn(pts, t)
}

// PointIn returns the point of pts (any order) that was CURRENT at time t:
// the newest one (highest seq) created at or before t. Before the oldest
// it is ErrNoPoint. A store's history (PointAt) and a replica location's
// share it.
func PointIn(pts []Point, t time.Time) (uint64, error) {
	var seq uint64
	for _, p := range pts {
		if !p.CreatedAt.After(t) && p.Seq > seq {
			seq = p.Seq
		}
	}
	if seq == 0 {
		if len(pts) == 0 {
			return 0, fmt.Errorf("no snapshot at %s: %w (nothing is published yet)", t.UTC().Format(time.RFC3339), ErrNoPoint)
		}
		oldest := pts[0]
		for _, p := range pts[1:] {
			if p.CreatedAt.Before(oldest.CreatedAt) {
				oldest = p
			}
		}
		return 0, fmt.Errorf("no snapshot at %s: %w (the oldest point kept is snapshot %d, published at %s: history reaches back no further)",
			t.UTC().Format(time.RFC3339), ErrNoPoint, oldest.Seq, oldest.CreatedAt.UTC().Format(time.RFC3339))
	}
	return seq, nil
}

// PointPlan is how to rebuild a point of history: the content of snapshot
// Base (kept in full) plus Jobs applied in order.
type PointPlan struct {
	// Target is the point's manifest (its counts and content digest are
	// what the rebuilt content must have).
	Target *Manifest
	// Base is the snapshot kept in full the point is rebuilt from; it is
	// Target.Seq when the point is kept in full.
	Base uint64
	// Jobs are the archived jobs of every point after Base up to Target,
	// oldest first, each with its checksum: check what is read against it.
	Jobs []ReplayJob
	// Chain is the points from Target back to Base, newest first.
	Chain []uint64
}

// PlanPoint finds how to rebuild point seq: it walks the parents from seq
// back to the first snapshot kept in full, gathering each point's archived
// jobs. A point outside the history, or a walk that meets a point missing
// its jobs, is ErrNoPoint. Snapshots can be collected after it returns:
// the caller pins Base and expects the job files may go.
func (s *Store) PlanPoint(seq uint64) (*PointPlan, error) {
	target, full, err := s.PointManifest(seq)
	if err != nil {
		return nil, err
	}
	p := &PointPlan{Target: target, Base: seq, Chain: []uint64{seq}}
	var batches [][]ReplayJob
	for m := target; !full; {
		if !hasJobs(m) {
			return nil, fmt.Errorf("point %d: snapshot %d did not keep its jobs: %w", seq, m.Seq, ErrNoPoint)
		}
		batches = append(batches, s.PointJobs(m, false))
		if m.Parent == 0 || m.Parent >= m.Seq {
			return nil, fmt.Errorf("point %d: history ends at snapshot %d, before any snapshot kept in full: %w", seq, m.Seq, ErrNoPoint)
		}
		if m, full, err = s.PointManifest(m.Parent); err != nil {
			return nil, fmt.Errorf("point %d: %w", seq, err)
		}
		p.Base = m.Seq
		p.Chain = append(p.Chain, m.Seq)
	}
	for i := len(batches) - 1; i >= 0; i-- {
		p.Jobs = append(p.Jobs, batches[i]...)
	}
	return p, nil
}

// archivedIn lists the job files m's manifest lists, as they are under dir
// (the snapshot's directory or its history entry), in claim order.
func archivedIn(m *Manifest, dir string) []ReplayJob {
	var out []ReplayJob
	for _, f := range m.Files {
		if name, ok := strings.CutPrefix(f.Path, JobsDir+"/"); ok {
			out = append(out, ReplayJob{Snapshot: m.Seq, Path: filepath.Join(dir, JobsDir, name), Name: name, Sum: f})
		}
	}
	slices.SortFunc(out, func(a, b ReplayJob) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// PointJobs lists the archived jobs of point m (full: kept in full, as
// PointManifest says), in claim order.
func (s *Store) PointJobs(m *Manifest, full bool) []ReplayJob {
	if full {
		return archivedIn(m, s.SnapshotDir(m.Seq))
	}
	return archivedIn(m, s.historyDir(m.Seq))
}

// pruneViews removes the rebuilt points under history/views/ that no
// process holds and older than LeftoverAge (their command was killed or cut
// short before it removed them; see NewHeldDir); one made by an older
// build, with no lock file, once older than viewMaxAge. It returns how many
// it removed.
func (s *Store) pruneViews(now time.Time) int {
	return PruneHeldDirs(s.Path(HistoryDir, ViewsDir), viewPrefix, now, viewMaxAge)
}

// viewPrefix starts the name of a rebuilt point's directory.
const viewPrefix = "view-"

// LeftoverViews lists the rebuilt points under history/views/ that the
// next --at read or GC removes (pruneViews).
func (s *Store) LeftoverViews(now time.Time) ([]string, error) {
	return Leftovers(s.Path(HistoryDir, ViewsDir), viewPrefix, now, viewMaxAge)
}

// ParsePoint resolves SEQ|TIME, as --at, the MCP reads' at and 'snapshots
// restore' take it, to a point of the store's history (ParsePointWith
// over PointAt).
func (s *Store) ParsePoint(at string, now time.Time) (uint64, error) {
	return ParsePointWith(at, now, s.PointAt)
}

// ParsePointWith resolves SEQ|TIME to a point of history: a decimal seq as
// it is; an RFC 3339 time, or a negative duration from now (-10m, -2h30m),
// to the point pointAt says CURRENT named then. A value of neither form is
// ErrBadPoint.
func ParsePointWith(at string, now time.Time, pointAt func(time.Time) (uint64, error)) (uint64, error) {
	if seq, err := strconv.ParseUint(at, 10, 64); err == nil && seq > 0 {
		return seq, nil
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if strings.HasPrefix(at, "-") {
		var d time.Duration
		d, err = time.ParseDuration(at)
		t = now.Add(d)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a snapshot number, an RFC 3339 time or a duration ago such as -10m", ErrBadPoint, at)
	}
	return pointAt(t)
}

// ErrBadPoint is returned by ParsePoint for a value that names no point.
var ErrBadPoint = errors.New("snapshot: bad point of history")

// NewViewDir makes a new, empty directory for a point of history rebuilt
// for reading, held (NewHeldDir) until release: under history/views/ (see
// ViewsDir), or under the system's temporary directory when the store
// cannot be written. It first removes the leftovers of reads killed or cut
// short there (pruneViews).
func (s *Store) NewViewDir() (dir string, release func(), err error) {
	s.pruneViews(time.Now())
	if dir, release, err := NewHeldDir(s.Path(HistoryDir, ViewsDir), viewPrefix); err == nil {
		return dir, release, nil
	}
	dir, err = os.MkdirTemp("", "memsnap-view-")
	if err != nil {
		return "", nil, fmt.Errorf("history view: %w", err)
	}
	return dir, func() {}, nil
}

// AdoptHistory installs as history/<m.Seq>/ the history entry assembled in
// dir (a directory under staging/, see StagingPath): its job files under
// dir/jobs/, as manifest (the exact bytes; m is manifest parsed) lists
// them. A replica location's history comes down this way, so that a
// point of it can be rebuilt here (PlanPoint, writer.BuildView). Every job
// file is checked against the manifest first (CheckHistoryEntry): a
// damaged one is refused, an error matching ErrCorrupt. An entry or a
// snapshot kept in full of that seq already there is refused. Caller holds
// the writer lock.
func (s *Store) AdoptHistory(dir string, manifest []byte, m *Manifest) error {
	parsed, err := ParseManifest(manifest)
	if err != nil || parsed.Seq != m.Seq {
		return fmt.Errorf("adopt history of snapshot %d: the manifest's bytes do not parse to it: %v", m.Seq, err)
	}
	final := s.historyDir(m.Seq)
	if fsutil.Exists(final) || fsutil.Exists(s.SnapshotDir(m.Seq)) {
		return fmt.Errorf("adopt history of snapshot %d: the store holds it already", m.Seq)
	}
	if problems := CheckHistoryEntry(dir, parsed); len(problems) > 0 {
		return fmt.Errorf("adopt: %w", errors.Join(problems...))
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, ManifestFile), manifest); err != nil {
		return fmt.Errorf("adopt history of snapshot %d: %w", m.Seq, err)
	}
	if fsutil.Exists(filepath.Join(dir, JobsDir)) {
		if err := fsutil.SyncDir(filepath.Join(dir, JobsDir)); err != nil {
			return fmt.Errorf("adopt history of snapshot %d: %w", m.Seq, err)
		}
	}
	if err := os.MkdirAll(s.Path(HistoryDir), fsutil.DirPerm); err != nil {
		return fmt.Errorf("adopt history of snapshot %d: %w", m.Seq, err)
	}
	if err := fsutil.Rename(dir, final); err != nil {
		return fmt.Errorf("adopt history of snapshot %d: %w", m.Seq, err)
	}
	return fsutil.SyncDir(s.Path(HistoryDir))
}
