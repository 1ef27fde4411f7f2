package replica

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/memsnap/memsnap/internal/objstore"
	"github.com/memsnap/memsnap/snapshot"
)

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

// repair puts back the remote objects reported damaged and, with verify,
// those of the remote CURRENT's snapshot (remote) whose content is not
// their name's; it returns how many it put back. An object whose content
// no local snapshot holds is left, reported, with a warning.
func (u *Uploader) repair(ctx context.Context, remote uint64, verify bool) (int, error) {
	reports, err := u.client.List(ctx, damagedPrefix)
	if err != nil {
		return 0, err
	}
	suspects := map[string]bool{} // key -> has a report
	for _, o := range reports {
		suspects[strings.TrimPrefix(o.Key, damagedPrefix)] = true
	}
	if verify && remote != 0 {
		rm, _, err := getManifest(ctx, u.client, remote)
		if err != nil {
			return 0, fmt.Errorf("verify snapshot %d: %w", remote, err)
		}
		for _, k := range rm.keys() {
			if !suspects[k] {
				suspects[k] = false
			}
		}
	}
	keys := make([]string, 0, len(suspects))
	for k := range suspects {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	src := &localContent{u: u}
	n := 0
	for _, key := range keys {
		state, err := u.repairOne(ctx, key, src)
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
	if data == nil {
		u.log.Warn("a remote object is damaged and no local snapshot holds its content: the snapshots that name it cannot be fetched", "key", key)
		return unrepairable, nil
	}
	if err := u.client.Put(ctx, key, data); err != nil {
		return intact, err
	}
	u.log.Info("damaged remote object replaced", "key", key, "bytes", len(data))
	return repaired, nil
}

// localContent finds the content of a remote object in the local
// snapshots, through their remote manifests (fetched once each).
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
