// Package mcpserver is memsnap's MCP server: the tools of the reference
// knowledge-graph memory server (same names, argument schemas and answer
// shapes) plus recent_changes, neighbors, query, kv_get, kv_put, kv_scan and
// memory_status (Tools lists them as registered), over one memsnap store
// shared with any number of other processes.
//
// Writes become queued jobs. A write tool answers once its job is durable
// in the queue, with the outcome the writer will give (mcp.write_ack
// durable, see producer.Acker), or once it is applied (applied). The server
// commits queued jobs itself as they arrive, through short-lived writer
// processes, when no other writer is running (group commit). Reads answer
// from the current snapshot, refreshed on the reader schedule and after each
// commit; a read waits until the snapshot holds its own session's
// acknowledged writes (read-your-writes). No call ever waits on a database
// lock.
package mcpserver

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "net/http"
import "slices"
import "sync"
import "sync/atomic"
import "time"

import "github.com/modelcontextprotocol/go-sdk/jsonrpc"
import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/oneline"
import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// Limits of read arguments (write arguments are capped by the job limits).
const (
	maxSearchQuery = 2048 // as the reference server
	maxCypher      = 64 << 10
	maxDepth       = reader.MaxDepth
	defaultScan    = 1000
)

// ResourceURI is the knowledge-graph resource, as the reference names it.
const ResourceURI = "memory://knowledge-graph"

// Options configures a Server.
type Options struct {
	Store  *snapshot.Store
	Config config.Config
	Log    *slog.Logger
	// Commit runs the writer once without waiting for the lock (skipped:
	// another writer holds it). When set and Config.MCP.CommitWhenIdle, the
	// server commits queued jobs itself as they arrive (group commit, see
	// producer.GroupCommitter); otherwise it leaves them to a daemon.
	Commit func(ctx context.Context) (sum writer.Summary, skipped bool, err error)
	// ReadOnly, when not nil, says why the store cannot be written (a
	// read-only filesystem, no write permission): the server serves reads,
	// every write tool answers a *ReadOnlyError, and nothing commits.
	ReadOnly error
	// Version is reported to clients.
	Version string
	// OnSwap, if set, is also called each time the server's reader serves
	// a newer snapshot (see reader.Options.OnSwap; it must not block).
	OnSwap func(seq uint64, took time.Duration)
	// QueryRunner, if set, runs the query tool's Cypher (a query worker
	// pool); nil runs it in this process.
	QueryRunner reader.QueryRunner
	// OnCall, if set, is called after each tools/call with the tool's name,
	// its outcome and how long it took. Outcome is "ok", "tool_error" (the
	// tool answered with an error: a rejected write, arguments that do not
	// fit its schema) or "error" (the call itself failed, such as a call to
	// a tool that does not exist, counted as tool "unknown").
	OnCall func(tool, outcome string, took time.Duration)
	// OnCallStart, if set with OnCall, is called as each tools/call begins,
	// with the tool's name as OnCall gets it; OnCall follows it once the
	// call ends.
	OnCallStart func(tool string)
	// PointView, if set, builds the store of the point of history an at
	// argument names (SEQ|TIME) in place of Store's own history: a --from
	// server's Store is a cache holding only part of the remote history,
	// so it resolves at against the remote location. done removes the
	// store. An at that names no point is an error wrapping
	// snapshot.ErrBadPoint or snapshot.ErrNoPoint.
	PointView func(ctx context.Context, at string) (view *snapshot.Store, done func(), err error)
}

// Server is one MCP server over a memsnap store. It is safe for the
// concurrent tool calls the SDK makes.
type Server struct {
	o   Options
	log *slog.Logger
	mcp *mcp.Server

	mu sync.Mutex     // guards r
	r  *reader.Reader // nil until a snapshot exists

	acker        *producer.Acker
	space        *writer.SpaceChecker          // whether the writer is blocked for lack of space, from any process
	committer    *producer.GroupCommitter      // nil: a daemon commits
	reconciledAt atomic.Uint64                 // the seq annotate last reconciled at
	tools        map[string]mcp.ToolHandler    // the registered tools' handlers, by name
	toolList     []*mcp.Tool                   // the registered tools, in registration order
	writesMu     sync.Mutex                    // guards lastWrite
	lastWrite    map[*mcp.ServerSession]string // each session's last acknowledged write (read-your-writes)
	timedOut     []string                      // jobs whose wait (mcp.write_ack applied) timed out; guarded by writesMu
	// swapped holds a pending notice that the reader serves a newer
	// snapshot, for notifyUpdates to pass on to subscribed clients.
	swapped chan struct{}
}

