package snapshot

import "errors"
import "fmt"
import "os"
import "path/filepath"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/filelock"
import "github.com/memsnap/memsnap/internal/fsutil"

// Held directories: the short-lived stores a read makes for itself (a
// point of history rebuilt under history/views/, a remote point mirrored
// under replica.cache_dir/at-*). The process using one holds a shared
// lock on <dir>.hold beside it for the directory's whole life; a process
// killed, or cut short before it removed its directory, leaves one no
// process holds, which PruneHeldDirs removes later. The lock is released
// by the system when its process dies, so a directory in use is never
// removed.

// heldSuffix names the lock file beside a held directory.
const heldSuffix = ".hold"

// LeftoverAge is how old a held directory no process holds must be before
// PruneHeldDirs removes it: younger ones may be in the moment between
// their creation and their lock.
const LeftoverAge = time.Minute

// NewHeldDir makes a new, empty directory under parent, named prefix and
// a random suffix, and holds it: release drops the hold (call it once the
// directory is removed).
func NewHeldDir(parent, prefix string) (dir string, release func(), err error) {
	if err := os.MkdirAll(parent, fsutil.DirPerm); err != nil {
		return "", nil, err
	}
	dir, err = os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", nil, err
	}
	f, err := os.OpenFile(dir+heldSuffix, os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		if err = filelock.TryLock(f, filelock.Shared); err != nil {
			f.Close()
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("hold %s: %w", dir, err)
	}
	return dir, func() {
		_ = filelock.Unlock(f)
		f.Close()
		_ = os.Remove(dir + heldSuffix)
	}, nil
}

// Leftovers lists the directories under parent named prefix* that no
// process holds and that are older than LeftoverAge at now: what a
// killed or cut-short read left. Directories without a lock file beside
// them (made by an older build) count when older than oldAge.
func Leftovers(parent, prefix string, now time.Time, oldAge time.Duration) ([]string, error) {
	ents, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < LeftoverAge {
			continue
		}
		path := filepath.Join(parent, e.Name())
		held, known := heldNow(path)
		if held || (!known && now.Sub(info.ModTime()) < oldAge) {
			continue
		}
		out = append(out, path)
	}
	return out, nil
}

// heldNow reports whether a live process holds dir (held) and whether
// dir has a lock file at all (known).
func heldNow(dir string) (held, known bool) {
	f, err := os.OpenFile(dir+heldSuffix, os.O_RDWR, 0)
	if err != nil {
		return false, false
	}
	defer f.Close()
	if err := filelock.TryLock(f, filelock.Exclusive); err != nil {
		return true, true
	}
	_ = filelock.Unlock(f)
	return false, true
}

// PruneHeldDirs removes the leftovers under parent named prefix*
// (Leftovers), each with its lock file, taking the lock first so that no
// process takes the directory up meanwhile; it returns how many it
// removed. Errors are skipped: a leftover stays for the next pass.
func PruneHeldDirs(parent, prefix string, now time.Time, oldAge time.Duration) int {
	dirs, _ := Leftovers(parent, prefix, now, oldAge)
	n := 0
	for _, dir := range dirs {
		f, err := os.OpenFile(dir+heldSuffix, os.O_RDWR, 0)
		if err == nil {
			if filelock.TryLock(f, filelock.Exclusive) != nil {
				f.Close()
				continue
			}
		}
		if fsutil.RemoveAll(dir) == nil {
			n++
		}
		if f != nil {
			_ = filelock.Unlock(f)
			f.Close()
			_ = os.Remove(dir + heldSuffix)
		}
	}
	return n
}
