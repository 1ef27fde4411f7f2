package replica

import "bytes"
import "context"
import "crypto/md5"
import "encoding/hex"
import "errors"
import "fmt"
import "os"
import "slices"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/steptimer"
import "github.com/memsnap/memsnap/snapshot"

// Damaged remote objects. The objects are content-addressed, so a damaged
// one is never right under its name again by itself, and every new
// snapshot that holds the same content names it again. Three things find
// one and the uploader, which has the content, puts it back:
//   - the uploader's HEAD before it skips an object that is there: a size
//     that is not the content's, or an ETag that is a plain MD5 and not
//     the content's (a single-part upload's ETag is its MD5 on S3 and most
//     compatible servers), means damaged: it is sent again;
//   - a reader that fetches an object fetchTries times and never gets its
//     content reports it under damaged/ (DamagedKey), keeps serving the
//     snapshot it has, and says the writer's next replicate repairs it;
//     each Upload starts by repairing what is reported (one LIST when
//     nothing is);
//   - UploadOptions.Verify (replicate --verify) reads back every object the
//     remote CURRENT names and repairs those whose content is not their
//     name's.

// damagedPrefix holds the damage reports: damaged/<key of the object>.
const damagedPrefix = "damaged/"

// ErrDamaged is wrapped by the error of a Sync that found a remote object
// damaged (it is snapshot.ErrCorrupt too).
var ErrDamaged = fmt.Errorf("%w: remote object damaged", snapshot.ErrCorrupt)

// DamagedError is a remote object that came down damaged fetchTries
// times: its content is not the SHA-256 its name says, or not what the
// snapshot's manifest lists.
type DamagedError struct {
	Location string // s3://BUCKET/PREFIX
	Key      string // chunks/<sha256> or objects/<sha256>
	Tries    int
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("the remote object %s%s is damaged (its content does not match its SHA-256 or the snapshot's manifest, %d tries): the writer's next 'memsnap replicate' repairs it",
		e.Location, e.Key, e.Tries)
}

// Unwrap makes errors.Is(err, ErrDamaged) and errors.Is(err,
// snapshot.ErrCorrupt) hold.
func (e *DamagedError) Unwrap() error { return ErrDamaged }

// reportDamaged records that key came down damaged, for the uploader. A
// reader may lack the right to write there: then only its log says so.
func (s *Syncer) reportDamaged(ctx context.Context, key string) {
	note := []byte("reported by a reader at " + time.Now().UTC().Format(time.RFC3339) + "\n")
	if err := s.client.Put(ctx, damagedPrefix+key, note); err != nil {
		s.log.Debug("could not report the damaged object to the writer", "key", key, "error", err)
	}
}

// contentKey reports whether key is chunks/<sha256> or objects/<sha256>,
// and returns the SHA-256.
func contentKey(key string) (string, bool) {
	for _, p := range []string{chunksPrefix, objectsPrefix} {
		if sum, ok := strings.CutPrefix(key, p); ok && len(sum) == 64 && strings.Trim(sum, "0123456789abcdef") == "" {
			return sum, true
		}
	}
	return "", false
}

// sameContent reports whether the object info found (a HEAD) may hold
// data: its size is data's and its ETag, when a plain MD5, is data's MD5.
func sameContent(info objstore.ObjectInfo, data []byte) bool {
	if info.Size != int64(len(data)) {
		return false
	}
	if md, ok := objstore.PlainMD5(info.ETag); ok {
		sum := md5.Sum(data)
		return md == hex.EncodeToString(sum[:])
	}
	return true
}

