package replica

import "context"
import "crypto/sha256"
import "encoding/hex"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "path/filepath"
import "slices"
import "strconv"
import "strings"
import "sync"
import "time"

import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/steptimer"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// stateDir, in the cache store's directory, holds the remote manifest of
// each snapshot the cache holds, as <seq>.json: which local chunk holds
// which content, so that a sync downloads only what changed and rewrites
// only the chunks of a recycled graph that differ.
const stateDir = "replica"

// fetchTries is how many times an object that comes down damaged (its
// SHA-256 or the manifest's CRC-32C does not match) is fetched in all.
const fetchTries = 3

// SyncOptions tunes a Syncer.
type SyncOptions struct {
	// Parallel is how many objects come down at once. 0: 8.
	Parallel int
	// Keep is how many snapshots the cache keeps (readers' pins keep
	// more). 0: 2.
	Keep int
	// LockTimeout bounds the wait for the cache store's writer lock,
	// which another process syncing the same cache may hold. 0: 1 min.
	LockTimeout time.Duration
}

// Syncer brings a remote location's CURRENT snapshot into a local store
// (the cache, or the directory restore fills), which the ordinary reader
// code then opens.
type Syncer struct {
	client *objstore.Client
	store  *snapshot.Store
	opts   SyncOptions
	log    *slog.Logger
	// verifier checks assembled snapshots, reading only the files it
	// cannot trust from its earlier checks: new and changed ones (of a
	// recycled graph, which the syncer rewrites itself, the chunks it
	// wrote; see Verifier.Rewrite).
	verifier *snapshot.Verifier
}

// SyncResult says what one Sync did.
type SyncResult struct {
	Seq     uint64 `json:"seq"`     // the local CURRENT afterwards
	Changed bool   `json:"changed"` // a newer snapshot was published locally
	// Fetched and Bytes count the objects that came down; Reused counts
	// chunks and files taken from the local snapshot instead.
	Fetched int   `json:"fetched"`
	Bytes   int64 `json:"bytes"`
	Reused  int   `json:"reused"`
	// Recycled is the cached snapshot whose graph the new one was
	// assembled in, rewriting only the chunks that differ; 0: none.
	Recycled uint64 `json:"recycled,omitempty"`
}

// NewSyncer returns a syncer of client's location into store.
func NewSyncer(client *objstore.Client, store *snapshot.Store, opts SyncOptions, log *slog.Logger) *Syncer {
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	if opts.Keep <= 0 {
		opts.Keep = 2
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Minute
	}
	return &Syncer{client: client, store: store, opts: opts, log: log.With("component", "replica", "from", client.Location().String()),
		verifier: snapshot.NewVerifier()}
}

// CacheDir is the cache store for loc under root (replica.cache_dir): one
// directory per remote location.
func CacheDir(root string, loc objstore.Location) string {
	h := sha256.Sum256([]byte(loc.String()))
	return filepath.Join(root, hex.EncodeToString(h[:8]))
}

