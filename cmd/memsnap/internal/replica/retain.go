package replica

import "context"
import "slices"
import "time"

import "github.com/memsnap/memsnap/snapshot"

// retain applies remote retention by the store's own history rules:
// snapshot.Retain over the remote snapshots' creation times, with
// UploadOptions.History (history.*) and Keep (replica.keep) as the number
// of newest snapshots always kept, the floor under the tiers. It keeps in
// full what Retain keeps, the snapshot current names, and any whose
// manifest cannot be read. A snapshot it thins inside the history window
// (numbered above RetainDecision.HistoryAfter) leaves its remote manifest
// under history/ first, its job files' objects kept, so that every point
// of the window stays reachable (restore --from --at, --at with --from);
// history entries at or below HistoryAfter go. Then every object under
// objects/ and chunks/ that no kept snapshot and no kept history entry's
// job file names, and that is older than RetentionGrace, is deleted. It
// returns how many objects it deleted.
func (u *Uploader) retain(ctx context.Context, current uint64) (int, error) {
	full, err := listSeqs(ctx, u.client, snapshotsPrefix)
	if err != nil {
		return 0, err
	}
	hist, err := listSeqs(ctx, u.client, historyPrefix)
	if err != nil {
		return 0, err
	}
	keep := map[uint64]bool{current: true}
	unread := map[uint64]bool{} // snapshots/ or history/ manifests that did not parse
	var times []snapshot.SnapshotTime
	for _, seq := range full {
		e, err := u.readEntry(ctx, seq, true, current)
		if err != nil {
			if ctx.Err() != nil {
				return 0, err
			}
			u.log.Warn("remote manifest unreadable: its snapshot is kept", "seq", seq, "error", err)
			keep[seq], unread[seq] = true, true
			continue
		}
		times = append(times, e.m.Time())
	}
	r := snapshot.Retention{Keep: u.opts.Keep, History: u.opts.History}
	d := snapshot.Retain(r, times, u.now())
	for _, seq := range d.Keep {
		keep[seq] = true
	}
	var keys []string
	for _, seq := range full {
		if keep[seq] {
			continue
		}
		if r.KeepFor > 0 && seq > d.HistoryAfter && !slices.Contains(hist, seq) {
			if err := u.client.Put(ctx, historyKey(seq), u.entries[seq].raw); err != nil {
				return 0, err
			}
			hist = append(hist, seq)
		}
		if !slices.Contains(hist, seq) {
			delete(u.entries, seq) // gone for good
		}
		keys = append(keys, snapshotKey(seq))
	}
	var keptHist []uint64
	for _, seq := range hist {
		if seq <= d.HistoryAfter {
			keys = append(keys, historyKey(seq))
			delete(u.entries, seq)
		} else {
			keptHist = append(keptHist, seq)
		}
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if err := u.client.Delete(ctx, keys...); err != nil {
		return 0, err
	}
	named, err := u.namedObjects(ctx, full, keep, unread, keptHist, current)
	if err != nil {
		return len(keys), err
	}
	if len(unread) > 0 {
		// What an unreadable manifest names is unknown: deleting nothing
		// more is safe.
		u.log.Warn("remote retention deletes no objects while a remote manifest is unreadable", "unreadable", len(unread))
		return len(keys), nil
	}
	garbage, err := u.unnamed(ctx, named)
	if err != nil {
		return len(keys), err
	}
	if err := u.client.Delete(ctx, garbage...); err != nil {
		return len(keys), err
	}
	u.log.Info("remote retention", "manifests_deleted", len(keys), "objects_deleted", len(garbage), "kept", len(keep), "history_entries", len(keptHist), "history_after", d.HistoryAfter)
	return len(keys) + len(garbage), nil
}

// namedObjects returns the keys of the objects that the kept snapshots
// (full's seqs in keep, but those in unread) and the kept history entries
// (keptHist: their job files) name. A history manifest that cannot be
// read is added to unread, its snapshot kept.
func (u *Uploader) namedObjects(ctx context.Context, full []uint64, keep, unread map[uint64]bool, keptHist []uint64, current uint64) (map[string]bool, error) {
	named := map[string]bool{}
	for _, seq := range full {
		if keep[seq] && !unread[seq] {
			e, err := u.entry(ctx, seq, true)
			if err != nil {
				return nil, err // deleting nothing more is safe
			}
			for _, k := range e.rm.keys() {
				named[k] = true
			}
		}
	}
	for _, seq := range keptHist {
		e, err := u.readEntry(ctx, seq, false, current)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			u.log.Warn("remote history manifest unreadable: kept", "seq", seq, "error", err)
			unread[seq] = true
			continue
		}
		for _, k := range e.rm.jobKeys() {
			named[k] = true
		}
	}
	return named, nil
}

// readEntry is entry, and when the remote manifest is there but does not
// parse, it is first put back from the local store if that holds it
// (repairManifest; current is the remote CURRENT's seq). One moved under
// history/ (thinDamaged) is not found under snapshots/ afterwards: the
// caller keeps it, and the next retention pass sees it as history.
func (u *Uploader) readEntry(ctx context.Context, seq uint64, full bool, current uint64) (*remoteEntry, error) {
	e, err := u.entry(ctx, seq, full)
	key, bad := isBadManifest(err)
	if !bad {
		return e, err
	}
	state, rerr := u.repairManifest(ctx, key, seq, full, current)
	if rerr != nil || state != repaired {
		return nil, err
	}
	return u.entry(ctx, seq, full)
}

// entry returns the remote manifest of seq (under snapshots/ when full,
// else history/), from the cache when it was read before: remote manifests
// never change, and snapshots/<seq>.json and history/<seq>.json hold the
// same bytes.
func (u *Uploader) entry(ctx context.Context, seq uint64, full bool) (*remoteEntry, error) {
	if e, ok := u.entries[seq]; ok {
		return e, nil
	}
	e, err := fetchEntry(ctx, u.client, seq, full)
	if err != nil {
		return nil, err
	}
	if u.entries == nil {
		u.entries = map[uint64]*remoteEntry{}
	}
	u.entries[seq] = e
	return e, nil
}

// now is the time retention judges ages by (UploadOptions.Now).
func (u *Uploader) now() time.Time {
	if u.opts.Now != nil {
		return u.opts.Now()
	}
	return time.Now()
}

// unnamed lists the objects and chunks not in named and older than
// RetentionGrace.
func (u *Uploader) unnamed(ctx context.Context, named map[string]bool) ([]string, error) {
	var out []string
	old := time.Now().Add(-RetentionGrace)
	for _, p := range []string{objectsPrefix, chunksPrefix} {
		list, err := u.client.List(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, o := range list {
			if !named[o.Key] && o.LastModified.Before(old) {
				out = append(out, o.Key)
			}
		}
	}
	return out, nil
}
