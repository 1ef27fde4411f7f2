package snapshot

import "context"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/failpoint"
import "github.com/memsnap/memsnap/internal/fsutil"

// Stage is the next snapshot under construction in staging/. It starts as a
// copy of its parent (or empty for the first snapshot); the writer opens its
// graph and kv read-write, applies a batch, closes them and calls Publish.
type Stage struct {
	store  *Store
	dir    string
	parent *Manifest // nil for the first snapshot
	seq    uint64
	cur    uint64 // CURRENT when staging began: Publish requires it unchanged
	from   uint64 // the snapshot whose files the stage starts from: CURRENT, or a rollback's target
	src    *Store // the store holding from; nil: this one
	// rollback: the stage holds an older snapshot's content and replaces
	// whatever CURRENT names (even an unreadable one).
	rollback bool
	source   StageSource
}

// StageOptions says how NewStageWith may make the stage's graph.
type StageOptions struct {
	// Keep and MinAge are GC's retention (gc.keep, gc.min_age). A snapshot
	// that GC would collect once the stage is published — not CURRENT, not
	// among the newest Keep counting the stage itself, not younger than
	// MinAge, not pinned — and that is an ancestor of CURRENT may have its
	// graph recycled. Keep < 2 leaves nothing to recycle: the snapshots
	// kept are CURRENT and the stage. With History, a snapshot Retain keeps
	// for the history window is not recycled either, and one inside the
	// window leaves its history entry first, as GC would.
	Keep    int
	MinAge  time.Duration
	History History
	// NoRecycle makes the stage by reflink or copy only.
	NoRecycle bool
	// RecycleMinBytes: a CURRENT graph smaller than this is copied, not
	// recycled. Replaying the batches a recycled graph missed costs a
	// checkpoint per batch, which on a small graph costs about what copying
	// it does; what recycling saves is the bytes a copy writes, which
	// matter once the graph is large.
	RecycleMinBytes int64
	// Verifier, if set, checks a graph about to be recycled, reading only
	// what it cannot trust from an earlier check (see Verifier); nil reads
	// the whole graph.
	Verifier *Verifier
}

// How a stage's graph was made (StageSource.Method).
const (
	StagedEmpty    = "empty"    // the first snapshot: a new database
	StagedCopy     = "copy"     // every byte of CURRENT's graph copied
	StagedReflink  = "reflink"  // CURRENT's graph cloned (FICLONE): no data written
	StagedRecycled = "recycled" // an unneeded older snapshot's graph, to be replayed up to CURRENT
)

// StageSource says how a stage's graph was made.
type StageSource struct {
	Method string `json:"method"`
	// Recycled is the snapshot whose graph was taken (StagedRecycled).
	Recycled uint64 `json:"recycled,omitempty"`
	// Replayed counts the jobs of Replay.
	Replayed int `json:"replayed,omitempty"`
	// Fallback says why the graph was copied after a cheaper way was
	// tried (a recycled graph whose replay failed).
	Fallback string `json:"fallback,omitempty"`
	// Replay is, for a recycled graph, the accepted jobs of every snapshot
	// after Recycled up to CURRENT, one batch per snapshot, oldest first,
	// each in claim order. Applying them in order gives CURRENT's graph.
	Replay [][]ReplayJob `json:"-"`
	// RecycledManifest is, for a recycled graph, the manifest of snapshot
	// Recycled as read before it was unpublished: its content digest plus
	// what the replayed jobs change is CURRENT's.
	RecycledManifest *Manifest `json:"-"`
}

// ReplayJob is an archived job file of a published snapshot (its jobs/),
// with the checksum its manifest lists: check the bytes read against it.
type ReplayJob struct {
	Snapshot uint64
	Path     string // absolute path of the file in the snapshot's jobs/
	Name     string // <claim seq>-<id>.job
	Sum      FileSum
}

// NewStage is NewStageWith without recycling: the graph is CURRENT's,
// reflinked or copied.
func (s *Store) NewStage(ctx context.Context) (*Stage, error) {
	return s.NewStageWith(ctx, StageOptions{NoRecycle: true})
}

