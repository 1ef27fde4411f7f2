package tests

import "os"
import "path/filepath"
import "slices"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"

// Issue 25, item 4: the check that guards the store's directories also
// guards CURRENT, manifests, snapshot directories and their key-value
// directories: writable by group or others, owned by another user or a
// symlink, each is refused in one line naming the path, with the chmod to
// run (memsnap made them).
func TestStoreFilesAccessRefused(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("a", "t"))))
	commit(t, store)
	snap := snapDir(store, currentSeq(t, store))
	chmod := func(p string, bad, good os.FileMode) (func() error, func() error) {
		return func() error { return os.Chmod(p, bad) }, func() error { return os.Chmod(p, good) }
	}
	type tc struct {
		name      string
		break_    func() error
		fix       func() error
		want      string
		chmodHint string
	}
	var cases []tc
	for _, c := range []struct {
		name      string
		path      string
		bad, good os.FileMode
	}{
		{"CURRENT", filepath.Join(store, "CURRENT"), 0o666, 0o600},
		{"manifest", filepath.Join(snap, "MANIFEST.json"), 0o664, 0o600},
		{"snapshot directory", snap, 0o777, 0o700},
		{"key-value directory", filepath.Join(snap, "kv"), 0o770, 0o700},
	} {
		b, f := chmod(c.path, c.bad, c.good)
		cases = append(cases, tc{c.name, b, f, c.path + " is group- or world-writable", "chmod go-w " + c.path})
	}
	cur := filepath.Join(store, "CURRENT")
	cases = append(cases, tc{"symlinked CURRENT", func() error {
		if err := os.Rename(cur, cur+".real"); err != nil {
			return err
		}
		return os.Symlink(cur+".real", cur)
	}, func() error {
		if err := os.Remove(cur); err != nil {
			return err
		}
		return os.Rename(cur+".real", cur)
	}, cur + " is a symlink", ""})
	if os.Geteuid() == 0 { // only root can give a file away
		cases = append(cases, tc{"manifest owned by another user",
			func() error { return os.Lchown(filepath.Join(snap, "MANIFEST.json"), 4242, 4242) },
			func() error { return os.Lchown(filepath.Join(snap, "MANIFEST.json"), os.Geteuid(), os.Getegid()) },
			"MANIFEST.json belongs to uid 4242, not to you", ""})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.break_(); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"status"}, {"commit"}, {"query", "RETURN 1"}} {
				r := memsnap(t, store, nil, nil, args...)
				oneLineError(t, r, c.want)
				if c.chmodHint != "" && !contains(r.stderr, c.chmodHint) {
					t.Fatalf("%v: the refusal does not say %q: %s", args, c.chmodHint, r.stderr)
				}
			}
			if err := c.fix(); err != nil {
				t.Fatal(err)
			}
			mustMemsnap(t, store, nil, "status")
		})
	}
}

// Issue 25, item 4: a job file another user could have written (writable
// by group or others, or owned by another user) is dead-lettered with a
// reason naming it; the jobs behind it apply.
func TestJobFileAccessRefused(t *testing.T) {
	store := newStore(t)
	newDir := filepath.Join(store, "queue", "new")
	job := []byte(`{"ops":[{"op":"kv_put","key":"planted","value":"yes"}]}`)
	planted := map[string]string{"01ARZ3NDEKTSV4RRFFQ69G5FB1": "is writable by group or others (mode 0666)"}
	if err := os.WriteFile(filepath.Join(newDir, "01ARZ3NDEKTSV4RRFFQ69G5FB1.job"), job, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(newDir, "01ARZ3NDEKTSV4RRFFQ69G5FB1.job"), 0o666); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		p := filepath.Join(newDir, "01ARZ3NDEKTSV4RRFFQ69G5FB2.job")
		if err := os.WriteFile(p, job, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		planted["01ARZ3NDEKTSV4RRFFQ69G5FB2"] = "belongs to uid 4242"
	}
	good := enqueue(t, store, ops(entities(entity("a", "t"))))
	s := commit(t, store)
	if s.Applied != 1 || s.Rejected != len(planted) {
		t.Fatalf("commit %+v, want 1 applied and %d rejected", s, len(planted))
	}
	if o := jobOutcome(t, store, good); o.Status != "applied" {
		t.Fatalf("good job: %+v", o)
	}
	for id, want := range planted {
		o := jobOutcome(t, store, id)
		if o.Status != "rejected" || !contains(o.Reason, want) || !contains(o.Reason, id+".job") {
			t.Errorf("%s: %+v, want rejected naming the file and %q", id, o, want)
		}
	}
	if r := memsnap(t, store, nil, nil, "kv", "get", "planted"); r.code == 0 {
		t.Fatalf("a planted job was applied: %s", r.stdout)
	}
}

