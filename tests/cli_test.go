package tests

import "context"
import "encoding/json"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "runtime"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// oneStderrLine fails unless r exited with code and wrote exactly one line
// to stderr, which it returns.
func oneStderrLine(t *testing.T, r result, code int) string {
	t.Helper()
	if r.code != code || r.signal != 0 {
		t.Fatalf("exit %d signal %v, want exit %d; stderr %q", r.code, r.signal, code, r.stderr)
	}
	if !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("want exactly one line on stderr, got %q", r.stderr)
	}
	return strings.TrimSuffix(r.stderr, "\n")
}

// The wait of 'enqueue --wait' may follow the flag as its own argument, and
// the help says what no flag and a bare flag do.
func TestCLIEnqueueWait(t *testing.T) {
	store := newStore(t)
	job := func(v string) []byte {
		b, _ := json.Marshal(ops(map[string]any{"op": "kv_put", "key": "k", "value": v}))
		return b
	}
	file := filepath.Join(t.TempDir(), "job.json")
	if err := os.WriteFile(file, job("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"enqueue", "--wait", "30s"},
		{"enqueue", "--wait"},
		{"enqueue", "--wait=30s"},
		{"enqueue", "--wait", "1m30s", "-f", "-"},
		{"enqueue", "--wait", "30s", "-f", file},
		{"enqueue", "-f", file, "--wait", "30s"},
		{"enqueue", "--wait", "-f", file},
	} {
		out := mustMemsnap(t, store, job(strings.Join(args, " ")), args...)
		var o outcome
		if err := json.Unmarshal([]byte(out), &o); err != nil || o.Status != "applied" || o.Snapshot == 0 {
			t.Fatalf("%v: answer %q (%v), want an applied outcome", args, out, err)
		}
	}
	// Without --wait: the id only, at once.
	out := mustMemsnap(t, store, job("no wait"), "enqueue")
	var resp map[string]any
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp) != 1 || resp["job_id"] == nil {
		t.Fatalf("enqueue without --wait answered %q", out)
	}
	// A number that is not a duration is taken as the wait and refused
	// saying why; a wait that is not positive is refused.
	r := memsnap(t, store, job("x"), nil, "enqueue", "--wait", "30")
	if line := oneStderrLine(t, r, 2); line != `memsnap enqueue: invalid argument "30" for "--wait" flag: time: missing unit in duration "30" (want a duration such as 30s, or durable)` {
		t.Errorf("--wait 30: %q", line)
	}
	r = memsnap(t, store, job("x"), nil, "enqueue", "--wait", "-1s")
	if line := oneStderrLine(t, r, 2); line != `memsnap enqueue: --wait -1s: the wait must be positive` {
		t.Errorf("--wait -1s: %q", line)
	}
	r = memsnap(t, store, job("x"), nil, "enqueue", "--wait", "0s")
	if line := oneStderrLine(t, r, 2); !strings.HasPrefix(line, "memsnap enqueue: --wait 0s") {
		t.Errorf("--wait 0s: %q", line)
	}
	help := mustMemsnap(t, store, nil, "enqueue", "--help")
	if strings.Contains(help, "(default 1m") || !strings.Contains(help, "without --wait: no wait") || !strings.Contains(help, "--wait alone: 1m") {
		t.Errorf("enqueue help does not tell what --wait does:\n%s", help)
	}
	// import's --wait takes no value: the file still follows it.
	mem := filepath.Join(t.TempDir(), "memory.jsonl")
	if err := os.WriteFile(mem, []byte(`{"type":"entity","name":"a","entityType":"t","observations":[]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustMemsnap(t, store, nil, "import", "--wait", mem); !strings.Contains(out, `"applied":1`) {
		t.Errorf("import --wait FILE answered %q", out)
	}
}

// Usage errors exit 2 with one line naming the command.
func TestCLIUsageErrors(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("x", "t"))))
	commit(t, store) // reads check their options on a snapshot
	for _, c := range []struct {
		args []string
		want string // the whole line, or its start when it ends with "..."
	}{
		{[]string{"bogus"}, `memsnap: unknown command "bogus" (see 'memsnap --help')`},
		{[]string{"statu"}, `memsnap: unknown command "statu" (did you mean "status"?)`},
		{[]string{}, `memsnap: needs a command (see 'memsnap --help')`},
		{[]string{"snapshots", "bogus"}, `memsnap snapshots: unknown command "bogus" (see 'memsnap snapshots --help')`},
		{[]string{"snapshots"}, `memsnap snapshots: needs a command (see 'memsnap snapshots --help')`},
		{[]string{"job"}, `memsnap job: needs exactly 1 argument (JOB_ID), got 0`},
		{[]string{"job", "a", "b"}, `memsnap job: needs exactly 1 argument (JOB_ID), got 2`},
		{[]string{"kv", "get"}, `memsnap kv get: needs exactly 1 argument (KEY), got 0`},
		{[]string{"query"}, `memsnap query: needs at least 1 argument (CYPHER), got 0`},
		{[]string{"status", "extra"}, `memsnap status: takes no arguments, got 1 ("extra")`},
		{[]string{"snapshots", "verify", "1", "2"}, `memsnap snapshots verify: takes at most 1 argument (SEQ), got 2 ("1" "2")`},
		{[]string{"snapshots", "rollback", "x"}, `memsnap snapshots rollback: SEQ "x" is not a snapshot number`},
		{[]string{"query", "--param", "novalue", "RETURN 1"}, `memsnap query: --param "novalue": want name=value`},
		{[]string{"status", "--bogus"}, `memsnap status: unknown flag: --bogus`},
		{[]string{"commit", "--max-jobs", "abc"}, `memsnap commit: invalid argument "abc" for "--max-jobs" flag...`},
		{[]string{"enqueue", "--wait=soon"}, `memsnap enqueue: invalid argument "soon" for "--wait" flag...`},
		{[]string{"bench", "--only", "nosuch"}, `memsnap bench: unknown benchmark "nosuch" for --only...`},
		{[]string{"graph", "--limit", "-5"}, `memsnap graph: read graph: bad option: limit -5 is negative`},
		{[]string{"search", "--limit", "-3", "x"}, `memsnap search: --limit -3 is negative (0: all matches)`},
		{[]string{"neighbors", "--depth", "100", "x"}, `memsnap neighbors: neighbors: bad option: depth 100 is out of range 1..6`},
		{[]string{"neighbors", "--depth", "0", "x"}, `memsnap neighbors: --depth must be 1..6`},
		{[]string{"commit", "--max-jobs", "-1"}, `memsnap commit: --max-jobs must not be negative`},
	} {
		r := memsnap(t, store, nil, nil, c.args...)
		line := oneStderrLine(t, r, 2)
		if want, prefix := strings.CutSuffix(c.want, "..."); prefix && !strings.HasPrefix(line, want) || !prefix && line != want {
			t.Errorf("%q: got %q, want %q", c.args, line, c.want)
		}
	}
}

// A bad config value names its key, the value and where it came from.
func TestCLIConfigErrors(t *testing.T) {
	store := newStore(t)
	file := filepath.Join(t.TempDir(), "memsnap.yaml")
	if err := os.WriteFile(file, []byte("gc:\n  keep: many\nwriter:\n  nice: 40\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Numbers where a duration or a whole number belongs: a bare 10 would
	// be 10ns, and 2.9 would be cut to 2.
	bare := filepath.Join(t.TempDir(), "bare.yaml")
	if err := os.WriteFile(bare, []byte("writer:\n  lock_timeout: 10\ngc:\n  keep: 2.9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expectConfigRefusals(t, store, []configRefusal{
		{nil, []string{"--config", bare, "status"},
			`memsnap: config: writer.lock_timeout: 10 (from config file ` + bare + `) is not a duration (such as 500ms, 30s or 1m30s); ` +
				`gc.keep: 2.9 (from config file ` + bare + `) is not an integer`},
		{[]string{"MEMSNAP_GC_KEEP=abc"}, []string{"status"},
			`memsnap: config: gc.keep: "abc" (from MEMSNAP_GC_KEEP) is not an integer`},
		{[]string{"MEMSNAP_GC_KEEP=0"}, []string{"status"},
			`memsnap: config: gc.keep: 0 (from MEMSNAP_GC_KEEP) is below the minimum of 1 (CURRENT is always kept)`},
		{nil, []string{"--config", file, "status"},
			`memsnap: config: gc.keep: "many" (from config file ` + file + `) is not an integer; ` +
				`writer.nice: 40 (from config file ` + file + `) is not between 0 and 19`},
		{[]string{"MEMSNAP_WRITER_NICE=3"}, []string{"--config", file, "status"},
			`memsnap: config: gc.keep: "many" (from config file ` + file + `) is not an integer`},
		{[]string{"MEMSNAP_LOG_LEVEL=debug"}, []string{"--log-level", "loud", "status"},
			`memsnap: config: log_level: "loud" (from --log-level flag) is not one of debug, info, warn, error`},
		{nil, []string{"commit", "--lock-timeout", "-1s"},
			`memsnap: config: writer.lock_timeout: -1s (from --lock-timeout flag) must not be negative`},
		{[]string{"MEMSNAP_READER_QUERY_TIMEOUT=soon", "MEMSNAP_MCP_WRITE_TIMEOUT=0s"}, []string{"status"},
			`memsnap: config: reader.query_timeout: "soon" (from MEMSNAP_READER_QUERY_TIMEOUT) is not a duration (such as 500ms, 30s or 1m30s); ` +
				`mcp.write_timeout: 0s (from MEMSNAP_MCP_WRITE_TIMEOUT) must be positive`},
	})
}

// A key with a typo, in the config file (nested too) or as a MEMSNAP_*
// variable, is refused with exit 2 and one line naming the nearest valid
// key; the MEMSNAP_* variables memsnap reads that are not keys pass.
func TestCLIUnknownConfigKeys(t *testing.T) {
	store := newStore(t)
	file := filepath.Join(t.TempDir(), "memsnap.yaml")
	if err := os.WriteFile(file, []byte("mcp: {write-ack: applied}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expectConfigRefusals(t, store, []configRefusal{
		{nil, []string{"--config", file, "status"},
			`memsnap: config: unknown key "mcp.write-ack" in config file ` + file + ` (did you mean "mcp.write_ack"?)`},
		{[]string{"MEMSNAP_WRITER_MINFREE_MB=100"}, []string{"status"},
			`memsnap: config: unknown variable "MEMSNAP_WRITER_MINFREE_MB" in environment (did you mean "MEMSNAP_WRITER_MIN_FREE_MB"?)`},
		{[]string{"MEMSNAP_GC_KEP=2"}, []string{"commit"},
			`memsnap: config: unknown variable "MEMSNAP_GC_KEP" in environment (did you mean "MEMSNAP_GC_KEEP"?)`},
	})
	env := []string{"MEMSNAP_FAILPOINT=no-such-point", "MEMSNAP_FSFAULT=", "MEMSNAP_BENCH_REFERENCE=/nowhere", "MEMSNAP_TEST_ANYTHING=1", "MEMSNAP_GC_KEEP=4"}
	if r := memsnap(t, store, nil, env, "status"); r.code != 0 {
		t.Errorf("status with the variables memsnap reads that are not keys: exit %d: %s", r.code, r.stderr)
	}
}

// configRefusal is a command line, with variables added to the
// environment, that memsnap refuses for its configuration: exit 2 and one
// line on standard error, want.
type configRefusal struct {
	env  []string
	args []string
	want string
}

// expectConfigRefusals runs each of cases on store and checks that it is
// refused as it says.
func expectConfigRefusals(t *testing.T, store string, cases []configRefusal) {
	t.Helper()
	for _, c := range cases {
		r := memsnap(t, store, nil, c.env, c.args...)
		if line := oneStderrLine(t, r, 2); line != c.want {
			t.Errorf("%v %q:\n got %q\nwant %q", c.env, c.args, line, c.want)
		}
	}
}

// 'snapshots verify' prints each problem once.
func TestCLIVerifyPrintsEachErrorOnce(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(map[string]any{"op": "kv_put", "key": "k", "value": "v"}))
	commit(t, store)
	r := memsnap(t, store, nil, nil, "snapshots", "verify", "99")
	if line := oneStderrLine(t, r, 1); line != `memsnap: snapshot 99 does not exist (see 'memsnap snapshots list')` {
		t.Errorf("verify 99: %q", line)
	}
	dir := filepath.Join(store, "snapshots", "000000000001")
	skipStoreCheck(store, "snapshot 1 is damaged on purpose")
	if err := os.Remove(filepath.Join(dir, "PIN")); err != nil {
		t.Fatal(err)
	}
	r = memsnap(t, store, nil, nil, "snapshots", "verify", "1")
	if line := oneStderrLine(t, r, 1); !strings.HasPrefix(line, "memsnap: snapshot 1 failed verification: missing PIN") ||
		strings.Count(line, "memsnap snapshots repair") != 1 {
		t.Errorf("verify with one problem: %q; want the problem and the repair, once", line)
	}
	if err := os.WriteFile(filepath.Join(dir, "stray"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = memsnap(t, store, nil, nil, "snapshots", "verify", "1")
	if r.code != 1 || strings.Count(r.stderr, "stray") != 1 || strings.Count(r.stderr, "missing PIN") != 1 {
		t.Errorf("verify with two problems: exit %d, stderr %q; want each problem once", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if last := lines[len(lines)-1]; len(lines) != 2 || !strings.HasPrefix(last, "memsnap: snapshot 1 failed verification: ") {
		t.Errorf("verify with two problems: want a problem line and the error last, got %q", r.stderr)
	}
}

// 'snapshots verify' without SEQ runs the store check: what a crashed
// writer or an interrupted rollback left, which the next commit clears, is
// a warning (the snapshot is ok); damage is printed as the damaged
// snapshot is, each once, the first as the error.
func TestCLIVerifyChecksTheStore(t *testing.T) {
	store := newStore(t)
	id := enqueue(t, store, ops(map[string]any{"op": "kv_put", "key": "k", "value": "v"}))
	commit(t, store)
	skipStoreCheck(store, "staging/, queue/new and a snapshot are damaged on purpose")
	if err := os.Mkdir(filepath.Join(store, "staging", "next"), 0o700); err != nil {
		t.Fatal(err)
	}
	cur := currentSeq(t, store)
	r := memsnap(t, store, nil, nil, "snapshots", "verify")
	want := "memsnap: warning: staging/ holds 1 entry (next) with no writer running (a writer that crashed left it; the next commit wipes it)"
	if line := strings.TrimSpace(r.stderr); r.code != 0 || line != want || r.stdout != "snapshot "+cur+" ok\n" {
		t.Errorf("verify with staging/ left: exit %d, stdout %q, stderr %q; want exit 0, ok and\n%s", r.code, r.stdout, r.stderr, want)
	}
	// The job applied by CURRENT queued again, as an interrupted rollback
	// leaves it: a second warning.
	if err := os.WriteFile(filepath.Join(store, "queue", "new", id+".job"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = memsnap(t, store, nil, nil, "snapshots", "verify")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "memsnap: warning: job "+id+" is in queue/new but snapshot "+cur+" applied it") {
		t.Errorf("verify with two warnings: exit %d, stderr %q", r.code, r.stderr)
	}
	// A job applied twice along CURRENT's lineage is damage: the error, the
	// warnings before it.
	jobs := filepath.Join(store, "snapshots", fmt.Sprintf("%012s", cur), "jobs")
	names := dirNames(t, jobs)
	if len(names) != 1 {
		t.Fatalf("jobs of snapshot %s: %v", cur, names)
	}
	parent := filepath.Join(store, "snapshots", fmt.Sprintf("%012d", mustUint(t, cur)-1), "jobs")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(jobs, names[0]), filepath.Join(parent, names[0])); err != nil {
		t.Fatal(err)
	}
	r = memsnap(t, store, nil, nil, "snapshots", "verify")
	lines = strings.Split(strings.TrimSpace(r.stderr), "\n")
	wantErr := fmt.Sprintf("memsnap: job %s applied by snapshots %d and %s of CURRENT's lineage", id, mustUint(t, cur)-1, cur)
	if r.code != 1 || len(lines) != 3 || lines[2] != wantErr {
		t.Errorf("verify with a job applied twice: exit %d, stderr %q; want the two warnings, then\n%s", r.code, r.stderr, wantErr)
	}
	// SEQ checks that snapshot alone.
	if out := mustMemsnap(t, store, nil, "snapshots", "verify", cur); !contains(out, "ok") {
		t.Errorf("verify SEQ: %q", out)
	}
}

func TestCLIVersion(t *testing.T) {
	store := t.TempDir()
	out := mustMemsnap(t, store, nil, "version")
	want := regexp.MustCompile(`^memsnap dev\nkuzu    \d+\.\d+\.\d+\ngo      ` + regexp.QuoteMeta(runtime.Version()) + `\n$`)
	if !want.MatchString(out) {
		t.Errorf("version printed %q", out)
	}
	// A bad config does not stop it.
	if r := memsnap(t, store, nil, []string{"MEMSNAP_GC_KEEP=abc"}, "version", "--json"); r.code != 0 {
		t.Errorf("version with a bad config: exit %d: %s", r.code, r.stderr)
	}

	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no Go toolchain here to build a binary with -ldflags (%v; under Wine there is none): the version stamp is not tested", err)
	}
	const version = "v9.8.7-test"
	exe := filepath.Join(t.TempDir(), "memsnap")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/memsnap/memsnap/internal/buildinfo.Version="+version, "-o", exe, "../cmd/memsnap")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build with -ldflags: %v\n%s", err, out)
	}
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(exe, append([]string{"--store", store, "--log-level", "warn"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return string(out)
	}
	var v struct{ Memsnap, Kuzu, Go string }
	if err := json.Unmarshal([]byte(run("", "version", "--json")), &v); err != nil || v.Memsnap != version || v.Kuzu == "" || v.Kuzu == "unknown" || v.Go != runtime.Version() {
		t.Fatalf("version --json: %+v (%v)", v, err)
	}
	run("", "init")
	run(`{"ops":[{"op":"kv_put","key":"k","value":"v"}]}`, "enqueue", "--wait")
	b, err := os.ReadFile(filepath.Join(store, "snapshots", "000000000001", "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		MemsnapVersion string `json:"memsnap_version"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.MemsnapVersion != version {
		t.Errorf("manifest records memsnap_version %q (%v), want %s", m.MemsnapVersion, err, version)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "memsnap-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: exec.Command(exe, "--store", store, "--log-level", "warn", "mcp")}, nil)
	if err != nil {
		t.Fatalf("connect to memsnap mcp: %v", err)
	}
	defer cs.Close()
	if got := cs.InitializeResult().ServerInfo.Version; got != version {
		t.Errorf("MCP server reports version %q, want %s", got, version)
	}
}

// Issue 14, input 5: init publishes an empty first snapshot, so that every
// read on a new store answers (empty) at once instead of "nothing
// published yet"; init again changes nothing.
func TestInitPublishesEmptySnapshot(t *testing.T) {
	store := newStore(t)
	mustMemsnap(t, store, nil, "init")
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 0 {
		t.Fatalf("%d entities in a new store", n)
	}
	for _, args := range [][]string{
		{"search", "--json", "anything"}, {"open", "--json", "x"}, {"graph", "--json"},
		{"kv", "scan", ""}, {"export"}, {"status", "--json"}, {"snapshots", "verify"},
	} {
		if r := memsnap(t, store, nil, nil, args...); r.code != 0 {
			t.Errorf("memsnap %v on a new store: exit %d: %s", args, r.code, r.stderr)
		}
	}
	// Reads of what is not there say so, not that nothing is published.
	for _, args := range [][]string{{"kv", "get", "nope"}, {"neighbors", "x"}} {
		if r := memsnap(t, store, nil, nil, args...); r.code != 1 || !strings.Contains(r.stderr, "not found") {
			t.Errorf("memsnap %v on a new store: exit %d: %s", args, r.code, r.stderr)
		}
	}
	if got := dirNames(t, filepath.Join(store, "snapshots")); len(got) != 1 {
		t.Errorf("snapshots after init twice: %v, want one", got)
	}
}

// Issue 14, input 6: snapshot numbers only grow. A rollback publishes a new
// snapshot holding the older one's content (a reader moves forward to it,
// never back), the requeued jobs apply after it, the snapshots rolled back
// from stay until retention removes them, and the list shows the rollback.
func TestRollbackNeverReusesNumbers(t *testing.T) {
	store := newStore(t) // snapshot 1: init's, empty
	env := []string{"MEMSNAP_GC_KEEP=20"}
	for i := 1; i <= 5; i++ {
		job, _ := json.Marshal(ops(entities(entity(fmt.Sprintf("e%d", i), "t", "x"))))
		if r := memsnap(t, store, job, env, "enqueue", "--wait=30s"); r.code != 0 {
			t.Fatalf("enqueue: %s", r.stderr)
		}
	}
	_, rd := openReader(t, store)
	if rd.Seq() != 6 {
		t.Fatalf("reader on snapshot %d, want 6", rd.Seq())
	}
	r := memsnap(t, store, nil, env, "snapshots", "rollback", "3")
	var rb struct {
		From, To, Snapshot uint64
		Requeued           []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &rb); r.code != 0 || err != nil || rb.From != 6 || rb.To != 3 || rb.Snapshot != 7 || len(rb.Requeued) != 3 {
		t.Fatalf("rollback 3: exit %d %+v %v: %s", r.code, rb, err, r.stderr)
	}
	if _, err := rd.Refresh(context.Background()); err != nil || rd.Seq() != 7 {
		t.Fatalf("reader after the rollback: snapshot %d, %v; want 7", rd.Seq(), err)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 2 {
		t.Fatalf("snapshot 7 holds %d entities, want snapshot 3's 2", n)
	}
	if r := memsnap(t, store, nil, env, "commit"); r.code != 0 {
		t.Fatalf("commit: %s", r.stderr)
	}
	if got := currentSeq(t, store); got != "8" {
		t.Fatalf("CURRENT %s after the commit, want 8", got)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 5 {
		t.Fatalf("%d entities after the requeued jobs applied, want 5", n)
	}
	var list []struct {
		Seq        uint64 `json:"seq"`
		Entities   int64  `json:"entities"`
		RollbackOf uint64 `json:"rollback_of"`
	}
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "snapshots", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(list)
	if want := "[{1 0 0} {2 1 0} {3 2 0} {4 3 0} {5 4 0} {6 5 0} {7 2 3} {8 5 0}]"; got != want {
		t.Errorf("snapshots %s, want %s", got, want)
	}
	if out := mustMemsnap(t, store, nil, "snapshots", "list"); !strings.Contains(out, "ROLLBACK") || !strings.Contains(out, "of 3") {
		t.Errorf("the list does not show the rollback:\n%s", out)
	}
}

// Issue 14, input 7: demo without --store runs on a fresh temporary store
// (removed at the end unless --keep), says where, and never touches the
// default store 'memsnap mcp' serves; with --store it runs there.
func TestDemoUsesATemporaryStore(t *testing.T) {
	home := t.TempDir()
	tmp := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"), "TMPDIR="+tmp, "TMP="+tmp, "TEMP="+tmp, "MEMSNAP_STORE=")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"demo", "--producers", "1", "--readers", "1", "--jobs", "3", "--pace", "10ms", "--commit", "@every 200ms"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("memsnap demo %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	storeOf := func(out string) string {
		t.Helper()
		m := regexp.MustCompile(`demo store: (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("demo does not say where it ran:\n%s", out)
		}
		return m[1]
	}
	out := run()
	dir := storeOf(out)
	if !strings.HasPrefix(dir, tmp) || !strings.Contains(out, "temporary store") {
		t.Errorf("demo ran on %s, want a fresh store under %s:\n%s", dir, tmp, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the temporary store %s is still there: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(home, "data", "memsnap")); !os.IsNotExist(err) {
		t.Errorf("demo touched the default store: %v", err)
	}
	// Issue 30: the write latency says it includes a process per write,
	// and the in-process acknowledgement of the same writes is beside it
	// (measured on a scratch store, removed too).
	if !regexp.MustCompile(`write latency: +p50 \S+, p99 \S+, each write a new process`).MatchString(out) ||
		!regexp.MustCompile(`in-process ack: +p50 [0-9.]+[µm]?s, p99 [0-9.]+[µm]?s, the same writes in one process`).MatchString(out) {
		t.Errorf("demo does not say what its latency includes, or the in-process acknowledgement time:\n%s", out)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "memsnap-demo-ack-*")); len(left) > 0 {
		t.Errorf("the scratch store is still there: %v", left)
	}
	if dir = storeOf(run("--keep")); !fileExists(filepath.Join(dir, "CURRENT")) {
		t.Errorf("--keep: no store at %s", dir)
	}
	mine := filepath.Join(t.TempDir(), "store")
	if got := storeOf(run("--store", mine)); got != mine || !fileExists(filepath.Join(mine, "CURRENT")) {
		t.Errorf("--store %s: ran on %s", mine, got)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// A rollback to a snapshot kept by a reader's pin while the snapshots after
// it were collected refuses: their jobs could no longer be applied again,
// and acknowledged writes would be lost.
func TestRollbackRefusesOverCollectedSnapshots(t *testing.T) {
	store := newStore(t)
	env := []string{"MEMSNAP_GC_KEEP=2", "MEMSNAP_GC_MIN_AGE=0s"}
	enqueue := func(name string) {
		job, _ := json.Marshal(ops(entities(entity(name, "t", "x"))))
		if r := memsnap(t, store, job, env, "enqueue", "--wait=30s"); r.code != 0 {
			t.Fatalf("enqueue: %s", r.stderr)
		}
	}
	enqueue("p0")
	s, _ := openReader(t, store) // pins snapshot 2
	for i := 1; i <= 5; i++ {
		enqueue(fmt.Sprintf("p%d", i))
	}
	seqs, err := s.Seqs()
	if err != nil || !slices.Contains(seqs, 2) || slices.Contains(seqs, 3) {
		t.Fatalf("snapshots %v (%v): want 2 kept by its pin and 3 collected", seqs, err)
	}
	before := currentSeq(t, store)
	r := memsnap(t, store, nil, env, "snapshots", "rollback", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "is gone") {
		t.Fatalf("rollback over collected snapshots: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if currentSeq(t, store) != before || len(dirNames(t, filepath.Join(store, "queue", "new"))) != 0 {
		t.Fatalf("a refused rollback changed the store")
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 6 {
		t.Fatalf("%d entities, want all 6", n)
	}
}