// NewStageWith wipes staging/ and builds the next snapshot's starting point
// from CURRENT: graph.kuzu is reflinked where the filesystem supports it,
// else taken from a recyclable older snapshot (see StageOptions; the
// caller replays Source().Replay onto it, or calls CopyGraph if that
// fails), else copied. Pebble's immutable sstables are hard-linked and its
// small files copied. Caller holds the writer lock.
func (s *Store) NewStageWith(ctx context.Context, opts StageOptions) (st *Stage, err error) {
	if err := s.WipeStaging(); err != nil {
		return nil, err
	}
	cur, err := s.Current()
	if err != nil {
		return nil, err
	}
	dir := s.Path("staging", "next")
	if err := fsutil.Mkdir(dir); err != nil {
		return nil, fmt.Errorf("create staging: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	seq, err := s.nextSeq(cur)
	if err != nil {
		return nil, err
	}
	st = &Stage{store: s, dir: dir, seq: seq, cur: cur, from: cur, source: StageSource{Method: StagedEmpty}}
	if cur == 0 {
		if err := fsutil.Mkdir(filepath.Join(dir, KVDir)); err != nil {
			return nil, fmt.Errorf("create staging kv: %w", err)
		}
		return st, nil
	}
	m, err := s.Manifest(cur)
	if err != nil {
		return nil, fmt.Errorf("stage from CURRENT: %w", err)
	}
	st.parent = m
	if err := st.fill(ctx, opts); err != nil {
		return nil, err
	}
	return st, nil
}

// fill puts the graph and the key-value store of snapshot st.from into the
// stage.
func (st *Stage) fill(ctx context.Context, opts StageOptions) error {
	if err := st.stageGraph(ctx, opts); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return st.stageKV()
}

// NewRollbackStage stages a new snapshot holding snapshot seq's content
// (its graph cloned or copied, its key-value store shared), numbered after
// every snapshot there is, with seq as its parent: published, it replaces
// CURRENT, whatever CURRENT names (even an unreadable CURRENT), so that a
// rollback moves forward in numbers and never reuses one. The caller sets
// Manifest.RollbackOf and holds the writer lock.
func (s *Store) NewRollbackStage(ctx context.Context, seq uint64) (*Stage, error) {
	return s.NewPointStage(ctx, s, seq, 0)
}

// NewPointStage stages in s a new snapshot starting from snapshot base of
// store src (src may be s), to be brought to an older point of history by
// applying that point's jobs (see PlanPoint): its graph cloned or copied,
// its key-value store shared (hard links) or copied across stores, with
// base as its parent. seq 0 numbers it after every snapshot of s (a
// restore: published, it replaces CURRENT, whatever CURRENT names); else
// it is published as seq (a point rebuilt in a store of its own for
// reading). The caller pins base for as long as this runs, sets
// Manifest.RestoreOf when it restores, and holds s's writer lock or is
// the only user of s.
func (s *Store) NewPointStage(ctx context.Context, src *Store, base, seq uint64) (st *Stage, err error) {
	if err := s.WipeStaging(); err != nil {
		return nil, err
	}
	m, err := src.Manifest(base)
	if err != nil {
		return nil, fmt.Errorf("stage from snapshot %d: %w", base, err)
	}
	cur, _ := s.Current()
	if seq == 0 {
		if seq, err = s.nextSeq(max(cur, base)); err != nil {
			return nil, err
		}
	}
	dir := s.Path("staging", "next")
	if err := fsutil.Mkdir(dir); err != nil {
		return nil, fmt.Errorf("create staging: %w", err)
	}
	st = &Stage{store: s, dir: dir, seq: seq, cur: cur, from: base, src: src, rollback: true, parent: m}
	defer func() {
		if err != nil {
			st.Abort()
		}
	}()
	if err := st.fill(ctx, StageOptions{NoRecycle: true}); err != nil {
		return nil, err
	}
	return st, nil
}

// fromDir is the directory of the snapshot the stage starts from.
func (st *Stage) fromDir() string {
	if st.src != nil {
		return st.src.SnapshotDir(st.from)
	}
	return st.store.SnapshotDir(st.from)
}

// stageGraph puts the starting graph into the stage: a reflink of
// CURRENT's, else a recycled one, else a copy.
func (st *Stage) stageGraph(ctx context.Context, opts StageOptions) error {
	src := filepath.Join(st.fromDir(), GraphFile)
	err := fsutil.CloneFile(st.GraphPath(), src)
	if err == nil {
		st.source = StageSource{Method: StagedReflink}
		return nil
	}
	if !errors.Is(err, fsutil.ErrNoReflink) {
		return fmt.Errorf("stage graph: %w", err)
	}
	if info, err := os.Stat(src); err == nil && info.Size() < opts.RecycleMinBytes {
		return st.CopyGraph(fmt.Sprintf("the graph (%d MiB) is smaller than the least worth recycling (%d MiB)",
			info.Size()>>20, opts.RecycleMinBytes>>20))
	}
	if !opts.NoRecycle {
		ok, err := st.recycle(ctx, opts)
		if err != nil || ok {
			return err
		}
	}
	return st.CopyGraph(st.source.Fallback)
}

// CopyGraph replaces the stage's graph with a full copy of CURRENT's. The
// writer calls it when replaying a recycled graph failed; why says so and
// is reported in Source().Fallback. Caller holds the writer lock.
func (st *Stage) CopyGraph(why string) error {
	if err := removeGraph(st.GraphPath()); err != nil {
		return fmt.Errorf("stage graph: %w", err)
	}
	src := filepath.Join(st.fromDir(), GraphFile)
	// Kuzu's zero pages stay holes: each retained snapshot's copy takes
	// only the blocks that hold data (fsutil.CopyFileSparse).
	if err := fsutil.CopyFileSparse(st.GraphPath(), src); err != nil {
		return fmt.Errorf("stage graph: %w", err)
	}
	st.source = StageSource{Method: StagedCopy, Fallback: why}
	return nil
}

// removeGraph removes a staging graph and whatever Kuzu left beside it
// (graph.kuzu.wal, .shadow, .tmp).
func removeGraph(path string) error {
	matches, err := filepath.Glob(path + "*")
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := fsutil.RemoveAll(m); err != nil {
			return err
		}
	}
	return nil
}

// stageKV hard-links CURRENT's sstables into the stage and copies Pebble's
// small files.
func (st *Stage) stageKV() error {
	dir, src := st.dir, st.fromDir()
	if err := fsutil.Mkdir(filepath.Join(dir, KVDir)); err != nil {
		return fmt.Errorf("create staging kv: %w", err)
	}
	ents, err := os.ReadDir(filepath.Join(src, KVDir))
	if err != nil {
		return fmt.Errorf("stage kv: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		from, to := filepath.Join(src, KVDir, name), filepath.Join(dir, KVDir, name)
		switch {
		case name == "LOCK" || e.IsDir():
			continue
		case isSSTable(name):
			// sstables are immutable: share them.
			err := fsutil.Link(from, to)
			if err != nil && st.src != nil && st.src != st.store {
				err = fsutil.CopyFile(to, from) // another filesystem, perhaps
			}
			if err != nil {
				return fmt.Errorf("stage kv: link %s: %w", name, err)
			}
		default:
			if err := fsutil.CopyFile(to, from); err != nil {
				return fmt.Errorf("stage kv: %w", err)
			}
		}
	}
	return nil
}

// isSSTable reports whether the file named name (or a path to it) is one of
// Pebble's sstables.
func isSSTable(name string) bool { return strings.HasSuffix(name, ".sst") }

// Source says how the stage's graph was made.
func (st *Stage) Source() StageSource { return st.source }

// WipeStaging removes anything a dead writer left in staging/.
func (s *Store) WipeStaging() error {
	ents, err := os.ReadDir(s.Path("staging"))
	if err != nil {
		return fmt.Errorf("wipe staging: %w", err)
	}
	for _, e := range ents {
		if err := s.removeOrTrash(s.Path("staging", e.Name())); err != nil {
			return fmt.Errorf("wipe staging: %w", err)
		}
	}
	return nil
}

// Seq is the seq this stage will publish as.
func (st *Stage) Seq() uint64 { return st.seq }

// Parent is the manifest of the snapshot this stage was copied from, or nil.
func (st *Stage) Parent() *Manifest { return st.parent }

// GraphPath is the staging Kuzu file.
func (st *Stage) GraphPath() string { return filepath.Join(st.dir, GraphFile) }

// ArchiveJob hard-links a job file of the batch into the snapshot's jobs/
// directory (under name), so that a rollback past this snapshot can queue
// the job again. It costs no copy: the job file is already on this disk.
func (st *Stage) ArchiveJob(path, name string) error {
	dir := filepath.Join(st.dir, JobsDir)
	if !fsutil.Exists(dir) {
		if err := fsutil.Mkdir(dir); err != nil {
			return fmt.Errorf("stage: archive jobs: %w", err)
		}
	}
	if err := fsutil.Link(path, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("stage: archive job: %w", err)
	}
	return nil
}

// KVPath is the staging Pebble directory.
func (st *Stage) KVPath() string { return filepath.Join(st.dir, KVDir) }

// Abort removes the stage. It is safe to call after Publish (it does nothing).
func (st *Stage) Abort() {
	if st.dir != "" {
		_ = os.RemoveAll(st.dir)
	}
}

// Publish turns the stage into snapshots/<seq> and points CURRENT at it:
// it checks the graph has no WAL left, fsyncs every file, writes the manifest
// with checksums, renames the directory into place, fsyncs snapshots/, then
// replaces CURRENT (temp, fsync, rename, fsync). m supplies the batch fields;
// Publish fills seq, parent, times, files and watermark defaults. The graph
// and kv must be closed. Caller holds the writer lock.
func (st *Stage) Publish(m Manifest) (err error) {
	if fsutil.Exists(st.GraphPath() + ".wal") {
		return errors.New("publish: graph still has a WAL (checkpoint and close it first)")
	}
	if !fsutil.Exists(st.GraphPath()) {
		return errors.New("publish: staging has no graph file")
	}
	cur, err := st.store.Current()
	if err != nil && !st.rollback {
		return err
	}
	if cur != st.cur && !st.rollback {
		return fmt.Errorf("publish: CURRENT moved from %d to %d while staging %d (another writer without the lock?)", st.cur, cur, st.seq)
	}
	m.FormatVersion = FormatVersion
	m.ChunkSize = ChunkSize
	m.MemsnapVersion = Version
	m.Seq = st.seq
	m.CreatedAt = time.Now().UTC()
	if st.parent != nil {
		m.Parent = st.parent.Seq
		if m.Watermark < st.parent.Watermark {
			return fmt.Errorf("publish: watermark %d is behind parent's %d", m.Watermark, st.parent.Watermark)
		}
	}
	if m.Files, err = st.syncAndSum(); err != nil {
		return err
	}
	b, err := encodeManifest(&m)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(st.dir, ManifestFile), b); err != nil {
		return fmt.Errorf("publish: write manifest: %w", err)
	}
	pin, err := fsutil.CreateExcl(filepath.Join(st.dir, PinFile))
	if err != nil {
		return fmt.Errorf("publish: create pin: %w", err)
	}
	pin.Close()
	for _, d := range []string{filepath.Join(st.dir, KVDir), filepath.Join(st.dir, JobsDir), st.dir} {
		if !fsutil.Exists(d) {
			continue
		}
		if err := fsutil.SyncDir(d); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	final := st.store.SnapshotDir(st.seq)
	if err := fsutil.Rename(st.dir, final); err != nil {
		return fmt.Errorf("publish: rename staging to %s: %w", final, err)
	}
	st.dir = final
	if err := fsutil.SyncDir(st.store.Path("snapshots")); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := fsutil.SyncDir(st.store.Path("staging")); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	failpoint.Hit("after-snapshot-rename")
	if err := st.store.writeCurrent(st.seq); err != nil {
		if cur, cerr := st.store.Current(); cerr == nil && cur == st.seq {
			// The rename landed and only the directory fsync failed: CURRENT
			// names this snapshot and readers may already use it, so it must
			// stay. Its jobs stay in queue/cur until a writer sees them
			// covered, so nothing is lost whichever CURRENT survives a crash.
			st.dir = ""
			return fmt.Errorf("publish: snapshot %d is current, but %w", st.seq, err)
		}
		return fmt.Errorf("publish: %w (CURRENT still names %d)", err, cur)
	}
	failpoint.Hit("after-current")
	st.dir = "" // published: Abort must not touch it
	return nil
}

// syncAndSum makes every file of the stage 0600, fsyncs it and checksums
// it (reusing the parent's checksum for a file shared with it), in the
// manifest's file order.
func (st *Stage) syncAndSum() ([]FileSum, error) {
	files, err := walkFiles(st.dir)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	var parentSums map[string]FileSum
	if st.parent != nil {
		parentSums = make(map[string]FileSum, len(st.parent.Files))
		for _, f := range st.parent.Files {
			parentSums[f.Path] = f
		}
	}
	sums := make([]FileSum, 0, len(files))
	for _, rel := range files {
		p := filepath.Join(st.dir, filepath.FromSlash(rel))
		if err := os.Chmod(p, fsutil.FilePerm); err != nil { // Kuzu and Pebble create 0644
			return nil, fmt.Errorf("publish: %w", err)
		}
		if err := fsutil.SyncFile(p); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		if sum, ok := st.sharedWithParent(rel, p, parentSums); ok {
			sums = append(sums, sum)
			continue
		}
		sum, err := checksumFile(p, ChunkSize)
		if err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		sum.Path = rel
		sums = append(sums, sum)
		if len(sum.Chunks) > 0 {
			failpoint.Hit("mid-chunk-sums")
		}
	}
	return sums, nil
}

// sharedWithParent returns the parent's checksum for a file that is the very
// same inode as the parent's (a hard-linked sstable), sparing a re-read.
func (st *Stage) sharedWithParent(rel, path string, parentSums map[string]FileSum) (FileSum, bool) {
	sum, ok := parentSums[rel]
	if !ok {
		return FileSum{}, false
	}
	a, err1 := os.Stat(path)
	b, err2 := os.Stat(filepath.Join(st.store.SnapshotDir(st.parent.Seq), filepath.FromSlash(rel)))
	if err1 != nil || err2 != nil || !os.SameFile(a, b) || a.Size() != sum.Size {
		return FileSum{}, false
	}
	if sum.chunkSize() != ChunkSize && sum.Size > min(sum.chunkSize(), ChunkSize) {
		return FileSum{}, false // the parent's chunks are of another size
	}
	sum.chunk = ChunkSize
	return sum, true
}
