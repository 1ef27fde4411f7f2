// Package web is 'memsnap serve': MCP over streamable HTTP on /mcp, a
// read-only dashboard on /, Prometheus metrics on /metrics and /healthz,
// from one long-lived reader process. Every endpoint but /healthz needs the
// server's token (see LoadToken and requireToken). Cross-origin requests
// that could change anything are refused (net/http's CrossOriginProtection)
// and no CORS headers are sent, so other sites' pages cannot call it.
package web

import "bytes"
import "cmp"
import "context"
import "embed"
import "io"
import "io/fs"
import "log/slog"
import "net/http"
import "strconv"
import "strings"
import "time"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/connguard"
import "github.com/memsnap/memsnap/cmd/memsnap/internal/linerpc"
import "github.com/memsnap/memsnap/cmd/memsnap/internal/mcpserver"
import "github.com/memsnap/memsnap/cmd/memsnap/internal/metrics"
import "github.com/memsnap/memsnap/snapshot"

//go:embed assets templates
var files embed.FS

// Options configures a Server.
type Options struct {
	Store *snapshot.Store
	// MCP answers /mcp, and its reader answers the dashboard. The caller
	// starts it (mcpserver.Server.Start) and passes Swapped to its OnSwap.
	MCP *mcpserver.Server
	// Metrics is served on /metrics.
	Metrics *metrics.Metrics
	// Token is required on every endpoint but /healthz.
	Token string
	// Port is the port serve listens on; it names the browser's cookie
	// (CookieName).
	Port string
	// CookieMaxAge is how long the browser keeps the token cookie
	// (serve.cookie_max_age), whole seconds; 0 means DefaultCookieMaxAge.
	CookieMaxAge time.Duration
	// MaxBodyBytes caps a request body; a larger one gets 413.
	MaxBodyBytes int64
	// Guard caps the event streams (/events and the MCP sessions' GET
	// streams) and learns which connections carried the token. nil: no cap.
	Guard *connguard.Guard
	Log   *slog.Logger
}

// Server is serve's HTTP handler.
type Server struct {
	o    Options
	log  *slog.Logger
	hub  *hub
	mux  *http.ServeMux
	page *pages
}

// New builds the handler and its routes.
func New(o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	pg, err := newPages()
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, log: o.Log.With("component", "http"), hub: newHub(), mux: http.NewServeMux(), page: pg}
	assets, err := fs.Sub(files, "assets")
	if err != nil {
		return nil, err
	}
	cookie := tokenCookie{name: CookieName(o.Port), maxAge: cmp.Or(o.CookieMaxAge, DefaultCookieMaxAge)}
	auth := func(h http.Handler) http.Handler { return requireToken(o.Token, cookie, h) }
	s.mux.Handle("GET /healthz", metrics.Healthz(o.Store, o.MCP.WriterHealth))
	s.mux.Handle("GET /metrics", auth(o.Metrics.Handler()))
	streams := func(h http.Handler, isStream func(*http.Request) bool, full int) http.Handler {
		if o.Guard == nil {
			return h
		}
		return o.Guard.LimitStreams(h, isStream, full)
	}
	always := func(*http.Request) bool { return true }
	mcpGET := func(r *http.Request) bool { return r.Method == http.MethodGet } // a session's notification stream
	// At serve.max_streams, an MCP session's GET stream gets 405, which the
	// streamable HTTP transport defines as "no stream here": the session
	// goes on without notifications (any other status may end it). A
	// 2026-07-28 subscriptions/listen request (a POST held open) gets 503
	// with Retry-After, as a dashboard's /events does.
	mcpStreams := streams(streams(o.MCP.HTTPHandler(), mcpGET, http.StatusMethodNotAllowed),
		mcpserver.ListenRequest, http.StatusServiceUnavailable)
	s.mux.Handle("/mcp", auth(checkMCP(mcpStreams)))
	s.mux.Handle("GET /events", auth(streams(s.hub.events(s.seq), always, http.StatusServiceUnavailable)))
	s.mux.Handle("GET /assets/", auth(http.StripPrefix("/assets/", cacheFor(time.Hour, filesOnly(http.FileServerFS(assets))))))
	s.mux.Handle("GET /{$}", auth(s.handle(s.overview)))
	s.mux.Handle("GET /search", auth(s.handle(s.search)))
	s.mux.Handle("GET /entity", auth(s.handle(s.entity)))
	s.mux.Handle("GET /entities", auth(s.handle(s.entities)))
	s.mux.Handle("GET /graph", auth(s.handle(s.graphView)))
	s.mux.Handle("GET /graph.json", auth(http.HandlerFunc(s.graphData)))
	s.mux.Handle("GET /snapshots", auth(s.handle(s.snapshots)))
	s.mux.Handle("GET /queue", auth(s.handle(s.queue)))
	return s, nil
}

// ServeHTTP caps the request body and refuses cross-origin requests that are
// not safe (GET, HEAD, OPTIONS) before routing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > s.o.MaxBodyBytes {
		http.Error(w, "413 request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes)
	crossOrigin.Handler(s.mux).ServeHTTP(w, r)
}

var crossOrigin = http.NewCrossOriginProtection()

// Swapped is the MCP server's OnSwap: it tells the dashboards listening on
// /events.
func (s *Server) Swapped(seq uint64, _ time.Duration) { s.hub.publish(seq) }

// Shutdown ends the /events streams, which would otherwise hold
// http.Server.Shutdown until they time out. Register it with
// http.Server.RegisterOnShutdown.
func (s *Server) Shutdown() { s.hub.close() }

// seq is the snapshot the server reads, 0 before there is one.
func (s *Server) seq() uint64 {
	r, err := s.o.MCP.Reader(context.Background())
	if err != nil || r == nil {
		return 0
	}
	return r.Seq()
}

// checkMCP answers a POST to /mcp whose body linerpc.CheckBody refuses (not
// UTF-8, an unpaired surrogate escape, not JSON, no JSON-RPC 2.0 message,
// an empty batch, an id the reply would not carry back exactly, or null)
// with that JSON-RPC error, id null (or the message's, when valid) and HTTP
// 400, as 'memsnap mcp' answers such a line; the SDK would
// store the text as U+FFFD, answer 1.5 as 1, and answer a body that is not
// JSON in plain text. Other requests and bodies reach h unchanged. The
// body is already capped (ServeHTTP), and the SDK reads it whole anyway.
func checkMCP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			// The SDK meets the same failure (a body over the cap, a
			// connection gone) and answers it as it does.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
			h.ServeHTTP(w, r)
			return
		}
		if e, id := linerpc.CheckBody(body); e != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(linerpc.ErrorReply(e, id))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// filesOnly answers 404 for a directory, which http.FileServer would list.
func filesOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// cacheFor lets browsers keep the embedded assets for d.
func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age="+strconv.Itoa(int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}
