package reader

import "golang.org/x/sys/unix"

// hasBirthTime reports whether statx gives path a birth time, which the
// Verifier needs to trust a file it read before.
func hasBirthTime(path string) bool {
	var stx unix.Statx_t
	return unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BTIME, &stx) == nil && stx.Mask&unix.STATX_BTIME != 0
}