// New builds the server and registers its tools and resource.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, log: o.Log.With("component", "mcp"), swapped: make(chan struct{}, 1)}
	s.acker = producer.NewAcker(o.Store, o.Config.Job.Limits(), s.state).FollowQueue(s.queuedJobs)
	s.space = writer.NewSpaceChecker(o.Store, o.Config.WriterOptions())
	if o.Commit != nil && o.Config.MCP.CommitWhenIdle && o.ReadOnly == nil {
		s.committer = producer.NewGroupCommitter(o.Store, producer.GroupCommitOptions{
			Delay: o.Config.Writer.CommitDelay, Commit: o.Commit, Committed: s.committed, Log: o.Log, Space: s.space.Check})
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "memory-server", Title: "memsnap memory", Version: o.Version},
		&mcp.ServerOptions{Logger: slog.New(warnAndUp{s.log.Handler()}),
			// memory://knowledge-graph may be subscribed to: a subscribed
			// client is told (notifications/resources/updated) whenever the
			// server serves a newer snapshot, whichever process wrote it.
			SubscribeHandler:   s.checkSubscription,
			UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil }})
	s.register()
	if o.OnCall != nil {
		s.mcp.AddReceivingMiddleware(s.observeCalls)
	}
	s.mcp.AddReceivingMiddleware(s.encodeOnce) // outermost: it sees the result the others saw
	return s
}

// observeCalls is the receiving middleware that reports each tools/call to
// Options.OnCall.
func (s *Server) observeCalls(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		call, ok := req.(*mcp.CallToolRequest)
		if !ok || method != "tools/call" {
			return next(ctx, method, req)
		}
		// A tool that does not exist is counted as "unknown": what a
		// client sends must not become a label of its own.
		name := "unknown"
		if call.Params != nil && s.tools[call.Params.Name] != nil {
			name = call.Params.Name
		}
		if s.o.OnCallStart != nil {
			s.o.OnCallStart(name)
		}
		start := time.Now()
		res, err := next(ctx, method, req)
		outcome := "ok"
		if err != nil {
			outcome = "error"
		} else if r, ok := res.(*mcp.CallToolResult); ok && r.IsError {
			outcome = "tool_error"
		}
		s.o.OnCall(name, outcome, time.Since(start))
		return res, err
	}
}

// Run serves one client over t until it disconnects or ctx ends, then closes
// the snapshot it holds. While it runs, the server commits queued jobs as
// they arrive (unless a daemon is to do it).
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	stop := s.Start(ctx)
	defer stop()
	err := s.mcp.Run(ctx, t)
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// Start opens the reader and starts what runs beside the clients: the
// notices to subscribed clients and, unless a daemon is to do it, the group
// commits. The returned stop ends them, commits this server's acknowledged
// writes that no snapshot holds yet (waiting up to writer.lock_timeout) and closes the
// snapshot; call it once, after the last client is served. Run calls Start
// itself; HTTPHandler needs it called.
func (s *Server) Start(ctx context.Context) (stop func()) {
	if _, err := s.reader(ctx); err != nil {
		s.log.Warn("no snapshot to read yet", "error", err)
	}
	nctx, stopNotify := context.WithCancel(ctx)
	notified := make(chan struct{})
	go func() { defer close(notified); s.notifyUpdates(nctx) }()
	var cstop context.CancelFunc
	committed := make(chan struct{})
	if s.committer != nil {
		var cctx context.Context
		cctx, cstop = context.WithCancel(context.WithoutCancel(ctx))
		go func() { defer close(committed); s.committer.Run(cctx) }()
	}
	return func() {
		stopNotify()
		<-notified
		if s.committer != nil {
			cstop()
			<-committed
			s.flush(context.WithoutCancel(ctx))
		}
		s.Close()
	}
}

