package snapshot

import "errors"
import "math/rand/v2"
import "slices"
import "strings"
import "testing"
import "time"

// simPoint is a snapshot of the simulated store.
type simPoint struct {
	SnapshotTime
	parent  uint64
	full    bool // kept in full
	history bool // its jobs and manifest are kept (in full or in history/)
}

// simStore plays GC's part over Retain with a fake clock: full snapshots
// Retain does not keep lose their graph; a history entry is kept while its
// seq is above HistoryAfter, as GC does.
type simStore struct {
	r   Retention
	pts []*simPoint // ascending seq
}

func (s *simStore) publish(now time.Time, parent uint64, anchor bool) {
	seq := uint64(len(s.pts) + 1)
	if parent == 0 && seq > 1 {
		parent = seq - 1
	}
	s.pts = append(s.pts, &simPoint{SnapshotTime: SnapshotTime{Seq: seq, CreatedAt: now, Anchor: anchor}, parent: parent, full: true, history: true})
}

func (s *simStore) gc(now time.Time) RetainDecision {
	var times []SnapshotTime
	for _, p := range s.pts {
		if p.full {
			times = append(times, p.SnapshotTime)
		}
	}
	d := Retain(s.r, times, now)
	for _, p := range s.pts {
		if p.full && !slices.Contains(d.Keep, p.Seq) {
			p.full = false
		}
		if p.Seq <= d.HistoryAfter {
			p.history = p.full
		}
	}
	return d
}

// reachable reports whether point seq can be rebuilt: a walk back parent
// by parent meets a full snapshot before a point without history.
func (s *simStore) reachable(seq uint64) bool {
	for seq != 0 {
		p := s.pts[seq-1]
		if p.full {
			return true
		}
		if !p.history {
			return false
		}
		seq = p.parent
	}
	return false
}

// pointAt is the point CURRENT named at t (0: before the first).
func (s *simStore) pointAt(t time.Time) uint64 {
	var seq uint64
	for _, p := range s.pts {
		if !p.CreatedAt.After(t) {
			seq = p.Seq
		}
	}
	return seq
}

// checkWindow fails unless every point of the window at now is
// reachable: each point published in it, and the one CURRENT named at its
// start.
func (s *simStore) checkWindow(t *testing.T, now time.Time) {
	t.Helper()
	start := now.Add(-s.r.KeepFor)
	if seq := s.pointAt(start); seq != 0 && !s.reachable(seq) {
		t.Fatalf("at %s: the point at the window's start (%d) is unreachable", now, seq)
	}
	for _, p := range s.pts {
		if p.CreatedAt.After(start) && !s.reachable(p.Seq) {
			t.Fatalf("at %s: point %d (created %s) is unreachable", now, p.Seq, p.CreatedAt)
		}
	}
}

func (s *simStore) fullCount() int {
	n := 0
	for _, p := range s.pts {
		if p.full {
			n++
		}
	}
	return n
}

// TestRetainKeepsEveryPointReachable runs a store for 9 days of fake time
// (commits at random intervals, now and then a rollback or a restore to an
// older kept snapshot), with GC after every commit, and checks after each
// GC that every point of the 7-day window can be rebuilt from a kept
// snapshot plus the jobs after it, that every snapshot of the last 10
// minutes is kept in full, and that thinning bounds the full snapshots.
func TestRetainKeepsEveryPointReachable(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, seed))
		r := Retention{Keep: 3, History: History{KeepFor: DefaultHistoryKeepFor, KeepAllFor: DefaultHistoryKeepAllFor, HourlyFor: DefaultHistoryHourlyFor}}
		s := &simStore{r: r}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		end := now.Add(9 * 24 * time.Hour)
		for now.Before(end) {
			now = now.Add(time.Duration(1+rng.IntN(20)) * time.Minute)
			switch rng.IntN(50) {
			case 0: // a rollback or restore to an older snapshot kept in full
				var fulls []uint64
				for _, p := range s.pts {
					if p.full {
						fulls = append(fulls, p.Seq)
					}
				}
				s.publish(now, fulls[rng.IntN(len(fulls))], true)
			default:
				s.publish(now, 0, false)
			}
			s.gc(now)
			s.checkWindow(t, now)
			for _, p := range s.pts {
				if now.Sub(p.CreatedAt) < r.KeepAllFor && !p.full {
					t.Fatalf("seed %d: snapshot %d, %s old, was thinned", seed, p.Seq, now.Sub(p.CreatedAt))
				}
			}
		}
		anchors := 0
		for _, p := range s.pts {
			if p.Anchor && now.Sub(p.CreatedAt) < r.KeepFor {
				anchors++
			}
		}
		// 10 minutes of commits at least a minute apart, 24 hours, 8 days,
		// the base, gc.keep, and the rollbacks of the window.
		if max := 10 + 24 + 8 + 1 + r.Keep + anchors; s.fullCount() > max {
			t.Errorf("seed %d: %d of %d snapshots kept in full, want at most %d", seed, s.fullCount(), len(s.pts), max)
		}
		t.Logf("seed %d: %d snapshots, %d kept in full, %d rollbacks in the window", seed, len(s.pts), s.fullCount(), anchors)
	}
}