// Sync publishes the remote CURRENT's snapshot locally when it is newer
// than the local CURRENT: it downloads only the chunks and files the local
// snapshots lack, checks each, assembles the snapshot under staging/ (in
// the graph of an older cached snapshot no reader pins, rewriting only the
// chunks that differ, when there is one) and adopts it
// (snapshot.Store.Adopt: checked, then published with the local CURRENT
// swap), then collects old local snapshots. On any error the local
// CURRENT is unchanged. ErrNothingRemote: the remote holds nothing.
// "sync steps (ms)" at debug level says where the time went.
func (s *Syncer) Sync(ctx context.Context) (res SyncResult, err error) {
	steps := steptimer.New()
	remote, remoteID, err := remoteHead(ctx, s.client)
	if err != nil {
		return res, err
	}
	if remote == 0 {
		return res, ErrNothingRemote
	}
	if err := s.checkStore(remoteID); err != nil {
		return res, err
	}
	if res.Seq, err = s.store.Current(); err != nil || res.Seq >= remote {
		if err == nil {
			s.dropForwarded(ctx, res.Seq, res.Seq)
		}
		return res, err
	}
	steps.Mark("current")
	lock, err := writer.AcquireLock(ctx, s.store, s.opts.LockTimeout)
	if err != nil {
		return res, fmt.Errorf("replica cache %s: %w", s.store.Dir(), err)
	}
	defer lock.Release()
	if res.Seq, err = s.store.Current(); err != nil || res.Seq >= remote {
		return res, err // another process sharing the cache got there first
	}
	prev := res.Seq
	steps.Mark("lock")
	rm, m, err := getManifest(ctx, s.client, remote)
	if key, bad := isBadManifest(err); bad {
		s.reportDamaged(ctx, key)
		return res, fmt.Errorf("%w: the writer's next 'memsnap replicate' repairs it", err)
	}
	if err != nil {
		return res, err
	}
	if rm.Store != remoteID {
		return res, fmt.Errorf("%s: snapshot %d's manifest was published by store %q, the remote CURRENT by store %q: two stores replicate into one prefix",
			s.client.Location(), remote, rm.Store, remoteID)
	}
	steps.Mark("manifest")
	// Saved first: a snapshot's saved remote manifest must describe it
	// from the moment it is published (a later sync recycles its graph by
	// it); one saved for a snapshot never published is pruned.
	if err := s.saveState(rm); err != nil {
		s.log.Warn("could not save the replica state: the next sync downloads everything", "error", err)
	}
	if err := s.fetch(ctx, rm, m, &res, steps, true); err != nil {
		if !errors.Is(err, errRecycled) {
			return res, err
		}
		// The recycled graph did not check out: assemble afresh.
		s.log.Warn("recycled graph failed its check: fetching the snapshot again without it", "seq", remote, "error", err)
		if err := s.fetch(ctx, rm, m, &res, steps, false); err != nil {
			return res, err
		}
	}
	res.Seq, res.Changed = remote, true
	if remoteID != "" {
		if _, err := s.store.AdoptID(remoteID); err != nil {
			return res, fmt.Errorf("replica: %w", err)
		}
	}
	s.dropForwarded(ctx, prev, remote)
	if _, err := s.store.GC(snapshot.GCOptions{Keep: s.opts.Keep}); err != nil {
		s.log.Warn("cache gc failed", "error", err)
	}
	s.pruneState()
	steps.Mark("gc")
	s.log.Debug("snapshot fetched", "seq", remote, "fetched", res.Fetched, "bytes", res.Bytes, "reused", res.Reused, "recycled", res.Recycled)
	s.log.Debug("sync steps (ms)", steps.Attrs()...)
	return res, nil
}

// errRecycled marks an adopt that failed with a recycled graph in the
// snapshot.
var errRecycled = errors.New("recycled graph")

// fetch assembles snapshot rm.Seq under staging/ and adopts it; recycle
// lets it start from an older cached snapshot's graph. A failed adopt of
// a recycled graph is returned wrapped with errRecycled. On error nothing
// is published and staging/ is cleaned.
func (s *Syncer) fetch(ctx context.Context, rm *RemoteManifest, m *snapshot.Manifest, res *SyncResult, steps *steptimer.Timer, recycle bool) (err error) {
	name := "replica-" + snapshot.FormatSeq(rm.Seq)
	_ = s.store.RemoveStaging(name)
	defer func() {
		if err != nil {
			_ = s.store.RemoveStaging(name)
		}
	}()
	recycled, err := s.assemble(ctx, s.store.StagingPath(name), rm, m, nil, res, steps, recycle)
	if err != nil {
		return fmt.Errorf("replica: fetch snapshot %d: %w", rm.Seq, err)
	}
	err = s.store.Adopt(s.store.StagingPath(name), rm.Manifest, m, s.verifier)
	steps.Mark("adopt")
	if err != nil && recycled != 0 {
		return fmt.Errorf("replica: %w of snapshot %d: %w", errRecycled, recycled, err)
	}
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	res.Recycled = recycled
	return nil
}

