package reader

import "context"
import "errors"
import "fmt"
import "log/slog"
import "path/filepath"
import "sync"
import "sync/atomic"
import "time"

import "github.com/robfig/cron/v3"

import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/kvstore"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/internal/schedule"
import "github.com/memsnap/memsnap/snapshot"

// ErrClosed is returned by a Reader's methods after Close.
var ErrClosed = errors.New("reader is closed")

// Outcome is what became of a job (see model.Outcome).
type Outcome = model.Outcome

// Pair is one KV entry.
type Pair = kvstore.Pair

// Reader serves read-only queries from the current snapshot of one store.
// All methods are safe for concurrent use.
type Reader struct {
	store *snapshot.Store
	opts  Options
	log   *slog.Logger
	gopts graphdb.Options

	cur atomic.Pointer[handle] // the current snapshot; swapped by refresh

	refreshMu sync.Mutex    // serialises refreshes and Close
	closed    bool          // guarded by refreshMu
	cron      *cron.Cron    // nil unless StartRefresh ran; guarded by refreshMu
	watchStop func()        // ends the watch of CURRENT; nil unless StartRefresh watches it; guarded by refreshMu
	scrubStop chan struct{} // closed by Close; nil unless a scrub loop runs; guarded by refreshMu
	scrubDone chan struct{} // closed when the scrub loop ends
	scrubs    atomic.Int64  // scrubs finished
	damaged   atomic.Int64  // scrubs that found damage
	lastErr   atomic.Pointer[error]
	refreshes atomic.Int64
	verify    *verifyMemo        // snapshots that failed verification; see pinVerified
	text      textState          // the newest search index; see textView
	queue     *queueWatch        // the queued jobs; nil unless Options.QueuedWrites
	overlay   overlayState       // the queued jobs over the newest index; see overlayFor
	bgCtx     context.Context    // cancelled by Close: ends background work
	bgCancel  context.CancelFunc // cancels bgCtx

	closeMu sync.Mutex                // guards closing
	closing map[*handle]chan struct{} // handles being closed in the background
}