// repair puts back the remote objects and manifests reported damaged and,
// with verify, every remote manifest (snapshots/ and history/) that does
// not parse and every object of the remote CURRENT's snapshot (remote)
// whose content is not its name's; it returns how many it put back.
// Manifests go first, so that the CURRENT's one is whole before its
// objects are read. What no local snapshot or history entry holds is
// left, reported, with a warning.
func (u *Uploader) repair(ctx context.Context, remote uint64, verify bool) (int, error) {
	reports, err := u.client.List(ctx, damagedPrefix)
	if err != nil {
		return 0, err
	}
	suspects := map[string]bool{} // key -> has a report
	for _, o := range reports {
		suspects[strings.TrimPrefix(o.Key, damagedPrefix)] = true
	}
	if verify {
		for _, prefix := range []string{snapshotsPrefix, historyPrefix} {
			list, err := u.client.List(ctx, prefix)
			if err != nil {
				return 0, err
			}
			for _, o := range list {
				if _, _, ok := manifestKey(o.Key); ok && !suspects[o.Key] {
					suspects[o.Key] = false
				}
			}
		}
	}
	src := &localContent{u: u}
	n, err := u.repairKeys(ctx, suspects, src, true, remote)
	if err != nil {
		return n, err
	}
	if verify && remote != 0 {
		rm, _, err := getManifest(ctx, u.client, remote)
		if err != nil {
			return n, fmt.Errorf("verify snapshot %d: %w", remote, err)
		}
		for _, k := range rm.keys() {
			if !suspects[k] {
				suspects[k] = false
			}
		}
	}
	m, err := u.repairKeys(ctx, suspects, src, false, remote)
	return n + m, err
}

