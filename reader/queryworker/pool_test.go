package queryworker

import "bufio"
import "context"
import "encoding/json"
import "errors"
import "io"
import "os"
import "os/exec"
import "strings"
import "sync/atomic"
import "testing"
import "time"

// TestMain lets the test binary play a query worker that misbehaves as
// QUERYWORKER_FAKE says.
func TestMain(m *testing.M) {
	if mode := os.Getenv("QUERYWORKER_FAKE"); mode != "" {
		fakeWorker(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeWorker answers every request as mode says: "ok" answers one row,
// "crash" dies of SIGSEGV, "hang" never answers, "hog" touches memory
// until it is killed.
func fakeWorker(mode string) {
	in, out := bufio.NewReader(os.Stdin), os.Stdout
	var hog [][]byte
	for {
		var req request
		if err := readFrame(in, maxRequestFrame, &req); err != nil {
			return
		}
		if req.Cancel {
			continue
		}
		_ = writeFrame(out, response{ID: req.ID, Ack: true})
		switch mode {
		case "crash":
			crashSelf()
			select {}
		case "hang":
			select {}
		case "hog":
			for {
				b := make([]byte, 8<<20)
				for i := range b {
					b[i] = 1
				}
				hog = append(hog, b)
			}
		}
		switch req.Cypher {
		case "CRASH": // a query that crashes Kuzu, whichever worker runs it
			crashSelf()
			select {} // the signal is delivered asynchronously
		case "SLOW":
			time.Sleep(200 * time.Millisecond)
		}
		rows, _ := json.Marshal([][]any{{1}})
		_ = writeFrame(out, response{ID: req.ID, Snapshot: req.Seq, Columns: []string{"x"}, Rows: rows})
	}
}

// testPool is a pool whose workers play the mode *mode holds when they start.
func testPool(t *testing.T, mode *atomic.Value, o Options) *Pool {
	o.Command = func() *exec.Cmd {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "QUERYWORKER_FAKE="+mode.Load().(string))
		cmd.Stderr = io.Discard // the crash's goroutine dump
		return cmd
	}
	p := New(o)
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPoolReplacesStoppedWorkers(t *testing.T) {
	ctx := context.Background()
	// Only the hanging worker is stopped by the timeout: the others have
	// one long enough that a worker slow to start on a loaded machine
	// cannot turn their crash or memory stop into a timeout. The hanging
	// one's (3 s) also covers the start of its replacement, which the next
	// query's timeout counts: at 200 ms a loaded machine once failed it.
	for _, c := range []struct {
		mode, reason string
		killed       bool
		timeout      time.Duration
	}{
		{"crash", ReasonCrashed, false, time.Minute},
		{"hang", ReasonTimeout, true, 3 * time.Second},
		{"hog", ReasonMemory, true, time.Minute},
	} {
		t.Run(c.mode, func(t *testing.T) {
			var mode atomic.Value
			mode.Store(c.mode)
			p := testPool(t, &mode, Options{Size: 1, Timeout: c.timeout, Grace: 100 * time.Millisecond, MaxMemoryBytes: 64 << 20})
			_, err := p.Query(ctx, 1, "RETURN 1", nil)
			var se *StoppedError
			if !errors.As(err, &se) || !errors.Is(err, ErrStopped) || se.Reason != c.reason || se.Killed != c.killed {
				t.Fatalf("%s: got %v (%+v), want a StoppedError %s killed=%v", c.mode, err, se, c.reason, c.killed)
			}
			mode.Store("ok")
			res, err := p.Query(ctx, 1, "RETURN 1", nil)
			if err != nil || len(res.Rows) != 1 {
				t.Fatalf("%s: the next query: %v %+v", c.mode, err, res)
			}
			if n := len(p.PIDs()); n != 1 {
				t.Fatalf("%s: %d workers alive, want 1", c.mode, n)
			}
		})
	}
}

func TestPoolRetriesAWorkerThatDiedIdle(t *testing.T) {
	var mode atomic.Value
	mode.Store("ok")
	p := testPool(t, &mode, Options{Size: 1})
	ctx := context.Background()
	if _, err := p.Query(ctx, 1, "RETURN 1", nil); err != nil {
		t.Fatal(err)
	}
	for _, pid := range p.PIDs() {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	}
	if _, err := p.Query(ctx, 1, "RETURN 1", nil); err != nil {
		t.Fatalf("the query after its idle worker was killed: %v", err)
	}
}

func TestPoolKillsAWorkerThatIgnoresCancel(t *testing.T) {
	var mode atomic.Value
	mode.Store("hang")
	p := testPool(t, &mode, Options{Size: 1, Grace: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := p.Query(ctx, 1, "RETURN 1", nil)
	var se *StoppedError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Reason != ReasonCancelled || !se.Killed {
		t.Fatalf("cancelled while its worker hangs: %v", err)
	}
	mode.Store("ok")
	if _, err := p.Query(context.Background(), 1, "RETURN 1", nil); err != nil {
		t.Fatalf("the next query: %v", err)
	}
}

// The wait for a free worker counts against the query's timeout: with the
// only worker held by a query that hangs, the next query fails at its
// timeout, saying it waited for reader.query_workers, not when the
// hanging one ends.
func TestPoolWaitForAWorkerCountsAgainstTheTimeout(t *testing.T) {
	var mode atomic.Value
	mode.Store("hang")
	// Grace keeps the hanging query in its slot far past the timeout.
	p := testPool(t, &mode, Options{Size: 1, Timeout: 200 * time.Millisecond, Grace: time.Hour})
	first := make(chan error, 1)
	go func() {
		_, err := p.Query(context.Background(), 1, "RETURN 1", nil)
		first <- err
	}()
	for len(p.slots) == 0 {
		time.Sleep(time.Millisecond)
	}
	// The deadline only keeps a failing test short.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.Query(ctx, 1, "RETURN 1", nil)
	var se *StoppedError
	if !errors.As(err, &se) || se.Reason != ReasonTimeout || se.Killed || !strings.Contains(err.Error(), "reader.query_workers") {
		t.Errorf("query waiting behind a hanging one: %v, want a timeout naming reader.query_workers", err)
	}
	// The hanging worker may not have started yet (Wine under load starts
	// processes slowly): kill what runs until the first query ends.
	for {
		for _, pid := range p.PIDs() {
			if proc, err := os.FindProcess(pid); err == nil {
				_ = proc.Kill()
			}
		}
		select {
		case <-first:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// A query that crashes its worker is not run again on the other warm
// workers: each would crash in turn (one query took five workers down).
func TestPoolDoesNotRetryAQueryThatCrashedItsWorker(t *testing.T) {
	var mode atomic.Value
	mode.Store("ok")
	p := testPool(t, &mode, Options{Size: 3})
	ctx := context.Background()
	done := make(chan error, 3)
	for range 3 { // three at once: three warm workers
		go func() { _, err := p.Query(ctx, 1, "SLOW", nil); done <- err }()
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(p.PIDs()); n != 3 {
		t.Fatalf("%d workers after three queries at once, want 3", n)
	}
	_, err := p.Query(ctx, 1, "CRASH", nil)
	var se *StoppedError
	if !errors.As(err, &se) || se.Reason != ReasonCrashed {
		t.Fatalf("the crashing query: %v, want a StoppedError crashed", err)
	}
	if n := len(p.PIDs()); n != 2 {
		t.Fatalf("%d workers left after one crashing query, want 2: it was run again on the others", n)
	}
}
