package replica

import "cmp"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "slices"
import "strconv"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/steptimer"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// The remote history: as a store keeps a window of history (snapshot
// Retain: snapshots kept in full, and the manifest and job files of the
// thinned ones in history/<seq>/), a replica location keeps snapshots/
// <seq>.json for the snapshots kept in full and history/<seq>.json for the
// thinned ones, whose job files' objects stay (retain.go). A point of it
// is rebuilt locally: Mirror brings the snapshot kept in full it starts
// from and the history entries after it into a local store, where
// snapshot.Store.PlanPoint and writer.BuildView rebuild it as they do a
// point of a local store's history.

func historyKey(seq uint64) string { return historyPrefix + snapshot.FormatSeq(seq) + ".json" }

// remoteEntry is a remote manifest (of snapshots/ or history/: the same
// bytes for one seq) and its snapshot manifest. Remote manifests never
// change once put, so an Uploader caches them.
type remoteEntry struct {
	raw []byte
	rm  *RemoteManifest
	m   *snapshot.Manifest
}

// fetchEntry fetches and checks the remote manifest of seq, from
// snapshots/ (full) or history/.
func fetchEntry(ctx context.Context, c *objstore.Client, seq uint64, full bool) (*remoteEntry, error) {
	key := historyKey(seq)
	if full {
		key = snapshotKey(seq)
	}
	rm, m, raw, err := getManifestAt(ctx, c, key, seq)
	if err != nil {
		return nil, err
	}
	return &remoteEntry{raw: raw, rm: rm, m: m}, nil
}

// listSeqs lists the seqs of the remote manifests under prefix
// (snapshots/ or history/), ascending.
func listSeqs(ctx context.Context, c *objstore.Client, prefix string) ([]uint64, error) {
	list, err := c.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, o := range list {
		if seq, ok := parseSeqKey(o.Key, prefix); ok {
			out = append(out, seq)
		}
	}
	slices.Sort(out)
	return out, nil
}

// parseSeqKey parses <prefix><seq>.json.
func parseSeqKey(key, prefix string) (uint64, bool) {
	s, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".json")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	return seq, err == nil && seq > 0
}

// remotePoints lists the remote's points of history: the seqs kept in
// full (snapshots/) and those thinned (history/).
func remotePoints(ctx context.Context, c *objstore.Client) (full, thinned map[uint64]bool, err error) {
	full, thinned = map[uint64]bool{}, map[uint64]bool{}
	for _, l := range []struct {
		prefix string
		set    map[uint64]bool
	}{{snapshotsPrefix, full}, {historyPrefix, thinned}} {
		seqs, err := listSeqs(ctx, c, l.prefix)
		if err != nil {
			return nil, nil, fmt.Errorf("list %s of %s: %w", l.prefix, c.Location(), err)
		}
		for _, seq := range seqs {
			l.set[seq] = true
		}
	}
	return full, thinned, nil
}

// ResolvePoint resolves at (SEQ|TIME, as --at takes it; see
// snapshot.ParsePointWith) against the points of history the remote
// location holds. A time reads the creation time of every remote point
// (one small GET each). A value of neither form is snapshot.ErrBadPoint;
// a time before every remote point, snapshot.ErrNoPoint.
func ResolvePoint(ctx context.Context, c *objstore.Client, at string, now time.Time) (uint64, error) {
	return snapshot.ParsePointWith(at, now, func(t time.Time) (uint64, error) {
		full, thinned, err := remotePoints(ctx, c)
		if err != nil {
			return 0, err
		}
		var pts []snapshot.Point
		for seq := range thinned {
			if full[seq] {
				continue // kept in full too: its manifest under snapshots/
			}
			e, err := fetchEntry(ctx, c, seq, false)
			if err != nil {
				return 0, fmt.Errorf("remote point %d: %w", seq, err)
			}
			pts = append(pts, snapshot.Point{Seq: seq, CreatedAt: e.m.CreatedAt})
		}
		for seq := range full {
			e, err := fetchEntry(ctx, c, seq, true)
			if err != nil {
				return 0, fmt.Errorf("remote point %d: %w", seq, err)
			}
			pts = append(pts, snapshot.Point{Seq: seq, CreatedAt: e.m.CreatedAt, Full: true})
		}
		return snapshot.PointIn(pts, t)
	})
}

