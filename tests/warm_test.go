package tests

import "context"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "slices"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/internal/sysinfo"
import "github.com/memsnap/memsnap/internal/testutil"

// childPIDs lists the processes whose parent is pid.
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		// The fields after the command name (which ends with ')'): state, ppid.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out = append(out, child)
		}
	}
	slices.Sort(out)
	return out
}

// waitChildren polls until pid's children are want's length (and, if
// want is not nil, exactly want), or fails the test after a minute.
func waitChildren(t *testing.T, pid int, n int) []int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got := childPIDs(t, pid)
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d has children %v, want %d", pid, got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An MCP server commits through one warm writer process that serves commit
// after commit; when that process dies (here: kill -9) the next commit
// starts a new one and nothing acknowledged is lost; when the server exits,
// so does its writer.
func TestWarmWriter(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cmd := exec.Command(bin, "--store", store, "--log-level", "warn", "mcp")
	cmd.Env = append(os.Environ(), "MEMSNAP_MCP_WRITE_TIMEOUT=30m")
	cmd.Stderr = os.Stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "memsnap-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to memsnap mcp: %v", err)
	}
	defer cs.Close()
	server := cmd.Process.Pid

	write := func(name string) {
		t.Helper()
		createEntities(t, ctx, cs, entity(name, "note", "x"))
		if g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{name}})); len(g.Entities) != 1 {
			t.Fatalf("open_nodes %s after its write: %+v", name, g)
		}
		// The graph reads answer with the queued writes at once; the KV
		// tools wait until a snapshot holds the server's own writes (query
		// would too, but starts a query worker, another child).
		mustCall(t, ctx, cs, "kv_scan", map[string]any{"prefix": "warm/"})
	}
	write("warm-1")
	first := waitChildren(t, server, 1)
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", first[0])); !strings.Contains(string(b), "commit\x00--loop") {
		t.Fatalf("the server's child is %q, want a 'memsnap commit --loop'", strings.ReplaceAll(string(b), "\x00", " "))
	}
	write("warm-2")
	if got := waitChildren(t, server, 1); got[0] != first[0] {
		t.Errorf("second commit ran in process %d, want the warm writer %d again", got[0], first[0])
	}

	if err := killPID(first[0]); err != nil {
		t.Fatal(err)
	}
	waitChildren(t, server, 0) // reaped by the server
	write("warm-3")
	if got := waitChildren(t, server, 1); got[0] == first[0] {
		t.Errorf("after a kill -9 the writer is still process %d", got[0])
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(*)"); n != 3 {
		t.Errorf("%d entities, want 3", n)
	}

	last := childPIDs(t, server)
	if err := cs.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	ctx2, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, pid := range last {
		for alive, _ := sysinfo.ProcessAlive(pid); alive; alive, _ = sysinfo.ProcessAlive(pid) {
			if ctx2.Err() != nil {
				t.Fatalf("writer process %d still runs a minute after its server exited", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// A warm writer (here a daemon's) does not build on a CURRENT damaged in
// place after it published it. Its Verifier trusted the files it
// checksummed at publish by inode; the graph written into behind the
// manifest's back (dd conv=notrunc) is the same inode, so the damage was
// built on and published in the next snapshot, whose checksums then
// passed. Now a change of the file (size, mtime, ctime) ends the trust: the
// daemon refuses, as a one-shot commit does, in one log line naming the
// file, and publishes nothing.
func TestWarmWriterRefusesCurrentDamagedInPlace(t *testing.T) {
	store := newStore(t)
	ctx := testContext(t)
	d := daemonCmd(ctx, store)
	d.Stderr = nil
	logs := pipe(t, d.StderrPipe)
	mustStart(t, d)
	t.Cleanup(func() { _ = terminate(d) })
	refusal := firstMatch(logs, regexp.MustCompile(`commit.*graph\.kuzu: checksum mismatch.*refusing to build on it.*`))
	for i, name := range []string{"a", "b"} { // the second commit builds on what the warm writer published
		id := enqueue(t, store, ops(entities(entity(name, "t", strings.Repeat("x", 100)))))
		waitUntil(t, ctx, fmt.Sprintf("the daemon to apply job %d", i), 50*time.Millisecond, func() bool {
			return jobOutcome(t, store, id).Status == "applied"
		})
	}
	damaged := currentSeq(t, store)
	testutil.FlipByte(t, filepath.Join(snapDir(store, damaged), "graph.kuzu"), testutil.Middle)
	id := enqueue(t, store, ops(entities(entity("c", "t"))))
	var line []string
	waitUntil(t, ctx, "the daemon to refuse the damaged CURRENT", 50*time.Millisecond, func() bool {
		select {
		case m, ok := <-refusal:
			if !ok {
				t.Fatal("the daemon ended without refusing the damaged CURRENT")
			}
			line = m
			return true
		default:
		}
		if o := jobOutcome(t, store, id); o.Status != "pending" {
			t.Fatalf("the daemon built on snapshot %s, damaged in place: job c %s, CURRENT %s", damaged, o.Status, currentSeq(t, store))
		}
		return false
	})
	if !strings.Contains(line[0], "snapshot "+damaged) || !strings.Contains(line[0], "memsnap snapshots repair") {
		t.Fatalf("the refusal does not name snapshot %s and the repair: %s", damaged, line[0])
	}
	if cur := currentSeq(t, store); cur != damaged {
		t.Fatalf("the daemon published snapshot %s on the damaged snapshot %s", cur, damaged)
	}
	if o := jobOutcome(t, store, id); o.Status != "pending" {
		t.Fatalf("job c on a damaged CURRENT: %+v; want it still queued", o)
	}
	_ = terminate(d)
	_ = d.Wait()
	// Mend it as the refusal says, so that the store check at the end runs.
	mustMemsnap(t, store, nil, "snapshots", "rollback", fmt.Sprint(mustUint(t, damaged)-1))
	commit(t, store)
}
