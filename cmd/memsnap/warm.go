package main

import "bufio"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "os/exec"
import "sync"
import "time"
import "unicode/utf8"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/oneline"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// The long-lived processes (the daemon, every 'memsnap mcp' and 'memsnap
// serve') commit through a warm writer: one 'memsnap commit --loop' child
// process that stays up between commits and runs one commit per request. A child keeps them free of
// go-kuzu's per-parameter C string leak and of any crash inside Kuzu, and
// never opens CURRENT's graph file in a process that reads it; keeping it up
// saves what a fresh process pays on every commit: its start and Kuzu's
// first-open setup, about 150 ms of the 200-400 ms a first open takes here
// against 40-80 ms for later opens in the same process.

const (
	// warmIdle is how long a warm writer waits for its next request before
	// it is stopped (its memory goes back to the system).
	warmIdle = time.Minute
	// warmCommits is how many commits one warm writer process runs before
	// it is replaced, which bounds what a leak inside Kuzu or go-kuzu can
	// grow to.
	warmCommits = 500
)

// loopRequest and loopAnswer are the lines of the warm writer's protocol:
// one request per line on the child's stdin, one answer per line on its
// stdout.
type loopRequest struct {
	Commit bool `json:"commit"`
}

type loopAnswer struct {
	Summary *writer.Summary `json:"summary,omitempty"`
	Locked  bool            `json:"locked,omitempty"` // another writer holds the lock
	Error   string          `json:"error,omitempty"`
	// NoSpace is set with Error when the commit did not start for lack of
	// space, so that the parent gets the typed error with its figures.
	NoSpace *writer.NoSpaceError `json:"no_space,omitempty"`
}

// errWriterDied is returned when the warm writer process ends before it
// answers: it crashed, or was killed.
var errWriterDied = errors.New("the writer process ended before it answered")

// warmWriter runs commits in one long-lived child process, started on the
// first commit and again after it stops (idle for warmIdle, after
// warmCommits commits, or after a crash). It is safe for concurrent use;
// commits run one at a time.
type warmWriter struct {
	start func() *exec.Cmd // a new 'memsnap commit --loop' command

	// mu guards the fields below, and is held through a whole Commit:
	// commits run one at a time.
	mu      sync.Mutex
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	done    chan struct{} // closed when cmd has exited
	commits int
	idle    *time.Timer
	closed  bool
}

func newWarmWriter(start func() *exec.Cmd) *warmWriter { return &warmWriter{start: start} }

// newWarmWriter returns the warm writer of a long-lived process on store s:
// 'exe commit --loop' with this process's store, config and log level. The
// child's log lines go to this process's stderr.
func (a *app) newWarmWriter(exe string, s *snapshot.Store) *warmWriter {
	return newWarmWriter(func() *exec.Cmd {
		args := []string{"--store", s.Dir(), "--log-level", a.cfg.LogLevel}
		if f := a.v.GetString("config"); f != "" {
			args = append(args, "--config", f)
		}
		cmd := exec.Command(exe, append(args, "commit", "--loop")...)
		cmd.Stderr = a.stderr
		return cmd
	})
}

// Commit runs one commit in the warm writer process and returns its
// summary; skipped reports that another writer held the lock. A child that
// dies before it answers is replaced and asked once more: a commit cut
// short is recovered by the next one, as after any writer crash.
func (w *warmWriter) Commit(ctx context.Context) (sum writer.Summary, skipped bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return sum, false, errors.New("commit: the server is stopping")
	}
	if w.idle != nil {
		w.idle.Stop()
	}
	for try := 0; ; try++ {
		var a loopAnswer
		a, err = w.ask(ctx)
		if errors.Is(err, errWriterDied) && try == 0 {
			continue
		}
		if err != nil {
			return sum, false, err
		}
		w.commits++
		if w.commits >= warmCommits {
			w.stopLocked()
		} else {
			w.idle = time.AfterFunc(warmIdle, w.stopIdle)
		}
		switch {
		case a.Locked:
			return sum, true, nil
		case a.NoSpace != nil:
			return sum, false, fmt.Errorf("commit (writer process): %w", a.NoSpace)
		case a.Error != "":
			return sum, false, fmt.Errorf("commit (writer process): %s", a.Error)
		case a.Summary == nil:
			return sum, false, errors.New("commit (writer process): an answer without a summary")
		}
		return *a.Summary, false, nil
	}
}

