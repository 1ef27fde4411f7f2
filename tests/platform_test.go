package tests

// The multi-process checks of what Windows' file rules could break (issue
// 26, Done-when 2): a rename over a file another process holds open fails
// there ("Access denied") until the handle closes, and a directory holding
// an open file can be neither renamed nor deleted. They run on every
// system; make wintest runs them under Wine.

import "bufio"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "os"
import "os/exec"
import "path/filepath"
import "runtime"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"

// holderReport is what a holder helper prints when it stops.
type holderReport struct {
	Held     uint64 `json:"held"`     // the snapshot it held open
	Seq      uint64 `json:"seq"`      // the snapshot it serves after its refresh
	Entities int64  `json:"entities"` // entities that snapshot holds
}

// holdSnapshot is the holder helper: it opens the snapshot CURRENT names
// and keeps its files open until the stop file appears. $MEMSNAP_TEST_HOLD
// says how: "reader" opens a reader (which pins the snapshot, and Kuzu and
// Pebble hold its files); "file" opens the snapshot's graph file and
// nothing else (no pin: only the open handle stands in GC's way). With
// $MEMSNAP_TEST_HOLD_CURRENT it also holds CURRENT open until the next
// snapshot's directory has been published and 200 ms more, so that the
// publish's replacement of CURRENT meets the open handle. It prints
// "held SEQ" once it holds everything; at the stop file a reader refreshes
// and counts the entities it then serves; it prints a holderReport.
func holdSnapshot(store *snapshot.Store, stop string) int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "holder:", err); return 1 }
	var cur *os.File
	if os.Getenv("MEMSNAP_TEST_HOLD_CURRENT") != "" {
		f, err := os.Open(store.Path(snapshot.CurrentFile))
		if err != nil {
			return fail(err)
		}
		cur = f
	}
	seq, err := store.Current()
	if err != nil {
		return fail(err)
	}
	rep := holderReport{Held: seq}
	var r *reader.Reader
	switch how := os.Getenv("MEMSNAP_TEST_HOLD"); how {
	case "reader":
		cfg := config.Default()
		cfg.Store = store.Dir()
		if r, err = reader.Open(ctx, store, cfg.ReaderOptions(), nil); err != nil {
			return fail(err)
		}
		defer r.Close()
		if rep.Held = r.Seq(); rep.Held != seq {
			return fail(fmt.Errorf("CURRENT moved from %d to %d while the holder opened it", seq, rep.Held))
		}
	case "file":
		f, err := os.Open(filepath.Join(store.SnapshotDir(seq), snapshot.GraphFile))
		if err != nil {
			return fail(err)
		}
		defer f.Close()
	default:
		return fail(fmt.Errorf("MEMSNAP_TEST_HOLD=%q: want reader or file", how))
	}
	fmt.Printf("held %d\n", rep.Held)
	if cur != nil {
		for {
			if _, err := os.Stat(store.SnapshotDir(seq + 1)); err == nil {
				break
			}
			if _, err := os.Stat(stop); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		cur.Close()
	}
	for {
		if _, err := os.Stat(stop); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r != nil {
		if _, err := r.Refresh(ctx); err != nil {
			return fail(fmt.Errorf("refresh: %w", err))
		}
		res, err := r.Query(ctx, "MATCH (e:Entity) RETURN count(e)", nil)
		if err != nil {
			return fail(fmt.Errorf("query: %w", err))
		}
		rep.Seq, rep.Entities = r.Seq(), res.Rows[0][0].(int64)
	}
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// holders starts n holder helpers on store with env, waits until each holds
// its snapshot, and returns them with what each printed after "held".
type holders struct {
	stop  string
	cmds  []*exec.Cmd
	outs  []*bufio.Reader
	held  []uint64
	done  bool
	procs sync.WaitGroup
}

func startHolders(t *testing.T, ctx context.Context, store string, n int, env ...string) *holders {
	t.Helper()
	h := &holders{stop: stopFile(t.TempDir())}
	t.Cleanup(func() { h.release(t) })
	for range n {
		cmd := helperCmd(ctx, "holder", store, append([]string{"MEMSNAP_TEST_STOP=" + h.stop}, env...)...)
		cmd.Stderr = os.Stderr
		out := pipe(t, cmd.StdoutPipe)
		mustStart(t, cmd)
		br := bufio.NewReader(out)
		line, err := br.ReadString('\n')
		var seq uint64
		if _, serr := fmt.Sscanf(line, "held %d\n", &seq); err != nil || serr != nil {
			t.Fatalf("holder %d did not hold a snapshot: %q %v", len(h.cmds), line, err)
		}
		h.cmds, h.outs, h.held = append(h.cmds, cmd), append(h.outs, br), append(h.held, seq)
	}
	return h
}

// release creates the stop file, waits for every holder and returns their
// reports; it does so once.
func (h *holders) release(t *testing.T) []holderReport {
	t.Helper()
	if h.done {
		return nil
	}
	h.done = true
	if err := os.WriteFile(h.stop, nil, 0o600); err != nil {
		t.Error(err)
	}
	var reps []holderReport
	for i, cmd := range h.cmds {
		rest, _ := io.ReadAll(h.outs[i])
		if err := cmd.Wait(); err != nil {
			t.Errorf("holder %d: %v", i, err)
			continue
		}
		var rep holderReport
		if err := json.Unmarshal(rest, &rep); err != nil {
			t.Errorf("holder %d report %q: %v", i, rest, err)
			continue
		}
		reps = append(reps, rep)
	}
	return reps
}

// gcResult is what 'memsnap snapshots gc' prints.
type gcResult struct {
	Removed []uint64 `json:"removed"`
	Pinned  []uint64 `json:"pinned"`
	Kept    []uint64 `json:"kept"`
}

func snapshotExists(store string, seq uint64) bool {
	_, err := os.Stat(filepath.Join(store, "snapshots", snapshot.FormatSeq(seq)))
	return err == nil
}

// Done-when 2 (publish): two reader processes hold CURRENT and the files of
// the snapshot they serve open while a commit publishes the next one. The
// publish succeeds (on Windows its replacement of CURRENT retries until the
// handles close), the readers keep serving the old snapshot meanwhile, and
// each swaps to the new one on its next refresh.
func TestPublishWhileReadersHoldFiles(t *testing.T) {
	store := newStore(t)
	ctx := testContext(t)
	enqueue(t, store, ops(entities(entity("first", "t"))))
	first := commit(t, store).Current

	h := startHolders(t, ctx, store, 2, "MEMSNAP_TEST_HOLD=reader", "MEMSNAP_TEST_HOLD_CURRENT=1")
	enqueue(t, store, ops(entities(entity("second", "t"))))
	s := commit(t, store, "--lock-timeout", "0")
	if s.Applied != 1 || s.Current != first+1 {
		t.Fatalf("commit while two readers held CURRENT and snapshot %d: %+v", first, s)
	}
	if got := mustUint(t, currentSeq(t, store)); got != first+1 {
		t.Fatalf("CURRENT names %d after the publish, want %d", got, first+1)
	}
	for i, rep := range h.release(t) {
		if rep.Held != first || rep.Seq != first+1 || rep.Entities != 2 {
			t.Errorf("reader %d: held %d, then serves %d with %d entities; want %d, then %d with 2", i, rep.Held, rep.Seq, rep.Entities, first, first+1)
		}
	}
}

// Done-when 2 (GC): GC leaves a snapshot alone while another process has
// it open and collects it once that process has let go. A reader pins its
// snapshot (every system); a process that opened one of its files without
// a pin keeps it only on Windows, where a directory holding an open file
// cannot be moved (elsewhere GC may move it: the open file stays readable).
func TestGCDefersOpenSnapshots(t *testing.T) {
	for _, how := range []string{"reader", "file"} {
		t.Run(how, func(t *testing.T) {
			if how == "file" && testutil.OnWine() && renamesDirWithOpenFile(t) {
				t.Skip("Wine 8.0 renames a directory that holds an open file, which Windows refuses: GC's deferral cannot be seen here (checked just now)")
			}
			store := newStore(t)
			ctx := testContext(t)
			enqueue(t, store, ops(entities(entity("e0", "t"))))
			held := commit(t, store).Current
			h := startHolders(t, ctx, store, 2, "MEMSNAP_TEST_HOLD="+how)

			keep := []string{"MEMSNAP_GC_KEEP=1", "MEMSNAP_GC_MIN_AGE=0s"}
			for k := 1; k <= 3; k++ {
				enqueue(t, store, ops(entities(entity(fmt.Sprintf("e%d", k), "t"))))
				if r := memsnap(t, store, nil, keep, "commit"); r.code != 0 {
					t.Fatalf("commit %d while snapshot %d is held: %s", k, held, r.stderr)
				}
			}
			gc := runGC(t, store, keep)
			deferred := how == "reader" || runtime.GOOS == "windows"
			if got := snapshotExists(store, held); got != deferred {
				t.Fatalf("snapshot %d held open (%s) on %s: on disk after GC = %v, want %v (gc: %+v)", held, how, runtime.GOOS, got, deferred, gc)
			}
			if deferred && !containsSeq(gc.Pinned, held) {
				t.Errorf("gc does not report snapshot %d as held: %+v", held, gc)
			}
			h.release(t)
			gc = runGC(t, store, keep)
			if snapshotExists(store, held) {
				t.Fatalf("snapshot %d still on disk once no process holds it (gc: %+v)", held, gc)
			}
			if trash := dirNames(t, filepath.Join(store, "trash")); len(trash) != 0 {
				t.Errorf("trash not emptied once nothing is open: %v", trash)
			}
			if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 4 {
				t.Errorf("entities after GC: %d, want 4", n)
			}
		})
	}
}

// renamesDirWithOpenFile reports whether this system renames a directory
// while a file in it is open.
func renamesDirWithOpenFile(t *testing.T) bool {
	t.Helper()
	dir := filepath.Join(testutil.TempDir(t), "d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return os.Rename(dir, dir+"2") == nil
}

func runGC(t *testing.T, store string, env []string) gcResult {
	t.Helper()
	r := memsnap(t, store, nil, env, "snapshots", "gc")
	if r.code != 0 {
		t.Fatalf("snapshots gc: exit %d: %s", r.code, r.stderr)
	}
	var res gcResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("snapshots gc answer %q: %v", r.stdout, err)
	}
	return res
}

func containsSeq(seqs []uint64, seq uint64) bool {
	for _, s := range seqs {
		if s == seq {
			return true
		}
	}
	return false
}

// mcpRestarts is how many times TestMCPServerKilledAndRestarted kills the
// server.
const mcpRestarts = 20

// mcpMaxWaiting is how many jobs (queued plus claimed) the producer of
// TestMCPServerKilledAndRestarted lets wait for the writer before it pauses.
const mcpMaxWaiting = 100

// Done-when 2 (the second report's crash loop): a 'memsnap mcp' server is
// driven through MCP (create, search, open), killed (SIGKILL; on Windows
// TerminateProcess) in the middle of a write and started again at once, 20
// times, while a producer process writes all along. Every restart
// connects; every write the server acknowledged, and every job the
// producer acknowledged, is in the memory at the end, exactly once. The
// producer stays at most mcpMaxWaiting jobs ahead of the writer: at its
// fixed pace it outran the writer under Wine on a loaded machine (thousands
// of jobs claimed by one commit of minutes, and every new server's first
// read scanning them all), and the test's length followed the machine's
// load instead of its 20 restarts.
func TestMCPServerKilledAndRestarted(t *testing.T) {
	store := newStore(t)
	ctx := testContext(t)
	bg := startBackground(t, ctx, store, t.TempDir(), []string{"producer"}, "MEMSNAP_TEST_CHAIN=k",
		fmt.Sprintf("MEMSNAP_TEST_MAX_WAITING=%d", mcpMaxWaiting))

	var acked []string // entity names whose create_entities the server acknowledged
	for i := range mcpRestarts {
		cs, cmd := mcpProcess(t, ctx, store, nil)
		name := fmt.Sprintf("restart-%02d", i)
		createEntities(t, ctx, cs, entity(name, "round", fmt.Sprintf("written by server %d", i)))
		acked = append(acked, name)
		// The server reads its own write, and the earlier servers' writes
		// once they are committed (search right after the write; open).
		if g := parseGraph(t, mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": name})); !g.has(name) {
			t.Errorf("server %d: search right after its write misses %s: %v", i, name, g.names())
		}
		names := append([]string(nil), acked...)
		g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": names}))
		if !g.has(name) {
			t.Errorf("server %d: open_nodes misses its own write %s", i, name)
		}

		// A second write, and the kill while it is in flight.
		inflight := fmt.Sprintf("inflight-%02d", i)
		answered := make(chan bool, 1)
		go func() {
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create_entities", Arguments: map[string]any{"entities": []any{
				entity(inflight, "round")}}})
			answered <- err == nil && !res.IsError
		}()
		if i%2 == 1 {
			time.Sleep(time.Duration(i) * time.Millisecond) // vary the moment of the kill
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatalf("kill server %d: %v", i, err)
		}
		if <-answered {
			acked = append(acked, inflight)
		}
		cs.Close() // reaps the killed process (the client's transport waits for it)
	}

	bg.stop()
	var prod producerStats
	if err := json.Unmarshal(bg.outs[0].Bytes(), &prod); err != nil {
		t.Fatalf("producer report %q: %v", bg.outs[0], err)
	}
	if prod.Errors != 0 {
		t.Errorf("producer: %d errors (first: %s)", prod.Errors, prod.FirstError)
	}

	// A last server finds every acknowledged write once it is committed.
	commitAll(t, store)
	cs := mcpSession(t, ctx, store)
	g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": acked}))
	if got := g.names(); len(got) != len(acked) {
		t.Errorf("after %d kills: %d of %d acknowledged writes are in the memory; missing %v", mcpRestarts, len(got), len(acked), missing(acked, got))
	}
	q := query(t, store, "MATCH (e:Entity) WHERE e.name STARTS WITH 'c-k-' RETURN e.name")
	if prod.Last >= 0 && (len(q.Rows) != 1 || q.Rows[0][0] != chainEntity("k", prod.Last)) {
		t.Errorf("producer chain holds %v, want only %s: a job was lost or applied twice", q.Rows, chainEntity("k", prod.Last))
	}
	if got := strings.TrimSpace(mustMemsnap(t, store, nil, "kv", "get", "chain/k")); prod.Last >= 0 && got != fmt.Sprint(prod.Last) {
		t.Errorf("chain/k = %s, want %d", got, prod.Last)
	}
	t.Logf("%d kills: %d server writes and %d producer jobs acknowledged, all applied; the producer paused %d times for the writer", mcpRestarts, len(acked), prod.Acked, prod.Paused)
}

