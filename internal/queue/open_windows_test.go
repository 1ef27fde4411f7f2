//go:build windows

package queue

import "os"
import "path/filepath"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"

// A job file a reader holds open (openJobFile) can still be claimed
// (renamed) and removed by the writer: readers read queued jobs while the
// writer works (a commit failed with "remove applied job: ... Sharing
// violation" under readers following the queue).
func TestOpenJobFileSharesDelete(t *testing.T) {
	dir := testutil.TempDir(t)
	path := filepath.Join(dir, "a.job")
	if err := os.WriteFile(path, []byte(`{"ops":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := openJobFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	moved := filepath.Join(dir, "b.job")
	if err := os.Rename(path, moved); err != nil {
		t.Fatalf("rename while a reader holds the file: %v", err)
	}
	if err := os.Remove(moved); err != nil {
		t.Fatalf("remove while a reader holds the file: %v", err)
	}
	b := make([]byte, 3)
	if _, err := f.Read(b); err != nil || string(b) != `{"o` {
		t.Errorf("the reader's handle reads %q, %v after the remove", b, err)
	}
}
