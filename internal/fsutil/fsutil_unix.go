//go:build !windows

package fsutil

import "fmt"
import "os"

// syncOpenFlag is how SyncFile opens a file: fsync(2) works on a read-only
// descriptor.
const syncOpenFlag = os.O_RDONLY

func rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

func isNoSpaceOS(error) bool { return false }

// busy is always false on Unix: an open file can be renamed.
func busy(error) bool { return false }
