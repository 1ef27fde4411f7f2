package replica

import "context"
import "crypto/sha256"
import "encoding/hex"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "os"
import "sync"
import "time"

import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/steptimer"
import "github.com/memsnap/memsnap/snapshot"

// UploadOptions tunes an Uploader.
type UploadOptions struct {
	// Keep is how many newest remote snapshots retention always keeps in
	// full (replica.keep), besides the one the remote CURRENT names: the
	// floor under History's tiers. 0: 10.
	Keep int
	// History is the history window and its tiers (history.*): remote
	// retention follows them as GC does (retain.go). Zero keeps no
	// history: the newest Keep snapshots only.
	History snapshot.History
	// Now is the time retention judges ages by; nil: time.Now. Tests
	// inject it.
	Now func() time.Time
	// Parallel is how many objects go up at once. 0: 8.
	Parallel int
	// Verify reads back every object the remote CURRENT names before the
	// upload and puts back those whose content is not their name's
	// (replicate --verify). Off, only the objects readers reported
	// damaged are checked (see repair.go).
	Verify bool
}

// RetentionGrace is how old an object no kept snapshot names must be
// before retention deletes it: younger ones may belong to an upload under
// way.
const RetentionGrace = 10 * time.Minute

// UploadResult says what one Upload did.
type UploadResult struct {
	// Snapshots are the seqs sent up, oldest first; Current is the remote
	// CURRENT afterwards.
	Snapshots []uint64 `json:"snapshots"`
	Current   uint64   `json:"current"`
	// Objects and Bytes count what went up (manifests and CURRENT
	// included); Skipped counts objects already there.
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Skipped int   `json:"skipped"`
	// Repaired counts the damaged remote objects put back (included in
	// Objects and Bytes when a new upload sent them).
	Repaired int `json:"repaired"`
	// Deleted counts the objects retention removed.
	Deleted    int   `json:"deleted"`
	DurationMS int64 `json:"duration_ms"`
}

// Uploader sends a store's snapshots to one remote location. It is meant
// to live as long as its process (the daemon keeps one): it remembers
// which objects are already there.
type Uploader struct {
	store  *snapshot.Store
	client *objstore.Client
	opts   UploadOptions
	log    *slog.Logger
	// entries caches the remote manifests retention read, by seq (they
	// never change). Upload is not safe for concurrent use.
	entries map[uint64]*remoteEntry
}

