package queryworker

import "bufio"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "os"
import "os/exec"
import "strings"
import "sync"
import "sync/atomic"
import "time"

import "github.com/memsnap/memsnap/reader"

// ErrStopped is returned (as a *StoppedError) for a query that did not
// finish: it ran past its timeout, past the memory cap, or its worker
// crashed.
var ErrStopped = errors.New("query stopped")

// Why a query was stopped (StoppedError.Reason).
const (
	ReasonTimeout = "timeout"
	ReasonMemory  = "memory"
	ReasonCrashed = "crashed"
)

// StoppedError says why a query was stopped and whether its worker was
// killed for it (Killed) or stopped it itself.
type StoppedError struct {
	Reason string // ReasonTimeout, ReasonMemory or ReasonCrashed
	Killed bool   // the worker process was killed (and replaced)
	Detail string // the limit and what was seen, one line
	// notTaken: the worker had died before it took the query (a send to
	// it failed), so the query may run on another.
	notTaken bool
}

func (e *StoppedError) Error() string {
	s := "query stopped: " + e.Detail
	if e.Killed {
		s += "; its query worker was killed and is replaced"
	}
	return s
}

// Is makes errors.Is(err, ErrStopped) true.
func (e *StoppedError) Is(target error) bool { return target == ErrStopped }

// Options configures a Pool. Zero values mean no limit unless said.
type Options struct {
	// Size is how many worker processes run queries at once; a query
	// waits for a free one within its Timeout. Default 4.
	Size int
	// Command returns the command that starts one worker (memsnap
	// query-worker with the store and the worker's options); the Pool sets
	// its standard input and output.
	Command func() *exec.Cmd
	// Timeout stops a query: the worker interrupts it, and the parent kills
	// the worker Grace later if it has not answered. 0: none (the caller's
	// context may still carry a deadline).
	Timeout time.Duration
	// Grace is how long a worker has to answer after its query's timeout
	// or cancellation before it is killed. Default 500ms.
	Grace time.Duration
	// MaxMemoryBytes kills a worker whose resident set passes it (see
	// "Memory cap" in the package doc). 0: none.
	MaxMemoryBytes int64
	// WatchEvery is how often a busy worker's resident set is read.
	// Default 5ms.
	WatchEvery time.Duration
	// MaxRows and MaxBytes cap an answer's rows and their JSON bytes; an
	// answer that reached one says so (reader.Result.Truncated).
	MaxRows, MaxBytes int
	// Log gets the workers' starts and kills.
	Log *slog.Logger
}

// MemoryMargin is how far past Options.MaxMemoryBytes a worker's peak
// resident set may go before the watchdog kills it: the memory a process
// faults in within a few polls (about 1-2 GB/s for Kuzu filling a large
// string here, 5 ms apart, with the poller delayed on a busy machine).
const MemoryMargin = 64 << 20

// Pool runs queries on warm worker processes. Safe for concurrent use.
type Pool struct {
	opts  Options
	log   *slog.Logger
	slots chan struct{} // one token per query that may run at once
	idle  chan *proc    // started workers waiting for a query
	ids   atomic.Uint64

	mu     sync.Mutex     // guards closed and procs
	closed bool           // set by Close
	procs  map[*proc]bool // every live worker
}

var _ reader.QueryRunner = (*Pool)(nil)

// New returns a Pool; workers start on first use.
func New(opts Options) *Pool {
	if opts.Size <= 0 {
		opts.Size = 4
	}
	if opts.Grace <= 0 {
		opts.Grace = 500 * time.Millisecond
	}
	if opts.WatchEvery <= 0 {
		opts.WatchEvery = 5 * time.Millisecond
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pool{opts: opts, log: log.With("component", "query-pool"), slots: make(chan struct{}, opts.Size),
		idle: make(chan *proc, opts.Size), procs: map[*proc]bool{}}
}

// proc is one worker process.
type proc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	resps chan response // answers; closed when the worker's output ends
	dead  chan struct{} // closed once the process has been waited for
	wait  error         // cmd.Wait's error; read after dead
	kill  atomic.Pointer[StoppedError]
	taken atomic.Bool // the worker acknowledged the query sent last
	wmu   sync.Mutex  // serialises writes to in
}

// PIDs lists the worker processes alive now.
func (p *Pool) PIDs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for w := range p.procs {
		out = append(out, w.cmd.Process.Pid)
	}
	return out
}