// ask sends one request to the child, starting it first if needed, and
// reads its answer. The caller holds w.mu.
func (w *warmWriter) ask(ctx context.Context) (loopAnswer, error) {
	var a loopAnswer
	if w.cmd == nil {
		if err := w.startLocked(); err != nil {
			return a, err
		}
	}
	line, _ := json.Marshal(loopRequest{Commit: true})
	if _, err := w.in.Write(append(line, '\n')); err != nil {
		return a, w.diedLocked(err)
	}
	got := make(chan error, 1)
	var text []byte
	out := w.out
	go func() {
		var err error
		text, err = out.ReadBytes('\n')
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			return a, w.diedLocked(err)
		}
	case <-ctx.Done():
		// The commit runs on in the child; the next request waits for it
		// behind this one's answer, so the child is replaced instead.
		w.stopLocked()
		return a, ctx.Err()
	}
	if err := json.Unmarshal(text, &a); err != nil {
		w.stopLocked()
		return a, fmt.Errorf("commit (writer process) answered %q: %w", text, err)
	}
	return a, nil
}

// startLocked starts a new child. The caller holds w.mu.
func (w *warmWriter) startLocked() error {
	cmd := w.start()
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("start the writer process: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("start the writer process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the writer process: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	w.cmd, w.in, w.out, w.done, w.commits = cmd, in, bufio.NewReader(out), done, 0
	return nil
}

// diedLocked reaps a child that stopped answering and says how it ended.
func (w *warmWriter) diedLocked(ioErr error) error {
	cmd, done := w.cmd, w.done
	w.in.Close()
	w.cmd = nil
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	how := ioErr.Error()
	if st := cmd.ProcessState; st != nil {
		how = st.String() // "exit status 2", "signal: killed"
	}
	return fmt.Errorf("commit: %w (%s)", errWriterDied, how)
}

// stopLocked closes the child's stdin: it finishes the request under way,
// if any, and exits. The caller holds w.mu.
func (w *warmWriter) stopLocked() {
	if w.cmd == nil {
		return
	}
	w.in.Close()
	w.cmd, w.in, w.out = nil, nil, nil
}

func (w *warmWriter) stopIdle() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopLocked()
}

// Close stops the child and waits up to wait for it to exit (a commit under
// way runs to its end). Later commits fail.
func (w *warmWriter) Close(wait time.Duration) {
	w.mu.Lock()
	w.closed = true
	if w.idle != nil {
		w.idle.Stop()
	}
	done := w.done
	w.stopLocked()
	w.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-time.After(wait):
		}
	}
}

// commitLoop is 'memsnap commit --loop': it reads requests from in, one per
// line, runs one commit for each (never waiting for the lock) and answers
// each on out, until in ends.
func commitLoop(ctx context.Context, s *snapshot.Store, opts writer.Options, log *slog.Logger, in io.Reader, out io.Writer) error {
	opts.LockTimeout = 0
	opts.Verifier = snapshot.NewVerifier() // CURRENT is mostly what the last commit published
	br := bufio.NewReader(in)
	enc := json.NewEncoder(out)
	for {
		line, long, err := readRequest(br)
		if err != nil {
			return nil // stdin ended: the parent is done with us
		}
		var req loopRequest
		var ans loopAnswer
		if long {
			ans.Error = fmt.Sprintf("request line longer than %d bytes", maxRequestLine)
		} else if err := json.Unmarshal(line, &req); err != nil || !req.Commit {
			ans.Error = fmt.Sprintf("unknown request %q", clip(string(line), 80))
		} else {
			sum, err := writer.New(s, opts, log).Commit(ctx, writer.CommitOptions{})
			switch {
			case errors.Is(err, writer.ErrLocked):
				ans.Locked = true
			case err != nil:
				ans.Error = oneline.Fold(err.Error())
				errors.As(err, &ans.NoSpace)
			default:
				if sum.Snapshots == nil {
					sum.Snapshots = []uint64{}
				}
				ans.Summary = &sum
			}
		}
		if err := enc.Encode(ans); err != nil {
			return nil // the parent is gone; the commit itself is done
		}
	}
}

// maxRequestLine bounds one request line of the warm writer's protocol.
const maxRequestLine = 4096

// readRequest reads one line (without its newline) from br. A line longer
// than maxRequestLine is read to its end and reported as long, not returned.
// At the end of input it returns the last unterminated line, if any, then
// io.EOF.
func readRequest(br *bufio.Reader) (line []byte, long bool, err error) {
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if len(line) > 0 || long {
				return line, long, nil
			}
			return nil, false, err
		}
		if !long {
			line = append(line, chunk...)
			if len(line) > maxRequestLine {
				line, long = nil, true
			}
		}
		if !isPrefix {
			return line, long, nil
		}
	}
}

// clip is s cut to at most n bytes on a character boundary, with "..."
// when it was cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
