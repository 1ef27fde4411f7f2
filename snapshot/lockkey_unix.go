//go:build unix

package snapshot

import "os"

import "golang.org/x/sys/unix"

// fileLockKey names f as /proc/locks does (device major, minor, inode).
func fileLockKey(f *os.File) (lockKey, bool) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return lockKey{}, false
	}
	return lockKey{major: unix.Major(uint64(st.Dev)), minor: unix.Minor(uint64(st.Dev)), ino: st.Ino}, true
}
