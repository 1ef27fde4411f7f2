// Package replica replicates a memsnap store through S3-compatible object
// storage (package objstore): an Uploader sends every newly published
// snapshot up incrementally, a Syncer brings the newest one down into a
// local cache store that the ordinary reader code opens, Forward sends a
// replica's writes to a remote queue and Pull brings that queue into the
// writer's store exactly once.
//
// Remote layout under s3://BUCKET/PREFIX/ (this package owns it):
//
//	CURRENT                   "<seq> <store id>": the newest complete snapshot
//	                          and the store that published it (one line)
//	snapshots/<seq>.json      a remote manifest (RemoteManifest): the snapshot's
//	                          own MANIFEST.json bytes and, per file, the objects
//	                          that hold its content
//	objects/<sha256>          a whole file (Pebble sstables and small files,
//	                          the batch's job files), by content hash
//	chunks/<sha256>           one 64 KiB chunk of graph.kuzu (the manifest's
//	                          chunk size), by content hash
//	history/<seq>.json        a point of history thinned by remote retention
//	                          (retain.go): a remote manifest of which only the
//	                          job files' objects are kept
//	queue/<job id>.job        a job a replica queued, waiting for the writer
//
// Objects go up first, then the remote manifest, then CURRENT: a reader
// that follows CURRENT never finds a missing object, and an upload killed
// at any point leaves CURRENT naming the last complete snapshot. Every
// object is checked when it comes down: its SHA-256 (its name) and the
// CRC-32C the snapshot's manifest lists for it (snapshot.FileSum), and the
// assembled snapshot again as a whole before it is published locally
// (snapshot.Store.Adopt).
//
// One uploader per prefix: two uploaders' retention passes could delete
// what the other has just sent (a grace period, RetentionGrace, keeps
// recent objects from that). One store per prefix: CURRENT and every
// remote manifest carry the id of the store that published them
// (snapshot.Store.ID); an uploader of another store, and a reader whose
// cache follows another store, are refused with an *OtherStoreError. One
// history per prefix: a copy of the store (restore --from keeps the id)
// whose history does not continue the remote's is refused with a
// *DivergedError (lineage.go).
package replica

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "strconv"
import "strings"

import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/snapshot"

// Remote keys and prefixes.
const (
	currentKey      = "CURRENT"
	snapshotsPrefix = "snapshots/"
	objectsPrefix   = "objects/"
	chunksPrefix    = "chunks/"
	historyPrefix   = "history/"
	queuePrefix     = "queue/"
)

// remoteFormat is the RemoteManifest format this build writes and reads.
const remoteFormat = 1

// ErrNothingRemote is returned when the remote location holds no CURRENT:
// nothing was replicated there yet.
var ErrNothingRemote = errors.New("replica: nothing replicated there yet (run 'memsnap replicate --to' on the writer's machine)")

// ErrOtherStore is matched (errors.Is) by an *OtherStoreError.
var ErrOtherStore = errors.New("replica: the remote location holds another store's snapshots")

// OtherStoreError is returned when the remote location holds the
// snapshots of another store than the one at hand: to an uploader
// (Cache is ""), or to a reader whose cache followed another store.
type OtherStoreError struct {
	Location string // s3://BUCKET/PREFIX
	Remote   string // the id of the store whose snapshots are there
	Local    string // the uploading store's id, or the one the cache followed
	Cache    string // the reader's cache directory; "" for an uploader
}

func (e *OtherStoreError) Error() string {
	if e.Cache != "" {
		return fmt.Sprintf("%s now holds the snapshots of another store (store %s; the cache %s followed store %s): remove that cache directory to follow the new store",
			e.Location, e.Remote, e.Cache, e.Local)
	}
	return fmt.Sprintf("%s holds the snapshots of another store (store %s; this one is %s): replicate this store to a prefix of its own, or empty that prefix first if its store is gone for good",
		e.Location, e.Remote, e.Local)
}

// Is makes errors.Is(err, ErrOtherStore) hold.
func (e *OtherStoreError) Is(target error) bool { return target == ErrOtherStore }

