package tests

import "context"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "testing"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// readOnlyStore returns a function that makes the command running memsnap
// with args on a read-only view of store. As root (which write permissions
// do not stop) the view is a read-only bind mount in a mount namespace of
// the command's own (unshare -m), which ends with it; else the store's
// write permissions are taken away for the test. It skips when neither
// works here.
func readOnlyStore(t *testing.T, store string) func(args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		chmodTree(t, store, 0o500, 0o400)
		t.Cleanup(func() { chmodTree(t, store, 0o700, 0o600) })
		return func(args ...string) *exec.Cmd {
			return exec.Command(bin, append([]string{"--store", store, "--log-level", "warn"}, args...)...)
		}
	}
	view := t.TempDir()
	const script = `mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@"`
	probe := exec.Command("unshare", "-m", "sh", "-c", script, "sh", store, view, "touch", filepath.Join(view, "probe"))
	if out, err := probe.CombinedOutput(); err == nil || !strings.Contains(string(out), "Read-only file system") {
		t.Skipf("root, and no read-only bind mount in a mount namespace here (unshare -m): %v %s", err, out)
	}
	return func(args ...string) *exec.Cmd {
		return exec.Command("unshare", append([]string{"-m", "sh", "-c", script, "sh", store, view,
			bin, "--store", view, "--log-level", "warn"}, args...)...)
	}
}

// chmodTree sets the mode of every directory and file under dir.
func chmodTree(t *testing.T, dir string, dirMode, fileMode os.FileMode) {
	t.Helper()
	var paths []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return nil
	})
	// Files first, then directories deepest first, so that a directory
	// made read-only does not stop its contents' change.
	for i := len(paths) - 1; i >= 0; i-- {
		info, err := os.Lstat(paths[i])
		if err != nil || info.Mode()&os.ModeSymlink != 0 {
			continue
		}
		mode := fileMode
		if info.IsDir() {
			mode = dirMode
		}
		if err := os.Chmod(paths[i], mode); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 25, item 8 (done-when 4): 'memsnap mcp' and 'memsnap serve' on a
// read-only store serve reads and answer a write with one sentence saying
// the store is read-only; serve without a token there refuses to start,
// saying why. Nothing is written to the store.
func TestServersOnReadOnlyStore(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("kept", "t", "written before the store became read-only"))))
	commit(t, store)
	ro := readOnlyStore(t, store)
	var err error

	// serve with no token: refused, with the reason.
	refused := ro("serve", "--addr", "127.0.0.1:0")
	var out strings.Builder
	refused.Stdout, refused.Stderr = &out, &out
	if err := refused.Start(); err != nil {
		t.Fatal(err)
	}
	stop := context.AfterFunc(ctx, func() { _ = refused.Process.Kill() }) // if it served instead
	err = refused.Wait()
	stop()
	if res := out.String(); err == nil || !strings.Contains(string(res), "is read-only") || !strings.Contains(string(res), "serve.token") {
		t.Errorf("serve on a read-only store without a token: %v\n%s", err, res)
	}

	checkClient := func(name string, cs *mcp.ClientSession) {
		t.Helper()
		if g := parseGraph(t, mustCall(t, ctx, cs, "read_graph", map[string]any{})); len(g.Entities) != 1 || g.Entities[0].Name != "kept" {
			t.Errorf("%s: read_graph on a read-only store: %+v", name, g)
		}
		wantToolError(t, ctx, cs, "create_entities", map[string]any{"entities": []any{entity("new", "t")}},
			"is read-only (")
		text, r := call(t, ctx, cs, "kv_put", map[string]any{"key": "k", "value": "v"})
		if !r.IsError || strings.Count(text, ". ") > 0 || !strings.HasSuffix(text, "writes are refused") {
			t.Errorf("%s: kv_put on a read-only store: %q, want one sentence ending \"writes are refused\"", name, text)
		}
		if g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"kept"}})); len(g.Entities) != 1 {
			t.Errorf("%s: a read after the refused writes: %+v", name, g)
		}
	}

	// mcp over stdio.
	client := mcp.NewClient(&mcp.Implementation{Name: "memsnap-test", Version: "1"}, nil)
	cmd := ro("mcp")
	cmd.Stderr = os.Stderr
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("memsnap mcp on a read-only store: %v", err)
	}
	checkClient("mcp", cs)
	cs.Close()

	// serve, with the token made while the store was writable.
	token := strings.Repeat("0123456789abcdef", 4)
	chmodTokenDir := os.Geteuid() != 0
	if chmodTokenDir {
		_ = os.Chmod(store, 0o700)
	}
	if err := os.WriteFile(filepath.Join(store, "serve.token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if chmodTokenDir {
		_ = os.Chmod(store, 0o500)
	}
	s := startServeCmd(t, ctx, ro("serve", "--addr", "127.0.0.1:0"))
	if s.token != token {
		t.Errorf("serve printed token %q, want the one in serve.token", s.token)
	}
	hs, err := s.session(ctx, s.token, nil)
	if err != nil {
		t.Fatalf("connect to serve on a read-only store: %v", err)
	}
	checkClient("serve", hs)
	hs.Close()

	if names := dirNames(t, filepath.Join(store, "queue", "new")); len(names) != 0 {
		t.Errorf("a read-only store was written to: queue/new holds %v", names)
	}
}
