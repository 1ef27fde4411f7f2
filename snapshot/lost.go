package snapshot

import "errors"
import "fmt"
import "slices"
import "time"

// Lost points of history
//
// GC and recycling never take a point of the history window without
// leaving its history entry (Retain, saveHistory): every seq from the
// window's base (or, in a store younger than the window, its oldest point)
// up to CURRENT is a directory under snapshots/ or an entry under
// history/. A seq in that range with neither was removed by something
// other than memsnap, and every point whose rebuild walks through it is
// lost with it: damage, not the window's end.

// lostHint is the Hint of lost point seq (LostPointError, FindLost).
func lostHint(seq uint64) string {
	return fmt.Sprintf("it was removed outside memsnap: copy snapshots/%s or history/%s back from a backup or a replica location; "+
		"until then the points that need it cannot be read or restored, the others can", FormatSeq(seq), FormatSeq(seq))
}

// LostPoints lists, ascending, the seqs of the history window h (at now)
// that are neither a snapshot directory nor a history entry: from the
// window's base, as GC decides it (Retain over the snapshots kept in full),
// or from the oldest point when that is newer, up to CURRENT. A store
// without a window (h.KeepFor 0) keeps no history entries and loses none;
// nor does a store whose CURRENT does not parse or names no point (Check
// reports that as FindCurrent).
func (s *Store) LostPoints(h History, now time.Time) ([]uint64, error) {
	if h.KeepFor <= 0 {
		return nil, nil
	}
	cur, err := s.Current()
	if err != nil || cur == 0 {
		return nil, nil
	}
	full, points, err := s.PointSeqs()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(points, cur) {
		return nil, nil
	}
	times, _ := s.snapshotTimes(full)
	from := max(Retain(Retention{Keep: 1, History: h}, times, now).Base, points[0])
	var lost []uint64
	for seq := from; seq < cur; seq++ {
		if _, ok := slices.BinarySearch(points, seq); !ok {
			lost = append(lost, seq)
		}
	}
	return lost, nil
}

// PointSeqs lists the seqs of the snapshots kept in full (full) and of
// every point of history, full or thinned (all), ascending.
func (s *Store) PointSeqs() (full, all []uint64, err error) {
	if full, err = s.Seqs(); err != nil {
		return nil, nil, err
	}
	hist, err := s.HistorySeqs()
	if err != nil {
		return nil, nil, err
	}
	all = append(slices.Clone(full), hist...)
	slices.Sort(all)
	return full, slices.Compact(all), nil
}

// LostPointError is a point of history that cannot be rebuilt because a
// point it needs is lost (LostPoints): Point itself, or Lost, the newest
// lost point before it. It matches ErrCorrupt and ErrNoPoint; Hint says
// what to do.
type LostPointError struct {
	Point uint64
	Lost  uint64
	Hint  string
}

func (e *LostPointError) Error() string {
	if e.Lost == e.Point {
		return fmt.Sprintf("point %d is lost: the store is damaged (%s)", e.Point, lostWhat(e.Lost))
	}
	return fmt.Sprintf("point %d cannot be rebuilt: point %d of its history is lost, the store is damaged (%s)", e.Point, e.Lost, lostWhat(e.Lost))
}

// ErrorHint returns Hint: the command line and the MCP server print it
// after the message.
func (e *LostPointError) ErrorHint() string { return e.Hint }

// lostWhat says what is missing of lost point seq.
func lostWhat(seq uint64) string {
	return fmt.Sprintf("neither snapshots/%s nor history/%s is there, though it is inside the history window", FormatSeq(seq), FormatSeq(seq))
}

// NewLostPointError is the *LostPointError of point, which cannot be
// rebuilt because lost (point itself, or one before it) is lost, with the
// hint that fits.
func NewLostPointError(point, lost uint64) *LostPointError {
	return &LostPointError{Point: point, Lost: lost, Hint: lostHint(lost)}
}

// Is makes errors.Is(e, ErrCorrupt) and errors.Is(e, ErrNoPoint) hold.
func (e *LostPointError) Is(target error) bool { return target == ErrCorrupt || target == ErrNoPoint }

// ExplainNoPoint returns, for err, an ErrNoPoint from rebuilding point seq
// (PlanPoint), a *LostPointError when a point at or before seq inside the
// history window h is lost (LostPoints at now); else err as it is.
func (s *Store) ExplainNoPoint(h History, seq uint64, now time.Time, err error) error {
	if !errors.Is(err, ErrNoPoint) {
		return err
	}
	lost, lerr := s.LostPoints(h, now)
	if lerr != nil {
		return err
	}
	for i := len(lost) - 1; i >= 0; i-- {
		if lost[i] <= seq {
			return NewLostPointError(seq, lost[i])
		}
	}
	return err
}