// Open opens the snapshot CURRENT names. It fails with snapshot.ErrNoSnapshot
// if nothing has been published yet.
func Open(ctx context.Context, store *snapshot.Store, opts Options, log *slog.Logger) (*Reader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reader{store: store, opts: opts, log: log.With("component", "reader"),
		gopts: graphdb.Options{BufferPoolBytes: uint64(opts.BufferPoolMB) << 20, Threads: uint64(opts.Threads), Workers: queryWorkers,
			MaxDBBytes: uint64(opts.MaxDBMB) << 20}}
	r.verify = newVerifyMemo(r.log, r.Seq)
	r.bgCtx, r.bgCancel = context.WithCancel(context.Background())
	if opts.QueuedWrites {
		r.queue = newQueueWatch(store.Queue(), opts.JobLimits, r.log)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := r.open()
	if err != nil {
		return nil, err
	}
	r.cur.Store(h)
	return r, nil
}

// open opens the snapshot CURRENT names, first waiting for any earlier
// handle of the same snapshot to finish closing (a rollback can bring an
// old snapshot back): a file's fcntl locks belong to the process, and
// closing one descriptor of it drops them all.
func (r *Reader) open() (*handle, error) {
	if seq, err := r.store.Current(); err == nil {
		r.waitClosed(func(h *handle) bool { return h.seq == seq })
	}
	h, err := openHandle(r.store, r.gopts, r.opts.Verify, r.log, r.verify)
	if err != nil {
		return nil, err
	}
	h.release = r.closeLater
	return h, nil
}

// closeLater closes a handle whose last reference is gone in the
// background, so that neither the query that dropped it nor a refresh
// waits for Kuzu and Pebble to shut down.
func (r *Reader) closeLater(h *handle) {
	done := make(chan struct{})
	r.closeMu.Lock()
	if r.closing == nil {
		r.closing = map[*handle]chan struct{}{}
	}
	r.closing[h] = done
	r.closeMu.Unlock()
	go func() {
		h.close()
		r.closeMu.Lock()
		delete(r.closing, h)
		r.closeMu.Unlock()
		close(done)
	}()
}

// waitClosed waits until the background closes of the handles that match
// selects have finished.
func (r *Reader) waitClosed(match func(*handle) bool) {
	r.closeMu.Lock()
	var wait []chan struct{}
	for h, done := range r.closing {
		if match(h) {
			wait = append(wait, done)
		}
	}
	r.closeMu.Unlock()
	for _, done := range wait {
		<-done
	}
}

// acquire returns the current handle with a reference held.
func (r *Reader) acquire() (*handle, error) {
	for {
		h := r.cur.Load()
		if h == nil {
			return nil, ErrClosed
		}
		if h.tryRef() {
			return h, nil
		}
		// h closed between Load and tryRef: a refresh swapped it; retry.
	}
}

// queryWorkers is how many Kuzu queries of a reader run at once (see
// graphdb.Options.Workers): a server answering many clients keeps answering
// while one of them runs a slow query.
const queryWorkers = 8

// Seq is the seq of the snapshot queries currently go to.
func (r *Reader) Seq() uint64 {
	if h := r.cur.Load(); h != nil {
		return h.seq
	}
	return 0
}

// Manifest is the current snapshot's manifest.
func (r *Reader) Manifest() *snapshot.Manifest {
	if h := r.cur.Load(); h != nil {
		return h.manifest
	}
	return nil
}

// Refresh swaps in the snapshot CURRENT names if it is newer than the one
// being served. Seqs only grow (a rollback publishes a new, higher one), so
// a CURRENT naming an older seq than the one served was moved back by hand
// or restored from a backup: Refresh keeps serving and returns a
// *snapshot.CurrentError (errors.Is snapshot.ErrCurrentBehind) naming the
// repair command, which LastRefreshError then holds. Queries in flight finish on the old snapshot, which closes
// when the last of them ends. Once the process has searched, the new
// snapshot's search index is derived before it serves (deriveOnSwap), so
// that no search waits for it. On error the old snapshot keeps serving.
// A snapshot that failed verification is checked again only after a
// backoff; until then Refresh returns its error at once (see verifyMemo).
// It reports whether it swapped.
func (r *Reader) Refresh(ctx context.Context) (bool, error) {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	if r.closed {
		return false, ErrClosed
	}
	seq, err := r.store.Current()
	if err == nil && seq == r.Seq() {
		r.lastErr.Store(nil) // CURRENT repaired back to the snapshot served
		return false, nil
	}
	if err == nil && seq < r.Seq() {
		err = r.store.BehindError("follow CURRENT", seq, r.Seq())
	}
	var h *handle
	start := time.Now()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		h, err = r.open()
	}
	if err == nil && h.seq < r.Seq() { // CURRENT moved back between the two reads
		h.unref()
		h, err = nil, r.store.BehindError("follow CURRENT", h.seq, r.Seq())
	}
	if err != nil {
		err = fmt.Errorf("refresh: %w (still serving snapshot %d)", err, r.Seq())
		r.lastErr.Store(&err)
		return false, err
	}
	r.deriveOnSwap(ctx, h)
	old := r.cur.Swap(h)
	r.lastErr.Store(nil)
	r.refreshes.Add(1)
	if old != nil {
		old.unref()
		r.log.Debug("swapped snapshot", "from", old.seq, "to", h.seq)
	}
	if r.opts.OnSwap != nil {
		r.opts.OnSwap(h.seq, time.Since(start))
	}
	return true, nil
}

// Refreshes counts the swaps since Open.
func (r *Reader) Refreshes() int64 { return r.refreshes.Load() }