// repairKeys checks the suspects that are manifests (manifests true) or
// the others (current: the remote CURRENT's seq), in key order, puts back the damaged ones it can, and drops
// the damage reports of those now whole; it returns how many it put back.
func (u *Uploader) repairKeys(ctx context.Context, suspects map[string]bool, src *localContent, manifests bool, current uint64) (int, error) {
	var keys []string
	for k := range suspects {
		if _, _, ok := manifestKey(k); ok == manifests {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	n := 0
	for _, key := range keys {
		var state int
		var err error
		if seq, full, ok := manifestKey(key); ok {
			state, err = u.repairManifest(ctx, key, seq, full, current)
		} else {
			state, err = u.repairOne(ctx, key, src)
		}
		if err != nil {
			return n, err
		}
		if state == repaired {
			n++
		}
		if suspects[key] && state != unrepairable {
			if err := u.client.Delete(ctx, damagedPrefix+key); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// manifestKey parses snapshots/<seq>.json (full) or history/<seq>.json.
func manifestKey(key string) (seq uint64, full, ok bool) {
	if seq, ok := parseSeqKey(key, snapshotsPrefix); ok {
		return seq, true, true
	}
	seq, ok = parseSeqKey(key, historyPrefix)
	return seq, false, ok
}

// repairManifest reads the remote manifest of snapshot seq at key
// (snapshots/ when full, else history/) back and, when it does not parse
// or check, puts it back rebuilt from the local store: from local
// snapshot seq (its objects the remote lacks go up too), or, for a
// history entry, from the local history entry seq; a snapshot other than
// the remote CURRENT's (current) that the store keeps as history only goes
// under history/ instead (thinDamaged). It says which it did (intact,
// repaired, unrepairable); a manifest gone meanwhile is intact.
func (u *Uploader) repairManifest(ctx context.Context, key string, seq uint64, full bool, current uint64) (int, error) {
	b, err := u.client.Get(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return intact, nil
	}
	if err != nil {
		return intact, err
	}
	if _, _, err := parseRemoteManifest(b, key, seq); err == nil {
		return intact, nil
	}
	data, err := u.localManifest(ctx, seq, full)
	if err != nil {
		return intact, err
	}
	if data == nil && full && seq != current {
		return u.thinDamaged(ctx, key, seq)
	}
	return u.putBack(ctx, key, data, manifestLost)
}

// manifestLost is the warning for a damaged remote manifest the local
// store cannot rebuild.
const manifestLost = "a remote manifest is damaged and the local store holds neither that snapshot nor its history entry: its point of history cannot be read remotely"

// putBack puts data, the right content of the damaged remote key, back
// (repaired); with data nil it leaves key as it is and logs lost
// (unrepairable).
func (u *Uploader) putBack(ctx context.Context, key string, data []byte, lost string) (int, error) {
	if data == nil {
		u.log.Warn(lost, "key", key)
		return unrepairable, nil
	}
	if err := u.client.Put(ctx, key, data); err != nil {
		return intact, err
	}
	u.log.Info("damaged remote object replaced", "key", key, "bytes", len(data))
	return repaired, nil
}

// thinDamaged replaces the damaged snapshots/<seq>.json (key; not the
// remote CURRENT's) by history/<seq>.json rebuilt from the local history
// entry seq, when the store has thinned that snapshot: its point of
// history stays readable (from its job files) although its content is
// gone from the store. It says which it did (repaired, unrepairable).
func (u *Uploader) thinDamaged(ctx context.Context, key string, seq uint64) (int, error) {
	data, err := u.localManifest(ctx, seq, false)
	if err != nil {
		return intact, err
	}
	if data == nil {
		return u.putBack(ctx, key, nil, manifestLost)
	}
	if err := u.client.Put(ctx, historyKey(seq), data); err != nil {
		return intact, err
	}
	if err := u.client.Delete(ctx, key); err != nil {
		return intact, err
	}
	u.log.Info("damaged remote manifest of a snapshot the store keeps as history only: replaced by its history entry", "key", key, "history", historyKey(seq))
	return repaired, nil
}

// localManifest rebuilds the remote manifest of snapshot seq from the
// local store, sending any of its objects the remote lacks: from the
// local snapshot seq, or, when not full, from the local history entry
// seq. nil when the store holds neither.
func (u *Uploader) localManifest(ctx context.Context, seq uint64, full bool) ([]byte, error) {
	id, err := u.store.EnsureID()
	if err != nil {
		return nil, err
	}
	have := &presence{known: map[string]bool{}}
	var res UploadResult
	if pin, err := u.store.Pin(seq); err == nil {
		defer pin.Release()
		_, _, b, err := u.sendSnapshot(ctx, seq, id, have, nil, &res, steptimer.New())
		return b, err
	}
	if full {
		return nil, nil
	}
	b, err := u.sendHistory(ctx, seq, id, have, &res)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// What repairOne found.
const (
	intact       = iota // the object's content is its name's
	repaired            // it was not; the local content was put
	unrepairable        // it was not, and no local snapshot holds the content
)

// repairOne reads key back and, when its content is not its name's, puts
// the content from a local snapshot; it says which it did (intact,
// repaired, unrepairable).
func (u *Uploader) repairOne(ctx context.Context, key string, src *localContent) (int, error) {
	sum, ok := contentKey(key)
	if !ok {
		u.log.Warn("damage report names no object: dropped", "key", key)
		return intact, nil
	}
	b, err := u.client.Get(ctx, key)
	if err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return intact, err
	}
	if err == nil && hashOf(b) == sum {
		return intact, nil
	}
	data, err := src.find(ctx, key, sum)
	if err != nil {
		return intact, err
	}
	return u.putBack(ctx, key, data, "a remote object is damaged and no local snapshot or history entry holds its content: the snapshots that name it cannot be fetched")
}

// localContent finds the content of a remote object in the local
// snapshots, through their remote manifests (fetched once each), and in
// the job files of the local history entries.
type localContent struct {
	u         *Uploader
	manifests map[uint64]*RemoteManifest // nil: not there
	seqs      []uint64                   // local snapshots, newest first
}

// find returns the content whose SHA-256 is sum from a local snapshot
// whose remote manifest names key; nil when none holds it.
func (l *localContent) find(ctx context.Context, key, sum string) ([]byte, error) {
	if l.manifests == nil {
		l.manifests = map[uint64]*RemoteManifest{}
		seqs, err := l.u.store.Seqs()
		if err != nil {
			return nil, err
		}
		slices.Reverse(seqs)
		l.seqs = seqs
	}
	for _, seq := range l.seqs {
		rm, ok := l.manifests[seq]
		if !ok {
			rm, _, _ = getManifest(ctx, l.u.client, seq) // a snapshot never sent or gone: nil
			l.manifests[seq] = rm
		}
		if rm == nil {
			continue
		}
		if b := l.read(seq, rm, key, sum); b != nil {
			return b, nil
		}
	}
	if strings.HasPrefix(key, objectsPrefix) {
		return l.fromHistory(sum)
	}
	return nil, nil
}

// fromHistory returns the job file of a local history entry (history/
// <seq>/jobs/...) whose SHA-256 is sum, newest entry first; nil when none
// is. Job files are whole objects, so only objects/ keys can be one.
func (l *localContent) fromHistory(sum string) ([]byte, error) {
	seqs, err := l.u.store.HistorySeqs()
	if err != nil {
		return nil, err
	}
	slices.Reverse(seqs)
	for _, seq := range seqs {
		raw, err := os.ReadFile(l.u.store.HistoryFile(seq, snapshot.ManifestFile))
		if err != nil {
			continue // collected meanwhile: another may hold it
		}
		m, err := snapshot.ParseManifest(raw)
		if err != nil {
			continue // collected meanwhile, or unreadable: another may hold it
		}
		for _, f := range m.Files {
			if !isJob(f.Path) {
				continue
			}
			b, err := os.ReadFile(l.u.store.HistoryFile(seq, f.Path))
			if err == nil && f.Matches(b) && hashOf(b) == sum {
				return b, nil
			}
		}
	}
	return nil, nil
}

// read returns the content of key from local snapshot seq when rm says
// which of its files (and which chunk) holds it and the bytes there hash
// to sum; nil otherwise.
func (l *localContent) read(seq uint64, rm *RemoteManifest, key, sum string) []byte {
	m, err := rm.parsed()
	if err != nil {
		return nil
	}
	pin, err := l.u.store.Pin(seq)
	if err != nil {
		return nil
	}
	defer pin.Release()
	for i, f := range m.Files {
		path := l.u.store.SnapshotFile(seq, f.Path)
		src := localSource{path: path, n: f.Size}
		if objectsPrefix+rm.Files[i].Object != key {
			j := slices.Index(rm.Files[i].Chunks, strings.TrimPrefix(key, chunksPrefix))
			if j < 0 || !strings.HasPrefix(key, chunksPrefix) {
				continue
			}
			src.off = int64(j) * f.ChunkBytes()
			src.n = min(f.ChunkBytes(), f.Size-src.off)
		}
		if b, err := readAt(src); err == nil && hashOf(b) == sum {
			return b
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			l.u.log.Debug("local copy unreadable", "file", path, "error", err)
		}
	}
	return nil
}

// rewriteCurrent puts back a remote CURRENT that does not parse (bad),
// when this store published there: the newest remote manifest under
// snapshots/ that parses names this store (id), and the local store holds
// that snapshot with the same manifest. It returns the seq and store the
// new CURRENT names. Otherwise the error says which object to delete.
func (u *Uploader) rewriteCurrent(ctx context.Context, bad *corruptCurrentError, id string) (uint64, string, error) {
	seqs, err := listSeqs(ctx, u.client, snapshotsPrefix)
	if err != nil {
		return 0, "", fmt.Errorf("%w (and listing snapshots/ failed: %w)", bad, err)
	}
	for i := len(seqs) - 1; i >= 0; i-- {
		seq := seqs[i]
		rm, _, err := getManifest(ctx, u.client, seq)
		if _, damaged := isBadManifest(err); damaged {
			continue
		}
		if err != nil {
			return 0, "", fmt.Errorf("%w (and reading snapshots/%s.json failed: %w)", bad, snapshot.FormatSeq(seq), err)
		}
		raw, lerr := os.ReadFile(u.store.SnapshotFile(seq, snapshot.ManifestFile))
		if rm.Store != id || lerr != nil || !bytes.Equal(raw, rm.Manifest) {
			break
		}
		u.log.Warn("remote CURRENT was corrupt: rewritten to name the newest remote snapshot this store published", "was", bad.text, "seq", seq)
		if err := u.client.Put(ctx, currentKey, currentLine(seq, id)); err != nil {
			return 0, "", fmt.Errorf("rewrite the corrupt remote CURRENT at %s: %w", bad.location, err)
		}
		return seq, id, nil
	}
	return 0, "", fmt.Errorf("%w, and the newest remote snapshot there was not published by this store: delete the object %sCURRENT, then run 'memsnap replicate' from the store that publishes there", bad, bad.location)
}
