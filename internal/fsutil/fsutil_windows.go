//go:build windows

package fsutil

import "errors"
import "os"
import "time"

import "golang.org/x/sys/windows"

// rename retries MoveFileEx while another handle holds one of its files
// (see Rename and retryBusy).
func rename(oldpath, newpath string) error {
	return retryBusy(func() error { return os.Rename(oldpath, newpath) }, busy, RenameRetryFor, time.Sleep)
}

func busy(err error) bool {
	return errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

// syncOpenFlag is how SyncFile opens a file: FlushFileBuffers needs write
// access.
const syncOpenFlag = os.O_RDWR

// syncDir does nothing on Windows: a directory cannot be opened for
// FlushFileBuffers there, and NTFS journals the renames and creations in
// it (the file's own data is still flushed by Sync).
func syncDir(string) error { return nil }

func isNoSpaceOS(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}
