//go:build linux

// Linux only: it needs mount namespaces, FIFOs or Unix permissions.

package tests

import "os"
import "path/filepath"
import "strings"
import "syscall"
import "testing"

// Done-when 5 (access): memsnap creates its store 0700/0600 and refuses a
// store another user could tamper with, saying what is wrong and what to do.
func TestStoreAccessRefused(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("a", "t"))))
	commit(t, store)
	filepath.WalkDir(store, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := os.Lstat(p)
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", p, info.Mode().Perm(), want)
		}
		return nil
	})
	cases := []struct {
		name   string
		break_ func() error
		fix    func() error
		want   string
	}{
		{"world-writable store", func() error { return os.Chmod(store, 0o777) }, func() error { return os.Chmod(store, 0o700) },
			"is group- or world-writable (mode 0777); memsnap refuses it"},
		{"group-writable queue/new", func() error { return os.Chmod(filepath.Join(store, "queue", "new"), 0o770) },
			func() error { return os.Chmod(filepath.Join(store, "queue", "new"), 0o700) }, "queue/new is group- or world-writable (mode 0770)"},
		{"store owned by another user", func() error { return os.Lchown(store, 4242, 4242) }, func() error { return os.Lchown(store, os.Geteuid(), os.Getegid()) },
			"belongs to uid 4242, not to you"},
		{"symlinked queue/new", func() error {
			q := filepath.Join(store, "queue")
			if err := os.Rename(filepath.Join(q, "new"), filepath.Join(q, "new.real")); err != nil {
				return err
			}
			return os.Symlink(filepath.Join(q, "new.real"), filepath.Join(q, "new"))
		}, func() error {
			q := filepath.Join(store, "queue")
			if err := os.Remove(filepath.Join(q, "new")); err != nil {
				return err
			}
			return os.Rename(filepath.Join(q, "new.real"), filepath.Join(q, "new"))
		}, "queue/new is a symlink; memsnap refuses it"},
	}
	if os.Geteuid() != 0 {
		cases = cases[:2] // only root can give the store away
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.break_(); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"status"}, {"commit"}, {"query", "RETURN 1"}, {"init"}} {
				r := memsnap(t, store, nil, nil, args...)
				oneLineError(t, r, c.want)
			}
			if r := memsnap(t, store, []byte(`{"ops":[{"op":"kv_put","key":"k","value":"v"}]}`), nil, "enqueue"); r.code != 1 || !contains(r.stderr, c.want) {
				t.Fatalf("enqueue into a refused store: %+v", r)
			}
			if err := c.fix(); err != nil {
				t.Fatal(err)
			}
			mustMemsnap(t, store, nil, "status")
		})
	}
}

// Done-when 5 (hostile job files): a symlink, a FIFO or a directory in
// queue/new is never followed or read; it is dead-lettered with its reason,
// and the file a symlink points to is left alone.
func TestJobFileNotRegular(t *testing.T) {
	store := newStore(t)
	good := enqueue(t, store, ops(entities(entity("a", "t"))))
	secret := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(secret, []byte(`{"ops":[{"op":"kv_put","key":"stolen","value":"yes"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	newDir := filepath.Join(store, "queue", "new")
	ids := map[string]string{
		"01ARZ3NDEKTSV4RRFFQ69G5FA1": "job file is a symlink",
		"01ARZ3NDEKTSV4RRFFQ69G5FA2": "job file is not a regular file (p",
		"01ARZ3NDEKTSV4RRFFQ69G5FA3": "job file is not a regular file (d",
	}
	if err := os.Symlink(secret, filepath.Join(newDir, "01ARZ3NDEKTSV4RRFFQ69G5FA1.job")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(newDir, "01ARZ3NDEKTSV4RRFFQ69G5FA2.job"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(newDir, "01ARZ3NDEKTSV4RRFFQ69G5FA3.job"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := commit(t, store)
	if s.Applied != 1 || s.Rejected != 3 {
		t.Fatalf("commit %+v, want 1 applied and 3 rejected", s)
	}
	if o := jobOutcome(t, store, good); o.Status != "applied" {
		t.Fatalf("good job: %+v", o)
	}
	for id, want := range ids {
		o := jobOutcome(t, store, id)
		if o.Status != "rejected" || !strings.Contains(o.Reason, want) {
			t.Errorf("%s: %+v, want rejected with %q", id, o, want)
		}
	}
	if r := memsnap(t, store, nil, nil, "kv", "get", "stolen"); r.code == 0 {
		t.Fatalf("the symlink's target was applied: %s", r.stdout)
	}
	if b, err := os.ReadFile(secret); err != nil || !strings.Contains(string(b), "stolen") {
		t.Fatalf("the symlink's target was touched: %q %v", b, err)
	}
}
