package replica

import "bytes"
import "context"
import "errors"
import "fmt"
import "os"
import "path"
import "strings"

import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"

// One history per prefix. A store rebuilt by 'restore --from' takes the
// id of the store it copies (so that it may go on replicating there when
// the original is lost), so the id alone cannot tell the original from a
// copy: two copies would publish different snapshots under the same seqs
// and move the remote CURRENT back and forth between two histories. An
// uploader therefore also checks that the remote's history is a prefix of
// its own (checkLineage), and every job id that a point of history
// applied is never applied again, even after a restore undid it (Pull,
// historyJobIDs).

// ErrDiverged is matched (errors.Is) by a *DivergedError.
var ErrDiverged = errors.New("replica: the remote history has diverged from this store's")

// DivergedError is returned to an uploader whose store's history does not
// continue the remote's: the remote CURRENT is newer than the local
// CURRENT, or the local store holds the remote CURRENT's seq with another
// manifest. Another copy of the store (same store id) replicates there.
type DivergedError struct {
	Location string // s3://BUCKET/PREFIX
	Remote   uint64 // the remote CURRENT's seq
	Local    uint64 // the local CURRENT's seq
	// Reason says which check failed, in a few words.
	Reason string
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("%s has diverged from this store (remote CURRENT %d, local CURRENT %d: %s): another copy of this store replicates there; replicate this store to a new prefix, or restore from that one",
		e.Location, e.Remote, e.Local, e.Reason)
}

// Is makes errors.Is(err, ErrDiverged) hold.
func (e *DivergedError) Is(target error) bool { return target == ErrDiverged }

// checkLineage refuses, with a *DivergedError, to upload local (the local
// CURRENT) over remote (the remote CURRENT, 0 for none) when the remote's
// history is not the local store's: remote is newer than local, or the
// local store holds point remote (a snapshot or a history entry) with
// other manifest bytes than the remote manifest carries. A store restored
// from the prefix holds the remote CURRENT's manifest byte for byte
// (Adopt keeps it) and passes. When the local store no longer holds point
// remote (older than its history window) nothing can be compared and the
// upload goes on.
//
// It returns the remote CURRENT's remote manifest and snapshot manifest
// for the upload to reuse, nil when there is no remote CURRENT or its
// remote manifest is unreadable (logged; the upload then checks every
// object, and repair may put it back).
func (u *Uploader) checkLineage(ctx context.Context, remote, local uint64) (*RemoteManifest, *snapshot.Manifest, error) {
	if remote == 0 {
		return nil, nil, nil
	}
	diverged := func(reason string) error {
		return &DivergedError{Location: u.client.Location().String(), Remote: remote, Local: local, Reason: reason}
	}
	if remote > local {
		return nil, nil, diverged("the remote is ahead")
	}
	rm, m, err := getManifest(ctx, u.client, remote)
	if err != nil {
		u.log.Warn("remote CURRENT's manifest unreadable: checking every object", "seq", remote, "error", err)
		return nil, nil, nil
	}
	raw, err := u.pointManifestBytes(remote)
	if errors.Is(err, os.ErrNotExist) {
		return rm, m, nil // older than the local history window
	}
	if err != nil {
		return nil, nil, fmt.Errorf("replicate: check the remote history: %w", err)
	}
	if !bytes.Equal(raw, rm.Manifest) {
		return nil, nil, diverged(fmt.Sprintf("snapshot %d there is not this store's snapshot %d", remote, remote))
	}
	return rm, m, nil
}

// pointManifestBytes reads the MANIFEST.json of the local point seq: the
// snapshot's, else its history entry's (GC writes the entry before it
// moves the snapshot away, so one of them is there while the point is).
// os.ErrNotExist: the store holds no such point.
func (u *Uploader) pointManifestBytes(seq uint64) ([]byte, error) {
	raw, err := os.ReadFile(u.store.SnapshotFile(seq, snapshot.ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		raw, err = os.ReadFile(u.store.HistoryFile(seq, snapshot.ManifestFile))
	}
	return raw, err
}

// historyJobIDs returns the ids of every job a point of store's history
// applied (the job files of its snapshots and of its history entries):
// ids that must never be queued again, even when a restore undid them and
// reader.JobOutcome reads them unknown. A snapshot GC thins while it is
// read is read again from its history entry (GC writes the entry before it
// moves the snapshot away); a point gone altogether is passed over.
func historyJobIDs(store *snapshot.Store) (map[string]bool, error) {
	pts, err := store.Points()
	if err != nil {
		return nil, fmt.Errorf("list the history's jobs: %w", err)
	}
	ids := map[string]bool{}
	for _, p := range pts {
		m, full, err := store.PointManifest(p.Seq)
		if errors.Is(err, os.ErrNotExist) && !errors.Is(err, snapshot.ErrNoPoint) {
			m, full, err = store.PointManifest(p.Seq) // thinned meanwhile
		}
		if errors.Is(err, snapshot.ErrNoPoint) || errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list the history's jobs: %w", err)
		}
		for _, j := range store.PointJobs(m, full) {
			if c, ok := queue.ParseClaimedName(j.Name); ok {
				ids[c.ID] = true
			}
		}
	}
	return ids, nil
}

// remoteJobIDs returns the ids of the jobs the remote points of history
// after seq after, up to upTo, applied: the job files their remote
// manifests (snapshots/ and history/) list.
func remoteJobIDs(ctx context.Context, c *objstore.Client, after, upTo uint64) (map[string]bool, error) {
	full, thinned, err := remotePoints(ctx, c)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for seq := range mergeKeys(full, thinned) {
		if seq <= after || seq > upTo {
			continue
		}
		e, err := fetchEntry(ctx, c, seq, full[seq])
		if errors.Is(err, objstore.ErrNotFound) {
			continue // removed by retention meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read the jobs of remote snapshot %d: %w", seq, err)
		}
		for _, f := range e.rm.Files {
			if name, ok := strings.CutPrefix(f.Path, snapshot.JobsDir+"/"); ok {
				if cl, ok := queue.ParseClaimedName(path.Base(name)); ok {
					ids[cl.ID] = true
				}
			}
		}
	}
	return ids, nil
}

// mergeKeys is the union of a's and b's keys.
func mergeKeys(a, b map[uint64]bool) map[uint64]bool {
	out := make(map[uint64]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