// HTTPHandler serves MCP over streamable HTTP (the MCP Go SDK's handlers),
// every protocol version on one endpoint, routed by the version a request
// carries (Stateless):
//   - 2026-07-28 and later, which is stateless (SEP-2575: no initialize
//     handshake, no Mcp-Session-Id; the version, client info and
//     capabilities in each request's _meta and the Mcp-Protocol-Version
//     header): the SDK's stateless handler, which serves those versions
//     only in that mode. Each request gets a session of its own for its
//     lifetime; live updates come as that version defines them, on a
//     subscriptions/listen request held open (resourceSubscriptions
//     memory://knowledge-graph: notifications/resources/updated), and a
//     call is cancelled when its HTTP request ends. A read waits for every
//     write this server acknowledged, as over stdio, since such a client
//     has no session of its own to wait for.
//   - earlier versions: the session handler (initialize, Mcp-Session-Id, a
//     GET stream for notifications); read-your-writes is per session
//     (awaitOwnWrites). A session idle for sessionIdle is closed.
//
// Both serve this one server and its reader. It does no authentication;
// the caller wraps it.
func (s *Server) HTTPHandler() http.Handler {
	logger := slog.New(warnAndUp{s.log.Handler()})
	get := func(*http.Request) *mcp.Server { return s.mcp }
	sessions := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{Logger: logger, SessionTimeout: sessionIdle})
	stateless := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{Logger: logger, Stateless: true,
		PropagateRequestCancellation: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Stateless(r) {
			stateless.ServeHTTP(w, r)
			return
		}
		sessions.ServeHTTP(w, r)
	})
}

// StatelessVersion is the first MCP protocol version without sessions
// (SEP-2575), which HTTPHandler serves statelessly.
const StatelessVersion = "2026-07-28"

// Headers of MCP's streamable HTTP transport.
const (
	versionHeader = "Mcp-Protocol-Version"
	methodHeader  = "Mcp-Method" // 2026-07-28: the request's method, which the SDK checks against the body
	metaVersion   = "io.modelcontextprotocol/protocolVersion"
)

