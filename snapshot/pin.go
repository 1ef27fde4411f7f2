package snapshot

import "errors"
import "fmt"
import "os"
import "path/filepath"
import "time"

import "github.com/memsnap/memsnap/internal/filelock"
import "github.com/memsnap/memsnap/internal/fsutil"

// Pin holds a shared lock (filelock: flock on Unix, LockFileEx on Windows)
// on a snapshot's PIN file. While any pin on a
// snapshot is held, GC leaves that snapshot alone. The kernel drops the pin
// when its process dies.
type Pin struct {
	f   *os.File
	seq uint64
}

// Seq is the pinned snapshot.
func (p *Pin) Seq() uint64 { return p.seq }

// Release drops the pin. It is idempotent.
func (p *Pin) Release() {
	if p.f != nil {
		p.f.Close() // closing the descriptor drops its flock
		p.f = nil
	}
}

// PinCurrent pins the snapshot CURRENT names. If GC is collecting that
// snapshot at the same moment (possible only when CURRENT advanced K times in
// between), it re-reads CURRENT and tries again. A CURRENT moved back
// behind a published snapshot is refused with a *CurrentError
// (ErrCurrentBehind, Reading; see CurrentForRead), as the writer refuses
// to build on it.
//
// Snapshots on disk but no CURRENT file is refused too (ErrCurrentMissing),
// after up to publishWait: an init under way (another process's `mcp` or
// `init` on a new store publishes the first snapshot, then writes
// CURRENT) writes it within that time.
func (s *Store) PinCurrent() (*Pin, error) {
	deadline := time.Now().Add(publishWait)
	for attempt := 0; attempt < 100; attempt++ {
		seq, err := s.CurrentForRead("read")
		if err != nil {
			return nil, err
		}
		if seq == 0 {
			err := s.NoCurrentError("read")
			if errors.Is(err, ErrCurrentMissing) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				attempt--
				continue
			}
			return nil, err
		}
		p, err := s.Pin(seq)
		if errors.Is(err, errGone) {
			// GC never collects what CURRENT names: if CURRENT still names
			// seq and it is not on disk, it was never there to collect.
			if again, _ := s.Current(); again == seq && !fsutil.Exists(s.SnapshotDir(seq)) {
				return nil, &CurrentError{Op: "read", Path: s.Path(CurrentFile), Current: seq, Err: ErrCurrentMissing, Hint: repairHint, Reading: true}
			}
			continue
		}
		return p, err
	}
	return nil, errors.New("pin CURRENT: snapshots keep disappearing under the reader (is GC keep too low?)")
}

// PinsRefused counts the pins this Store refused because another process
// held the snapshot's PIN exclusively: GC does while it moves the snapshot
// to trash. PinCurrent retries such a refusal on CURRENT, so a caller sees
// an error only if they keep coming; the count shows them all.
func (s *Store) PinsRefused() int64 { return s.pinsRefused.Load() }

var errGone = errors.New("snapshot: snapshot is being collected")

// ErrPinMissing is matched (errors.Is) by a *PinMissingError.
var ErrPinMissing = errors.New("snapshot: PIN file missing")

// pinHint is PinMissingError.Hint.
const pinHint = "run '" + RepairCommand + "' to recreate it"

// PinMissingError is a snapshot on disk without its PIN file, the empty
// lock file readers hold (shared) so that GC leaves the snapshot alone.
// Publish writes it before the snapshot's directory is renamed into
// snapshots/, and GC renames the whole directory away, so a snapshot
// directory without one was damaged (the file removed): not a snapshot
// being collected. Readers refuse to pin it (a pin they cannot hold would
// not keep GC off); Repair recreates it (RecreatePins). errors.Is(err,
// ErrPinMissing) and errors.Is(err, ErrCorrupt) hold.
type PinMissingError struct {
	Seq  uint64
	Path string // the missing file
	Hint string // the command that recreates it
}

