package replica

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/memsnap/memsnap/internal/fsutil"
	"github.com/memsnap/memsnap/internal/objstore"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// stateFile, in the cache store's directory, is the remote manifest of the
// cache's CURRENT: which local chunk holds which content, so that a sync
// downloads only what changed.
const stateFile = "replica.json"

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
	return &Syncer{client: client, store: store, opts: opts, log: log.With("component", "replica", "from", client.Location().String())}
}

// CacheDir is the cache store for loc under root (replica.cache_dir): one
// directory per remote location.
func CacheDir(root string, loc objstore.Location) string {
	h := sha256.Sum256([]byte(loc.String()))
	return filepath.Join(root, hex.EncodeToString(h[:8]))
}

// Sync publishes the remote CURRENT's snapshot locally when it is newer
// than the local CURRENT: it downloads only the chunks and files the local
// snapshot lacks, checks each, assembles the snapshot under staging/ and
// adopts it (snapshot.Store.Adopt: checked whole, then published with the
// local CURRENT swap), then collects old local snapshots. On any error the
// local CURRENT is unchanged. ErrNothingRemote: the remote holds nothing.
func (s *Syncer) Sync(ctx context.Context) (res SyncResult, err error) {
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
			s.dropForwarded(ctx)
		}
		return res, err
	}
	lock, err := writer.AcquireLock(ctx, s.store, s.opts.LockTimeout)
	if err != nil {
		return res, fmt.Errorf("replica cache %s: %w", s.store.Dir(), err)
	}
	defer lock.Release()
	if res.Seq, err = s.store.Current(); err != nil || res.Seq >= remote {
		return res, err // another process sharing the cache got there first
	}
	rm, m, err := getManifest(ctx, s.client, remote)
	if err != nil {
		return res, err
	}
	if rm.Store != remoteID {
		return res, fmt.Errorf("%s: snapshot %d's manifest was published by store %q, the remote CURRENT by store %q: two stores replicate into one prefix",
			s.client.Location(), remote, rm.Store, remoteID)
	}
	if err := s.adopt(ctx, rm, m, &res); err != nil {
		return res, err
	}
	res.Seq, res.Changed = remote, true
	if remoteID != "" {
		if _, err := s.store.AdoptID(remoteID); err != nil {
			return res, fmt.Errorf("replica: %w", err)
		}
	}
	if b, err := json.Marshal(rm); err == nil {
		if err := fsutil.WriteFileAtomic(s.store.Path(stateFile), b); err != nil {
			s.log.Warn("could not save the replica state: the next sync downloads everything", "error", err)
		}
	}
	s.dropForwarded(ctx)
	if _, err := s.store.GC(snapshot.GCOptions{Keep: s.opts.Keep}); err != nil {
		s.log.Warn("cache gc failed", "error", err)
	}
	s.log.Debug("snapshot fetched", "seq", remote, "fetched", res.Fetched, "bytes", res.Bytes, "reused", res.Reused)
	return res, nil
}

// adopt assembles remote snapshot rm (m, its manifest) under staging/ and
// publishes it locally (snapshot.Store.Adopt: checked whole, then the
// local CURRENT swap). Caller holds the store's writer lock.
func (s *Syncer) adopt(ctx context.Context, rm *RemoteManifest, m *snapshot.Manifest, res *SyncResult) (err error) {
	name := "replica-" + snapshot.FormatSeq(rm.Seq)
	_ = s.store.RemoveStaging(name)
	defer func() {
		if err != nil {
			_ = s.store.RemoveStaging(name)
		}
	}()
	if err := s.assemble(ctx, s.store.StagingPath(name), rm, m, nil, res); err != nil {
		return fmt.Errorf("replica: fetch snapshot %d: %w", rm.Seq, err)
	}
	if err := s.store.Adopt(s.store.StagingPath(name), rm.Manifest, m); err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	return nil
}

// dropForwarded drops the forwarded writes the local CURRENT holds (see
// dropForwarded); a failure leaves them for the next Sync.
func (s *Syncer) dropForwarded(ctx context.Context) {
	if n, err := dropForwarded(ctx, s.store); err != nil {
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

// localSource is content the local CURRENT holds: a file and, for a
// chunk, its offset and length.
type localSource struct {
	path string
	off  int64
	n    int64
}

// localSources maps the SHA-256 of every object the local CURRENT holds
// to where it is, from the saved remote manifest of that snapshot
// (stateFile); empty when there is none or it names another snapshot.
func (s *Syncer) localSources() map[string]localSource {
	out := map[string]localSource{}
	cur, err := s.store.Current()
	if err != nil || cur == 0 {
		return out
	}
	b, err := os.ReadFile(s.store.Path(stateFile))
	if err != nil {
		return out
	}
	var rm RemoteManifest
	if json.Unmarshal(b, &rm) != nil || rm.Seq != cur {
		return out
	}
	m, err := rm.parsed()
	if err != nil {
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
// downloaded (checked, fetched again up to fetchTries times).
func (s *Syncer) assemble(ctx context.Context, dir string, rm *RemoteManifest, m *snapshot.Manifest, want func(path string) bool, res *SyncResult) error {
	local := s.localSources()
	f := &fetcher{ctx: ctx, s: s, local: local, res: res, sem: make(chan struct{}, s.opts.Parallel)}
	for i, fs := range m.Files {
		if want != nil && !want(fs.Path) {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(fs.Path))
		if err := os.MkdirAll(filepath.Dir(path), fsutil.DirPerm); err != nil {
			return err
		}
		out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fsutil.FilePerm)
		if err != nil {
			return err
		}
		f.files = append(f.files, out)
		rf := rm.Files[i]
		if rf.Object != "" {
			f.get(out, 0, objectsPrefix+rf.Object, func(b []byte) bool { return fs.Matches(b) })
			continue
		}
		for j, c := range rf.Chunks {
			f.get(out, int64(j)*fs.ChunkBytes(), chunksPrefix+c, func(b []byte) bool { return fs.ChunkMatches(j, b) })
		}
	}
	return f.close()
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
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil {
			if f.err == nil {
				f.err = err
			}
			return
		}
		if fetched {
			f.res.Fetched++
			f.res.Bytes += int64(len(b))
		} else {
			f.res.Reused++
		}
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
