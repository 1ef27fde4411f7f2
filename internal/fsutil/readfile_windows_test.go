package fsutil

import "os"
import "path/filepath"
import "testing"
import "time"

import "golang.org/x/sys/windows"

// TestReadFileWaitsForASharingViolation: while another handle holds the file
// with no sharing (as MoveFileEx does while it replaces CURRENT), ReadFile
// retries instead of failing, and reads the file once that handle is gone.
// The handle is closed by the first retry's sleep, so the test waits for no
// clock.
func TestReadFileWaitsForASharingViolation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "CURRENT")
	if err := os.WriteFile(path, []byte("7\n"), FilePerm); err != nil {
		t.Fatal(err)
	}
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateFile(name, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(h)
	if _, err := os.ReadFile(path); !busy(err) {
		t.Fatalf("reading a file held with no sharing: %v, want a sharing violation", err)
	}
	sleeps := 0
	b, err := readFile(path, func(time.Duration) {
		if sleeps++; sleeps == 1 {
			windows.CloseHandle(h)
		}
	})
	if err != nil || string(b) != "7\n" || sleeps != 1 {
		t.Fatalf("ReadFile: %q, %v after %d retries; want the content after 1", b, err, sleeps)
	}
}
