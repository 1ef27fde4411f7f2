//go:build !windows

package bench

import "os"
import "syscall"

// allocated is what info's file takes on disk (its allocated blocks, as du
// counts them) and whether this is the first time its inode is met in
// seen: a hard-linked file counts once.
func allocated(info os.FileInfo, seen map[uint64]bool) (int64, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return info.Size(), true
	}
	if st.Nlink > 1 && !info.IsDir() {
		if seen[uint64(st.Ino)] {
			return int64(st.Blocks) * 512, false
		}
		seen[uint64(st.Ino)] = true
	}
	return int64(st.Blocks) * 512, true
}