// dropForwarded drops the forwarded writes the local CURRENT holds, and,
// when some are waiting, those the remote points of history after prev up
// to cur applied, even if a restore among them undid them (see
// dropForwarded); a failure leaves them for the next Sync, except that
// the jobs of remote points it could not read are not looked for again
// (logged).
func (s *Syncer) dropForwarded(ctx context.Context, prev, cur uint64) {
	var applied map[string]bool
	if ids, err := s.store.Queue().ForwardedIDs(); err == nil && len(ids) > 0 && cur > prev {
		if applied, err = remoteJobIDs(ctx, s.client, prev, cur); err != nil {
			s.log.Warn("could not read the jobs of the new remote snapshots: forwarded writes a restore undid may stay visible", "error", err)
		}
	}
	if n, err := dropForwarded(ctx, s.store, applied); err != nil {
		s.log.Warn("could not drop the forwarded writes the snapshot holds: reads still apply them", "error", err)
	} else if n > 0 {
		s.log.Debug("forwarded writes arrived in a snapshot", "jobs", n)
	}
}

// checkStore refuses a remote location whose CURRENT was published by
// another store than the one the local store copies (its id; a store
// with none yet copies whatever is there).
func (s *Syncer) checkStore(remoteID string) error {
	local, err := s.store.ID()
	if err != nil || local == "" || remoteID == "" || local == remoteID {
		return err
	}
	return &OtherStoreError{Location: s.client.Location().String(), Remote: remoteID, Local: local, Cache: s.store.Dir()}
}

// statePath is where the remote manifest of cached snapshot seq is saved.
func (s *Syncer) statePath(seq uint64) string {
	return s.store.Path(stateDir, snapshot.FormatSeq(seq)+".json")
}

// saveState saves rm as the remote manifest of its snapshot.
func (s *Syncer) saveState(rm *RemoteManifest) error {
	b, err := json.Marshal(rm)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.store.Path(stateDir), fsutil.DirPerm); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.statePath(rm.Seq), b)
}

// loadState returns the saved remote manifest of cached snapshot seq and
// the snapshot manifest it carries, or nil when there is none or it does
// not check out.
func (s *Syncer) loadState(seq uint64) (*RemoteManifest, *snapshot.Manifest) {
	b, err := os.ReadFile(s.statePath(seq))
	if err != nil {
		return nil, nil
	}
	var rm RemoteManifest
	if json.Unmarshal(b, &rm) != nil || rm.Seq != seq {
		return nil, nil
	}
	m, err := rm.parsed()
	if err != nil {
		return nil, nil
	}
	return &rm, m
}

// pruneState removes the saved remote manifests of snapshots the cache no
// longer holds.
func (s *Syncer) pruneState() {
	ents, err := os.ReadDir(s.store.Path(stateDir))
	if err != nil {
		return
	}
	seqs, err := s.store.Seqs()
	if err != nil {
		return
	}
	for _, e := range ents {
		seq, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), ".json"), 10, 64)
		if err != nil || !slices.Contains(seqs, seq) {
			_ = os.Remove(s.store.Path(stateDir, e.Name()))
		}
	}
}

// localSource is content the local CURRENT holds: a file and, for a
// chunk, its offset and length.
type localSource struct {
	path string
	off  int64
	n    int64
}

// localSources maps the SHA-256 of every object the local CURRENT holds
// to where it is, from the saved remote manifest of that snapshot
// (stateDir); empty when there is none.
func (s *Syncer) localSources() map[string]localSource {
	out := map[string]localSource{}
	cur, err := s.store.Current()
	if err != nil || cur == 0 {
		return out
	}
	rm, m := s.loadState(cur)
	if rm == nil {
		return out
	}
	for i, f := range m.Files {
		path := s.store.SnapshotFile(cur, f.Path)
		if o := rm.Files[i].Object; o != "" {
			out[objectsPrefix+o] = localSource{path: path, n: f.Size}
		}
		for j, c := range rm.Files[i].Chunks {
			off := int64(j) * f.ChunkBytes()
			out[chunksPrefix+c] = localSource{path: path, off: off, n: min(f.ChunkBytes(), f.Size-off)}
		}
	}
	return out
}