// LastRefreshError is the error of the last failed refresh, or nil once a
// later refresh succeeded.
func (r *Reader) LastRefreshError() error {
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// StartRefresh refreshes on the Options.Refresh schedule until Close and,
// with Options.WatchCurrent, as soon as CURRENT is replaced (inotify through
// fsnotify; where watching is not possible the schedule alone remains and a
// warning is logged). With an empty schedule and no watch it does nothing.
func (r *Reader) StartRefresh() error {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	if r.cron != nil || r.watchStop != nil || r.closed {
		return nil
	}
	if spec := r.opts.Refresh; spec != "" {
		sched, err := schedule.Parse(spec)
		if err != nil {
			return fmt.Errorf("reader.refresh %q: %w", spec, err)
		}
		c := cron.New()
		c.Schedule(sched, cron.FuncJob(func() { r.backgroundRefresh("scheduled") }))
		c.Start()
		r.cron = c
	}
	if r.opts.WatchCurrent {
		r.startWatch()
	}
	if r.queue != nil {
		r.queue.start(nil)
	}
	if r.opts.Scrub > 0 && r.opts.Verify == "full" {
		r.scrubStop, r.scrubDone = make(chan struct{}), make(chan struct{})
		go r.scrubLoop(r.opts.Scrub)
	}
	return nil
}

// scrubPause is the pause between two chunks (1 MiB) of a scrub: about a
// tenth of this machine's time to read a chunk from the page cache, so a
// scrub of a 200 MiB snapshot takes a few seconds of sleep and a fraction
// of a core.
const scrubPause = 5 * time.Millisecond

// scrubLoop scrubs the snapshot being served every interval until Close.
func (r *Reader) scrubLoop(interval time.Duration) {
	defer close(r.scrubDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.scrubStop:
			return
		case <-t.C:
			r.Scrub(r.scrubStop)
		}
	}
}

// Scrub re-reads every file of the snapshot being served and checks it
// against the manifest, pausing between chunks, until done or until stop
// is closed. Damage is logged as an error, counted in ScrubStats, and
// makes the next verification read every file in full. It returns the
// problems found.
func (r *Reader) Scrub(stop <-chan struct{}) []error {
	h, err := r.acquire()
	if err != nil {
		return nil
	}
	defer h.unref()
	problems, err := r.verify.files.Scrub(r.store, h.manifest, func() error {
		select {
		case <-stop:
			return ErrClosed
		case <-time.After(scrubPause):
			return nil
		}
	})
	if err != nil {
		return problems // stopped
	}
	r.scrubs.Add(1)
	if len(problems) > 0 {
		r.damaged.Add(1)
		r.log.Error("scrub found damage in the snapshot being served; restore it or roll back (memsnap snapshots verify)",
			"seq", h.seq, "problem", problems[0].Error(), "problems", len(problems))
	}
	return problems
}

// ScrubStats says how many scrubs finished and how many found damage.
func (r *Reader) ScrubStats() (scrubs, damaged int64) { return r.scrubs.Load(), r.damaged.Load() }

// backgroundRefresh is a refresh nobody waits for: its failure is logged.
func (r *Reader) backgroundRefresh(why string) {
	if _, err := r.Refresh(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
		var vf *verifyFailure
		if errors.As(err, &vf) {
			r.log.Debug(why+" refresh failed", "error", err) // the Reader said why once
			return
		}
		r.log.Warn(why+" refresh failed", "error", err)
	}
}

// startWatch refreshes whenever CURRENT is replaced. Caller holds refreshMu.
func (r *Reader) startWatch() {
	stop, err := r.store.WatchCurrent(func() { r.backgroundRefresh("CURRENT changed:") })
	if err != nil {
		r.log.Warn("cannot watch CURRENT; refreshing on reader.refresh only", "error", err)
		return
	}
	r.watchStop = stop
}