func (e *PinMissingError) Error() string {
	return fmt.Sprintf("snapshot %d: missing %s, the lock file readers hold so that GC leaves it alone; %s", e.Seq, PinFile, e.Hint)
}

// Is makes errors.Is(err, ErrPinMissing) and errors.Is(err, ErrCorrupt) hold.
func (e *PinMissingError) Is(target error) bool {
	return target == ErrPinMissing || target == ErrCorrupt
}

// pinMissing returns a *PinMissingError when snapshot seq's directory is
// in snapshots/ (its manifest is there) without its PIN file, else nil.
func (s *Store) pinMissing(seq uint64) error {
	dir := s.SnapshotDir(seq)
	if fsutil.Exists(filepath.Join(dir, PinFile)) || !fsutil.Exists(filepath.Join(dir, ManifestFile)) {
		return nil
	}
	return &PinMissingError{Seq: seq, Path: filepath.Join(dir, PinFile), Hint: pinHint}
}

// RecreatePins creates the missing PIN file of every snapshot in
// snapshots/ that has its manifest but no PIN (see PinMissingError), fsyncs
// its directory, and returns their seqs. An empty lock file holds nothing
// to lose, and with the writer lock held no GC runs that could have taken
// the missing file for a snapshot nobody pins. Caller holds the writer
// lock.
func (s *Store) RecreatePins() ([]uint64, error) {
	seqs, err := s.Seqs()
	if err != nil {
		return nil, err
	}
	var made []uint64
	for _, seq := range seqs {
		if s.pinMissing(seq) == nil {
			continue
		}
		f, err := fsutil.CreateExcl(filepath.Join(s.SnapshotDir(seq), PinFile))
		if err != nil {
			return made, fmt.Errorf("recreate PIN of snapshot %d: %w", seq, err)
		}
		f.Close()
		if err := fsutil.SyncDir(s.SnapshotDir(seq)); err != nil {
			return made, fmt.Errorf("recreate PIN of snapshot %d: %w", seq, err)
		}
		made = append(made, seq)
	}
	return made, nil
}

// Pin pins snapshot seq, failing if it does not exist or is being
// collected, or with a *PinMissingError if it has no PIN file.
func (s *Store) Pin(seq uint64) (*Pin, error) {
	path := filepath.Join(s.SnapshotDir(seq), PinFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := s.pinMissing(seq); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("pin snapshot %d: %w", seq, errGone)
	}
	if err != nil {
		return nil, fmt.Errorf("pin snapshot %d: %w", seq, err)
	}
	if err := filelock.TryLock(f, filelock.Shared); err != nil {
		f.Close()
		if errors.Is(err, filelock.ErrWouldBlock) {
			s.pinsRefused.Add(1)
			return nil, fmt.Errorf("pin snapshot %d: %w", seq, errGone)
		}
		return nil, fmt.Errorf("pin snapshot %d: %w", seq, err)
	}
	// GC may have renamed the directory between open and flock.
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		f.Close()
		return nil, fmt.Errorf("pin snapshot %d: %w", seq, errGone)
	}
	return &Pin{f: f, seq: seq}, nil
}

// lockUnpinned reports whether any process pins snapshot seq. If it is not
// pinned, the returned release func holds an exclusive flock that keeps new
// readers out until called: only GC and RemoveLeftovers, which remove the
// snapshot under it, may use it (listing uses probePins).
func (s *Store) lockUnpinned(seq uint64) (release func(), pinned bool, err error) {
	f, err := os.Open(filepath.Join(s.SnapshotDir(seq), PinFile))
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, false, nil // half-built or damaged: nobody can pin it
	}
	if err != nil {
		return nil, false, fmt.Errorf("check pin of snapshot %d: %w", seq, err)
	}
	if err := filelock.TryLock(f, filelock.Exclusive); err != nil {
		f.Close()
		if errors.Is(err, filelock.ErrWouldBlock) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("check pin of snapshot %d: %w", seq, err)
	}
	return func() { f.Close() }, false, nil
}