// assemble writes every file of m (only those whose path want accepts,
// when want is not nil) into dir: each whole file and each chunk from the
// local snapshot when it holds the same content (checked), else
// downloaded (checked, fetched again up to fetchTries times). With
// recycle, the graph starts as that of an older cached snapshot (see
// recycleGraph), of which only the chunks that differ are written.
// recycled is the snapshot whose graph it took, 0 for none.
func (s *Syncer) assemble(ctx context.Context, dir string, rm *RemoteManifest, m *snapshot.Manifest, want func(path string) bool, res *SyncResult, steps *steptimer.Timer, recycle bool) (recycled uint64, err error) {
	local := s.localSources()
	if err := os.MkdirAll(dir, fsutil.DirPerm); err != nil {
		return 0, err
	}
	var old []string           // the recycled graph's chunks, by SHA-256
	var rewritten func(string) // tells the verifier the recycled graph's changes are ours
	if recycle {
		if recycled, old, rewritten, err = s.recycleGraph(dir, m); err != nil {
			return 0, err
		}
	}
	steps.Mark("sources")
	f := &fetcher{ctx: ctx, s: s, local: local, res: res, sem: make(chan struct{}, s.opts.Parallel)}
	for i, fs := range m.Files {
		if want != nil && !want(fs.Path) {
			continue
		}
		rf := rm.Files[i]
		reuse := old != nil && chunked(fs)
		out, err := f.create(filepath.Join(dir, filepath.FromSlash(fs.Path)), fs.Size, reuse)
		if err != nil {
			return recycled, errors.Join(err, f.close())
		}
		if rf.Object != "" {
			f.get(out, 0, objectsPrefix+rf.Object, func(b []byte) bool { return fs.Matches(b) })
			continue
		}
		for j, c := range rf.Chunks {
			if reuse && j < len(old) && old[j] == c {
				f.count(0, false)
				continue
			}
			f.get(out, int64(j)*fs.ChunkBytes(), chunksPrefix+c, func(b []byte) bool { return fs.ChunkMatches(j, b) })
		}
	}
	f.wg.Wait()
	steps.Mark("get")
	defer steps.Mark("fsync")
	if err := f.close(); err != nil {
		return recycled, err
	}
	if rewritten != nil {
		rewritten(filepath.Join(dir, snapshot.GraphFile))
	}
	return recycled, nil
}

// recycleGraph moves into dir the graph of the newest cached snapshot
// other than CURRENT that no reader pins, whose remote manifest was saved
// and whose graph has m's chunk size, and returns its seq and its graph's
// chunks (by SHA-256), with the verifier's Rewrite done for it, to call
// once its chunks are written; 0 and nil when there is none. That
// snapshot would be collected once the new one is published (the cache
// keeps SyncOptions.Keep).
func (s *Syncer) recycleGraph(dir string, m *snapshot.Manifest) (uint64, []string, func(string), error) {
	want, ok := graphOf(m)
	if !ok {
		return 0, nil, nil, nil
	}
	seqs, err := s.store.Seqs()
	if err != nil {
		return 0, nil, nil, err
	}
	cur, err := s.store.Current()
	if err != nil {
		return 0, nil, nil, err
	}
	for i := len(seqs) - 1; i >= 0; i-- {
		if seqs[i] >= cur {
			continue
		}
		rm, om := s.loadState(seqs[i])
		if rm == nil {
			continue
		}
		g, ok := graphOf(om)
		if !ok || g.ChunkBytes() != want.ChunkBytes() {
			continue
		}
		done := s.verifier.Rewrite(s.store.SnapshotFile(seqs[i], snapshot.GraphFile))
		took, err := s.store.RecycleGraph(seqs[i], filepath.Join(dir, snapshot.GraphFile))
		if err != nil {
			return 0, nil, nil, err
		}
		if took {
			return seqs[i], rm.Files[slices.IndexFunc(om.Files, chunked)].Chunks, done, nil
		}
	}
	return 0, nil, nil, nil
}