// commitAll commits until the queue is empty, waiting for a writer that
// a killed server left running (its warm writer outlives it on Windows
// until it notices) to let go of the lock.
func commitAll(t *testing.T, store string) {
	t.Helper()
	for {
		s := commit(t, store, "--lock-timeout", "1m")
		if s.QueueLeft == 0 {
			return
		}
	}
}

func (g graphJSON) has(name string) bool {
	for _, e := range g.Entities {
		if e.Name == name {
			return true
		}
	}
	return false
}

func missing(want, got []string) []string {
	have := map[string]bool{}
	for _, n := range got {
		have[n] = true
	}
	var out []string
	for _, n := range want {
		if !have[n] {
			out = append(out, n)
		}
	}
	return out
}

// Issue 26: a store path with spaces and characters outside ASCII (on
// Windows outside the ANSI code page, which Kuzu's CreateFileA needs the
// manifest's UTF-8 code page for), on Windows also with a drive letter and
// backslashes (the temporary directory's own), works as a flag, as
// MEMSNAP_STORE, in a YAML and a JSON config file and in an MCP client's
// configuration, where JSON escapes each backslash.
func TestStorePathWithSpacesAndAccents(t *testing.T) {
	ctx := testContext(t)
	base := filepath.Join(testutil.TempDir(t), "Mémoire de José ☃")
	store := func(name string) string { return filepath.Join(base, name+" store") }
	yamlCfg, jsonCfg := filepath.Join(base, "memsnap config.yaml"), filepath.Join(base, "memsnap config.json")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// YAML single quotes and JSON strings (json.Marshal) keep a Windows path as written.
	if err := os.WriteFile(yamlCfg, []byte("store: '"+store("yaml")+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(map[string]string{"store": store("json")})
	if err := os.WriteFile(jsonCfg, js, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  []string
	}{
		{"flag", []string{"--store", store("flag")}, nil},
		{"environment", nil, []string{"MEMSNAP_STORE=" + store("environment")}},
		{"yaml", []string{"--config", yamlCfg}, nil},
		{"json", []string{"--config", jsonCfg}, nil},
	} {
		run := func(stdin string, args ...string) string {
			cmd := exec.Command(bin, append(append(append([]string(nil), tc.args...), "--log-level", "warn"), args...)...)
			cmd.Env = append(os.Environ(), tc.env...)
			cmd.Stdin = strings.NewReader(stdin)
			out, err := cmd.Output()
			if err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					t.Fatalf("%s: memsnap %v: %v: %s", tc.name, args, err, ee.Stderr)
				}
				t.Fatalf("%s: memsnap %v: %v", tc.name, args, err)
			}
			return string(out)
		}
		run("", "init")
		run(`{"ops":[{"op":"create_entities","entities":[{"name":"spaced","entityType":"t","observations":["in `+tc.name+`"]}]}]}`, "enqueue", "--wait")
		if out := run("", "search", "--json", "spaced"); !strings.Contains(out, "in "+tc.name) {
			t.Errorf("%s: search answers %q", tc.name, out)
		}
		if _, err := os.Stat(filepath.Join(store(tc.name), snapshot.CurrentFile)); err != nil {
			t.Errorf("%s: the store is not at %s: %v", tc.name, store(tc.name), err)
		}
	}

	// The MCP client configuration as a user writes it (JSON), read the
	// way a client reads it, and the server it starts.
	conf := `{"mcpServers": {"memory": {"command": ` + jsonString(bin) + `, "args": ["mcp", "--store", ` + jsonString(store("mcp")) + `]}}}`
	var cc struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(conf), &cc); err != nil {
		t.Fatalf("client configuration %s: %v", conf, err)
	}
	srv := cc.MCPServers["memory"]
	cmd := exec.Command(srv.Command, srv.Args...)
	cmd.Env = append(os.Environ(), "MEMSNAP_MCP_WRITE_TIMEOUT=30m")
	cmd.Stderr = os.Stderr
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "memsnap-test", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to %s %v: %v", srv.Command, srv.Args, err)
	}
	defer cs.Close()
	createEntities(t, ctx, cs, entity("spaced", "t", "over MCP"))
	if g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"spaced"}})); !g.has("spaced") {
		t.Errorf("MCP server on %q: open_nodes answers %v", store("mcp"), g.names())
	}
	if _, err := os.Stat(filepath.Join(store("mcp"), "queue")); err != nil {
		t.Errorf("the MCP server's store is not at %s: %v", store("mcp"), err)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