// NewUploader returns an uploader of store's snapshots to client's
// location.
func NewUploader(store *snapshot.Store, client *objstore.Client, opts UploadOptions, log *slog.Logger) *Uploader {
	if opts.Keep <= 0 {
		opts.Keep = 10
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	return &Uploader{store: store, client: client, opts: opts, log: log.With("component", "replicate", "to", client.Location().String())}
}

// Upload sends every local snapshot newer than the remote CURRENT, up to
// the local CURRENT, oldest first: for each, the objects the remote does
// not hold yet, then its remote manifest, then CURRENT; a point the store
// thinned before it went up sends its history entry instead (its job
// files and history/<seq>.json), so that the remote history has no gap.
// Then it applies retention (retain.go). It is idempotent, and resumes an
// interrupted upload (objects already there are skipped). A remote that
// holds another store's snapshots is an *OtherStoreError; one whose
// history is not this store's (another copy of it uploads there) is a
// *DivergedError (checkLineage).
func (u *Uploader) Upload(ctx context.Context) (res UploadResult, err error) {
	start, steps := time.Now(), steptimer.New()
	defer func() {
		res.DurationMS = time.Since(start).Milliseconds()
		u.log.Debug("upload steps (ms)", steps.Attrs()...)
	}()
	local, err := u.store.Current()
	if err != nil {
		return res, err
	}
	if local == 0 {
		return res, snapshot.ErrNoSnapshot
	}
	id, err := u.store.EnsureID()
	if err != nil {
		return res, err
	}
	remote, remoteID, err := remoteHead(ctx, u.client)
	var bad *corruptCurrentError
	if errors.As(err, &bad) {
		remote, remoteID, err = u.rewriteCurrent(ctx, bad, id)
	}
	if err != nil {
		return res, err
	}
	if remote != 0 && remoteID != "" && remoteID != id {
		return res, &OtherStoreError{Location: u.client.Location().String(), Remote: remoteID, Local: id}
	}
	rm, m, err := u.checkLineage(ctx, remote, local)
	if err != nil {
		return res, err
	}
	if res.Repaired, err = u.repair(ctx, remote, u.opts.Verify); err != nil {
		return res, fmt.Errorf("repair damaged remote objects: %w", err)
	}
	res.Current = remote
	steps.Mark("current")
	if remote >= local {
		return res, nil
	}
	// What the remote CURRENT's snapshot names is there (it went up first).
	have := &presence{known: map[string]bool{}}
	var prev map[string]prevFile
	if rm != nil {
		for _, k := range rm.keys() {
			have.known[k] = true
		}
		prev = prevFiles(rm, m)
	}
	steps.Mark("remote_manifest")
	pts, err := u.localPoints()
	if err != nil {
		return res, err
	}
	for _, p := range pts {
		seq := p.seq
		if seq <= remote || seq > local {
			continue
		}
		if !p.full {
			if err := u.uploadHistory(ctx, seq, id, have, &res); err != nil {
				return res, err
			}
			continue
		}
		rm, m, err := u.uploadSnapshot(ctx, seq, id, have, prev, &res, steps)
		if errors.Is(err, errGone) { // thinned meanwhile: its history entry, if the window keeps one
			if err := u.uploadHistory(ctx, seq, id, have, &res); err != nil {
				return res, err
			}
			continue
		}
		if err != nil {
			return res, err
		}
		prev = prevFiles(rm, m)
		res.Snapshots = append(res.Snapshots, seq)
		res.Current = seq
	}
	n, err := u.retain(ctx, res.Current)
	steps.Mark("retain")
	res.Deleted = n
	if err != nil {
		return res, fmt.Errorf("replicate: retention: %w", err)
	}
	return res, nil
}

// errGone: the local snapshot was collected before it could be pinned.
var errGone = errors.New("snapshot gone")

// prevFile is a whole file the previous snapshot sent, by path: an
// sstable with the same path, size and CRC-32C is the same file (Pebble
// never rewrites one), so its hash is not computed again.
type prevFile struct {
	size   int64
	crc    uint32
	object string
}

func prevFiles(rm *RemoteManifest, m *snapshot.Manifest) map[string]prevFile {
	out := map[string]prevFile{}
	for i, f := range m.Files {
		if rm.Files[i].Object != "" {
			out[f.Path] = prevFile{size: f.Size, crc: f.CRC32C, object: rm.Files[i].Object}
		}
	}
	return out
}

// presence remembers which remote keys are known to exist.
type presence struct {
	mu    sync.Mutex // guards known
	known map[string]bool
}

func (p *presence) has(k string) bool { p.mu.Lock(); defer p.mu.Unlock(); return p.known[k] }
func (p *presence) add(k string)      { p.mu.Lock(); defer p.mu.Unlock(); p.known[k] = true }

// uploadSnapshot sends snapshot seq (pinned meanwhile, so that GC leaves
// it alone): its objects, then its remote manifest, then CURRENT.
func (u *Uploader) uploadSnapshot(ctx context.Context, seq uint64, id string, have *presence, prev map[string]prevFile, res *UploadResult, steps *steptimer.Timer) (*RemoteManifest, *snapshot.Manifest, error) {
	pin, err := u.store.Pin(seq)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, errGone
		}
		return nil, nil, fmt.Errorf("replicate snapshot %d: %w", seq, err)
	}
	defer pin.Release()
	rm, m, b, err := u.sendSnapshot(ctx, seq, id, have, prev, res, steps)
	if err != nil {
		return nil, nil, err
	}
	if err := u.client.Put(ctx, snapshotKey(seq), b); err != nil {
		return nil, nil, fmt.Errorf("replicate snapshot %d: %w", seq, err)
	}
	steps.Mark("put_manifest")
	cur := currentLine(seq, id)
	if err := u.client.Put(ctx, currentKey, cur); err != nil {
		return nil, nil, fmt.Errorf("replicate snapshot %d: %w", seq, err)
	}
	steps.Mark("put_current")
	res.Objects += 2
	res.Bytes += int64(len(b) + len(cur))
	u.log.Debug("snapshot replicated", "seq", seq)
	return rm, m, nil
}

