//go:build unix

package snapshot

import "fmt"
import "os"
import "syscall"

// checkOwner refuses path when it is writable by group or others or owned
// by another uid (see checkPath).
func checkOwner(store, path string, info os.FileInfo, advise bool) error {
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		mode := uint32(perm)
		if info.Mode()&os.ModeSticky != 0 {
			mode |= 0o1000
		}
		return accessError(store, path, fmt.Sprintf("is group- or world-writable (mode %04o)", mode), advise)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("open store %s: %s belongs to uid %d, not to you (uid %d); memsnap refuses a store another user owns", store, path, st.Uid, os.Geteuid())
	}
	return nil
}
