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
	holdLock(t, store)
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

// holdLock takes STORE/LOCK as flock(1) would, for the rest of the test.
func holdLock(t *testing.T, store string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(store, "LOCK"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

// A write command while another process holds the writer lock and never
// commits: it answers, says at once that it waits for the lock
// (writer.lock_timeout), then that the write stays queued, durable, and
// exits 0; the next commit applies it.
func TestWriteCommandSaysItsWriteStaysQueued(t *testing.T) {
	store := newStore(t)
	holdLock(t, store)
	r := memsnap(t, store, nil, []string{"MEMSNAP_WRITER_LOCK_TIMEOUT=1s"}, "entities", "create", "Ada", "--type", "person")
	if r.code != 0 || !strings.Contains(r.stdout, `"name": "Ada"`) {
		t.Fatalf("entities create: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"the writer lock is held, waiting for it", fmt.Sprintf("holder_pid=%d", os.Getpid()), "acknowledged writes left queued, durable"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if out := mustMemsnap(t, store, nil, "status"); !strings.Contains(out, "1 queued") {
		t.Errorf("status:\n%s", out)
	}
}

// A writer refused by a lock holder that never named itself names it by
// the pid the system gives (it said "holder not yet identified").
func TestLockedErrorNamesTheHoldersPID(t *testing.T) {
	store := newStore(t)
	holdLock(t, store)
	r := memsnap(t, store, nil, []string{"MEMSNAP_WRITER_LOCK_TIMEOUT=0"}, "commit")
	want := fmt.Sprintf("store is locked by pid %d, which has not named itself", os.Getpid())
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("commit under a foreign lock: exit %d: %s\nwant %q", r.code, r.stderr, want)
	}
}

// enqueue --wait under a lock holder that never commits says the job stays
// queued and whom it waits for (it said "still pending: context deadline
// exceeded").
func TestEnqueueWaitSaysWhoHoldsTheLock(t *testing.T) {
	store := newStore(t)
	holdLock(t, store)
	r := memsnap(t, store, []byte(`{"ops":[{"op":"create_entities","entities":[{"name":"A","entityType":"t","observations":[]}]}]}`), nil, "enqueue", "--wait=1s")
	want := "is still queued after --wait 1s (durable; memsnap job "
	if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, fmt.Sprintf("the writer lock is held by pid %d", os.Getpid())) {
		t.Errorf("enqueue --wait=1s under a held lock: exit %d: %s", r.code, r.stderr)
	}
}
