package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

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