func (p *Pool) start() (*proc, error) {
	cmd := p.opts.Command()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start query worker: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start query worker: %w", err)
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if os.Getenv("GOTRACEBACK") == "" {
		// A query that crashes Kuzu ends the worker with a signal; the Go
		// runtime's dump of every goroutine (about 220 lines) would land in
		// the server's log, and in the query command's one-line error.
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, "GOTRACEBACK=none")
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start query worker %s: %w", cmd.Path, err)
	}
	w := &proc{cmd: cmd, in: in, out: bufio.NewReader(out), resps: make(chan response, 1), dead: make(chan struct{})}
	p.mu.Lock()
	p.procs[w] = true
	p.mu.Unlock()
	go func() {
		limit := p.opts.MaxBytes + frameOverhead
		if p.opts.MaxBytes <= 0 {
			limit = 1 << 30
		}
		for {
			var r response
			if err := readFrame(w.out, limit, &r); err != nil {
				if !errors.Is(err, io.EOF) && w.kill.Load() == nil {
					p.log.Warn("query worker sent a bad frame; killing it", "pid", cmd.Process.Pid, "error", err)
					w.stop(&StoppedError{Reason: ReasonCrashed, Killed: true, Detail: "the query worker's answer could not be read: " + err.Error()})
				}
				break
			}
			if r.Ack {
				w.taken.Store(true)
				continue
			}
			w.resps <- r
		}
		w.wait = cmd.Wait()
		p.mu.Lock()
		delete(p.procs, w)
		p.mu.Unlock()
		close(w.dead)
		close(w.resps)
	}()
	p.log.Debug("started query worker", "pid", cmd.Process.Pid)
	return w, nil
}

// stop kills the worker for the reason given (the first reason wins).
func (w *proc) stop(why *StoppedError) {
	if w.kill.CompareAndSwap(nil, why) {
		_ = w.cmd.Process.Kill() // SIGKILL; TerminateProcess on Windows
	}
}

func (w *proc) send(r request) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return writeFrame(w.in, r)
}

// Query runs cypher on snapshot seq in a worker. It is the caller's job
// to have checked the query (reader.CheckReadOnly) and to keep seq pinned.
// A query that did not finish returns a *StoppedError (errors.Is
// ErrStopped); Kuzu's own refusals come back as plain errors.
func (p *Pool) Query(ctx context.Context, seq uint64, cypher string, params map[string]any) (*reader.Result, error) {
	start := time.Now()
	if err := p.waitSlot(ctx); err != nil {
		return nil, err
	}
	defer func() { <-p.slots }()
	for {
		w, fresh, err := p.take()
		if err != nil {
			return nil, err
		}
		res, err := p.run(ctx, w, time.Since(start), seq, cypher, params)
		if w.kill.Load() == nil && !isDead(w) {
			p.idle <- w
			return res, err
		}
		_ = w.in.Close()
		var se *StoppedError
		if fresh || !errors.As(err, &se) || !se.notTaken {
			return res, err
		}
		// A warm worker that had died while idle (killed from outside,
		// say) and so never took the query does not cost it: it runs on a
		// new worker. A worker that died once it had the query is the
		// query's doing: running it again would crash the next worker too.
	}
}

// waitSlot takes a slot for one query. The wait counts against the
// query's timeout: a query still waiting when Options.Timeout has passed
// fails with a *StoppedError (ReasonTimeout) naming reader.query_workers,
// so that slow queries holding every worker do not hold the others
// without bound.
func (p *Pool) waitSlot(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	var expired <-chan time.Time
	if p.opts.Timeout > 0 {
		t := time.NewTimer(p.opts.Timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-expired:
		return &StoppedError{Reason: ReasonTimeout, Detail: fmt.Sprintf(
			"it waited reader.query_timeout (%s) for a free query worker: all %d (reader.query_workers) were busy with other queries",
			p.opts.Timeout, p.opts.Size)}
	case <-ctx.Done():
		return fmt.Errorf("waiting for a free query worker (all %d of reader.query_workers busy): %w", p.opts.Size, ctx.Err())
	}
}

// take returns an idle worker, or a new one (fresh).
func (p *Pool) take() (w *proc, fresh bool, err error) {
	select {
	case w = <-p.idle:
		return w, false, nil
	default:
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, false, reader.ErrClosed
	}
	w, err = p.start()
	return w, true, err
}

func isDead(w *proc) bool {
	select {
	case <-w.dead:
		return true
	default:
		return false
	}
}

// ReasonCancelled: the caller's context ended before the answer (the
// error also wraps the context's error).
const ReasonCancelled = "cancelled"

// run sends one query to w and waits for its answer, the timeout, the
// caller's context or the memory watchdog, whichever comes first. waited
// is how long the query waited for w; it counts against the timeout.
func (p *Pool) run(ctx context.Context, w *proc, waited time.Duration, seq uint64, cypher string, params map[string]any) (*reader.Result, error) {
	limit := p.opts.Timeout // named in messages
	timeout := p.opts.Timeout
	if timeout > 0 {
		timeout = max(timeout-waited, time.Millisecond)
	}
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); timeout <= 0 || d < timeout {
			timeout = max(d, time.Millisecond)
			limit = timeout
		}
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("query parameters: %w", err)
	}
	id := p.ids.Add(1)
	req := request{ID: id, Seq: seq, Cypher: cypher, Params: raw, MaxRows: p.opts.MaxRows, MaxBytes: p.opts.MaxBytes,
		TimeoutMS: timeout.Milliseconds()}
	if timeout > 0 && req.TimeoutMS == 0 {
		req.TimeoutMS = 1
	}
	w.taken.Store(false)
	if isDead(w) {
		err = errors.New("it had exited")
	} else {
		err = w.send(req)
	}
	if err != nil {
		// It had died: what killed it is not this query's doing.
		w.stop(&StoppedError{Reason: ReasonCrashed, notTaken: true, Detail: "the query worker did not take the query (" + err.Error() + "); it is replaced"})
	}
	var killAt, cancelKill <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout + p.opts.Grace)
		defer t.Stop()
		killAt = t.C
	}
	var watch <-chan time.Time
	if p.opts.MaxMemoryBytes > 0 {
		t := time.NewTicker(p.opts.WatchEvery)
		defer t.Stop()
		watch = t.C
	}
	pid := w.cmd.Process.Pid
	done := ctx.Done()
	for {
		select {
		case r, ok := <-w.resps:
			if !ok {
				err := p.deathError(w)
				if k := w.kill.Load(); k != nil && k.Reason == ReasonCancelled {
					err = fmt.Errorf("%w (%w)", err, ctx.Err())
				}
				return nil, err
			}
			if r.ID == id {
				return p.result(ctx, r, limit)
			}
		case <-killAt:
			w.stop(&StoppedError{Reason: ReasonTimeout, Killed: true,
				Detail: fmt.Sprintf("it ran past reader.query_timeout (%s) and did not stop when interrupted", limit)})
		case <-done:
			done = nil
			_ = w.send(request{ID: id, Cancel: true})
			cancelKill = time.After(p.opts.Grace)
		case <-cancelKill:
			w.stop(&StoppedError{Reason: ReasonCancelled, Killed: true, Detail: "the caller went away and the query did not stop when interrupted"})
		case <-watch:
			if rss, err := residentBytes(pid); err == nil && rss > p.opts.MaxMemoryBytes {
				w.stop(&StoppedError{Reason: ReasonMemory, Killed: true,
					Detail: fmt.Sprintf("it took %d MiB, more than reader.query_max_memory_mb (%d MiB)", rss>>20, p.opts.MaxMemoryBytes>>20)})
			}
		}
	}
}

