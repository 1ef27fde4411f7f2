package tests

import "bytes"
import "context"
import "encoding/json"
import "os"
import "path/filepath"
import "strconv"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// The query worker's limits as these tests set them.
const (
	testQueryCapMB = 256
	// testMarginMB is the stated margin over the cap for every memsnap
	// process's peak resident set (queryworker.MemoryMargin).
	testMarginMB = 64
)

var queryLimitsEnv = []string{"MEMSNAP_READER_QUERY_TIMEOUT=1s", "MEMSNAP_READER_QUERY_MAX_MEMORY_MB=" + strconv.Itoa(testQueryCapMB)}

// nestedQuery is the query whose 3000 nested parentheses segfaulted Kuzu's
// parser inside the server.
var nestedQuery = "RETURN " + strings.Repeat("(", 3000) + "1" + strings.Repeat(")", 3000)

// mcpServerWithPid is mcpSession that also returns the server's pid.
func mcpServerWithPid(t *testing.T, ctx context.Context, store string, env ...string) (*mcp.ClientSession, int) {
	t.Helper()
	cs, cmd := mcpProcess(t, ctx, store, nil, env...)
	return cs, cmd.Process.Pid
}

// children lists the pids of pid's child processes whose command line
// holds want.
func children(pid int, want string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		cl, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cl), want) {
			out = append(out, child)
		}
	}
	return out
}

// peakWatcher samples the peak resident set (VmHWM) of a server and of
// every child it has, while they live.
type peakWatcher struct {
	mu    sync.Mutex    // guards peaks
	peaks map[int]int64 // pid -> highest VmHWM seen, KiB
	stop  chan struct{}
	done  chan struct{}
}

func watchPeaks(server int) *peakWatcher {
	w := &peakWatcher{peaks: map[int]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			for _, pid := range append(children(server, "memsnap"), server) {
				if kb := vmHWM(pid); kb > 0 {
					w.mu.Lock()
					w.peaks[pid] = max(w.peaks[pid], kb)
					w.mu.Unlock()
				}
			}
			select {
			case <-w.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return w
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// check fails t if any process peaked over the cap plus the margin.
func (w *peakWatcher) check(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.peaks) < 2 {
		t.Errorf("sampled %d processes; want the server and its query workers", len(w.peaks))
	}
	for pid, kb := range w.peaks {
		t.Logf("pid %d peak resident set %d MiB", pid, kb>>10)
		if kb>>10 > testQueryCapMB+testMarginMB {
			t.Errorf("pid %d peaked at %d MiB, over the cap %d MiB plus the margin %d MiB", pid, kb>>10, testQueryCapMB, testMarginMB)
		}
	}
}

// queryText runs the query tool and returns its text and whether it is an error.
func queryText(t *testing.T, ctx context.Context, cs *mcp.ClientSession, cypher string) (string, bool) {
	t.Helper()
	text, res := call(t, ctx, cs, "query", map[string]any{"cypher": cypher})
	var b bytes.Buffer
	if json.Compact(&b, []byte(text)) == nil {
		text = b.String()
	}
	return text, res.IsError
}

// servesNext checks that the server still answers a query and a built-in read.
func servesNext(t *testing.T, ctx context.Context, cs *mcp.ClientSession, after string) {
	t.Helper()
	if text, isErr := queryText(t, ctx, cs, "MATCH (e:Entity) RETURN count(e)"); isErr || !strings.Contains(text, `"rows":[[1]]`) {
		t.Fatalf("after %s: the next query answered error=%v %s", after, isErr, text)
	}
	mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"a"}})
}