// Mirror fills store (new and empty) with what rebuilding point seq of the
// remote history needs: walking back from seq parent by parent, the
// history entries met (their manifests and job files, each checked, see
// snapshot.Store.AdoptHistory) until the first snapshot kept in full, which
// comes down whole (checked, as Sync brings one) and becomes store's
// CURRENT. PlanPoint and writer.BuildView on store then rebuild the point.
// A point the remote does not keep, or a walk that ends before a snapshot
// kept in full, is snapshot.ErrNoPoint.
func Mirror(ctx context.Context, c *objstore.Client, store *snapshot.Store, seq uint64, log *slog.Logger) error {
	full, thinned, err := remotePoints(ctx, c)
	if err != nil {
		return err
	}
	var chain []*remoteEntry
	base := seq
	for !full[base] {
		if !thinned[base] {
			return fmt.Errorf("point %d of %s: snapshot %d is neither kept nor in its history: %w (remote retention keeps history.keep_for)",
				seq, c.Location(), base, snapshot.ErrNoPoint)
		}
		e, err := fetchEntry(ctx, c, base, false)
		if err != nil {
			return fmt.Errorf("point %d of %s: %w", seq, c.Location(), err)
		}
		chain = append(chain, e)
		if e.m.Parent == 0 || e.m.Parent >= base {
			return fmt.Errorf("point %d of %s: its history ends at snapshot %d, before any snapshot kept in full: %w", seq, c.Location(), base, snapshot.ErrNoPoint)
		}
		base = e.m.Parent
	}
	lock, err := writer.AcquireLock(ctx, store, time.Minute)
	if err != nil {
		return fmt.Errorf("point %d: %w", seq, err)
	}
	defer lock.Release()
	sy := NewSyncer(c, store, SyncOptions{}, log)
	rm, m, err := getManifest(ctx, c, base)
	if err != nil {
		return fmt.Errorf("point %d of %s: %w", seq, c.Location(), err)
	}
	var res SyncResult
	if err := sy.fetch(ctx, rm, m, &res, steptimer.New(), false); err != nil {
		return fmt.Errorf("point %d: %w", seq, err)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if err := sy.adoptHistory(ctx, chain[i], &res); err != nil {
			return fmt.Errorf("point %d: %w", seq, err)
		}
	}
	log.Debug("remote point mirrored", "point", seq, "base", base, "history_entries", len(chain), "fetched", res.Fetched, "bytes", res.Bytes)
	return nil
}

// adoptHistory brings history entry e down: its job files, each checked,
// under staging/, then published as history/<seq>/ (AdoptHistory). Caller
// holds the store's writer lock.
func (s *Syncer) adoptHistory(ctx context.Context, e *remoteEntry, res *SyncResult) (err error) {
	name := "history-" + snapshot.FormatSeq(e.m.Seq)
	_ = s.store.RemoveStaging(name)
	defer func() {
		if err != nil {
			_ = s.store.RemoveStaging(name)
		}
	}()
	dir := s.store.StagingPath(name)
	if err := os.MkdirAll(dir, fsutil.DirPerm); err != nil {
		return fmt.Errorf("replica: history of snapshot %d: %w", e.m.Seq, err)
	}
	if _, err := s.assemble(ctx, dir, e.rm, e.m, isJob, res, steptimer.New(), false); err != nil {
		return fmt.Errorf("replica: fetch the history of snapshot %d: %w", e.m.Seq, err)
	}
	if err := s.store.AdoptHistory(dir, e.rm.Manifest, e.m); err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	return nil
}

// uploadHistory sends the history entry of local point seq (a snapshot GC
// thinned before it went up): its job files, then history/<seq>.json,
// whose other files have no object (JobsOnly). An entry GC has dropped
// meanwhile (older than the window) is skipped.
func (u *Uploader) uploadHistory(ctx context.Context, seq uint64, id string, have *presence, res *UploadResult) error {
	b, err := u.sendHistory(ctx, seq, id, have, res)
	if errors.Is(err, os.ErrNotExist) {
		u.log.Info("point collected before it went up: skipped", "seq", seq)
		return nil
	}
	if err != nil {
		return err
	}
	if err := u.client.Put(ctx, historyKey(seq), b); err != nil {
		return fmt.Errorf("replicate the history of snapshot %d: %w", seq, err)
	}
	res.Objects++
	res.Bytes += int64(len(b))
	return nil
}

// sendHistory sends the job files of local history entry seq the remote
// lacks and returns the entry's remote manifest (history/<seq>.json's
// bytes). An entry the store does not hold is os.ErrNotExist.
func (u *Uploader) sendHistory(ctx context.Context, seq uint64, id string, have *presence, res *UploadResult) ([]byte, error) {
	raw, err := os.ReadFile(u.store.HistoryFile(seq, snapshot.ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("replicate the history of snapshot %d: %w", seq, err)
	}
	m, err := snapshot.ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("replicate the history of snapshot %d: %w", seq, err)
	}
	rm := &RemoteManifest{Format: remoteFormat, Seq: seq, Store: id, Manifest: raw, Files: make([]RemoteFile, len(m.Files)), JobsOnly: true}
	up := newSender(ctx, u, have, res)
	for i, f := range m.Files {
		rm.Files[i].Path = f.Path
		if isJob(f.Path) {
			if rm.Files[i].Object, err = up.whole(u.store.HistoryFile(seq, f.Path), f); err != nil {
				up.wait()
				return nil, fmt.Errorf("replicate the history of snapshot %d: %s: %w", seq, f.Path, err)
			}
		}
	}
	if err := up.wait(); err != nil {
		return nil, fmt.Errorf("replicate the history of snapshot %d: %w", seq, err)
	}
	return json.Marshal(rm)
}

// localPoint is a point of the local store's history to send up.
type localPoint struct {
	seq  uint64
	full bool
}

// localPoints lists the local store's points, ascending: the snapshots kept
// in full and the history entries of thinned ones.
func (u *Uploader) localPoints() ([]localPoint, error) {
	seqs, err := u.store.Seqs()
	if err != nil {
		return nil, err
	}
	hist, err := u.store.HistorySeqs()
	if err != nil {
		return nil, err
	}
	var out []localPoint
	for _, seq := range seqs {
		out = append(out, localPoint{seq: seq, full: true})
	}
	for _, seq := range hist {
		if !slices.Contains(seqs, seq) {
			out = append(out, localPoint{seq: seq})
		}
	}
	slices.SortFunc(out, func(a, b localPoint) int { return cmp.Compare(a.seq, b.seq) })
	return out, nil
}
