//go:build windows

package filelock

import "errors"
import "fmt"
import "os"

import "golang.org/x/sys/windows"

// lockOffsetHigh places the byte the lock covers (see the package doc): the
// high 32 bits of the offset 2^62.
const lockOffsetHigh = 1 << 30

// lock gives LockFileEx flock's rules. LockFileEx locks stack: a handle that
// already holds the byte waits for itself (or fails) when it asks for an
// exclusive lock again, and each lock needs its own UnlockFileEx. flock(2)
// instead replaces the open file's lock with the new one ("converting a lock
// is not guaranteed to be atomic: the existing lock is first removed").
// So lock first drops whatever lock f holds, as flock does; a handle thus
// holds at most one lock, and unlock drops it.
func lock(f *os.File, m Mode, wait bool) error {
	if err := unlockHandle(f); err != nil && !notLocked(err) {
		return fmt.Errorf("UnlockFileEx %s: %w", f.Name(), err)
	}
	var flags uint32
	if m == Exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	ol := windows.Overlapped{OffsetHigh: lockOffsetHigh}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &ol)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return ErrWouldBlock
	default:
		return fmt.Errorf("LockFileEx %s: %w", f.Name(), err)
	}
}

// notLocked reports UnlockFileEx's answer for a handle that holds no lock:
// ERROR_NOT_LOCKED on Windows, ERROR_LOCK_VIOLATION under Wine 8.0.
func notLocked(err error) bool {
	return errors.Is(err, windows.ERROR_NOT_LOCKED) || errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

func unlockHandle(f *os.File) error {
	ol := windows.Overlapped{OffsetHigh: lockOffsetHigh}
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// unlock drops f's lock; like flock's LOCK_UN, unlocking a file that holds
// none is not an error.
func unlock(f *os.File) error {
	if err := unlockHandle(f); err != nil && !notLocked(err) {
		return fmt.Errorf("UnlockFileEx %s: %w", f.Name(), err)
	}
	return nil
}
