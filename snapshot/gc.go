package snapshot

import "crypto/rand"
import "encoding/hex"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "time"

import "github.com/memsnap/memsnap/internal/fsutil"

// GCOptions sets what GC keeps.
type GCOptions struct {
	// Keep is how many newest snapshots are always kept (at least 1).
	Keep int
	// MinAge keeps snapshots younger than this.
	MinAge time.Duration
	// History is the history window and its tiers; zero keeps no history
	// (see Retain).
	History History
	// Now is the time GC judges ages by; zero means time.Now().
	Now time.Time
}

// retention is the Retention o describes.
func (o GCOptions) retention() Retention {
	return Retention{Keep: o.Keep, MinAge: o.MinAge, History: o.History}
}

// now is o.Now, or the time now.
func (o GCOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// GCResult says what one GC pass did.
type GCResult struct {
	Removed []uint64 `json:"removed"`
	// TrashLeft says why trash/ could not be emptied, when it could not:
	// what is left there is garbage a later pass deletes (EmptyTrash).
	TrashLeft string   `json:"trash_left,omitempty"`
	Pinned    []uint64 `json:"pinned"`
	Kept      []uint64 `json:"kept"`
	// HistoryFrom is the oldest point of history kept after this pass (0:
	// no history kept, see history.keep_for).
	HistoryFrom uint64 `json:"history_from,omitempty"`
}

// GC removes old snapshots. It never removes CURRENT, the newest opts.Keep
// snapshots, one younger than opts.MinAge, one that Retain keeps for the
// history window, or one that a reader pins. A collected snapshot is
// renamed into trash/ while GC holds its PIN exclusively, then deleted;
// first, when it is inside the history window, its manifest and job files
// are kept in history/ (saveHistory). GC then removes the history entries
// older than the window's base, and empties trash/ of earlier leftovers.
// Caller holds the writer lock.
func (s *Store) GC(opts GCOptions) (GCResult, error) {
	var res GCResult
	if opts.Keep < 1 {
		opts.Keep = 1
	}
	_ = s.EmptyTrash() // what it cannot delete now, the pass at the end reports
	cur, err := s.Current()
	if err != nil {
		return res, err
	}
	seqs, err := s.Seqs()
	if err != nil {
		return res, err
	}
	times, readable := s.snapshotTimes(seqs)
	d := Retain(opts.retention(), times, opts.now())
	for i, seq := range seqs {
		newest := len(seqs)-i <= opts.Keep
		if seq == cur || seq > cur || newest || slices.Contains(d.Keep, seq) {
			res.Kept = append(res.Kept, seq)
			continue
		}
		removed, err := s.collect(seq, opts.History.KeepFor > 0 && readable[seq] && seq > d.HistoryAfter)
		if err != nil {
			return res, err
		}
		if removed {
			res.Removed = append(res.Removed, seq)
		} else {
			res.Pinned = append(res.Pinned, seq)
		}
	}
	if err := s.pruneHistory(d.HistoryAfter); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	s.pruneViews(opts.now())
	if opts.History.KeepFor > 0 {
		res.HistoryFrom = max(d.Base, 1)
	}
	if err := s.EmptyTrash(); err != nil {
		res.TrashLeft = err.Error() // garbage: not a failure of GC
	}
	return res, nil
}

// snapshotTimes reads the manifests of seqs for Retain; readable says which
// could be read (the others are judged by count alone, as damaged ones).
func (s *Store) snapshotTimes(seqs []uint64) ([]SnapshotTime, map[uint64]bool) {
	times := make([]SnapshotTime, 0, len(seqs))
	readable := make(map[uint64]bool, len(seqs))
	for _, seq := range seqs {
		m, err := s.Manifest(seq)
		if err != nil {
			continue
		}
		readable[seq] = true
		times = append(times, m.Time())
	}
	return times, readable
}

// collect moves snapshot seq to trash unless a reader pins it (removed
// false then), keeping its history entry first when history says so.
func (s *Store) collect(seq uint64, history bool) (removed bool, err error) {
	release, pinned, err := s.lockUnpinned(seq)
	if err != nil || pinned {
		return false, err
	}
	if history {
		if err := s.saveHistory(seq); err != nil {
			release()
			return false, fmt.Errorf("gc: %w", err)
		}
	}
	err = s.moveUnpinned(seq, release)
	if errors.Is(err, fsutil.ErrBusy) {
		return false, nil // files still open (Windows): collected on a later pass
	}
	return err == nil, err
}

// moveUnpinned moves snapshot seq to trash/ and calls release, which drops
// the exclusive lock on its PIN that lockUnpinned took. On Unix it moves
// the snapshot while it holds that lock, so no reader can pin it meanwhile.
// On Windows a directory holding an open file cannot be renamed, GC's own
// handle on PIN included: it drops the lock first and tries the rename once;
// a reader that opened PIN in between makes the rename fail, and the error
// (fsutil.ErrBusy) tells GC to keep the snapshot for a later pass. Either
// way no reader can hold a snapshot that is moved.
func (s *Store) moveUnpinned(seq uint64, release func()) error {
	var r [4]byte
	_, _ = rand.Read(r[:])
	dst := s.Path("trash", FormatSeq(seq)+"-"+hex.EncodeToString(r[:]))
	if err := s.moveUnpinnedTo(seq, dst, release); err != nil {
		return fmt.Errorf("gc: move snapshot %d to trash: %w", seq, err)
	}
	return nil
}

// moveUnpinnedTo renames snapshot seq's directory to dst and calls
// release, in the order moveUnpinned describes; the writer's recycling
// moves a snapshot into staging/ this way.
func (s *Store) moveUnpinnedTo(seq uint64, dst string, release func()) error {
	if releaseBeforeMove {
		release()
		return renameOnce(s.SnapshotDir(seq), dst)
	}
	defer release()
	return renameOnce(s.SnapshotDir(seq), dst)
}

// renameOnce is fsutil.RenameOnce; tests stand in Windows' refusal to
// rename a directory that holds an open file.
var renameOnce = fsutil.RenameOnce

// EmptyTrash deletes what GC (or an interrupted GC) left in trash/. No
// snapshot there can be pinned: GC moves a snapshot to trash only while it
// holds the snapshot's PIN exclusively. On Windows one of its files may
// still be open all the same, through another name: its sstables are hard
// links shared with newer snapshots, whose readers hold them open, and a
// file open without FILE_SHARE_DELETE cannot be deleted through any name.
// Such an entry (fsutil.ErrBusy) stays in trash/ for a later pass, silently.
// An entry that fails to delete for another reason also stays; EmptyTrash
// goes on with the others and returns the first such failure and how many
// entries it left. Nothing in trash/ is served or needed: a caller may log
// the error and go on. Caller holds the writer lock.
func (s *Store) EmptyTrash() error {
	ents, err := os.ReadDir(s.Path("trash"))
	if err != nil {
		return fmt.Errorf("gc: read trash: %w", err)
	}
	var first error
	left := 0
	for _, e := range ents {
		if err := fsutil.RemoveAll(s.Path("trash", e.Name())); err != nil && !errors.Is(err, fsutil.ErrBusy) {
			left++
			if first == nil {
				first = err
			}
		}
	}
	if first != nil {
		return fmt.Errorf("gc: empty trash: %d entries left for a later pass: %w", left, first)
	}
	return nil
}

// removeOrTrash removes the directory path (in staging/), or, where that
// fails, moves what is left of it to trash/, which GC empties later: a file
// in it may still be open through another name (fsutil.ErrBusy: Windows,
// see EmptyTrash), or the system may refuse the delete for another reason;
// either way staging/ is left empty for the next stage, and only a failed
// move is an error.
func (s *Store) removeOrTrash(path string) error {
	err := fsutil.RemoveAll(path)
	if err == nil {
		return nil
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	if rerr := fsutil.RenameOnce(path, s.Path("trash", filepath.Base(path)+"-"+hex.EncodeToString(r[:]))); rerr != nil {
		return fmt.Errorf("%w (and moving it to trash: %w)", err, rerr)
	}
	return nil
}