// Close stops scheduled refreshes and closes the current snapshot once the
// queries still running on it end. It is idempotent.
func (r *Reader) Close() error {
	r.bgCancel() // a refresh deriving a search index stops
	r.refreshMu.Lock()
	if r.closed {
		r.refreshMu.Unlock()
		return nil
	}
	r.closed = true
	c, stopWatch, scrub := r.cron, r.watchStop, r.scrubStop
	r.refreshMu.Unlock()
	if c != nil {
		<-c.Stop().Done()
	}
	if scrub != nil {
		close(scrub)
		<-r.scrubDone
	}
	if stopWatch != nil {
		stopWatch()
	}
	if r.queue != nil {
		r.queue.close()
	}
	if h := r.cur.Swap(nil); h != nil {
		h.unref()
	}
	// Snapshots no query uses any more are closed before Close returns;
	// one still in use closes when its last query ends.
	r.waitClosed(func(*handle) bool { return true })
	return nil
}

// Result is a query answer with the snapshot it came from.
type Result struct {
	Snapshot uint64   `json:"snapshot"`
	Columns  []string `json:"columns"`
	Rows     [][]any  `json:"rows"`
	// Truncated says the rows stop at a cap (reader.query_max_rows or
	// reader.query_max_bytes) before the query's end; TruncatedReason
	// names it.
	Truncated       bool   `json:"truncated,omitempty"`
	TruncatedReason string `json:"truncated_reason,omitempty"`
}

// QueryRunner runs user-written Cypher on snapshot seq away from the
// Reader's process (see package queryworker): a query that crashes Kuzu or
// runs away with memory costs a worker, not the Reader. The Reader has
// checked the query and holds seq pinned while Query runs.
type QueryRunner interface {
	Query(ctx context.Context, seq uint64, cypher string, params map[string]any) (*Result, error)
}

// Query runs a read-only Cypher query on the current snapshot. Queries that
// could write or touch files, or that would hurt the parser, are refused
// with ErrRefused before Kuzu sees them. With Options.Runner set the query
// runs there (isolated, capped); without it, it runs in this process under
// reader.query_timeout only: unisolated, for embedders that trust their
// queries (a query that crashes Kuzu crashes the process).
func (r *Reader) Query(ctx context.Context, cypher string, params map[string]any) (*Result, error) {
	if err := CheckReadOnly(cypher); err != nil {
		return nil, err
	}
	if run := r.opts.Runner; run != nil {
		h, err := r.acquire()
		if err != nil {
			return nil, err
		}
		defer h.unref() // keeps the snapshot pinned while the worker reads it
		res, err := run.Query(ctx, h.seq, cypher, params)
		if err != nil {
			return nil, fmt.Errorf("query snapshot %d: %w", h.seq, err)
		}
		return res, nil
	}
	var out *Result
	err := r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		res, err := c.Query(ctx, cypher, params)
		if err != nil {
			return err
		}
		out = &Result{Snapshot: seq, Columns: res.Columns, Rows: res.Rows}
		if out.Rows == nil {
			out.Rows = [][]any{}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query %w", err)
	}
	return out, nil
}

// bounded is ctx with reader.query_timeout: every read of the Reader's own
// runs under it (a point lookup in the key-value store, KVGet and Job,
// is bounded by itself).
func (r *Reader) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if t := r.opts.QueryTimeout; t > 0 {
		return context.WithTimeout(ctx, t)
	}
	return context.WithCancel(ctx)
}

// KVGet returns a user key's value from the current snapshot.
func (r *Reader) KVGet(ctx context.Context, key string) (val string, found bool, seq uint64, err error) {
	h, err := r.acquire()
	if err != nil {
		return "", false, 0, err
	}
	defer h.unref()
	v, found, err := h.kv.GetUser(key)
	return string(v), found, h.seq, err
}

// KVScan returns user keys with the prefix, in order, at most limit (0 = all).
func (r *Reader) KVScan(ctx context.Context, prefix string, limit int) ([]Pair, uint64, error) {
	h, err := r.acquire()
	if err != nil {
		return nil, 0, err
	}
	defer h.unref()
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	pairs, err := h.kv.ScanUser(ctx, prefix, limit)
	if pairs == nil {
		pairs = []Pair{}
	}
	return pairs, h.seq, err
}

