// Package mcpserver is memsnap's MCP server: the tools of the reference
// knowledge-graph memory server (same names, argument schemas and answer
// shapes) plus neighbors, query, kv_get, kv_put, kv_scan and memory_status,
// over one memsnap store shared with any number of other processes.
//
// Writes become queued jobs; a write tool answers once its job is applied
// (or rejected, with the reason), committing the queue itself through a
// short-lived writer process when no other writer is running. Reads answer
// from the current snapshot, refreshed on the reader schedule and right after
// the server's own writes. No call ever waits on a database lock.
package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memsnap/memsnap/config"
	"github.com/memsnap/memsnap/internal/model"
	"github.com/memsnap/memsnap/reader"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

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
	// Commit runs the writer once, skipping at once if another writer holds
	// the lock. Write tools call it while their job waits and no writer is
	// running (when Config.MCP.CommitWhenIdle). Nil: wait for a daemon.
	Commit func(ctx context.Context) error
	// Version is reported to clients.
	Version string
}

// Server is one MCP server over a memsnap store. It is safe for the
// concurrent tool calls the SDK makes.
type Server struct {
	o   Options
	log *slog.Logger
	mcp *mcp.Server

	mu sync.Mutex     // guards r
	r  *reader.Reader // nil until a snapshot exists

	commitMu sync.Mutex // one commit attempt at a time from this process
}

// New builds the server and registers its tools and resource.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, log: o.Log.With("component", "mcp")}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "memory-server", Title: "memsnap memory", Version: o.Version},
		&mcp.ServerOptions{Logger: s.log})
	s.register()
	return s
}

// Run serves one client over t until it disconnects or ctx ends, then closes
// the snapshot it holds.
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	defer s.Close()
	if _, err := s.reader(ctx); err != nil {
		s.log.Warn("no snapshot to read yet", "error", err)
	}
	err := s.mcp.Run(ctx, t)
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
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
	r, err := reader.Open(ctx, s.o.Store, s.o.Config.ReaderOptions(), s.o.Log)
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

// submit enqueues a job of the given ops and waits, bounded by
// mcp.write_timeout, until a published snapshot records its outcome. A
// rejected job becomes an error carrying the writer's reason, worded as the
// reference server words it.
func (s *Server) submit(ctx context.Context, ops ...map[string]any) (model.Outcome, error) {
	data, err := json.Marshal(map[string]any{"ops": ops})
	if err != nil {
		return model.Outcome{}, fmt.Errorf("encode job: %w", err)
	}
	id, err := writer.Enqueue(s.o.Store, data, s.o.Config.Job.Limits())
	if err != nil {
		return model.Outcome{}, err
	}
	wait := s.o.Config.MCP.WriteTimeout
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	o, err := s.waitFor(wctx, id)
	if err != nil {
		if ctx.Err() == nil && wctx.Err() != nil {
			return o, fmt.Errorf("job %s is queued but was not applied within %s (is a writer running? "+
				"it stays queued and will apply; check with 'memsnap job %s')", id, wait, id)
		}
		return o, err
	}
	if o.Status == model.StatusRejected {
		return o, errors.New(userReason(o.Reason))
	}
	return o, nil
}

var opPrefix = regexp.MustCompile(`^op \d+ \([a-z_]+\): `)

// userReason strips the job-level prefix ("op 0 (add_observations): ") from a
// rejection reason, leaving the reference server's wording.
func userReason(reason string) string { return opPrefix.ReplaceAllString(reason, "") }

// waitFor waits for job id's outcome (reader.WaitForJob), committing the
// queue itself when nobody else writes.
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
	return reader.WaitForJob(ctx, id, look, s.commitIfIdle)
}

// commitIfIdle is the server's commit policy: it runs the writer when
// nobody else is (no other writer holds the lock and no other call of this
// server is committing). A failed commit is logged, not returned: the job
// stays queued and the wait goes on. It reports 0 jobs, since the child
// commit's count is not known here.
func (s *Server) commitIfIdle(ctx context.Context) (int, error) {
	if s.o.Commit == nil || !s.o.Config.MCP.CommitWhenIdle {
		return 0, nil
	}
	if !s.commitMu.TryLock() {
		return 0, nil
	}
	defer s.commitMu.Unlock()
	if _, locked, err := writer.Locked(s.o.Store); err != nil || locked {
		return 0, nil
	}
	if err := s.o.Commit(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("commit failed", "error", err)
	}
	return 0, nil
}

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