// RemoteManifest is snapshots/<seq>.json.
type RemoteManifest struct {
	Format int    `json:"format"`
	Seq    uint64 `json:"seq"`
	// Store is the id of the store that published the snapshot
	// (snapshot.Store.ID); empty in manifests written before stores had
	// ids.
	Store string `json:"store,omitempty"`
	// Manifest is the snapshot's MANIFEST.json, byte for byte (it carries
	// its own checksum).
	Manifest []byte       `json:"manifest"`
	Files    []RemoteFile `json:"files"`
	// JobsOnly: only the job files have objects (a history entry of a
	// snapshot the store thinned before it went up, see uploadHistory).
	JobsOnly bool `json:"jobs_only,omitempty"`
}

// RemoteFile says where one file of the snapshot is: Object (a SHA-256,
// under objects/) for a whole file, or Chunks (SHA-256s under chunks/,
// one per chunk of the manifest's chunk size) for the graph.
type RemoteFile struct {
	Path   string   `json:"path"`
	Object string   `json:"object,omitempty"`
	Chunks []string `json:"chunks,omitempty"`
}

// keys lists every object the remote manifest names.
func (rm *RemoteManifest) keys() []string {
	var out []string
	for _, f := range rm.Files {
		if f.Object != "" {
			out = append(out, objectsPrefix+f.Object)
		}
		for _, c := range f.Chunks {
			out = append(out, chunksPrefix+c)
		}
	}
	return out
}

// jobKeys lists the objects of rm's job files: what a history entry keeps.
func (rm *RemoteManifest) jobKeys() []string {
	var out []string
	for _, f := range rm.Files {
		if isJob(f.Path) && f.Object != "" {
			out = append(out, objectsPrefix+f.Object)
		}
	}
	return out
}

// isJob reports whether a manifest's path is one of the batch's job files.
func isJob(path string) bool { return strings.HasPrefix(path, snapshot.JobsDir+"/") }

// parsed checks rm against the snapshot manifest it carries and returns
// that manifest: the seq agrees, the manifest's own checksum holds, and
// every file it lists has a place (the right number of chunks).
func (rm *RemoteManifest) parsed() (*snapshot.Manifest, error) {
	if rm.Format != remoteFormat {
		return nil, fmt.Errorf("remote manifest of snapshot %d: format %d, this build reads %d", rm.Seq, rm.Format, remoteFormat)
	}
	m, err := snapshot.ParseManifest(rm.Manifest)
	if err != nil {
		return nil, fmt.Errorf("remote manifest of snapshot %d: %w", rm.Seq, err)
	}
	if m.Seq != rm.Seq {
		return nil, fmt.Errorf("remote manifest of snapshot %d holds the manifest of %d", rm.Seq, m.Seq)
	}
	if len(m.Files) != len(rm.Files) {
		return nil, fmt.Errorf("remote manifest of snapshot %d: %d files, its manifest lists %d", rm.Seq, len(rm.Files), len(m.Files))
	}
	for i, f := range m.Files {
		rf := rm.Files[i]
		switch {
		case rf.Path != f.Path:
			return nil, fmt.Errorf("remote manifest of snapshot %d: file %d is %s, its manifest says %s", rm.Seq, i, rf.Path, f.Path)
		case rm.JobsOnly && !isJob(f.Path):
			// only its job files have a place
		case chunked(f) && len(rf.Chunks) != len(f.Chunks):
			return nil, fmt.Errorf("remote manifest of snapshot %d: %s has %d chunks, its manifest lists %d", rm.Seq, f.Path, len(rf.Chunks), len(f.Chunks))
		case !chunked(f) && rf.Object == "":
			return nil, fmt.Errorf("remote manifest of snapshot %d: %s has no object", rm.Seq, f.Path)
		}
	}
	return m, nil
}

// chunked reports whether file f goes up as chunks: the graph, when it is
// larger than one chunk. Every other file is immutable once written
// (Pebble's sstables) or small, and goes up whole.
func chunked(f snapshot.FileSum) bool { return f.Path == snapshot.GraphFile && len(f.Chunks) > 0 }

func snapshotKey(seq uint64) string { return snapshotsPrefix + snapshot.FormatSeq(seq) + ".json" }

