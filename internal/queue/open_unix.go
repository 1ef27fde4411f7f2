//go:build unix

package queue

import "errors"
import "os"
import "syscall"

import "golang.org/x/sys/unix"

import "github.com/memsnap/memsnap/internal/model"

// closeBeforeRename is false on Unix: a producer keeps its job file open,
// and so locked, until it is renamed into new/, so that RemoveDeadTemps can
// never take a file being renamed for a dead one.
const closeBeforeRename = false

// openJobFile opens a job file for reading without following a symlink
// (O_NOFOLLOW: errSymlink) or blocking on a FIFO (O_NONBLOCK).
func openJobFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, errSymlink
	}
	return f, err
}

// checkOwner refuses a job file that another user could have written:
// writable by group or others, or owned by another uid (memsnap writes job
// files 0600). The error wraps model.ErrInvalidJob.
func checkOwner(path string, info os.FileInfo) error {
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return model.Invalidf("job file %s is writable by group or others (mode %04o); refused, since another user could have written it", path, perm)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return model.Invalidf("job file %s belongs to uid %d, not to you (uid %d); refused, since another user wrote it", path, st.Uid, os.Geteuid())
	}
	return nil
}