// Issue 25, item 8: no error advises changing the permissions of /, /tmp,
// the home directory or a directory memsnap did not create, and a refused
// init creates nothing there.
func TestNoChmodAdviceOutsideTheStore(t *testing.T) {
	names := []string{"LOCK", "CURRENT", "CURRENT.tmp", "queue", "snapshots", "staging", "trash"}
	for _, dir := range []string{"/", os.TempDir()} {
		var before []string
		for _, n := range names {
			if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
				before = append(before, n)
			}
		}
		r := memsnap(t, dir, nil, nil, "init")
		if r.code == 0 || contains(r.stderr, "chmod") {
			t.Errorf("init in %s: exit %d: %s", dir, r.code, r.stderr)
		}
		for _, n := range names {
			if _, err := os.Lstat(filepath.Join(dir, n)); err == nil && !slices.Contains(before, n) {
				_ = os.RemoveAll(filepath.Join(dir, n))
				t.Errorf("a refused init in %s created %s", dir, n)
			}
		}
	}
	// A home directory, a shared (sticky) directory and a directory of the
	// user's files, each writable by others: refused with no chmod advice,
	// even with --force.
	home := filepath.Join(t.TempDir(), "home")
	shared := filepath.Join(t.TempDir(), "shared")
	mine := filepath.Join(t.TempDir(), "mine")
	for _, d := range []struct {
		dir  string
		mode os.FileMode
	}{{home, 0o777}, {shared, 0o777 | os.ModeSticky}, {mine, 0o777}} {
		if err := os.Mkdir(d.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d.dir, d.mode); err != nil {
			t.Fatal(err)
		}
		r := memsnap(t, d.dir, nil, []string{"HOME=" + home}, "init", "--force")
		oneLineError(t, r, "is group- or world-writable")
		if contains(r.stderr, "chmod") || !contains(r.stderr, "choose a store directory") {
			t.Errorf("init --force in %s: %s", d.dir, r.stderr)
		}
		if got := dirNames(t, d.dir); !slices.Equal(got, []string{"notes.txt"}) {
			t.Errorf("a refused init in %s left %v", d.dir, got)
		}
	}
	// A store directory memsnap made (it holds nothing but the store): the
	// advice names it.
	store := newStore(t)
	if err := os.Chmod(store, 0o777); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "status")
	oneLineError(t, r, "chmod go-w "+store)
	if err := os.Chmod(store, 0o700); err != nil {
		t.Fatal(err)
	}
}

// Issue 25, item 8: init refuses a non-empty directory that is not a store,
// creating nothing, unless --force; an empty directory or a store is fine.
func TestInitRefusesNonEmptyDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "docs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, dir, nil, nil, "init")
	oneLineError(t, r, "is not empty and holds no memsnap store")
	if !contains(r.stderr, "(it has notes.txt)") || !contains(r.stderr, "--force") {
		t.Fatalf("the refusal does not say what is there and how to go on: %s", r.stderr)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"notes.txt"}) {
		t.Fatalf("a refused init left %v", got)
	}
	mustMemsnap(t, dir, nil, "init", "--force")
	mustMemsnap(t, dir, nil, "init") // now a store: init is idempotent
	t.Cleanup(func() { checkStore(t, dir) })
	empty := t.TempDir()
	mustMemsnap(t, empty, nil, "init")
	t.Cleanup(func() { checkStore(t, empty) })
}

// --store naming something that is not a store: a directory of other files
// is said to be no store (not "run 'memsnap init'", which init would
// refuse), a file is named as one (its type in words), and only a missing
// or empty directory is sent to init.
func TestStorePathThatIsNotAStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "docs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	file := testutil.WriteFile(t, filepath.Join(dir, "notes.txt"), "mine")
	for _, c := range []struct {
		store string
		args  []string
		want  string
	}{
		{dir, []string{"status"}, "open store " + dir + ": the directory holds no memsnap store (it has notes.txt); check --store"},
		{dir, []string{"kv", "get", "k"}, "the directory holds no memsnap store (it has notes.txt)"},
		{file, []string{"status"}, "open store " + file + ": it is a regular file, not a store directory; check --store"},
		{file, []string{"init"}, "open store " + file + ": it is a regular file, not a store directory; check --store"},
		{file, []string{"import", file}, "open store " + file + ": it is a regular file, not a store directory; check --store"},
		{file, []string{"entities", "create", "A"}, "open store " + file + ": it is a regular file, not a store directory; check --store"},
		{dir, []string{"import", file}, "open store " + dir + ": the directory holds no memsnap store (it has notes.txt); check --store"},
		{dir, []string{"observations", "add", "A", "x"}, "the directory holds no memsnap store (it has notes.txt)"},
		{"/etc/passwd", []string{"status"}, "open store /etc/passwd: it is a regular file, not a store directory; check --store"},
		{filepath.Join(dir, "new"), []string{"status"}, "store not initialised (run 'memsnap init')"},
	} {
		if _, err := os.Stat(c.store); c.store == "/etc/passwd" && err != nil {
			continue // no such file here
		}
		r := memsnap(t, c.store, nil, nil, c.args...)
		oneLineError(t, r, c.want)
		if c.store != filepath.Join(dir, "new") && contains(r.stderr, "memsnap init") {
			t.Errorf("memsnap --store %s %v advises init, which would refuse it: %s", c.store, c.args, r.stderr)
		}
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"notes.txt"}) {
		t.Fatalf("the refused commands left %v", got)
	}
}
