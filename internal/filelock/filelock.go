// Package filelock locks open files between processes: the writer lock on
// LOCK, the readers' pins on each snapshot's PIN, and a producer's hold on
// its job file in queue/tmp. A lock belongs to the open file (the
// *os.File), not to the process: a second open of the same file, even in
// the same process, is refused while the first holds a conflicting lock.
// Closing the file drops its lock, and the operating system drops it when
// its holder dies, so a crash never leaves a stale lock.
//
// On Unix the lock is flock(2) on the whole file (advisory: reads and
// writes are not affected). On Windows it is LockFileEx on one byte at
// offset 2^62, far beyond any content: Windows byte-range locks are
// mandatory, and a lock over the content would stop other processes from
// reading the writer's identity in LOCK.
package filelock

import "errors"
import "os"

// ErrWouldBlock is returned by TryLock when another open file holds a
// conflicting lock.
var ErrWouldBlock = errors.New("filelock: locked by another holder")

// Mode is the kind of lock: many Shared locks can be held at once, an
// Exclusive one only alone.
type Mode int

const (
	Shared Mode = iota
	Exclusive
)

// TryLock and Lock follow flock(2) on every system: taking a lock on a file
// that already holds one replaces it (shared to exclusive or back, or the
// same mode again, which does not wait for itself); the replacement is not
// atomic, so a refused TryLock leaves f with no lock at all.

// TryLock takes a lock of mode m on f without waiting. It returns
// ErrWouldBlock if another open file holds a conflicting lock, another
// error (from the system call) if the lock cannot be taken at all.
func TryLock(f *os.File, m Mode) error { return lock(f, m, false) }

// Lock takes a lock of mode m on f, waiting as long as another open file
// holds a conflicting one.
func Lock(f *os.File, m Mode) error { return lock(f, m, true) }

// Unlock drops f's lock; closing f does too.
func Unlock(f *os.File) error { return unlock(f) }
