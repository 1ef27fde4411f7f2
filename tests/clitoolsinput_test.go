package tests

import "os"
import "path/filepath"
import "testing"

// --file is read as 'enqueue -f' reads a job: an object member given twice
// is refused, a UTF-8 byte order mark is skipped, UTF-16 is named; flags
// that build items from arguments (--type, --obs) are refused beside it.
func TestMemoryToolFileInput(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	file := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one := file("one.json", []byte(`[{"name":"A","entityType":"t","observations":[]}]`))
	for _, flag := range [][]string{{"--type", "x"}, {"--obs", "o"}} {
		args := append([]string{"entities", "create", "--file", one}, flag...)
		if r := memsnap(t, store, nil, nil, args...); r.code != 2 || !contains(r.stderr, "not both") {
			t.Errorf("memsnap %v: exit %d, stderr %q; want exit 2 and 'not both'", args, r.code, r.stderr)
		}
	}
	dup := file("dup.json", []byte(`{"entities":[{"name":"D1","entityType":"t","observations":[]}],"entities":[{"name":"D2","entityType":"t","observations":[]}]}`))
	if r := memsnap(t, store, nil, nil, "entities", "create", "--file", dup); r.code != 1 || !contains(r.stderr, `duplicate field "entities"`) {
		t.Errorf("entities create --file with a key twice: exit %d, stderr %q; want exit 1 and duplicate field", r.code, r.stderr)
	}
	utf16 := file("utf16.json", []byte("\xff\xfe[\x00]\x00"))
	if r := memsnap(t, store, nil, nil, "entities", "create", "--file", utf16); r.code != 1 || !contains(r.stderr, "UTF-16") {
		t.Errorf("entities create --file UTF-16: exit %d, stderr %q; want exit 1 naming UTF-16", r.code, r.stderr)
	}
	bom := file("bom.json", append([]byte("\xef\xbb\xbf"), `[{"name":"B","entityType":"t","observations":[]}]`...))
	mustMemsnap(t, store, nil, "entities", "create", "--file", bom)
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 1 {
		t.Errorf("CURRENT holds %d entities, want 1 (B, from the file with a byte order mark)", n)
	}
}

// A NAME or TEXT argument that is not valid UTF-8, and a --wait that is
// not positive, are usage errors (exit 2), as for 'enqueue'; nothing is
// queued.
func TestMemoryToolArgsRefused(t *testing.T) {
	store := newStore(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"entities", "create", "A\xff"}, "argument 1"},
		{[]string{"entities", "create", "--type", "t\xff", "A"}, "--type"},
		{[]string{"observations", "add", "A", "ok", "x\xffy"}, "argument 3"},
		{[]string{"entities", "create", "--wait=-1s", "A"}, "the wait must be positive"},
		{[]string{"entities", "delete", "--wait=0s", "A"}, "the wait must be positive"},
	} {
		if r := memsnap(t, store, nil, nil, c.args...); r.code != 2 || !contains(r.stderr, c.want) {
			t.Errorf("memsnap %q: exit %d, stderr %q; want exit 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 0 {
		t.Errorf("CURRENT holds %d entities after refused commands, want 0", n)
	}
}

// A store path under a regular file is named as such by every command,
// not "store not initialised" nor a raw lstat error.
func TestStorePathUnderFileCLI(t *testing.T) {
	file := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(file, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(file, "sub")
	for _, args := range [][]string{{"status"}, {"init"}, {"entities", "create", "A"}} {
		r := memsnap(t, store, nil, nil, args...)
		if r.code == 0 || !contains(r.stderr, file+" is a regular file, not a directory") || contains(r.stderr, "lstat") || contains(r.stderr, "not initialised") {
			t.Errorf("memsnap --store %s %v: exit %d, stderr %q; want the parent named as a regular file", store, args, r.code, r.stderr)
		}
	}
}

// A --wait that times out still commits the write before the command
// exits, and reports the timeout (exit 1) with the job as it then stands.
func TestMemoryToolWaitTimeoutCommits(t *testing.T) {
	store := newStore(t)
	r := memsnap(t, store, nil, nil, "entities", "create", "--wait=1ns", "--type", "t", "A")
	if r.code != 1 || !contains(r.stderr, "was not applied within 1ns") || !contains(r.stderr, "the commit made before exit applied it") {
		t.Errorf("entities create --wait=1ns: exit %d, stderr %q; want exit 1, the timeout and the commit before exit", r.code, r.stderr)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 1 {
		t.Errorf("CURRENT holds %d entities after the timed-out wait, want 1 (committed before exit)", n)
	}
}

// A name or observation repeated in one delete counts once: all there
// gives the reference's success sentence, and a name deleted is never
// said not found.
func TestMemoryToolDeleteRepeated(t *testing.T) {
	store := newStore(t)
	mustMemsnap(t, store, nil, "entities", "create", "--type", "t", "--obs", "a", "F1", "F2", "F3", "F4")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"entities", "delete", "F3", "F3"}, "Entities deleted successfully\n"},
		{[]string{"entities", "delete", "--wait", "F4", "F4"}, "Entities deleted successfully\n"},
		{[]string{"observations", "delete", "F1", "a", "a"}, "Observations deleted successfully\n"},
		{[]string{"entities", "delete", "X", "F2", "X", "F2"}, "Deleted 1 of 2 entities. Not found: X\n"},
		{[]string{"observations", "delete", "F1", "a", "b", "b"}, "Deleted 0 of 2 observations.\n"},
	} {
		if out := mustMemsnap(t, store, nil, c.args...); out != c.want {
			t.Errorf("memsnap %v: %q, want %q", c.args, out, c.want)
		}
	}
}
