package tests

import "context"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "slices"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/internal/sysinfo"

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