// sendSnapshot sends the objects of local snapshot seq (pinned by the
// caller) the remote lacks and returns its remote manifest, parsed and
// marshalled (the bytes snapshots/<seq>.json holds; the same for the same
// snapshot and store id).
func (u *Uploader) sendSnapshot(ctx context.Context, seq uint64, id string, have *presence, prev map[string]prevFile, res *UploadResult, steps *steptimer.Timer) (*RemoteManifest, *snapshot.Manifest, []byte, error) {
	raw, err := os.ReadFile(u.store.SnapshotFile(seq, snapshot.ManifestFile))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("replicate snapshot %d: %w", seq, err)
	}
	m, err := snapshot.ParseManifest(raw)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("replicate snapshot %d: %w", seq, err)
	}
	rm := &RemoteManifest{Format: remoteFormat, Seq: seq, Store: id, Manifest: raw, Files: make([]RemoteFile, len(m.Files))}
	up := newSender(ctx, u, have, res)
	for i, f := range m.Files {
		rm.Files[i].Path = f.Path
		if chunked(f) {
			rm.Files[i].Chunks, err = up.chunks(u.store.SnapshotFile(seq, f.Path), f)
		} else if p, ok := prev[f.Path]; ok && p.size == f.Size && p.crc == f.CRC32C && have.has(objectsPrefix+p.object) {
			rm.Files[i].Object = p.object
			up.count(0, 0, 1)
		} else {
			rm.Files[i].Object, err = up.whole(u.store.SnapshotFile(seq, f.Path), f)
		}
		if err != nil {
			up.wait()
			return nil, nil, nil, fmt.Errorf("replicate snapshot %d: %s: %w", seq, f.Path, err)
		}
	}
	steps.Mark("read")
	if err := up.wait(); err != nil {
		return nil, nil, nil, fmt.Errorf("replicate snapshot %d: %w", seq, err)
	}
	steps.Mark("objects")
	b, err := json.Marshal(rm)
	if err != nil {
		return nil, nil, nil, err
	}
	return rm, m, b, nil
}

// sender puts objects at most Parallel at a time, skipping those there.
type sender struct {
	ctx  context.Context
	u    *Uploader
	have *presence
	res  *UploadResult
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex // guards err and res's counters
	err  error
}

func newSender(ctx context.Context, u *Uploader, have *presence, res *UploadResult) *sender {
	return &sender{ctx: ctx, u: u, have: have, res: res, sem: make(chan struct{}, u.opts.Parallel)}
}

// send puts data at key unless the key is known or found (HEAD) to be
// there with data's size and, where the ETag is a plain MD5, data's MD5.
func (s *sender) send(key string, data []byte) {
	if s.have.has(key) {
		s.count(0, 0, 1)
		return
	}
	s.sem <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.sem; s.wg.Done() }()
		info, ok, err := s.u.client.Head(s.ctx, key)
		if err == nil && ok && !sameContent(info, data) {
			s.u.log.Warn("remote object damaged (its size or ETag is not its content's): sending it again", "key", key,
				"size", info.Size, "want_size", len(data), "etag", info.ETag)
			ok = false
		}
		if err == nil && !ok {
			err = s.u.client.Put(s.ctx, key, data)
		}
		if err != nil {
			s.fail(err)
			return
		}
		s.have.add(key)
		if ok {
			s.count(0, 0, 1)
		} else {
			s.count(1, int64(len(data)), 0)
		}
	}()
}

func (s *sender) count(objects int, bytes int64, skipped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res.Objects += objects
	s.res.Bytes += bytes
	s.res.Skipped += skipped
}

func (s *sender) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *sender) wait() error {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// whole reads the file at path, checks it against f (a file damaged on
// this disk must not go up) and sends it by its SHA-256.
func (s *sender) whole(path string, f snapshot.FileSum) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if !f.Matches(data) {
		return "", fmt.Errorf("%w: %s does not match its manifest (size or CRC-32C)", snapshot.ErrCorrupt, path)
	}
	sum := hashOf(data)
	s.send(objectsPrefix+sum, data)
	return sum, nil
}

// chunks reads the file at path chunk by chunk, checks each against f's
// chunk checksums, and sends each by its SHA-256.
func (s *sender) chunks(path string, f snapshot.FileSum) ([]string, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	size := f.ChunkBytes()
	out := make([]string, len(f.Chunks))
	for i := range f.Chunks {
		buf := make([]byte, min(size, f.Size-int64(i)*size))
		if _, err := io.ReadFull(fd, buf); err != nil {
			return nil, fmt.Errorf("read chunk %d: %w", i, err)
		}
		if !f.ChunkMatches(i, buf) {
			return nil, fmt.Errorf("%w: chunk %d of %s does not match its manifest", snapshot.ErrCorrupt, i, path)
		}
		out[i] = hashOf(buf)
		s.send(chunksPrefix+out[i], buf)
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