func TestNestedQueryDoesNotKillServers(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	enqueueWait(t, store, ops(entities(entity("a", "t", "x"))), "30m")
	stdio, _ := mcpServerWithPid(t, ctx, store, queryLimitsEnv...)
	srv := startServe(t, ctx, store, queryLimitsEnv...)
	http, err := srv.session(ctx, srv.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer http.Close()
	for name, cs := range map[string]*mcp.ClientSession{"mcp": stdio, "serve": http} {
		wantToolError(t, ctx, cs, "query", map[string]any{"cypher": nestedQuery}, "nest deeper than 32 levels")
		servesNext(t, ctx, cs, name+": nested parentheses")
	}
}

func TestKilledQueryWorkerIsReplaced(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	enqueueWait(t, store, ops(entities(entity("a", "t", "x"))), "30m")
	cs, pid := mcpServerWithPid(t, ctx, store)
	servesNext(t, ctx, cs, "start") // a worker is up
	workers := children(pid, "query-worker")
	if len(workers) == 0 {
		t.Fatalf("no query worker among the children of the server %d", pid)
	}
	for _, w := range workers {
		if err := killPID(w); err != nil {
			t.Fatal(err)
		}
	}
	servesNext(t, ctx, cs, "its query workers were killed")
}

func TestRunawayQueriesAreStopped(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	enqueueWait(t, store, ops(entities(entity("a", "t", "x"))), "30m")
	srv := startServe(t, ctx, store, queryLimitsEnv...)
	cs, err := srv.session(ctx, srv.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	servesNext(t, ctx, cs, "start")
	peaks := watchPeaks(srv.cmd.Process.Pid)
	for _, cypher := range []string{
		"UNWIND range(1,100000000) AS x RETURN count(x)",
		"UNWIND range(1,2000000) AS x RETURN x", // Kuzu builds all rows first: past 256 MiB
		"RETURN size(lpad('x',1500000000,'y'))",
		"UNWIND range(1,100000) AS x UNWIND range(1,100000) AS y WITH x, y WHERE (x * y) % 7 = 3 RETURN count(*)",
	} {
		start := time.Now()
		text, isErr := queryText(t, ctx, cs, cypher)
		took := time.Since(start)
		stopped := isErr && strings.Contains(text, "query stopped:")
		capped := !isErr && strings.Contains(text, `"truncated":true`)
		if !stopped && !capped {
			t.Errorf("%s: want a stop or a truncated answer, got error=%v %.300s", cypher, isErr, text)
		}
		if took > 10*time.Second { // 10x reader.query_timeout, as the issue states
			t.Errorf("%s: took %s, more than 10x reader.query_timeout", cypher, took)
		}
		t.Logf("%s: %.150s (%s)", cypher, text, took)
		servesNext(t, ctx, cs, cypher)
	}
	peaks.check(t)
}

func TestQueryCommandLimits(t *testing.T) {
	store := newStore(t)
	enqueueWait(t, store, ops(entities(entity("a", "t", "x"))), "30m")
	const many = "UNWIND range(1,20000) AS x RETURN x"
	for _, c := range []struct {
		env          []string
		cypher, note string
		rows         int
	}{
		{nil, many, "more than 10000 rows (reader.query_max_rows)", 10000},
		{[]string{"MEMSNAP_READER_QUERY_MAX_ROWS=7"}, many, "more than 7 rows (reader.query_max_rows)", 7},
		{[]string{"MEMSNAP_READER_QUERY_MAX_BYTES=2048"}, many, "more than 2048 bytes of rows (reader.query_max_bytes)", -1},
		{nil, "UNWIND range(1,3) AS x RETURN x", "", 3},
	} {
		r := memsnap(t, store, nil, c.env, "query", "--json", c.cypher)
		var res struct {
			Rows            [][]any `json:"rows"`
			Truncated       bool    `json:"truncated"`
			TruncatedReason string  `json:"truncated_reason"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil {
			t.Fatalf("%v %s: exit %d, %s %s", c.env, c.cypher, r.code, r.stdout, r.stderr)
		}
		if res.Truncated != (c.note != "") || res.TruncatedReason != c.note || c.rows >= 0 && len(res.Rows) != c.rows ||
			len(res.Rows) == 0 || !strings.Contains(r.stderr, c.note) {
			t.Errorf("%v %s: %d rows, truncated=%v %q, stderr %q; want %d rows and note %q",
				c.env, c.cypher, len(res.Rows), res.Truncated, res.TruncatedReason, r.stderr, c.rows, c.note)
		}
		if c.rows == -1 && len(r.stdout) > 2048+200 {
			t.Errorf("capped at 2048 bytes of rows, the answer is %d bytes", len(r.stdout))
		}
	}
	for _, c := range []struct{ cypher, want string }{
		{nestedQuery, "nest deeper than 32 levels"},
		{"RETURN " + strings.Repeat("CASE WHEN true THEN ", 20) + "1" + strings.Repeat(" END", 20), "CASE expressions nest deeper than 10 levels"},
		// Kuzu's message, '%' and all.
		{"RETURN -9223372036854775808 % -1", "Value -9223372036854775808 % -1 is not within INT64 range."},
		{"UNWIND range(1,100000) AS x UNWIND range(1,100000) AS y WITH x, y WHERE (x * y) % 7 = 3 RETURN count(*)",
			"ran past reader.query_timeout (1s)"},
	} {
		r := memsnap(t, store, nil, queryLimitsEnv, "query", c.cypher)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%.60s...: exit %d, stderr %q; want exit 1 and one line naming %q", c.cypher, r.code, r.stderr, c.want)
		}
	}
}
