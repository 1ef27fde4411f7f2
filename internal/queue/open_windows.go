//go:build windows

package queue

import "os"
import "syscall"

// closeBeforeRename is true on Windows: a file open without
// FILE_SHARE_DELETE (how Go opens every file) cannot be renamed, even by
// its own handle, so a producer closes its job file, and so drops its
// lock, just before the rename into new/. A writer's RemoveDeadTemps could
// then take a file whose producer stalled there for deadTempAge for a dead
// one; the rename fails and the job is not acknowledged, so nothing is lost.
const closeBeforeRename = true

// openJobFile opens a job file for reading, refusing a symlink or junction
// (errSymlink): Windows has no O_NOFOLLOW, so it checks the name with
// Lstat and then that the file it opened is the one it checked. It opens
// with FILE_SHARE_DELETE (openShared): readers read queued jobs while the
// writer claims (renames) and removes them, which a handle opened as
// os.Open opens would refuse ("Sharing violation").
func openJobFile(path string) (*os.File, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if info.Mode()&(os.ModeSymlink|os.ModeIrregular) != 0 {
		return nil, errSymlink
	}
	f, err := openShared(path)
	if err != nil {
		return nil, err
	}
	if got, err := f.Stat(); err != nil || !os.SameFile(info, got) {
		f.Close()
		return nil, errSymlink
	}
	return f, nil
}

// openShared opens path for reading as os.Open does, but shares delete and
// rename with other handles (FILE_SHARE_DELETE), so that holding it open
// never stops another process from renaming or deleting the file.
func openShared(path string) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// checkOwner checks nothing on Windows: Go's mode bits there show only the
// read-only attribute, and who may write a file is its ACL. The store's
// home, %LOCALAPPDATA%\memsnap, inherits the profile's ACL, which admits
// only the user, SYSTEM and administrators.
func checkOwner(string, os.FileInfo) error { return nil }
