package kvstore

import "io"
import "log/slog"
import "os"
import "testing"

// TestOpenSnapshotCannotBeRemovedOnWindows checks the Windows rule snapshot
// GC must live with: a store a reader holds open cannot be removed (Pebble
// opens its files without FILE_SHARE_DELETE), and can be once the reader has
// closed it. The failed removal is not harmless: os.RemoveAll deletes every
// file nobody holds before it fails, and Pebble opens an sstable only on its
// first read, so a reader that had not read yet then panics with "pebble:
// on-disk corruption ... File not found" (seen under Wine). GC must therefore
// know a snapshot is in use before it deletes anything, never learn it from a
// failed delete.
func TestOpenSnapshotCannotBeRemovedOnWindows(t *testing.T) {
	dir := publish(t)
	db, err := OpenRO(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	open := true
	defer func() {
		if open {
			db.Close() // Pebble panics on a second Close
		}
	}()
	if _, found, err := db.GetUser("a/1"); err != nil || !found {
		t.Fatalf("GetUser(a/1): found=%v, %v", found, err)
	}
	err = os.RemoveAll(dir)
	if err == nil {
		t.Fatal("os.RemoveAll of a store open read-only succeeded; want an error")
	}
	t.Logf("remove while open: %v", err)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("after the failed removal, stat %s: %v", dir, err)
	}
	open = false
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("os.RemoveAll once closed: %v", err)
	}
}
