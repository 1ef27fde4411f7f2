package snapshot

import "errors"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strconv"
import "strings"
import "syscall"

// ErrNotAStore is returned (wrapped in a *NotStoreError) by Init for a
// directory that is neither empty nor a store.
var ErrNotAStore = errors.New("snapshot: directory is not empty and is not a memsnap store")

// NotStoreError is Init's refusal of a directory that is not empty and not
// a store: making a store there would spread memsnap's files among the
// user's own. Open returns one too (Open set) for such a directory, where
// advising 'memsnap init' would only lead to that refusal.
type NotStoreError struct {
	Dir     string
	Entries []string // some of what the directory holds, sorted
	More    int      // how many entries Entries leaves out
	Open    bool     // Open's refusal, not Init's: init is not advised
}

func (e *NotStoreError) Error() string {
	if e.Open {
		return fmt.Sprintf("open store %s: the directory holds no memsnap store (it has %s); check --store (or MEMSNAP_STORE, or store: in the config file)",
			e.Dir, e.held())
	}
	return fmt.Sprintf("init store %s: the directory is not empty and holds no memsnap store (it has %s); choose an empty or new directory, or run 'memsnap init --force' to make the store among these files",
		e.Dir, e.held())
}

// held lists some of what the directory holds.
func (e *NotStoreError) held() string {
	held := strings.Join(e.Entries, ", ")
	if e.More > 0 {
		held += fmt.Sprintf(" and %d more", e.More)
	}
	return held
}

// Unwrap makes errors.Is(err, ErrNotAStore) hold.
func (e *NotStoreError) Unwrap() error { return ErrNotAStore }

// ErrNotDir is returned (wrapped in a *NotDirError) by Open and Init for a
// store path that names something other than a directory.
var ErrNotDir = errors.New("snapshot: store path is not a directory")

// NotDirError is Open's and Init's refusal of a store path that is a
// file, a device or anything but a directory (a symlink to a directory is
// a directory).
type NotDirError struct {
	Dir  string // the store path, absolute
	Kind string // what it (or Parent) is, in words: "a regular file"
	// Parent, when set, is the ancestor of Dir that is not a directory
	// (a store path under a file); Kind is then its kind.
	Parent string
}

func (e *NotDirError) Error() string {
	if e.Parent != "" {
		return fmt.Sprintf("open store %s: %s is %s, not a directory, so no store can be there; check --store (or MEMSNAP_STORE, or store: in the config file)", e.Dir, e.Parent, e.Kind)
	}
	return fmt.Sprintf("open store %s: it is %s, not a store directory; check --store (or MEMSNAP_STORE, or store: in the config file)", e.Dir, e.Kind)
}

// notDirAncestor returns a *NotDirError when the nearest existing ancestor
// of abs (an absolute path) is not a directory, so that abs can be neither
// opened nor made; nil otherwise.
func notDirAncestor(abs string) error {
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err == nil {
			if info.IsDir() {
				return nil
			}
			return &NotDirError{Dir: abs, Kind: kind(info.Mode()), Parent: p}
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) || p == filepath.Dir(p) {
			return nil
		}
	}
}

// Unwrap makes errors.Is(err, ErrNotDir) hold.
func (e *NotDirError) Unwrap() error { return ErrNotDir }

// storeNames are the names memsnap keeps at the top of a store.
var storeNames = []string{LockFile, CurrentFile, CurrentFile + ".tmp", IDFile, QueueDir, "snapshots", "staging", "trash"}

// checkEmptyOrStore refuses (a *NotStoreError) a directory that holds
// anything but a store: it is a store when it has the writer's LOCK and
// the snapshots and queue directories, or holds nothing but memsnap's
// names (a store whose init was interrupted). A missing directory passes.
func checkEmptyOrStore(abs string) error {
	ents, err := os.ReadDir(abs)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("init store %s: %w", abs, err)
	}
	var foreign []string
	have := map[string]bool{}
	for _, e := range ents {
		have[e.Name()] = true
		if !slices.Contains(storeNames, e.Name()) {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) == 0 || (have[LockFile] && have["snapshots"] && have[QueueDir]) {
		return nil
	}
	e := &NotStoreError{Dir: abs, Entries: foreign}
	if len(foreign) > 5 {
		e.Entries, e.More = foreign[:5], len(foreign)-5
	}
	return e
}

// memsnapsOwn reports whether memsnap may advise changing the permissions
// of the store directory abs: only when the directory holds nothing but
// the store (so the change touches nothing of anyone else's), and never
// for /, the temporary directory, the home directory or a directory with
// the sticky bit (a shared one such as /tmp).
func memsnapsOwn(abs string, info os.FileInfo) bool {
	if info.Mode()&os.ModeSticky != 0 {
		return false
	}
	clean := filepath.Clean(abs)
	shared := []string{"/", filepath.Clean(os.TempDir())}
	if home, err := os.UserHomeDir(); err == nil {
		shared = append(shared, filepath.Clean(home))
	}
	for _, d := range shared {
		if clean == d {
			return false
		}
		if rel, err := filepath.Rel(clean, d); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return false // an ancestor of the home directory
		}
	}
	ents, err := os.ReadDir(abs)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !slices.Contains(storeNames, e.Name()) {
			return false
		}
	}
	return true
}

