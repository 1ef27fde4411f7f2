package testutil

import "errors"
import "os"
import "path/filepath"
import "syscall"
import "testing"

import "golang.org/x/sys/windows"

// The Windows file rules memsnap's publish, swap and GC must live with
// (checked on the system the binary runs on, real Windows or Wine): a file
// another handle holds open cannot be deleted nor replaced by a rename; Go's
// os.Open does not share delete access; os.Rename (MoveFileEx with
// MOVEFILE_REPLACE_EXISTING) replaces a file nobody holds.

func TestWindowsRenameOverOpenFileIsDenied(t *testing.T) {
	dir := TempDir(t)
	src, dst := write(t, dir, "new", "new"), write(t, dir, "CURRENT", "old")
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // a second Close after the one below is harmless
	err = os.Rename(src, dst)
	wantErrno(t, "rename over a file held open", err, windows.ERROR_ACCESS_DENIED)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(src, dst); err != nil {
		t.Fatalf("rename once the handle is closed: %v", err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "new" {
		t.Fatalf("after the rename, %s holds %q (err %v), want \"new\"", dst, b, err)
	}
}

func TestWindowsDeleteOpenFileIsASharingViolation(t *testing.T) {
	p := write(t, TempDir(t), "snap.file", "x")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wantErrno(t, "delete a file held open", os.Remove(p), windows.ERROR_SHARING_VIOLATION)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatalf("delete once the handle is closed: %v", err)
	}
}

func TestWindowsRenameReplacesAFileNobodyHolds(t *testing.T) {
	dir := TempDir(t)
	src, dst := write(t, dir, "CURRENT.tmp", "2"), write(t, dir, "CURRENT", "1")
	if err := os.Rename(src, dst); err != nil {
		t.Fatalf("os.Rename over a closed file: %v", err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "2" {
		t.Fatalf("after the rename, %s holds %q (err %v), want \"2\"", dst, b, err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Fatalf("%s still there after the rename: %v", src, err)
	}
}

func TestWindowsRenameDirOverDirFails(t *testing.T) {
	dir := TempDir(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(a, b); err == nil {
		t.Fatal("renaming a directory over an existing one succeeded; want an error")
	} else {
		t.Logf("rename dir over dir: %v", err)
	}
}

// write creates dir/name holding content and returns its path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantErrno fails the test unless err carries the Windows error code want.
func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	var got syscall.Errno
	switch {
	case err == nil:
		t.Fatalf("%s succeeded; want %v (errno %d)", what, want, uintptr(want))
	case !errors.As(err, &got) || got != want:
		t.Fatalf("%s: %v; want %v (errno %d)", what, err, want, uintptr(want))
	}
	t.Logf("%s: %v", what, err)
}

// TestOSRemoveAll checks that os.RemoveAll removes a tree, which the
// product's staging cleanup and snapshot GC rely on. Under Wine 8.0 it works
// only in binaries built with make wintest's overlay (which sets
// MEMSNAP_TEST_WINE_OVERLAY=1); elsewhere under Wine the test skips, naming
// the gap.
func TestOSRemoveAll(t *testing.T) {
	root := filepath.Join(TempDir(t), "tree")
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "a", "b"), "f", "x")
	write(t, root, "g", "x")
	err := os.RemoveAll(root)
	var errno syscall.Errno
	if err != nil && OnWine() && os.Getenv("MEMSNAP_TEST_WINE_OVERLAY") != "1" &&
		errors.As(err, &errno) && errno == windows.ERROR_INVALID_FUNCTION {
		t.Skipf("Wine 8.0 lacks FileDispositionInformationEx, which Go 1.26's os.RemoveAll uses (%v): run through make wintest, whose build overlay takes Go's fallback", err)
	}
	if err != nil {
		t.Fatalf("os.RemoveAll: %v", err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("after os.RemoveAll, stat %s: %v (want not exist)", root, err)
	}
}
