package fsutil

import "os"
import "path/filepath"
import "testing"

// TestSyncFile: a file just written syncs by path (on Windows,
// FlushFileBuffers refuses a read-only handle with "Access denied").
func TestSyncFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, []byte("x"), FilePerm); err != nil {
		t.Fatal(err)
	}
	if err := SyncFile(path); err != nil {
		t.Fatal(err)
	}
}
