//go:build linux

package snapshot

import "golang.org/x/sys/unix"

// idOf is the identity of the file at path and the stamp of its last
// change; false if it cannot tell (no birth time, or no change times).
func idOf(path string) (fileID, fileStamp, bool) {
	var st unix.Statx_t
	const want = unix.STATX_INO | unix.STATX_BTIME | unix.STATX_SIZE | unix.STATX_MTIME | unix.STATX_CTIME
	if err := unix.Statx(unix.AT_FDCWD, path, 0, want, &st); err != nil || st.Mask&want != want {
		return fileID{}, fileStamp{}, false
	}
	return fileID{dev: uint64(st.Dev_major)<<32 | uint64(st.Dev_minor), ino: st.Ino, bsec: st.Btime.Sec, bnse: int64(st.Btime.Nsec)},
		fileStamp{size: int64(st.Size), msec: st.Mtime.Sec, mnse: int64(st.Mtime.Nsec), csec: st.Ctime.Sec, cnse: int64(st.Ctime.Nsec)}, true
}