// Job returns a job's outcome: applied or rejected (with reason) once a
// published snapshot records it, pending while it waits in the queue, and
// unknown if memsnap has never seen it.
func (r *Reader) Job(ctx context.Context, id string) (Outcome, error) {
	if err := checkJobID(id); err != nil {
		return Outcome{}, err
	}
	h, err := r.acquire()
	if err != nil {
		return Outcome{}, err
	}
	defer h.unref()
	return jobIn(r.store, h.kv, h.seq, id)
}

// checkJobID refuses what is not a job id (queue.ValidID) before it is used
// to look in the queue's directories.
func checkJobID(id string) error {
	if !queue.ValidID(id) {
		return fmt.Errorf("job id %q is not valid (a job id is a ULID as enqueue prints it)", id)
	}
	return nil
}

// jobIn looks a job up in snapshot seq's key-value store, then in the queue.
func jobIn(s *snapshot.Store, kv *kvstore.DB, seq uint64, id string) (Outcome, error) {
	v, found, err := kv.GetJob(id)
	if err != nil {
		return Outcome{}, err
	}
	if found {
		return model.DecodeOutcome(v)
	}
	o := queueOutcome(s, id)
	if o.Status == model.StatusUnknown {
		// The job may have been applied and cleaned from the queue after the
		// snapshot we looked at: if a newer one exists, the answer is there.
		if cur, err := s.Current(); err == nil && cur != seq {
			o.Status = model.StatusPending
		}
	}
	return o, nil
}

// queueOutcome looks for a job that no snapshot records yet.
func queueOutcome(s *snapshot.Store, id string) Outcome {
	switch place, reason := s.Queue().Lookup(id); place {
	case queue.Waiting:
		return Outcome{JobID: id, Status: model.StatusPending}
	case queue.Dead:
		return Outcome{JobID: id, Status: model.StatusRejected, Reason: reason}
	}
	return Outcome{JobID: id, Status: model.StatusUnknown}
}

// JobOutcome looks up a job without a Reader: in CURRENT's snapshot if one
// exists, else in the queue. It opens only the snapshot's key-value store
// (verified as verify says: full, size or off), not its graph, so it is
// cheap enough to poll.
func JobOutcome(ctx context.Context, store *snapshot.Store, verify string, id string) (Outcome, error) {
	return jobOutcome(store, verify, id, store.VerifyKV)
}

// jobOutcome is JobOutcome with check verifying the key-value store.
func jobOutcome(store *snapshot.Store, verify string, id string, check func(*snapshot.Manifest, bool) []error) (Outcome, error) {
	if err := checkJobID(id); err != nil {
		return Outcome{}, err
	}
	pin, _, err := pinVerified(store, verify, check, nil)
	if errors.Is(err, snapshot.ErrNoSnapshot) {
		return queueOutcome(store, id), nil
	}
	if err != nil {
		return Outcome{}, err
	}
	defer pin.Release()
	seq := pin.Seq()
	kv, err := kvstore.OpenRO(filepath.Join(store.SnapshotDir(seq), snapshot.KVDir), nil)
	if err != nil {
		return Outcome{}, fmt.Errorf("open snapshot %d: %w", seq, err)
	}
	defer kv.Close()
	return jobIn(store, kv, seq, id)
}

// State reads, from one snapshot, the rows of the named entities, the
// relations leaving the relSources entities, and the outcomes the snapshot
// records for jobIDs.
func (r *Reader) State(ctx context.Context, names, relSources, jobIDs []string) (*model.SnapshotState, error) {
	st := &model.SnapshotState{Outcomes: map[string]Outcome{}}
	err := r.withHandle(ctx, func(ctx context.Context, h *handle, c *graphdb.Conn) error {
		st.Snapshot = h.seq
		for _, id := range jobIDs {
			v, found, err := h.kv.GetJob(id)
			if err != nil {
				return err
			}
			if found {
				o, err := model.DecodeOutcome(v)
				if err != nil {
					return err
				}
				st.Outcomes[id] = o
			}
		}
		g, err := graphdb.LoadState(ctx, c, names, relSources)
		st.Graph = g
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return st, nil
}
