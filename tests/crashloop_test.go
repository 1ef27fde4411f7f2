package tests

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "flag"
import "fmt"
import "io/fs"
import "math/rand/v2"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "slices"
import "sort"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/filelock"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer/producer"

var (
	crashLoop   = flag.Int("crash.loop", 30, "iterations of TestCrashLoop (make crashtest runs 1000)")
	crashReport = flag.String("crash.report", "", "write TestCrashLoop's table (markdown) to this file")
	crashSeed   = flag.Uint64("crash.seed", 0, "seed of TestCrashLoop's random choices (0: from the clock; the test logs the one it used)")
)

// crashStats is what the crash loop counts.
type crashStats struct {
	kills         map[string]int // "target | point" -> kills
	acked         int            // jobs acknowledged (foreground + background producer)
	applied       int            // acknowledged jobs found applied at the end
	lost          int
	duplicated    int
	readerErrors  int64
	readerQueries int64
	halfWritten   int // job files in queue/new that did not decode
	checks        int // invariant checks run
	fullChecks    int
}

// crashLoop drives one store through many SIGKILLs. A foreground chain
// ("f") is enqueued by the test itself and by CLI producers it kills; a
// background producer process enqueues chain "b" all along; two reader
// processes refresh and query all along. Each iteration kills one target —
// a CLI commit, a daemon (with its commit child), a CLI producer or a
// reader — at a named failpoint or at a random moment, then checks the
// invariants in-process; every 25 iterations it runs a clean commit and
// checks that every acknowledged job was applied exactly once.
type crashLoopRun struct {
	t      *testing.T
	store  string
	s      *snapshot.Store
	cfg    config.Config
	lim    model.Limits
	rng    *rand.Rand
	st     crashStats
	fNext  int      // next k of chain f
	fLast  int      // last acknowledged k of chain f
	fIDs   []string // acknowledged job ids of chain f
	wm     uint64   // highest watermark seen
	span   time.Duration
	stderr bytes.Buffer // stderr of killed writers, scanned for duplicate warnings
}