// remoteCurrent reads the remote CURRENT's seq: 0 and no error when there
// is none.
func remoteCurrent(ctx context.Context, c *objstore.Client) (uint64, error) {
	seq, _, err := remoteHead(ctx, c)
	return seq, err
}

// remoteHead reads the remote CURRENT: the seq it names and the id of the
// store that wrote it ("" when written before stores had ids); 0 and no
// error when there is none.
func remoteHead(ctx context.Context, c *objstore.Client) (seq uint64, store string, err error) {
	b, err := c.Get(ctx, currentKey)
	if errors.Is(err, objstore.ErrNotFound) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	f := strings.Fields(string(b))
	if len(f) == 2 && snapshot.ValidID(f[1]) {
		store = f[1]
	}
	if len(f) > 0 {
		seq, err = strconv.ParseUint(f[0], 10, 64)
	}
	if len(f) == 0 || len(f) > 2 || err != nil || seq == 0 || (len(f) == 2 && store == "") {
		return 0, "", &corruptCurrentError{location: c.Location().String(), text: truncate(string(b), 40)}
	}
	return seq, store, nil
}

// corruptCurrentError is a remote CURRENT that does not parse.
type corruptCurrentError struct {
	location string // s3://BUCKET/PREFIX/
	text     string // its start
}

func (e *corruptCurrentError) Error() string {
	return fmt.Sprintf("remote CURRENT at %s is corrupt: %q", e.location, e.text)
}

// currentLine is the remote CURRENT naming snapshot seq of store.
func currentLine(seq uint64, store string) []byte {
	return []byte(strconv.FormatUint(seq, 10) + " " + store + "\n")
}

// getManifest fetches and checks snapshots/<seq>.json.
func getManifest(ctx context.Context, c *objstore.Client, seq uint64) (*RemoteManifest, *snapshot.Manifest, error) {
	rm, m, _, err := getManifestAt(ctx, c, snapshotKey(seq), seq)
	return rm, m, err
}

// getManifestAt fetches and checks the remote manifest of snapshot seq at
// key (snapshots/ or history/), and returns its bytes too.
func getManifestAt(ctx context.Context, c *objstore.Client, key string, seq uint64) (*RemoteManifest, *snapshot.Manifest, []byte, error) {
	b, err := c.Get(ctx, key)
	if err != nil {
		return nil, nil, nil, err
	}
	rm, m, err := parseRemoteManifest(b, key, seq)
	if err != nil {
		return nil, nil, nil, err
	}
	return rm, m, b, nil
}

// parseRemoteManifest parses and checks b, the remote manifest of
// snapshot seq found at key. What does not parse or check is a
// *badManifestError.
func parseRemoteManifest(b []byte, key string, seq uint64) (*RemoteManifest, *snapshot.Manifest, error) {
	var rm RemoteManifest
	if err := json.Unmarshal(b, &rm); err != nil {
		return nil, nil, &badManifestError{key: key, err: fmt.Errorf("remote manifest of snapshot %d: %w", seq, err)}
	}
	if rm.Seq != seq {
		return nil, nil, &badManifestError{key: key, err: fmt.Errorf("remote manifest %s names snapshot %d", key, rm.Seq)}
	}
	m, err := rm.parsed()
	if err != nil {
		return nil, nil, &badManifestError{key: key, err: err}
	}
	return &rm, m, nil
}

// badManifestError is a remote manifest (snapshots/<seq>.json or
// history/<seq>.json) that came down but does not parse or check: damaged,
// as opposed to missing or unreachable. The uploader puts it back from
// the local store when it holds that snapshot (repairManifest).
type badManifestError struct {
	key string // snapshots/<seq>.json or history/<seq>.json
	err error
}

func (e *badManifestError) Error() string { return e.err.Error() }
func (e *badManifestError) Unwrap() error { return e.err }

// isBadManifest reports whether err is (or wraps) a *badManifestError, and
// returns its key.
func isBadManifest(err error) (string, bool) {
	var b *badManifestError
	if errors.As(err, &b) {
		return b.key, true
	}
	return "", false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
