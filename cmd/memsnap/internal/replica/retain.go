package replica

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// retain applies remote retention: it keeps the newest Keep remote
// snapshots and the one current names, deletes the other remote
// manifests, then every object under objects/ and chunks/ that no kept
// manifest names and that is older than RetentionGrace. It returns how
// many objects it deleted. (The store's history rules, once they exist,
// will decide which snapshots to keep here too.)
func (u *Uploader) retain(ctx context.Context, current uint64) (int, error) {
	list, err := u.client.List(ctx, snapshotsPrefix)
	if err != nil {
		return 0, err
	}
	var seqs []uint64
	for _, o := range list {
		if seq, ok := parseSnapshotKey(o.Key); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	var drop, keep []uint64
	for i, seq := range seqs {
		if len(seqs)-i <= u.opts.Keep || seq == current {
			keep = append(keep, seq)
		} else {
			drop = append(drop, seq)
		}
	}
	if len(drop) == 0 {
		return 0, nil
	}
	var keys []string
	for _, seq := range drop {
		keys = append(keys, snapshotKey(seq))
	}
	if err := u.client.Delete(ctx, keys...); err != nil {
		return 0, err
	}
	named := map[string]bool{}
	for _, seq := range keep {
		rm, _, err := getManifest(ctx, u.client, seq)
		if err != nil {
			return len(keys), err // deleting nothing more is safe
		}
		for _, k := range rm.keys() {
			named[k] = true
		}
	}
	garbage, err := u.unnamed(ctx, named)
	if err != nil {
		return len(keys), err
	}
	if err := u.client.Delete(ctx, garbage...); err != nil {
		return len(keys), err
	}
	u.log.Info("remote retention", "snapshots_deleted", len(drop), "objects_deleted", len(garbage), "kept", len(keep))
	return len(keys) + len(garbage), nil
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

// parseSnapshotKey parses snapshots/<seq>.json.
func parseSnapshotKey(key string) (uint64, bool) {
	s, ok := strings.CutPrefix(key, snapshotsPrefix)
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