// Done-when 1: the crash loop. make test runs -crash.loop=30; make
// crashtest runs 1000 and writes the table docs/RELIABILITY.md shows.
// Before the random part it kills a writer at each failpoint of the commit
// path and a producer at each of the enqueue path, in a fixed order, once
// each (fixedPass), so every one is hit on every run. The seed of the
// random choices is logged (and repeated on failure); -crash.seed N replays
// the same choices (the moments of random kills still follow the clock).
func TestCrashLoop(t *testing.T) {
	start := time.Now()
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("crash loop seed %d (rerun: go test ./tests -run TestCrashLoop -crash.seed %d)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("crash loop failed with seed %d: rerun with -crash.seed %d", seed, seed)
		}
	})
	cr := &crashLoopRun{t: t, store: newStore(t), fLast: -1,
		rng: rand.New(rand.NewPCG(seed, 7)),
		st:  crashStats{kills: map[string]int{}}}
	var err error
	if cr.s, err = snapshot.Open(cr.store); err != nil {
		t.Fatal(err)
	}
	cr.cfg = config.Default()
	cr.cfg.Store = cr.store
	cr.lim = cr.cfg.Job.Limits()

	// A first snapshot, and the length of one commit to aim random kills at.
	cr.enqueueF()
	t0 := time.Now()
	cr.cleanCommit()
	cr.span = time.Since(t0)

	cr.fixedPass()

	// Background processes that are never killed.
	stopDir := t.TempDir()
	ctx := testContext(t)
	bg := startBackground(t, ctx, cr.store, stopDir, []string{"reader", "reader", "producer"}, "MEMSNAP_TEST_CHAIN=b")

	targets := []string{"commit", "commit", "daemon", "producer", "reader"}
	for i := 0; i < *crashLoop; i++ {
		for n := 1 + cr.rng.IntN(2); n > 0; n-- {
			cr.enqueueF()
		}
		target := targets[cr.rng.IntN(len(targets))]
		var point string
		switch target {
		case "commit":
			point = cr.killCommit()
		case "daemon":
			point = cr.killDaemon()
		case "producer":
			point = cr.killProducer()
		case "reader":
			point = cr.killReader(ctx)
		}
		cr.st.kills[target+" | "+point]++
		cr.check()
		if i%25 == 24 {
			cr.enqueueF() // the chain's newest job is acknowledged before a full check
			cr.fullCheck()
		}
	}

	// Stop the background, then drain and check everything once more.
	bg.stop()
	var prod producerStats
	for i := range bg.outs {
		if i < 2 {
			var rs readerStats
			bg.report(t, i, &rs)
			cr.st.readerErrors += rs.Errors
			cr.st.readerQueries += rs.Queries
			if rs.Errors != 0 || rs.SeqBack != 0 {
				t.Errorf("background reader %d: %d errors (first: %s), went back %d times", i, rs.Errors, rs.FirstError, rs.SeqBack)
			}
			continue
		}
		bg.report(t, i, &prod)
		if prod.Errors != 0 {
			t.Errorf("background producer: %d errors (first: %s)", prod.Errors, prod.FirstError)
		}
	}
	cr.enqueueF()
	cr.fullCheck()
	cr.checkChain("b", prod.Last)
	cr.st.acked += prod.Acked
	cr.st.applied += prod.Acked // checkChain failed the test otherwise
	if strings.Contains(cr.stderr.String(), "already has an outcome") {
		cr.st.duplicated += strings.Count(cr.stderr.String(), "already has an outcome")
	}

	table := cr.table(time.Since(start))
	t.Log("\n" + table)
	if *crashReport != "" {
		if err := os.WriteFile(*crashReport, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if cr.st.lost != 0 || cr.st.duplicated != 0 || cr.st.readerErrors != 0 || cr.st.halfWritten != 0 {
		t.Fatalf("invariants broken: %+v", cr.st)
	}
}

// enqueueF acknowledges the next job of chain f (in-process, not killed).
func (cr *crashLoopRun) enqueueF() {
	cr.t.Helper()
	id, err := producer.Enqueue(cr.s, linkJob("f", cr.fNext, cr.fLast), cr.lim)
	if err != nil {
		cr.t.Fatalf("enqueue: %v", err)
	}
	cr.fIDs = append(cr.fIDs, id)
	cr.fLast = cr.fNext
	cr.fNext++
	cr.st.acked++
}

// writerPoints are the failpoints of the commit path (failpoint.Hit in
// writer/ and snapshot/), producerPoints those of the enqueue path
// (internal/queue). TestFailpointListsAreWhole keeps both lists whole.
var writerPoints = []string{"after-claim", "mid-apply", "after-snapshot-rename", "before-current", "after-current",
	"after-recycle-move", "mid-replay", "after-replay", "mid-chunk-sums"}

// recyclePoints are the writer points reached only when the commit
// recycles an older snapshot's graph (gc.keep snapshots on disk).
var recyclePoints = []string{"after-recycle-move", "mid-replay", "after-replay", "mid-chunk-sums"}

// fixedPass kills a writer at each of writerPoints, then a producer at each
// of producerPoints, in that order, checking the invariants after each
// kill; a failpoint the process did not reach fails the test.
func (cr *crashLoopRun) fixedPass() {
	t := cr.t
	t.Helper()
	for _, fp := range writerPoints {
		cr.enqueueF()
		if slices.Contains(recyclePoints, fp) {
			// Recycling needs gc.keep (3) snapshots, one of which it takes.
			for {
				seqs, err := cr.s.Seqs()
				if err != nil {
					t.Fatal(err)
				}
				if len(seqs) >= 3 {
					break
				}
				cr.cleanCommit()
				cr.enqueueF()
			}
		}
		if got := cr.killCommitAt(fp); got != "failpoint "+fp {
			t.Fatalf("fixed pass: the writer was not killed at failpoint %s (%s)", fp, got)
		}
		cr.st.kills["commit | failpoint "+fp]++
		cr.check()
	}
	for _, fp := range producerPoints {
		if got := cr.killProducerAt(fp); got != "failpoint "+fp {
			t.Fatalf("fixed pass: the producer was not killed at failpoint %s (%s)", fp, got)
		}
		cr.st.kills["producer | failpoint "+fp]++
		cr.check()
	}
	cr.enqueueF()
	cr.fullCheck()
}

// killCommit runs 'memsnap commit' and kills it at a failpoint or at a
// random moment; it returns where the writer was.
func (cr *crashLoopRun) killCommit() string {
	return cr.killCommitAt(cr.somePoint(3, writerPoints))
}

// somePoint is, once in n at random, one of points (a failpoint), and ""
// (a kill at a random moment) otherwise.
func (cr *crashLoopRun) somePoint(n int, points []string) string {
	if cr.rng.IntN(n) != 0 {
		return ""
	}
	return points[cr.rng.IntN(len(points))]
}

// killCommitAt runs 'memsnap commit' and kills it at failpoint fp, or at a
// random moment when fp is empty; it returns where the writer was.
func (cr *crashLoopRun) killCommitAt(fp string) string {
	var env []string
	if fp != "" {
		env = append(env, "MEMSNAP_FAILPOINT="+fp)
	}
	cmd := exec.Command(bin, "--store", cr.store, "--log-level", "error", "commit", "--max-jobs", "3")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = nil, &cr.stderr
	if err := cmd.Start(); err != nil {
		cr.t.Fatal(err)
	}
	if fp == "" {
		time.Sleep(time.Duration(cr.rng.Int64N(int64(cr.span) + 1)))
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
	err := cmd.Wait()
	if !killed(err) {
		if err != nil {
			cr.t.Fatalf("commit failed without being killed: %v: %s", err, lastLine(cr.stderr.String()))
		}
		return "finished before the kill"
	}
	if fp != "" {
		return "failpoint " + fp
	}
	return cr.writerPoint()
}

// killDaemon runs the daemon (commit every 150 ms, GC every 400 ms) and
// kills its whole process group (the daemon and its commit child) at a
// random moment.
func (cr *crashLoopRun) killDaemon() string {
	cmd := exec.Command(bin, "--store", cr.store, "--log-level", "error", "daemon")
	cmd.Env = append(os.Environ(), "MEMSNAP_WRITER_COMMIT=@every 150ms", "MEMSNAP_GC_SCHEDULE=@every 400ms", "MEMSNAP_GC_KEEP=2")
	cmd.Stderr = &cr.stderr
	newProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		cr.t.Fatal(err)
	}
	time.Sleep(100*time.Millisecond + time.Duration(cr.rng.Int64N(int64(cr.span)*2+1)))
	_ = killProcessGroup(cmd.Process.Pid)
	_ = cmd.Wait()
	return cr.writerPoint()
}

var producerPoints = []string{"enqueue-after-create", "enqueue-after-write", "enqueue-after-rename"}

// killProducer runs 'memsnap enqueue' for the next job of chain f and kills
// it; a job whose producer died is not acknowledged, but may still be
// applied (if it was renamed into queue/new): the chain allows for that.
func (cr *crashLoopRun) killProducer() string {
	return cr.killProducerAt(cr.somePoint(2, producerPoints))
}

// killProducerAt runs 'memsnap enqueue' and kills it at failpoint fp, or at
// a random moment when fp is empty.
func (cr *crashLoopRun) killProducerAt(fp string) string {
	k := cr.fNext
	cr.fNext++
	var env []string
	if fp != "" {
		env = append(env, "MEMSNAP_FAILPOINT="+fp)
	}
	cmd := exec.Command(bin, "--store", cr.store, "--log-level", "error", "enqueue")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(linkJob("f", k, cr.fLast))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &cr.stderr
	if err := cmd.Start(); err != nil {
		cr.t.Fatal(err)
	}
	if fp == "" {
		time.Sleep(time.Duration(cr.rng.Int64N(int64(30 * time.Millisecond))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
	err := cmd.Wait()
	if !killed(err) {
		if err != nil {
			cr.t.Fatalf("enqueue failed without being killed: %v", err)
		}
		var r struct {
			JobID string `json:"job_id"`
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			cr.t.Fatalf("enqueue answer %q", out.String())
		}
		cr.fIDs = append(cr.fIDs, r.JobID)
		cr.fLast = k
		cr.st.acked++
		return "finished before the kill"
	}
	if fp != "" {
		return "failpoint " + fp
	}
	if len(dirNames(cr.t, cr.s.Path("queue", "tmp"))) > 0 {
		return "random: mid-write (temp file left)"
	}
	return "random: before create or after rename"
}

// killReader starts a short-lived reader (refresh + query loop) and kills it.
func (cr *crashLoopRun) killReader(ctx context.Context) string {
	dir := cr.t.TempDir()
	cmd := helperCmd(ctx, "reader", cr.store, "MEMSNAP_TEST_STOP="+stopFile(dir))
	if err := cmd.Start(); err != nil {
		cr.t.Fatal(err)
	}
	time.Sleep(time.Duration(cr.rng.Int64N(int64(300 * time.Millisecond))))
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	return "mid refresh/query loop"
}

// writerPoint classifies where a killed writer was from what it left.
func (cr *crashLoopRun) writerPoint() string {
	cur, err := cr.s.Current()
	if err != nil {
		cr.t.Fatalf("CURRENT after a kill: %v", err)
	}
	seqs, _ := cr.s.Seqs()
	if len(seqs) > 0 && seqs[len(seqs)-1] > cur {
		return "random: after snapshot rename, before CURRENT"
	}
	if len(dirNames(cr.t, cr.s.Path("staging"))) > 0 {
		return "random: staging or applying"
	}
	claimed := dirNames(cr.t, cr.s.Path("queue", "cur"))
	if len(claimed) > 0 {
		var wm uint64
		if cur > 0 {
			if m, err := cr.s.Manifest(cur); err == nil {
				wm = m.Watermark
			}
		}
		var seq uint64
		if _, err := fmt.Sscanf(claimed[0], "%d-", &seq); err == nil && seq <= wm {
			return "random: after CURRENT, before cleanup"
		}
		return "random: after claim"
	}
	if len(dirNames(cr.t, cr.s.Path("trash"))) > 0 {
		return "random: GC (trash not yet emptied)"
	}
	return "random: between batches"
}

// check runs after every kill: queue/new holds only whole jobs, CURRENT
// parses, verifies and opens read-only, the watermark never went back, and
// every acknowledged job is either applied in CURRENT or still queued.
func (cr *crashLoopRun) check() {
	t := cr.t
	t.Helper()
	cr.st.checks++
	for _, name := range dirNames(t, cr.s.Path("queue", "new")) {
		b, err := os.ReadFile(cr.s.Path("queue", "new", name))
		if errors.Is(err, os.ErrNotExist) {
			continue // claimed meanwhile by nobody: no writer runs now, but be lenient
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := model.DecodeJob(b, cr.lim); err != nil {
			cr.st.halfWritten++
			t.Errorf("half-written job in queue/new: %s: %v", name, err)
		}
	}
	cur, err := cr.s.Current()
	if err != nil {
		t.Fatalf("CURRENT after a kill: %v", err)
	}
	if cur == 0 {
		return
	}
	m, err := cr.s.Manifest(cur)
	if err != nil {
		t.Fatalf("CURRENT's manifest after a kill: %v", err)
	}
	if err := snapshot.VerifyError(cur, cr.s.Verify(cur)); err != nil {
		t.Fatalf("CURRENT after a kill: %v", err)
	}
	if m.Watermark < cr.wm {
		t.Fatalf("watermark went back from %d to %d", cr.wm, m.Watermark)
	}
	cr.wm = m.Watermark
	r, err := reader.Open(context.Background(), cr.s, cr.cfg.ReaderOptions(), nil)
	if err != nil {
		t.Fatalf("CURRENT does not open read-only after a kill: %v", err)
	}
	if _, err := r.Query(context.Background(), "MATCH (e:Entity) RETURN count(e)", nil); err != nil {
		t.Fatalf("query CURRENT after a kill: %v", err)
	}
	// Not lost: every acknowledged job is applied in CURRENT or still queued.
	for _, id := range cr.fIDs {
		o, err := r.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != "applied" && o.Status != "pending" {
			cr.st.lost++
			t.Errorf("after a kill, acknowledged job %s is neither applied nor queued: %+v", id, o)
		}
	}
	r.Close()
}

// cleanCommit runs a writer to the end and returns its summary.
func (cr *crashLoopRun) cleanCommit() commitSummary {
	cr.t.Helper()
	s := commit(cr.t, cr.store)
	return s
}

// fullCheck commits cleanly, then checks that every acknowledged job of
// chain f is applied, the chain's state is exactly what applying each job
// once gives, and staging/, trash/ and dead producers' temp files are gone.
func (cr *crashLoopRun) fullCheck() {
	t := cr.t
	t.Helper()
	cr.st.fullChecks++
	time.Sleep(2100 * time.Millisecond) // dead producers' temp files become old enough to remove
	cr.cleanCommit()
	for _, d := range []string{"staging", "trash"} {
		if n := dirNames(t, cr.s.Path(d)); len(n) != 0 {
			t.Fatalf("%s not cleaned by the writer: %v", d, n)
		}
	}
	for _, name := range dirNames(t, cr.s.Path("queue", "tmp")) {
		f, err := os.Open(cr.s.Path("queue", "tmp", name))
		if err != nil {
			continue
		}
		err = filelock.TryLock(f, filelock.Exclusive)
		f.Close()
		if err == nil {
			t.Fatalf("queue/tmp/%s of a dead producer not cleaned by the writer", name)
		}
	}
	r, err := reader.Open(context.Background(), cr.s, cr.cfg.ReaderOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	applied := 0
	for _, id := range cr.fIDs {
		o, err := r.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != "applied" {
			cr.st.lost++
			t.Errorf("acknowledged job %s: %+v", id, o)
			continue
		}
		applied++
	}
	cr.st.applied = applied
	cr.checkChain("f", cr.fLast)
}

// checkChain asserts chain's entities and pointer are exactly those of its
// last acknowledged job.
func (cr *crashLoopRun) checkChain(chain string, last int) {
	t := cr.t
	t.Helper()
	if last < 0 {
		return
	}
	q := query(t, cr.store, fmt.Sprintf("MATCH (e:Entity) WHERE e.name STARTS WITH 'c-%s-' RETURN e.name ORDER BY e.name", chain))
	var names []string
	for _, row := range q.Rows {
		names = append(names, row[0].(string))
	}
	if want := []string{chainEntity(chain, last)}; !slices.Equal(names, want) {
		cr.st.duplicated++
		t.Errorf("chain %s holds %v, want %v: a job was lost or applied twice", chain, names, want)
	}
	if got := strings.TrimSpace(mustMemsnap(t, cr.store, nil, "kv", "get", "chain/"+chain)); got != fmt.Sprint(last) {
		cr.st.lost++
		t.Errorf("chain/%s = %s, want %d", chain, got, last)
	}
}

func killed(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// table renders the loop's results as markdown.
func (cr *crashLoopRun) table(took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d iterations in %s (%d invariant checks after kills, %d full drain checks)\n\n", *crashLoop, took.Round(time.Second), cr.st.checks, cr.st.fullChecks)
	b.WriteString("| target | point | kills |\n|---|---|---:|\n")
	keys := make([]string, 0, len(cr.st.kills))
	for k := range cr.st.kills {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		target, point, _ := strings.Cut(k, " | ")
		fmt.Fprintf(&b, "| %s | %s | %d |\n", target, point, cr.st.kills[k])
	}
	b.WriteString("\n| jobs acknowledged | applied | lost | duplicated | half-written in queue/new | reader queries | reader errors |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %d |\n", cr.st.acked, cr.st.applied, cr.st.lost, cr.st.duplicated, cr.st.halfWritten, cr.st.readerQueries, cr.st.readerErrors)
	return b.String()
}

// Every failpoint in the code (failpoint.Hit("name") outside tests) is in
// writerPoints or producerPoints, which the crash loop's fixed pass kills
// at, and in the README's list; and every listed one is in the code.
func TestFailpointListsAreWhole(t *testing.T) {
	hit := regexp.MustCompile(`failpoint\.Hit\("([a-z-]+)"\)`)
	inCode := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range hit.FindAllStringSubmatch(string(b), -1) {
			inCode[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	listed := append(slices.Clone(writerPoints), producerPoints...)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range inCode {
		if !slices.Contains(listed, name) {
			t.Errorf("failpoint %q is in the code but not in the crash loop's fixed pass (writerPoints or producerPoints)", name)
		}
		if !strings.Contains(string(readme), name) {
			t.Errorf("failpoint %q is in the code but not in the README", name)
		}
	}
	for _, name := range listed {
		if !inCode[name] {
			t.Errorf("failpoint %q is listed but no code hits it", name)
		}
	}
	if len(inCode) < 12 {
		t.Errorf("found only %d failpoints in the code: %v", len(inCode), inCode)
	}
}
