package snapshot

import "errors"
import "os"
import "path/filepath"
import "testing"

// A store path that is a file is refused by Open and Init alike with a
// *NotDirError (errors.Is ErrNotDir) naming what it is; a directory of
// other files with a *NotStoreError; a missing one by Open with ErrNoStore.
func TestStorePathErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(file, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(string) (*Store, error){"Open": Open, "Init": Init} {
		_, err := open(file)
		var nd *NotDirError
		if !errors.Is(err, ErrNotDir) || !errors.As(err, &nd) || nd.Kind != "a regular file" || nd.Dir != file {
			t.Errorf("%s(a file): %v, want a *NotDirError naming a regular file", name, err)
		}
		if _, err := open(dir); !errors.Is(err, ErrNotAStore) {
			t.Errorf("%s(a directory of other files): %v, want ErrNotAStore", name, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "new")); !errors.Is(err, ErrNoStore) || errors.Is(err, ErrNotDir) {
		t.Errorf("Open(a missing directory): %v, want ErrNoStore", err)
	}
}

// A store path under a file (a parent that is not a directory) is refused
// by Open and Init alike with a *NotDirError naming that parent, not
// ErrNoStore nor a raw "not a directory".
func TestStorePathUnderFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(file, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(file, "sub"), filepath.Join(file, "sub", "deeper")} {
		for name, open := range map[string]func(string) (*Store, error){"Open": Open, "Init": Init} {
			_, err := open(path)
			var nd *NotDirError
			if !errors.As(err, &nd) || nd.Parent != file || nd.Kind != "a regular file" || nd.Dir != path || errors.Is(err, ErrNoStore) {
				t.Errorf("%s(%s): %v, want a *NotDirError naming the parent %s", name, path, err, file)
			}
		}
	}
	if _, err := Init(filepath.Join(dir, "a", "b")); err != nil {
		t.Errorf("Init(a path whose parents are missing): %v, want it made", err)
	}
}