// TestRetainTiers checks the tiers one by one on a fixed set: one snapshot
// every 20 minutes for 9 days.
func TestRetainTiers(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 5, 0, 0, time.UTC)
	var snaps []SnapshotTime
	for i := range 9 * 24 * 3 {
		snaps = append(snaps, SnapshotTime{Seq: uint64(i + 1), CreatedAt: now.Add(-9 * 24 * time.Hour).Add(time.Duration(i) * 20 * time.Minute)})
	}
	r := Retention{Keep: 1, History: History{KeepFor: 7 * 24 * time.Hour, KeepAllFor: 30 * time.Minute, HourlyFor: 6 * time.Hour}}
	d := Retain(r, snaps, now)
	start := now.Add(-r.KeepFor)
	hours, days := map[time.Time]int{}, map[time.Time]int{}
	for _, seq := range d.Keep {
		p := snaps[seq-1]
		age := now.Sub(p.CreatedAt)
		switch {
		case seq == d.Base:
			if p.CreatedAt.After(start) || (seq < uint64(len(snaps)) && !snaps[seq].CreatedAt.After(start)) {
				t.Errorf("base %d is not the newest snapshot at or before the window's start", seq)
			}
		case age < r.KeepAllFor:
		case age < r.HourlyFor:
			hours[p.CreatedAt.Truncate(time.Hour)]++
		default:
			days[p.CreatedAt.Truncate(24*time.Hour)]++
		}
	}
	for _, p := range snaps {
		if now.Sub(p.CreatedAt) < r.KeepAllFor && !slices.Contains(d.Keep, p.Seq) {
			t.Errorf("snapshot %d of the last %s was not kept", p.Seq, r.KeepAllFor)
		}
	}
	for b, n := range hours {
		if n != 1 {
			t.Errorf("hour %s: %d snapshots kept, want 1", b, n)
		}
	}
	for b, n := range days {
		if n != 1 {
			t.Errorf("day %s: %d snapshots kept, want 1", b, n)
		}
	}
	if len(hours) < 5 || len(days) < 7 {
		t.Errorf("%d hours and %d days kept one snapshot each, want at least 5 and 7", len(hours), len(days))
	}
	if d.HistoryAfter != d.Base || d.Base == 0 {
		t.Errorf("history after %d, base %d: want the base", d.HistoryAfter, d.Base)
	}
	// No history window: gc.keep alone, and nothing kept past it.
	d = Retain(Retention{Keep: 2}, snaps, now)
	if !slices.Equal(d.Keep, []uint64{uint64(len(snaps) - 1), uint64(len(snaps))}) || d.HistoryAfter != uint64(len(snaps)) {
		t.Errorf("without history: keep %v, history after %d", d.Keep, d.HistoryAfter)
	}
}

// TestPointInBeforeTheOldest: a time before every kept point is
// ErrNoPoint naming the oldest point and its time; the point of a time
// between two is the older of them.
func TestPointInBeforeTheOldest(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	pts := []Point{{Seq: 9, CreatedAt: t0.Add(time.Hour)}, {Seq: 4, CreatedAt: t0}}
	if seq, err := PointIn(pts, t0.Add(30*time.Minute)); err != nil || seq != 4 {
		t.Fatalf("between the two points: %d, %v; want 4", seq, err)
	}
	_, err := PointIn(pts, t0.Add(-time.Minute))
	if !errors.Is(err, ErrNoPoint) || !strings.Contains(err.Error(), "the oldest point kept is snapshot 4, published at 2026-12-07T10:00:00Z") {
		t.Fatalf("before the oldest point: %v", err)
	}
	if _, err := PointIn(nil, t0); !errors.Is(err, ErrNoPoint) || !strings.Contains(err.Error(), "nothing is published yet") {
		t.Fatalf("no point at all: %v", err)
	}
}
