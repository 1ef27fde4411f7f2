//go:build linux

package snapshot

import "golang.org/x/sys/unix"

// idOf is the identity of the file at path; false if it cannot tell (no
// birth time).
func idOf(path string) (fileID, bool) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_INO|unix.STATX_BTIME, &st); err != nil {
		return fileID{}, false
	}
	if st.Mask&unix.STATX_BTIME == 0 || st.Mask&unix.STATX_INO == 0 {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev_major)<<32 | uint64(st.Dev_minor), ino: st.Ino,
		bsec: st.Btime.Sec, bnse: int64(st.Btime.Nsec)}, true
}
