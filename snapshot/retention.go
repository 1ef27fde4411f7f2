package snapshot

import "slices"
import "time"

// History retention
//
// A store keeps a window of history (Retention.KeepFor, history.keep_for):
// any point of it — what CURRENT held at any moment — can be rebuilt as a
// snapshot kept in full plus the jobs of the snapshots after it, which
// every snapshot archives in its jobs/ and which outlive a thinned snapshot
// in history/<seq>/ (history.go). Full snapshots are thinned by age, in
// tiers: every snapshot younger than KeepAllFor, then the oldest of each
// hour up to HourlyFor, then the oldest of each day up to KeepFor. Besides
// the tiers Retain always keeps the newest Keep snapshots, those younger
// than MinAge, the base of the window (the newest snapshot created at or
// before now - KeepFor: the point the oldest moment of the window is
// rebuilt from) and every rollback or restore snapshot after the base
// (their parent is an older snapshot, which may be gone: a walk back from
// a later point must stop at them).
//
// Why every point stays reachable (a point's content is its parent's
// content plus its own jobs): walking back from a point of the window
// parent by parent visits, until it meets a rollback or a restore, every
// snapshot that was CURRENT in between (a commit's parent is the CURRENT
// it was built on). The walk therefore meets a kept snapshot before it
// leaves the window's history: the base, or a rollback or restore after
// it, all kept in full, and every snapshot after the base keeps its jobs.
// The base only moves forward, onto a snapshot that was kept (it exists),
// so the window never loses its start.

// Retention is what GC keeps: gc.keep and gc.min_age, and the history
// window and its tiers (history.*). The zero value keeps one snapshot and
// no history.
type Retention struct {
	// Keep is how many newest snapshots are always kept in full (at least 1).
	Keep int
	// MinAge keeps in full every snapshot younger than this.
	MinAge time.Duration
	History
}

// History is the history window and its tiers (history.*). The zero value
// keeps no history.
type History struct {
	// KeepFor is the history window: every point of the last KeepFor can be
	// read and restored. 0 keeps no history: GC keeps Keep and MinAge only.
	KeepFor time.Duration
	// KeepAllFor keeps in full every snapshot younger than this (default
	// 10 minutes).
	KeepAllFor time.Duration
	// HourlyFor keeps in full the oldest snapshot of each Hour up to this
	// age (default 24 hours); older ones, the oldest of each Day.
	HourlyFor time.Duration
	// Hour and Day are the tiers' bucket widths: 0 means an hour and a day
	// (UTC). Tests shrink them.
	Hour, Day time.Duration
}

// Defaults of the history tiers (history.keep_for, history.keep_all_for,
// history.hourly_for). keep_all_for is 0: on a filesystem without reflinks
// (ext4, NTFS) each snapshot kept in full is a whole copy of its graph, and
// keeping every snapshot of the last 10 minutes took 141.84 MB against
// 14.63 MB for a store of 1,000 entities (docs/BENCHMARKS.md, "history");
// every point stays reachable through the job log either way.
const (
	DefaultHistoryKeepFor    = 7 * 24 * time.Hour
	DefaultHistoryKeepAllFor = 0
	DefaultHistoryHourlyFor  = 24 * time.Hour
)

// SnapshotTime is what Retain needs to know of one full snapshot.
type SnapshotTime struct {
	Seq       uint64
	CreatedAt time.Time
	// Anchor marks a snapshot a rollback or a restore published: its
	// parent is not the CURRENT before it.
	Anchor bool
}

// Time is what Retain needs to know of the snapshot m describes.
func (m *Manifest) Time() SnapshotTime {
	return SnapshotTime{Seq: m.Seq, CreatedAt: m.CreatedAt, Anchor: m.RollbackOf != 0 || m.RestoreOf != 0}
}

// RetainDecision is what Retain decides.
type RetainDecision struct {
	// Keep lists the seqs to keep in full, ascending; the others may go.
	Keep []uint64
	// HistoryAfter: the jobs (and manifest) of every snapshot numbered
	// above it are kept, in the snapshot or in history/; those at or
	// below it may go. With no history window it is the newest seq given
	// (nothing past is kept); with a window and no snapshot before it, 0.
	HistoryAfter uint64
	// Base is the window's base, kept in full (0: none, the store is
	// younger than the window, or no history window).
	Base uint64
}

// Retain decides which of snaps (any order) to keep in full at now, and
// from which seq on history is kept, by r (see the package comment on
// history retention above). It is a pure function: the same arguments give
// the same decision; GC and anything that keeps history elsewhere (a
// replica's remote retention) share it.
func Retain(r Retention, snaps []SnapshotTime, now time.Time) RetainDecision {
	s := slices.Clone(snaps)
	slices.SortFunc(s, func(a, b SnapshotTime) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	keep := map[uint64]bool{}
	for i := max(0, len(s)-max(r.Keep, 1)); i < len(s); i++ {
		keep[s[i].Seq] = true
	}
	for _, p := range s {
		if r.MinAge > 0 && now.Sub(p.CreatedAt) < r.MinAge {
			keep[p.Seq] = true
		}
	}
	var d RetainDecision
	if r.KeepFor <= 0 {
		if len(s) > 0 {
			d.HistoryAfter = s[len(s)-1].Seq
		}
		d.Keep = sortedKeys(keep)
		return d
	}
	start := now.Add(-r.KeepFor)
	for _, p := range s {
		if !p.CreatedAt.After(start) {
			d.Base = p.Seq // the newest at or before the window's start
		}
	}
	d.HistoryAfter = d.Base
	if d.Base != 0 {
		keep[d.Base] = true
	}
	hour, day := r.Hour, r.Day
	if hour <= 0 {
		hour = time.Hour
	}
	if day <= 0 {
		day = 24 * time.Hour
	}
	buckets := map[time.Time]bool{} // buckets whose oldest snapshot is kept
	hourly := map[time.Time]bool{}  // the same, of the hourly tier
	for _, p := range s {
		if p.Seq <= d.Base {
			continue
		}
		age := now.Sub(p.CreatedAt)
		switch {
		case p.Anchor || age < r.KeepAllFor:
			keep[p.Seq] = true
		case age < r.HourlyFor:
			b := p.CreatedAt.UTC().Truncate(hour)
			if !hourly[b] {
				hourly[b], keep[p.Seq] = true, true
			}
		default:
			b := p.CreatedAt.UTC().Truncate(day)
			if !buckets[b] {
				buckets[b], keep[p.Seq] = true, true
			}
		}
	}
	d.Keep = sortedKeys(keep)
	return d
}

func sortedKeys(m map[uint64]bool) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