// accessError says why memsnap refuses path, and what to do about it
// where memsnap may say: advice to change permissions is given only for
// what memsnap created (see memsnapsOwn for the store directory).
func accessError(store, path, problem string, advise bool) error {
	msg := fmt.Sprintf("open store %s: %s %s; memsnap refuses it because another user could plant jobs or snapshots", store, path, problem)
	switch {
	case advise:
		msg += fmt.Sprintf("; run 'chmod go-w %s' if that is safe", path)
	case path == store:
		msg += "; choose a store directory that only you can write to (the default is ~/.local/share/memsnap)"
	}
	return errors.New(msg)
}

// checkPath refuses path (Lstat info) when it is a symlink (unless follow:
// the store directory itself may be one), writable by group or others, or
// owned by another user. dir says whether it must be a directory.
func checkPath(store, path string, info os.FileInfo, dir, follow, advise bool) error {
	if info.Mode()&os.ModeSymlink != 0 {
		if !follow {
			return fmt.Errorf("open store %s: %s is a symlink; memsnap refuses it (the store's files and directories must be its own)", store, path)
		}
		var err error
		if info, err = os.Stat(path); err != nil {
			return fmt.Errorf("open store %s: %w", store, err)
		}
	}
	if dir != info.IsDir() || (!dir && !info.Mode().IsRegular()) {
		want := "a regular file"
		if dir {
			want = "a directory"
		}
		return fmt.Errorf("open store %s: %s is not %s (it is %s); memsnap refuses it", store, path, want, kind(info.Mode()))
	}
	return checkOwner(store, path, info, advise)
}

// kind names the type of a file of mode m, for messages: "a regular file".
func kind(m os.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "a regular file"
	case t&os.ModeDir != 0:
		return "a directory"
	case t&os.ModeSymlink != 0:
		return "a symlink"
	case t&os.ModeNamedPipe != 0:
		return "a named pipe"
	case t&os.ModeSocket != 0:
		return "a socket"
	case t&os.ModeDevice != 0:
		return "a device"
	default:
		return "of type " + t.String()
	}
}

// checkRoot checks the store directory itself (see checkPath); a missing
// one passes.
func checkRoot(abs string) error {
	info, err := os.Lstat(abs)
	if err != nil {
		if nd := notDirAncestor(abs); nd != nil {
			return nd
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open store %s: %w", abs, err)
	}
	followed := info
	if info.Mode()&os.ModeSymlink != 0 {
		if followed, err = os.Stat(abs); err != nil {
			return fmt.Errorf("open store %s: %w", abs, err)
		}
	}
	if !followed.IsDir() {
		return &NotDirError{Dir: abs, Kind: kind(followed.Mode())}
	}
	return checkPath(abs, abs, info, true, true, memsnapsOwn(abs, followed))
}

// checkAccess refuses a store that another user could tamper with: such a
// user could plant jobs that get applied, or snapshots and a CURRENT that
// readers trust. It checks the store directory, the layout's directories,
// CURRENT, and each snapshot's directory, manifest and key-value and jobs
// directories: none may be a symlink (the store directory itself may),
// writable by group or others, or owned by another user. memsnap creates
// every directory 0700 and every file 0600. Job files are checked as the
// writer reads them (queue.ReadJobFile). The messages advise a chmod only
// for what memsnap created.
func checkAccess(abs string) error {
	if err := checkRoot(abs); err != nil {
		return err
	}
	check := func(rel string, dir bool) error {
		p := filepath.Join(abs, rel)
		info, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("open store %s: %w", abs, err)
		}
		return checkPath(abs, p, info, dir, false, true)
	}
	for _, d := range append([]string{QueueDir}, layout...) {
		if err := check(d, true); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(filepath.Join(abs, CurrentFile)); err == nil {
		if err := check(CurrentFile, false); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(filepath.Join(abs, "snapshots"))
	if err != nil {
		return fmt.Errorf("open store %s: %w", abs, err)
	}
	for _, e := range ents {
		if _, err := strconv.ParseUint(e.Name(), 10, 64); err != nil {
			continue
		}
		snap := filepath.Join("snapshots", e.Name())
		if err := check(snap, true); errors.Is(err, os.ErrNotExist) {
			continue // collected meanwhile
		} else if err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			dir  bool
		}{{ManifestFile, false}, {KVDir, true}, {JobsDir, true}} {
			err := check(filepath.Join(snap, f.name), f.dir)
			if errors.Is(err, os.ErrNotExist) {
				continue // being collected, or jobs/ of a batch with none: nothing to trust
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
