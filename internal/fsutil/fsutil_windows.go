//go:build windows

package fsutil

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// rename retries MoveFileEx while the failure is one another handle on
// either file causes (see Rename), with a backoff from 1 ms to 50 ms, for
// up to RenameRetryFor in total.
func rename(oldpath, newpath string) error {
	deadline := time.Now().Add(RenameRetryFor)
	wait := time.Millisecond
	for {
		err := os.Rename(oldpath, newpath)
		if err == nil || !busy(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}

func busy(err error) bool {
	return errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

// syncDir does nothing on Windows: a directory cannot be opened for
// FlushFileBuffers there, and NTFS journals the renames and creations in
// it (the file's own data is still flushed by Sync).
func syncDir(string) error { return nil }

func isNoSpaceOS(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}