// deathError is the error of a query whose worker died: why it was
// killed, or how it ended.
func (p *Pool) deathError(w *proc) error {
	<-w.dead
	if k := w.kill.Load(); k != nil {
		p.log.Warn("killed a query worker", "pid", w.cmd.Process.Pid, "reason", k.Reason, "detail", k.Detail)
		return k
	}
	how := "exited"
	var ee *exec.ExitError
	if errors.As(w.wait, &ee) {
		how = exitHow(ee)
	}
	p.log.Warn("query worker died; it will be replaced", "pid", w.cmd.Process.Pid, "how", how)
	if !w.taken.Load() {
		return &StoppedError{Reason: ReasonCrashed, notTaken: true, Detail: "its query worker " + how + " before it took the query; it is replaced"}
	}
	return &StoppedError{Reason: ReasonCrashed, Detail: "its query worker " + how + " (the query may crash Kuzu); it is replaced"}
}

// result turns a worker's answer into a Result or an error.
func (p *Pool) result(ctx context.Context, r response, timeout time.Duration) (*reader.Result, error) {
	switch r.Kind {
	case "":
	case kindTimeout:
		return nil, &StoppedError{Reason: ReasonTimeout, Detail: fmt.Sprintf("it ran past reader.query_timeout (%s) and was interrupted", timeout)}
	case kindMemory:
		return nil, &StoppedError{Reason: ReasonMemory, Detail: fmt.Sprintf("it needed more memory than reader.query_max_memory_mb (%d MiB) allows", p.opts.MaxMemoryBytes>>20)}
	case kindCancel:
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("query cancelled: %w", err)
		}
		return nil, errors.New("query cancelled")
	default:
		return nil, errors.New(r.Error)
	}
	res := &reader.Result{Snapshot: r.Snapshot, Columns: r.Columns, Rows: [][]any{}, Truncated: r.Truncated, TruncatedReason: r.TruncatedReason}
	if res.Columns == nil {
		res.Columns = []string{}
	}
	if len(r.Rows) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(r.Rows)))
		dec.UseNumber()
		if err := dec.Decode(&res.Rows); err != nil {
			return nil, fmt.Errorf("query worker answer: %w", err)
		}
	}
	return res, nil
}

// Close stops every worker: their input is closed, and they are killed if
// they have not exited within the grace. Queries still running fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	procs := make([]*proc, 0, len(p.procs))
	for w := range p.procs {
		procs = append(procs, w)
	}
	p.mu.Unlock()
	for _, w := range procs {
		_ = w.in.Close()
	}
	for _, w := range procs {
		select {
		case <-w.dead:
		case <-time.After(p.opts.Grace):
			w.stop(&StoppedError{Reason: ReasonCrashed, Killed: true, Detail: "the query pool closed"})
			<-w.dead
		}
	}
	return nil
}
