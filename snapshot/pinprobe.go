package snapshot

import "bufio"
import "errors"
import "fmt"
import "io"
import "os"
import "path/filepath"
import "strconv"
import "strings"

import "github.com/memsnap/memsnap/internal/filelock"

// Listing asks "does a reader pin this snapshot?" without disturbing the
// readers. It used to try an exclusive flock on each PIN, as GC does: for
// the moment it held one, a reader's shared pin on that snapshot failed and
// the reader took the snapshot for one being collected. Listing now never
// takes a lock that conflicts with a pin:
//
//   - It takes only a shared, non-blocking flock on each PIN (what a reader
//     takes). That fails only while GC holds the PIN exclusively, which
//     means the snapshot is being collected.
//   - While it holds those, it reads /proc/locks once and counts the locks
//     on each PIN's inode. Its own shared lock is one of them; the rest are
//     readers' pins. Its own lock also calibrates the match: if it is not
//     listed (device numbers /proc/locks shows that differ from stat's, as on
//     some overlay or FUSE setups, or locks hidden from this pid namespace),
//     listing says it cannot tell rather than "not pinned".
//   - Without /proc/locks (not Linux, or procfs not mounted) it cannot tell
//     either: Pins is -1 and Pinned false. That is always so on Windows,
//     which has no table of LockFileEx locks; GC still sees the pins there.
//
// What listing reports is advice for people. GC does not rely on it: it
// still takes each PIN exclusively before it moves a snapshot to trash. A
// listing that holds its shared locks at that moment makes GC keep the
// snapshot until its next pass, which is safe. Readers in another pid
// namespace (a container sharing the store) are not in this process's
// /proc/locks and are not counted; GC still sees their pins.

// PinsUnknown is Info.Pins when listing could not tell how many readers
// pin a snapshot.
const PinsUnknown = -1

// procLocks is the kernel's table of file locks.
var procLocks = "/proc/locks"

// probeChunk is how many PINs listing holds open at once.
const probeChunk = 256

// probeHook, if set (by tests), runs while listing holds its probe locks.
var probeHook func()

// pinProbe is what listing learned about one snapshot's pins.
type pinProbe struct {
	pins       int  // readers' pins seen, or PinsUnknown
	collecting bool // GC holds the PIN exclusively
}

// probePins reports the pins on each of seqs. It never takes a lock that
// conflicts with a reader's pin (see above).
func (s *Store) probePins(seqs []uint64) []pinProbe {
	out := make([]pinProbe, len(seqs))
	for start := 0; start < len(seqs); start += probeChunk {
		end := min(start+probeChunk, len(seqs))
		s.probeChunk(seqs[start:end], out[start:end])
	}
	return out
}

func (s *Store) probeChunk(seqs []uint64, out []pinProbe) {
	type held struct {
		i   int
		f   *os.File
		key lockKey
	}
	var hs []held
	defer func() {
		for _, h := range hs {
			h.f.Close() // drops the shared probe lock
		}
	}()
	for i, seq := range seqs {
		out[i].pins = PinsUnknown
		f, err := os.Open(filepath.Join(s.SnapshotDir(seq), PinFile))
		if errors.Is(err, os.ErrNotExist) {
			out[i].pins = 0 // half-built or damaged: nobody can pin it
			continue
		}
		if err != nil {
			continue
		}
		if err := filelock.TryLock(f, filelock.Shared); err != nil {
			f.Close()
			out[i].collecting = errors.Is(err, filelock.ErrWouldBlock)
			continue
		}
		key, ok := fileLockKey(f)
		if !ok {
			f.Close()
			continue
		}
		hs = append(hs, held{i: i, f: f, key: key})
	}
	if len(hs) == 0 {
		return
	}
	if probeHook != nil {
		probeHook()
	}
	f, err := os.Open(procLocks)
	if err != nil {
		return
	}
	counts, err := parseLocks(f)
	f.Close()
	if err != nil {
		return
	}
	for _, h := range hs {
		if n := counts[h.key]; n > 0 { // our own lock is one of them
			out[h.i].pins = n - 1
		}
	}
}

// lockKey names a file as /proc/locks does: device major, minor, inode.
type lockKey struct {
	major, minor uint32
	ino          uint64
}

// parseLocks counts the locks held on each file in a /proc/locks table.
// A line looks like
//
//	1: FLOCK  ADVISORY  READ 1234 08:01:5678 0 EOF
//
// with the device major and minor in hex and the inode in decimal. Lines
// with "->" after the id are processes waiting for a lock, not holders.
func parseLocks(r io.Reader) (map[lockKey]int, error) {
	counts := map[lockKey]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[1] == "->" {
			continue
		}
		for _, f := range fields[1:] {
			if k, ok := parseLockKey(f); ok {
				counts[k]++
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", procLocks, err)
	}
	return counts, nil
}

func parseLockKey(s string) (lockKey, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return lockKey{}, false
	}
	major, err1 := strconv.ParseUint(parts[0], 16, 32)
	minor, err2 := strconv.ParseUint(parts[1], 16, 32)
	ino, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return lockKey{}, false
	}
	return lockKey{major: uint32(major), minor: uint32(minor), ino: ino}, true
}
