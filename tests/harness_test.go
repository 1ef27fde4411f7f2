package tests

import "bufio"
import "bytes"
import "context"
import "encoding/json"
import "errors"
import "flag"
import "fmt"
import "io"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strings"
import "syscall"
import "testing"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"

var (
	bin     string // the memsnap binary under test
	raceBin = flag.Bool("race.binary", false, "build the memsnap binary under test with -race (about 10x slower)")
	// prebuilt is how make wintest runs these tests under Wine, where there
	// is no Go toolchain to build the binary.
	prebuilt = flag.String("memsnap.binary", "", "test this memsnap binary (built with -tags memsnap_failpoints) instead of building one")
)

func TestMain(m *testing.M) {
	if role := os.Getenv("MEMSNAP_TEST_ROLE"); role != "" {
		os.Exit(helper(role))
	}
	flag.Parse()
	// Test stores are small: make their commits recycle, as large stores'
	// do, so that every test runs through that path.
	os.Setenv("MEMSNAP_WRITER_RECYCLE_MIN_MB", "0")
	// The tests of retention count snapshots by gc.keep: they run without
	// the history window, which keeps every snapshot of its last 10
	// minutes. The history tests (history_test.go) turn it on.
	os.Setenv("MEMSNAP_HISTORY_KEEP_FOR", "0")
	if *prebuilt != "" {
		bin = *prebuilt
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "memsnap-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "memsnap")
	args := []string{"build", "-tags", "memsnap_failpoints", "-o", bin}
	if *raceBin {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/memsnap")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build memsnap:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one finished memsnap process.
type result struct {
	stdout, stderr string
	code           int
	signal         syscall.Signal // non-zero if killed by a signal
}

// memsnap runs the binary on store with args and optional stdin and env.
func memsnap(t testing.TB, store string, stdin []byte, env []string, args ...string) result {
	t.Helper()
	r, err := runMemsnap(bin, store, "warn", stdin, env, args...)
	if err != nil {
		t.Fatalf("run memsnap %v: %v", args, err)
	}
	return r
}

// runMemsnap runs the memsnap binary bin on store ("": no --store, for
// --from) at the given log level with args and optional stdin and env. The
// error is one starting the process; how it exited is in the result.
func runMemsnap(bin, store, logLevel string, stdin []byte, env []string, args ...string) (result, error) {
	head := []string{"--log-level", logLevel}
	if store != "" {
		head = append([]string{"--store", store}, head...)
	}
	cmd := exec.Command(bin, append(head, args...)...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal()
		}
		return r, nil
	}
	return r, err
}

// mustMemsnap runs memsnap and fails the test unless it exits 0.
func mustMemsnap(t testing.TB, store string, stdin []byte, args ...string) string {
	t.Helper()
	r := memsnap(t, store, stdin, nil, args...)
	if r.code != 0 || r.signal != 0 {
		t.Fatalf("memsnap %v: exit %d signal %v: %s", args, r.code, r.signal, r.stderr)
	}
	return r.stdout
}

func newStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	mustMemsnap(t, dir, nil, "init")
	t.Cleanup(func() { checkStore(t, dir) })
	return dir
}

func enqueue(t testing.TB, store string, job any) string {
	t.Helper()
	out := mustMemsnap(t, store, mustJSON(t, job), "enqueue")
	var resp struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.JobID == "" {
		t.Fatalf("enqueue answer %q: %v", out, err)
	}
	return resp.JobID
}

// enqueueWait writes job as another process would: 'memsnap enqueue
// --wait=WAIT', which commits the queue itself when no writer runs. It
// returns what enqueue printed (the job's outcome).
func enqueueWait(t testing.TB, store string, job any, wait string) string {
	t.Helper()
	return mustMemsnap(t, store, mustJSON(t, job), "enqueue", "--wait="+wait)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeAnswer decodes out, the JSON a command or a tool printed, as a T;
// it fails the test, naming what and quoting out, when out is not one.
func decodeAnswer[T any](t testing.TB, what, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%s %q: %v", what, out, err)
	}
	return v
}

type queryResult struct {
	Snapshot uint64   `json:"snapshot"`
	Columns  []string `json:"columns"`
	Rows     [][]any  `json:"rows"`
}

func query(t testing.TB, store, cypher string) queryResult {
	t.Helper()
	return decodeAnswer[queryResult](t, "query answer", mustMemsnap(t, store, nil, "query", "--json", cypher))
}

func queryInt(t testing.TB, store, cypher string) int64 {
	t.Helper()
	q := query(t, store, cypher)
	if len(q.Rows) != 1 || len(q.Rows[0]) != 1 {
		t.Fatalf("%s: want one value, got %v", cypher, q.Rows)
	}
	return int64(q.Rows[0][0].(float64))
}

type commitSummary struct {
	Batches    int      `json:"batches"`
	Applied    int      `json:"applied"`
	Rejected   int      `json:"rejected"`
	Duplicates int      `json:"duplicates"`
	Snapshots  []uint64 `json:"snapshots"`
	Current    uint64   `json:"current"`
	QueueLeft  int      `json:"queue_left"`
}

func commit(t testing.TB, store string, args ...string) commitSummary {
	t.Helper()
	s := decodeAnswer[commitSummary](t, "commit answer", mustMemsnap(t, store, nil, append([]string{"commit"}, args...)...))
	if s.Duplicates != 0 {
		t.Fatalf("commit found %d jobs already applied: exactly-once broken", s.Duplicates)
	}
	return s
}

type outcome struct {
	JobID    string `json:"job_id"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Snapshot uint64 `json:"snapshot"`
}

func jobOutcome(t testing.TB, store, id string) outcome {
	t.Helper()
	return decodeAnswer[outcome](t, "job answer", mustMemsnap(t, store, nil, "job", id))
}

// helperCmd starts this test binary as a helper process with a role.
func helperCmd(ctx context.Context, role, store string, extraEnv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"MEMSNAP_TEST_ROLE=" + role, "MEMSNAP_TEST_STORE=" + store}, extraEnv...)...)
	return cmd
}

// background is helper processes that run until their stop file appears.
type background struct {
	stopFile string
	cmds     []*exec.Cmd
	outs     []*bytes.Buffer // what each printed
	errs     []error         // how each exited, once stopped
	stopped  bool
}

// startBackground starts a helper process of each role on store, with env
// and a stop file in stopDir. They are stopped when the test ends, if not
// before.
func startBackground(t *testing.T, ctx context.Context, store, stopDir string, roles []string, env ...string) *background {
	t.Helper()
	b := &background{stopFile: stopFile(stopDir), errs: make([]error, len(roles))}
	t.Cleanup(b.stop) // also when the test fails half-way
	for _, role := range roles {
		cmd := helperCmd(ctx, role, store, append([]string{"MEMSNAP_TEST_STOP=" + b.stopFile}, env...)...)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		b.cmds, b.outs = append(b.cmds, cmd), append(b.outs, out)
	}
	return b
}

// stop creates the stop file and waits for every process; it does so once.
func (b *background) stop() {
	if b.stopped {
		return
	}
	b.stopped = true
	_ = os.WriteFile(b.stopFile, nil, 0o600)
	for i, cmd := range b.cmds {
		b.errs[i] = cmd.Wait()
	}
}

// report decodes what process i printed when it stopped (its JSON report,
// readerStats or producerStats) into v.
func (b *background) report(t testing.TB, i int, v any) {
	t.Helper()
	if err := json.Unmarshal(b.outs[i].Bytes(), v); err != nil {
		t.Fatalf("background process %d report %q: %v", i, b.outs[i], err)
	}
}

func ops(o ...map[string]any) map[string]any { return map[string]any{"ops": o} }

func entities(es ...map[string]any) map[string]any {
	return map[string]any{"op": "create_entities", "entities": es}
}

func entity(name, typ string, obs ...string) map[string]any {
	if obs == nil {
		obs = []string{}
	}
	return map[string]any{"name": name, "entityType": typ, "observations": obs}
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// daemonCmd starts 'memsnap daemon' on store with extra env.
func daemonCmd(ctx context.Context, store string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, "--store", store, "--log-level", "warn", "daemon")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// openReader opens a long-lived reader (the default reader options) on the
// store at dir, closed when the test ends; it pins the snapshot it serves.
func openReader(t *testing.T, dir string) (*snapshot.Store, *reader.Reader) {
	t.Helper()
	s, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Store = dir
	r, err := reader.Open(context.Background(), s, cfg.ReaderOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return s, r
}

// pipe returns the pipe open makes (cmd.StdinPipe, cmd.StdoutPipe or
// cmd.StderrPipe), failing the test if it cannot: out := pipe(t,
// cmd.StdoutPipe).
func pipe[P io.Closer](t testing.TB, open func() (P, error)) P {
	t.Helper()
	p, err := open()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mustStart starts cmd, failing the test if it cannot.
func mustStart(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// terminate asks a started process to stop (SIGTERM) and returns how it
// exited.
func terminate(cmd *exec.Cmd) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	return cmd.Wait()
}

// firstMatch reads r line by line to its end, so that the process writing
// it never blocks, and sends the submatches of the first line re matches.
// The channel closes when r ends: a receive that is not ok means the
// process ended without writing such a line.
func firstMatch(r io.Reader, re *regexp.Regexp) <-chan []string {
	found := make(chan []string, 1)
	go func() {
		defer close(found)
		sc := bufio.NewScanner(r)
		sent := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m
				sent = true
			}
		}
	}()
	return found
}
