//go:build unix

package sysinfo

import "errors"
import "fmt"

import "golang.org/x/sys/unix"

func freeBytes(dir string) (int64, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(fs.Bavail) * int64(fs.Bsize), nil
}

func processAlive(pid int) (alive, ok bool) {
	if pid <= 0 {
		return false, false
	}
	err := unix.Kill(pid, 0)
	switch {
	case err == nil, errors.Is(err, unix.EPERM):
		return true, true
	case errors.Is(err, unix.ESRCH):
		return false, true
	default:
		return false, false
	}
}