// Stateless reports whether r speaks a stateless protocol version
// (StatelessVersion or later; versions are dates, which order as strings,
// as the SDK compares them): by its Mcp-Protocol-Version header, or, for a
// POST without one, by the _meta protocol version of its JSON-RPC request
// (a client that forgot the header; the stateless handler then answers
// the error that version defines). Reading the body, it puts it back.
func Stateless(r *http.Request) bool {
	if v := r.Header.Get(versionHeader); v != "" {
		return v >= StatelessVersion
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return false
	}
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
	if err != nil {
		return false
	}
	var msg struct {
		Params struct {
			Meta map[string]any `json:"_meta"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &msg) != nil {
		return false
	}
	v, _ := msg.Params.Meta[metaVersion].(string)
	return v >= StatelessVersion
}

// ListenRequest reports whether r is a 2026-07-28 subscriptions/listen
// request, a POST held open for notifications as a session's GET stream is
// before that version (serve caps both, serve.max_streams). It is told by
// its Mcp-Method header, which the SDK refuses when it does not match the
// body.
func ListenRequest(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get(versionHeader) >= StatelessVersion &&
		r.Header.Get(methodHeader) == "subscriptions/listen"
}

// errReader fails every read with err (nil: io.EOF).
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}

// CloseSessions ends every client session. A streamable HTTP session holds
// a GET stream open for notifications until it ends, so an HTTP server
// shutting down calls this once the calls in flight had a moment to finish.
func (s *Server) CloseSessions() {
	var open []*mcp.ServerSession
	for ss := range s.mcp.Sessions() {
		open = append(open, ss)
	}
	for _, ss := range open {
		_ = ss.Close()
	}
}

// sessionIdle is how long an HTTP session may go without a request before
// the server forgets it (a client then starts a new one).
const sessionIdle = 30 * time.Minute

// Reader returns the reader the server answers from, or nil while the store
// has no snapshot. The caller must not close it.
func (s *Server) Reader(ctx context.Context) (*reader.Reader, error) { return s.reader(ctx) }

// warnAndUp passes on the SDK's warnings and errors only: it logs each
// notification it sends at info level.
type warnAndUp struct{ slog.Handler }

func (h warnAndUp) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}
func (h warnAndUp) WithAttrs(as []slog.Attr) slog.Handler { return warnAndUp{h.Handler.WithAttrs(as)} }
func (h warnAndUp) WithGroup(n string) slog.Handler       { return warnAndUp{h.Handler.WithGroup(n)} }

// ReadOnlyError is the answer of every write tool of a server on a store
// it cannot write (Options.ReadOnly).
type ReadOnlyError struct {
	Store string // the store directory
	Err   error  // why it cannot be written
}

func (e *ReadOnlyError) Error() string {
	return fmt.Sprintf("the store %s is read-only (%v): writes are refused", e.Store, e.Err)
}

func (e *ReadOnlyError) Unwrap() error { return e.Err }

// checkSubscription accepts a subscription to the knowledge-graph resource,
// the one resource there is. Any other URI is answered -32602 (invalid
// params), as resources/read answers one: the MCP specification's code for
// an unknown resource (SEP-2164); an error without a code would go out as 0.
func (s *Server) checkSubscription(_ context.Context, req *mcp.SubscribeRequest) error {
	if req.Params == nil || req.Params.URI != ResourceURI {
		uri := ""
		if req.Params != nil {
			uri = req.Params.URI
		}
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams,
			Message: fmt.Sprintf("no resource %q to subscribe to (there is %s)", uri, ResourceURI),
			Data:    json.RawMessage(fmt.Sprintf(`{"uri":%q}`, uri))}
	}
	return nil
}

// noteSwap is the reader's OnSwap: it leaves a notice for notifyUpdates
// without blocking (one pending notice covers any number of swaps).
func (s *Server) noteSwap(seq uint64, took time.Duration) {
	if s.o.OnSwap != nil {
		s.o.OnSwap(seq, took)
	}
	select {
	case s.swapped <- struct{}{}:
	default:
	}
}

// notifyUpdates tells the clients subscribed to the knowledge-graph
// resource that it changed, after each swap to a newer snapshot, until ctx
// ends.
func (s *Server) notifyUpdates(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.swapped:
			if err := s.mcp.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: ResourceURI}); err != nil && ctx.Err() == nil {
				s.log.Warn("notify subscribers of the knowledge graph", "error", err)
			}
		}
	}
}

// flush commits, before the server exits, the writes it acknowledged that
// no snapshot holds yet, so that they do not wait for the next writer to
// come along. It waits writer.lock_timeout for the commits (a lock held by
// another process, a daemon committing or one that never will, is waited
// for that long, and the wait is said at once); what is still uncommitted
// then stays queued, durable, for the next commit, and a warning says so.
func (s *Server) flush(ctx context.Context) {
	if err := s.acker.Reconcile(ctx); err != nil {
		s.log.Debug("reconcile before exit", "error", err)
	}
	n := len(s.acker.Pending()) + len(s.TimedOut())
	if n == 0 {
		return
	}
	wait := s.o.Config.Writer.LockTimeout
	if h, locked, err := writer.Locked(s.o.Store); err == nil && locked {
		s.log.Warn("committing this server's queued writes before exiting: the writer lock is held, waiting for it (writer.lock_timeout)",
			"jobs", n, "holder_pid", h.PID, "wait", wait)
	} else {
		s.log.Info("committing this server's queued writes before exiting", "jobs", n)
	}
	dctx, cancel := context.WithTimeout(ctx, wait)
	s.committer.Drain(dctx)
	cancel()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := s.acker.Reconcile(rctx); err != nil {
		s.log.Debug("reconcile after the commits", "error", err)
	}
	if left := len(s.acker.Pending()); left > 0 {
		s.log.Warn("acknowledged writes left queued, durable: the next commit applies them (a running daemon, memsnap commit, or the next memsnap mcp)",
			"jobs", left, "waited", wait)
	}
}

// TimedOut returns the IDs of the jobs this server queued whose wait for
// their outcome (mcp.write_ack applied) timed out, oldest first: the stop
// Start returns commits them too.
func (s *Server) TimedOut() []string {
	s.writesMu.Lock()
	defer s.writesMu.Unlock()
	return slices.Clone(s.timedOut)
}

// Close releases the snapshot the server reads from.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
}

// reader returns the open reader, opening it once a snapshot exists. It
// returns nil, nil while the store has no snapshot: reads then see an empty
// memory.
func (s *Server) reader(ctx context.Context) (*reader.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r != nil {
		return s.r, nil
	}
	opts := s.o.Config.ReaderOptions()
	opts.OnSwap = s.noteSwap
	opts.Runner = s.o.QueryRunner
	r, err := reader.Open(ctx, s.o.Store, opts, s.o.Log)
	if errors.Is(err, snapshot.ErrNoSnapshot) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := r.StartRefresh(); err != nil {
		r.Close()
		return nil, err
	}
	s.r = r
	return r, nil
}

// state is the Acker's view of the newest snapshot this server reads.
func (s *Server) state(ctx context.Context, names, sources, ids []string) (*model.SnapshotState, error) {
	r, err := s.reader(ctx)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return &model.SnapshotState{Graph: &model.State{}, Outcomes: map[string]model.Outcome{}}, nil
	}
	// A prediction on a snapshot older than CURRENT misses what another
	// process published meanwhile: the reader moves on first, as its
	// reads do.
	if cur, err := s.o.Store.Current(); err == nil && cur > r.Seq() {
		if _, err := r.Refresh(ctx); err != nil {
			s.log.Debug("refresh for a prediction", "error", err)
		}
	}
	return r.State(ctx, names, sources, ids)
}

// queuedJobs is the queue as the server's reader follows it (the jobs the
// snapshot it serves does not hold), for the Acker (FollowQueue).
func (s *Server) queuedJobs(ctx context.Context) ([]model.QueuedJob, error) {
	r, err := s.reader(ctx)
	if err != nil || r == nil {
		return nil, err
	}
	return r.QueuedJobs()
}

// committed runs after each of this server's commits: it moves its reader to
// the new snapshot and settles the acknowledged jobs that snapshot holds.
func (s *Server) committed(sum writer.Summary) {
	if sum.Batches == 0 {
		return
	}
	ctx := context.Background()
	if r, err := s.reader(ctx); err == nil && r != nil {
		if _, err := r.Refresh(ctx); err != nil {
			s.log.Debug("refresh after commit", "error", err)
		}
	}
	if err := s.acker.Reconcile(ctx); err != nil {
		s.log.Debug("reconcile after commit", "error", err)
	}
}

// submit runs a write of the given ops. With mcp.write_ack durable (the
// default) it answers as soon as the job is queued, with the outcome the
// writer will give (producer.Acker); with applied, or when the outcome
// depends on other processes' queued jobs, it waits, bounded by
// mcp.write_timeout, until a published snapshot records the outcome. A
// rejected job becomes an error carrying the writer's reason, worded as the
// reference server words it.
func (s *Server) submit(ctx context.Context, ops ...map[string]any) (model.Outcome, error) {
	if s.o.ReadOnly != nil {
		return model.Outcome{}, &ReadOnlyError{Store: s.o.Store.Dir(), Err: s.o.ReadOnly}
	}
	data, err := json.Marshal(map[string]any{"ops": ops})
	if err != nil {
		return model.Outcome{}, fmt.Errorf("encode job: %w", err)
	}
	if s.o.Config.MCP.WriteAck == config.AckDurable {
		o, err := s.submitDurable(ctx, data)
		if !errors.Is(err, producer.ErrUncertain) {
			if err == nil {
				s.noteWrite(ctx, o.JobID)
			}
			return o, err
		}
	} else if err := s.retryRefused(ctx, func() error { return s.acker.Check(ctx, data) }); err != nil && !errors.Is(err, producer.ErrUncertain) {
		return model.Outcome{}, refusal(err) // as the writer would answer, queueing nothing
	}
	id, err := producer.Enqueue(s.o.Store, data, s.o.Config.Job.Limits())
	if err != nil {
		return model.Outcome{}, err
	}
	s.noteWrite(ctx, id)
	s.notify()
	o, err := s.waitApplied(ctx, id)
	if errors.Is(err, errLeftQueued) {
		// Answered "it stays queued and will apply": should the writer
		// reject it, a later answer says so, as for a write acknowledged
		// on durability.
		s.acker.Track(id, data)
	}
	if err != nil {
		return o, err
	}
	if o.Status == model.StatusRejected {
		return o, errors.New(userReason(o.Reason, o.Rejection))
	}
	return o, nil
}

// submitDurable acknowledges a job once it is durable (producer.Acker). A
// predicted rejection is checked once more against the newest snapshot
// before it is given, in case the reader lagged behind another process's
// commit.
func (s *Server) submitDurable(ctx context.Context, data []byte) (model.Outcome, error) {
	var ack producer.Ack
	err := s.retryRefused(ctx, func() (err error) { ack, err = s.acker.Submit(ctx, data); return err })
	if err != nil {
		return model.Outcome{}, refusal(err)
	}
	s.notify()
	return model.Outcome{JobID: ack.JobID, Status: model.StatusPending, Results: ack.Results}, nil
}

// refusal words a predicted rejection (*producer.RejectedError) as the
// reference server words it; other errors pass unchanged.
func refusal(err error) error {
	var rule *model.Rejection
	var rej *producer.RejectedError
	switch {
	case errors.As(err, &rule):
		return errors.New(rule.Message())
	case errors.As(err, &rej):
		return errors.New(rej.Reason)
	}
	return err
}

// retryRefused runs predict (an Acker call) and, if it refuses the job, runs
// it once more after moving the reader to the newest snapshot, in case the
// reader lagged behind another process's commit.
func (s *Server) retryRefused(ctx context.Context, predict func() error) error {
	err := predict()
	var rej *producer.RejectedError
	if errors.As(err, &rej) {
		if r, rerr := s.reader(ctx); rerr == nil && r != nil {
			if moved, _ := r.Refresh(ctx); moved {
				err = predict()
			}
		}
	}
	return err
}

// notify wakes the group committer, if this server commits.
func (s *Server) notify() {
	if s.committer != nil {
		s.committer.Notify()
	}
}

// WriterHealth says whether the writer can commit: blocked when the next
// queued job does not fit in the free space (computed here, whichever
// process writes), failing when this server's last commit failed for
// another reason or when its reader found CURRENT moved back to an older
// snapshot than the one it serves (snapshot.ErrCurrentBehind: it keeps
// serving the newer one).
func (s *Server) WriterHealth() writer.Health {
	var last error
	if s.committer != nil {
		last = s.committer.LastFailure()
	}
	if last == nil {
		s.mu.Lock()
		r := s.r
		s.mu.Unlock()
		if r != nil {
			if err := r.LastRefreshError(); errors.Is(err, snapshot.ErrCurrentBehind) {
				last = err
			}
		}
	}
	return s.space.Health(last)
}

// errLeftQueued is waitApplied's error when the wait ended with the job
// still queued: it applies later, and a later answer reports it should
// the writer reject it.
var errLeftQueued = errors.New("it stays queued and will apply, and should the writer reject it, a later answer says so")

// waitApplied waits up to mcp.write_timeout for job id's outcome. It stops
// at once, naming the cause, when the writer is blocked for lack of space:
// nothing applies until space is freed.
func (s *Server) waitApplied(ctx context.Context, id string) (model.Outcome, error) {
	wait := s.o.Config.MCP.WriteTimeout
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	o, err := s.waitFor(wctx, id)
	var ns *writer.NoSpaceError
	switch {
	case errors.As(err, &ns):
		return o, fmt.Errorf("job %s is queued but cannot apply yet: %s; %s (check with 'memsnap job %s')", id, ns.Cause(), ns.Hint(), id)
	case err != nil && ctx.Err() == nil && wctx.Err() != nil:
		s.writesMu.Lock()
		s.timedOut = append(s.timedOut, id)
		s.writesMu.Unlock()
		if h := s.WriterHealth(); h.State != writer.HealthOK {
			return o, fmt.Errorf("job %s is queued but was not applied within %s: the writer is %s: %s "+
				"(%w; check with 'memsnap job %s')", id, wait, h.State, h.Cause, errLeftQueued, id)
		}
		return o, fmt.Errorf("job %s is queued but was not applied within %s (is a writer running? "+
			"%w; check with 'memsnap job %s')", id, wait, errLeftQueued, id)
	}
	return o, err
}

// userReason is a rejection as the reference server words it: the memory
// rules' rejection without the writer's "op 0 (add_observations): "
// (model.Rejection.Message), else reason as the writer gave it.
func userReason(reason string, rej *model.Rejection) string {
	if rej != nil {
		return rej.Message()
	}
	return reason
}

// waitFor waits for job id's outcome (reader.WaitForJob), waking the group
// committer while it waits.
func (s *Server) waitFor(ctx context.Context, id string) (model.Outcome, error) {
	look := func(ctx context.Context) (model.Outcome, error) {
		r, err := s.reader(ctx)
		if err != nil {
			return model.Outcome{}, err
		}
		if r == nil {
			return reader.JobOutcome(ctx, s.o.Store, s.o.Config.Reader.Verify, id)
		}
		if _, rerr := r.Refresh(ctx); rerr != nil {
			s.log.Debug("refresh while waiting", "error", rerr)
		}
		return r.Job(ctx, id)
	}
	// A job still pending while the writer is blocked for lack of space
	// cannot apply before space is freed: the wait says so at once.
	lookOrBlocked := func(ctx context.Context) (model.Outcome, error) {
		o, err := look(ctx)
		if err == nil && o.Status == model.StatusPending {
			if serr := s.space.Check(); errors.Is(serr, writer.ErrNoSpace) {
				return o, serr
			}
		}
		return o, err
	}
	return reader.WaitForJob(ctx, id, lookOrBlocked, func(context.Context) (int, error) {
		s.notify()
		return 0, nil
	})
}

// awaitOwnWrites gives read-your-writes: a read waits, up to
// mcp.write_timeout, until the snapshot it reads holds every write its
// session acknowledged (over stdio there is one session: every write of this
// server). A session waits for its own writes only, so that one HTTP client
// writing often does not slow the reads of the others. It returns a note for
// the answer when the wait ran out (the read then answers from the snapshot
// it has).
func (s *Server) awaitOwnWrites(ctx context.Context) string {
	pending := s.acker.Pending()
	if len(pending) == 0 {
		return ""
	}
	// Jobs are claimed in queue order, so the last one applied means all are.
	last := pending[len(pending)-1]
	if sess := sessionOf(ctx); sess != nil {
		last = s.lastWriteOf(sess)
		if last == "" || !slices.Contains(pending, last) {
			return "" // applied (or rejected) already
		}
	}
	if _, err := s.waitApplied(ctx, last); err != nil {
		if ctx.Err() != nil {
			return ""
		}
		s.log.Warn("read does not wait longer for its own writes", "pending", len(pending), "error", err)
		return fmt.Sprintf("note: write(s) of this session are still queued and not in this answer (%v)", oneline.Fold(err.Error()))
	}
	if err := s.acker.Reconcile(ctx); err != nil {
		s.log.Debug("reconcile after wait", "error", err)
	}
	return ""
}

// settleOwnWrites is read-your-writes for the reads that answer with the
// queued writes: nothing waits. When this server's oldest pending write
// has left the queue, the snapshot holding its outcome is CURRENT (the
// writer removes a job only then): the reader moves to it now, so that the
// answer reconciles the write (annotate) and carries its late rejection,
// if any. While writes are pending and the writer cannot apply them
// (WriterHealth), it returns a note for the answer saying so. Before the
// store's first snapshot (a store mcp or serve created, which init did
// not publish an empty snapshot in) there is nothing to lay the queued
// writes over: the read waits for its session's writes (awaitOwnWrites).
func (s *Server) settleOwnWrites(ctx context.Context) (note string) {
	pending := s.acker.Pending()
	if len(pending) == 0 {
		return ""
	}
	r, err := s.reader(ctx)
	if err == nil && r == nil {
		return s.awaitOwnWrites(ctx)
	}
	held, herr := s.o.Store.Queue().Holds(pending[0])
	if herr == nil && !held {
		if err == nil {
			if _, err := r.Refresh(ctx); err != nil {
				s.log.Debug("refresh for a write that left the queue", "error", err)
			}
		}
		return ""
	}
	if h := s.WriterHealth(); h.State != writer.HealthOK {
		note = fmt.Sprintf("note: this answer shows this server's queued writes (%d), which cannot apply yet: the writer is %s: %s",
			len(pending), h.State, h.Cause)
		if h.Hint != "" {
			note += "; " + h.Hint
		}
	}
	return note
}

// queueBeyondReads is the note of a read whose answer lacks acknowledged
// writes: more jobs wait in the queue than a read applies
// (reader.MaxOverlayJobs); "" otherwise.
func (s *Server) queueBeyondReads(ctx context.Context) string {
	r, err := s.reader(ctx)
	if err != nil || r == nil {
		return ""
	}
	jobs, err := r.QueuedJobs()
	if err != nil || len(jobs) <= reader.MaxOverlayJobs {
		return ""
	}
	return fmt.Sprintf("note: %d acknowledged writes wait in the queue; this answer shows the first %d, the rest show as the writer applies them",
		len(jobs), reader.MaxOverlayJobs)
}

// sessionKey is the context key of the MCP session a call came in on.
type sessionKey struct{}

// withSession records the call's session in ctx for read-your-writes. A
// session without an id (a stateless 2026-07-28 request's, which lasts one
// request; stdio's one session) is not recorded: its reads wait for every
// write this server acknowledged.
func withSession(ctx context.Context, sess *mcp.ServerSession) context.Context {
	if sess == nil || sess.ID() == "" {
		return ctx
	}
	return context.WithValue(ctx, sessionKey{}, sess)
}

func sessionOf(ctx context.Context) *mcp.ServerSession {
	sess, _ := ctx.Value(sessionKey{}).(*mcp.ServerSession)
	return sess
}

// lastWriteOf is the job id of the last write session sess acknowledged, ""
// for none.
func (s *Server) lastWriteOf(sess *mcp.ServerSession) string {
	s.writesMu.Lock()
	defer s.writesMu.Unlock()
	return s.lastWrite[sess]
}

// noteWrite records job id as the last write of the call's session. Entries
// of sessions whose last write has left the pending list are dropped once
// there are many, so that sessions that come and go leave nothing behind.
func (s *Server) noteWrite(ctx context.Context, id string) {
	sess := sessionOf(ctx)
	if sess == nil || id == "" {
		return
	}
	s.writesMu.Lock()
	defer s.writesMu.Unlock()
	if s.lastWrite == nil {
		s.lastWrite = map[*mcp.ServerSession]string{}
	}
	if len(s.lastWrite) >= maxTrackedSessions {
		pending := s.acker.Pending()
		for k, v := range s.lastWrite {
			if !slices.Contains(pending, v) {
				delete(s.lastWrite, k)
			}
		}
	}
	s.lastWrite[sess] = id
}

// maxTrackedSessions is how many sessions' last writes are kept before the
// settled ones are dropped.
const maxTrackedSessions = 256

// jsonText renders v as the reference server does: JSON indented by two.
func jsonText(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("unprintable answer: %v", err)
	}
	return string(b)
}

// answer is a tool result whose text is v as indented JSON and whose
// metadata names the snapshot it was read from.
func answer(v any, snap uint64) *mcp.CallToolResult { return textAnswer(jsonText(v), snap) }

// textAnswer is a tool result with the text msg and the snapshot in its
// metadata.
func textAnswer(msg string, snap uint64) *mcp.CallToolResult {
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: msg}}}
	if snap > 0 {
		res.Meta = mcp.Meta{"memsnap/snapshot": snap}
	}
	return res
}
