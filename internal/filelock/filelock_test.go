package filelock

import "errors"
import "os"
import "path/filepath"
import "testing"

func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestLockModes: shared locks coexist, an exclusive one excludes both kinds
// across two opens of one file, and closing (or unlocking) the holder frees
// the file; the holder's content stays readable meanwhile.
func TestLockModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "LOCK")
	a, b := open(t, path), open(t, path)
	if err := TryLock(a, Shared); err != nil {
		t.Fatal(err)
	}
	if err := TryLock(b, Shared); err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if err := Unlock(b); err != nil {
		t.Fatal(err)
	}
	if err := TryLock(b, Exclusive); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("exclusive under a shared lock: got %v, want ErrWouldBlock", err)
	}
	a.Close()
	if err := TryLock(b, Exclusive); err != nil {
		t.Fatalf("exclusive once the shared holder closed: %v", err)
	}
	if _, err := b.WriteAt([]byte("pid 1\n"), 0); err != nil {
		t.Fatal(err)
	}
	c := open(t, path)
	if err := TryLock(c, Shared); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("shared under an exclusive lock: got %v, want ErrWouldBlock", err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "pid 1\n" {
		t.Fatalf("reading the locked file: %q, %v", got, err)
	}
	if err := Lock(b, Exclusive); err != nil { // re-locking one's own file does not wait
		t.Fatal(err)
	}
	if err := TryLock(b, Shared); err != nil { // and replaces the lock it held
		t.Fatal(err)
	}
	if err := TryLock(c, Shared); err != nil {
		t.Fatalf("shared beside a holder that went from exclusive to shared: %v", err)
	}
	if err := Unlock(b); err != nil {
		t.Fatal(err)
	}
	if err := Unlock(b); err != nil { // unlocking what holds no lock is no error
		t.Fatal(err)
	}
	if err := Unlock(c); err != nil {
		t.Fatal(err)
	}
	if err := TryLock(c, Exclusive); err != nil {
		t.Fatalf("exclusive once every lock was dropped: %v", err)
	}
}
