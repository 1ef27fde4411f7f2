//go:build linux

package tests

import "fmt"
import "os"
import "path/filepath"
import "strings"
import "syscall"
import "testing"

// A LOCK held by a process that is no memsnap writer (flock(1), here this
// test) is reported by the pid the system names, without the empty host
// and the year-one start time of an identity never written.
func TestStatusNamesALockHolderThatIsNoWriter(t *testing.T) {
	store := newStore(t)
	f, err := os.OpenFile(filepath.Join(store, "LOCK"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	out := mustMemsnap(t, store, nil, "status")
	want := fmt.Sprintf("writer:    LOCK held by pid %d, which has not named itself", os.Getpid())
	if !strings.Contains(out, want) || strings.Contains(out, "0001-01-01") {
		t.Errorf("status:\n%s\nwant a line holding %q", out, want)
	}
	js := mustMemsnap(t, store, nil, "status", "--json")
	if !strings.Contains(js, fmt.Sprintf(`"lock_holder":{"pid":%d}`, os.Getpid())) {
		t.Errorf("status --json: %s", js)
	}
}