// graphOf returns m's graph file when it goes up as chunks.
func graphOf(m *snapshot.Manifest) (snapshot.FileSum, bool) {
	if i := slices.IndexFunc(m.Files, chunked); i >= 0 {
		return m.Files[i], true
	}
	return snapshot.FileSum{}, false
}

// fetcher writes objects into files, a few at a time.
type fetcher struct {
	ctx   context.Context
	s     *Syncer
	local map[string]localSource
	res   *SyncResult
	files []*os.File
	sem   chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex // guards err and res
	err   error
}

// create opens the file at path for the fetcher's writes, size bytes
// long: a new file, or with reuse the one there (a recycled graph), cut or
// extended to size. The fetcher closes it.
func (f *fetcher) create(path string, size int64, reuse bool) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), fsutil.DirPerm); err != nil {
		return nil, err
	}
	flags := os.O_CREATE | os.O_EXCL | os.O_WRONLY
	if reuse {
		flags = os.O_WRONLY
	}
	out, err := os.OpenFile(path, flags, fsutil.FilePerm)
	if err != nil {
		return nil, err
	}
	f.files = append(f.files, out)
	if reuse {
		if err := out.Truncate(size); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// count counts one object: fetched (n bytes) or reused.
func (f *fetcher) count(n int, fetched bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fetched {
		f.res.Fetched++
		f.res.Bytes += int64(n)
	} else {
		f.res.Reused++
	}
}

// get writes the object at key into out at off. ok checks its content
// against the snapshot's manifest; the SHA-256 is checked against key.
func (f *fetcher) get(out *os.File, off int64, key string, ok func([]byte) bool) {
	f.sem <- struct{}{}
	f.wg.Add(1)
	go func() {
		defer func() { <-f.sem; f.wg.Done() }()
		b, fetched, err := f.content(key, ok)
		if err == nil {
			_, err = out.WriteAt(b, off)
		}
		if err != nil {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.err == nil {
				f.err = err
			}
			return
		}
		f.count(len(b), fetched)
	}()
}

// content returns the object at key, from the local snapshot when it
// holds it intact, else from the remote.
func (f *fetcher) content(key string, ok func([]byte) bool) (b []byte, fetched bool, err error) {
	want := key[len(key)-64:]
	if src, found := f.local[key]; found {
		if b, err := readAt(src); err == nil && hashOf(b) == want && ok(b) {
			return b, false, nil
		}
	}
	for try := 1; ; try++ {
		b, err = f.s.client.Get(f.ctx, key)
		if err != nil {
			return nil, true, err
		}
		if hashOf(b) == want && ok(b) {
			return b, true, nil
		}
		f.s.log.Debug("object came down damaged", "key", key, "try", try)
		if try == fetchTries {
			f.s.reportDamaged(f.ctx, key)
			return nil, true, &DamagedError{Location: f.s.client.Location().String(), Key: key, Tries: try}
		}
	}
}

func readAt(src localSource) ([]byte, error) {
	fd, err := os.Open(src.path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	b := make([]byte, src.n)
	_, err = fd.ReadAt(b, src.off)
	return b, err
}

// close waits for every get, then fsyncs and closes the files.
func (f *fetcher) close() error {
	f.wg.Wait()
	var errs []error
	for _, out := range f.files {
		if f.err == nil {
			errs = append(errs, fsutil.Sync(out))
		}
		errs = append(errs, out.Close())
	}
	return errors.Join(append([]error{f.err}, errs...)...)
}
