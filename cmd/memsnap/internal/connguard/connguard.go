// Package connguard keeps an HTTP server answering under hostile
// connections: it caps the open connections and the event streams, drops
// the connections that never carried the token first, and bounds how long a
// request body may take to arrive and each write of an answer may take.
//
// A Guard is wired into an http.Server by Configure; the handler that
// checks the token calls Authenticated with the request's context.
//
// The rules, with the Options that set them:
//   - at most MaxConns connections are open: one accepted at the cap closes
//     the oldest connection that never carried the token and is not in a
//     request (it sent nothing yet, or it is idle); else the oldest that
//     never carried the token; if every connection did, the oldest idle one;
//     if none is idle, the new one. So a flood of connections without the token costs an
//     authenticated client nothing, and a new one (/healthz included) always
//     gets in.
//   - a connection that has not carried the token serves one request and is
//     closed ("Connection: close"); one that never sends its headers is
//     closed after HeaderTimeout (http.Server.ReadHeaderTimeout);
//   - a request body must arrive within ReadTimeout plus one second per
//     MinBodyRate bytes it declares; a chunked one, whose length is not
//     known, within ReadTimeout plus one second per MinBodyRate bytes
//     arrived so far (the deadline moves on as it arrives, so it too must
//     keep MinBodyRate on average; timing it as serve.max_body_bytes long
//     held a 1 byte/s body for a minute). A late body ends its connection;
//   - each write of an answer (each event of a stream) must finish within
//     WriteTimeout; a deadline set per write, not http.Server.WriteTimeout,
//     which would end long-lived event streams;
//   - at most MaxStreams event streams are open at once (Stream); one more
//     gets the status LimitStreams is given.
package connguard

import "context"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "net"
import "net/http"
import "sync"
import "sync/atomic"
import "time"

// MinBodyRate is the slowest a request body may arrive, in bytes per second
// beyond Options.ReadTimeout: 64 KiB/s.
const MinBodyRate = 64 << 10

// Options configures a Guard. Every field must be positive.
type Options struct {
	MaxConns      int           // open connections (serve.max_conns)
	MaxStreams    int           // open event streams (serve.max_streams)
	HeaderTimeout time.Duration // to send a request's headers (serve.header_timeout)
	ReadTimeout   time.Duration // for a body, beyond its size at MinBodyRate (serve.read_timeout)
	WriteTimeout  time.Duration // for each write of an answer (serve.write_timeout)
	IdleTimeout   time.Duration // a kept-alive connection without a request (serve.idle_timeout)
	Log           *slog.Logger
}

// Guard tracks one http.Server's connections.
type Guard struct {
	o   Options
	log *slog.Logger

	mu    sync.Mutex              // guards conns and seq
	conns map[net.Conn]*connEntry // open connections, by the accepted net.Conn
	seq   uint64                  // accept order
	evict [2]atomic.Int64         // connections closed to make room: [0] never carried the token, [1] did
	strm  chan struct{}           // a token per open event stream
}

// connEntry is one open connection.
type connEntry struct {
	conn  net.Conn
	seq   uint64         // accept order: lower is older
	state http.ConnState // guarded by Guard.mu
	authd atomic.Bool    // a request on it carried the token
}

// New returns a Guard with options o.
func New(o Options) *Guard {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{o: o, log: log.With("component", "connguard"), conns: map[net.Conn]*connEntry{}, strm: make(chan struct{}, o.MaxStreams)}
}

// Configure sets hs's timeouts and connection hooks, and wraps its handler.
// Call it once, before hs serves.
func (g *Guard) Configure(hs *http.Server) {
	hs.ReadHeaderTimeout = g.o.HeaderTimeout
	hs.IdleTimeout = g.o.IdleTimeout
	hs.ConnContext = g.connContext
	hs.ConnState = g.connState
	hs.Handler = g.handler(hs.Handler)
}

// Evicted is how many connections were closed to make room for newer ones:
// those that never carried the token, and those that did.
func (g *Guard) Evicted() (anonymous, authenticated int64) {
	return g.evict[0].Load(), g.evict[1].Load()
}

// Streams is how many event streams are open.
func (g *Guard) Streams() int { return len(g.strm) }

// Open is how many connections are open.
func (g *Guard) Open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

type ctxKey struct{}

// Authenticated marks the connection of r, a request that carried the
// token, as one that did: it is kept alive and dropped last. Call it before
// writing the answer to r on w.
func Authenticated(w http.ResponseWriter, r *http.Request) {
	if e, ok := r.Context().Value(ctxKey{}).(*connEntry); ok && !e.authd.Load() {
		e.authd.Store(true)
		w.Header().Del("Connection")
	}
}

// connContext registers a connection just accepted (before connState sees
// it as new) and keeps it in its requests' contexts.
func (g *Guard) connContext(ctx context.Context, c net.Conn) context.Context {
	g.mu.Lock()
	g.seq++
	e := &connEntry{conn: c, seq: g.seq, state: http.StateNew}
	g.conns[c] = e
	g.mu.Unlock()
	return context.WithValue(ctx, ctxKey{}, e)
}

// accepted is the net.Conn that connContext saw: TLS connections are passed
// to ConnState as the *tls.Conn over it.
func accepted(c net.Conn) net.Conn {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = u.NetConn()
	}
}

func (g *Guard) connState(c net.Conn, st http.ConnState) {
	c = accepted(c)
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.conns[c]
	if !ok { // closed to make room already
		return
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(g.conns, c)
		return
	case http.StateNew:
		g.makeRoom(e)
	}
	e.state = st
}

// makeRoom closes connections until there are no more than MaxConns,
// newest e included. g.mu is held.
func (g *Guard) makeRoom(e *connEntry) {
	for len(g.conns) > g.o.MaxConns {
		// The oldest of each class, in the order they are dropped.
		var anonWaiting, anonBusy, idle *connEntry
		older := func(a, b *connEntry) *connEntry {
			if a == nil || b.seq < a.seq {
				return b
			}
			return a
		}
		for _, o := range g.conns {
			switch {
			case o == e:
			case !o.authd.Load() && o.state != http.StateActive:
				anonWaiting = older(anonWaiting, o)
			case !o.authd.Load():
				anonBusy = older(anonBusy, o)
			case o.state == http.StateIdle:
				idle = older(idle, o)
			}
		}
		victim := e // if every other one is busy with an authenticated request
		for _, v := range []*connEntry{anonWaiting, anonBusy, idle} {
			if v != nil {
				victim = v
				break
			}
		}
		delete(g.conns, victim.conn)
		_ = victim.conn.Close()
		authd := victim.authd.Load()
		i := 0
		if authd {
			i = 1
		}
		if n := g.evict[i].Add(1); n&(n-1) == 0 { // 1, 2, 4, 8...: a flood logs a few lines
			g.log.Warn("at the connection cap: closed a connection to make room (serve.max_conns)",
				"max_conns", g.o.MaxConns, "closed_so_far", n, "authenticated", authd)
		}
		if victim == e {
			return
		}
	}
}

// handler applies the per-request rules, then calls next.
func (g *Guard) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if e, ok := r.Context().Value(ctxKey{}).(*connEntry); ok && !e.authd.Load() {
			// Until a request carries the token: one request per
			// connection. The token check removes this when it passes.
			w.Header().Set("Connection", "close")
			defer func() {
				if !e.authd.Load() {
					// Answered: net/http would still read what is left of
					// the body (up to 256 KiB) before closing; do not wait.
					_ = rc.SetReadDeadline(time.Now())
				}
			}()
		}
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			start := time.Now()
			b := &deadlineBody{ReadCloser: r.Body, rc: rc}
			if r.ContentLength > 0 {
				_ = rc.SetReadDeadline(start.Add(g.o.ReadTimeout + time.Duration(r.ContentLength/MinBodyRate)*time.Second))
			} else {
				// Chunked: the length is unknown, so the deadline grows
				// with what has arrived (see deadlineBody.Read).
				b.start, b.grace = start, g.o.ReadTimeout
				_ = rc.SetReadDeadline(start.Add(g.o.ReadTimeout))
			}
			r.Body = b
		}
		dw := &deadlineWriter{ResponseWriter: w, rc: rc, d: g.o.WriteTimeout}
		next.ServeHTTP(dw, r)
		// What net/http writes once the handler returns (the buffered rest,
		// the end of a chunked body) gets its own WriteTimeout.
		dw.arm()
	})
}

// ErrTooManyStreams is returned by Stream when MaxStreams are open.
var ErrTooManyStreams = errors.New("connguard: too many event streams")

// Stream takes one of the MaxStreams event stream places; release gives it
// back. ErrTooManyStreams when none is free.
func (g *Guard) Stream() (release func(), err error) {
	select {
	case g.strm <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-g.strm }) }, nil
	default:
		return nil, fmt.Errorf("%w (serve.max_streams %d)", ErrTooManyStreams, g.o.MaxStreams)
	}
}

// LimitStreams wraps h (a handler of event streams) so that each request takes a
// stream place, or gets status full (with Retry-After) when none is free.
// Only requests for which isStream is true take one.
func (g *Guard) LimitStreams(h http.Handler, isStream func(*http.Request) bool, full int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStream(r) {
			h.ServeHTTP(w, r)
			return
		}
		release, err := g.Stream()
		if err != nil {
			w.Header().Set("Retry-After", "5")
			http.Error(w, fmt.Sprintf("%d %s", full, err.Error()), full)
			return
		}
		defer release()
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the body's read deadline once it was read whole, so
// that an answer streamed after it is not cut (net/http reads on to tell
// when the client goes away).
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
	// For a chunked body (start set): its deadline is start + grace + one
	// second per MinBodyRate bytes arrived so far, moved on at each read.
	start time.Time
	grace time.Duration
	got   int64
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	} else if n > 0 && !b.start.IsZero() && !b.done {
		b.got += int64(n)
		_ = b.rc.SetReadDeadline(b.start.Add(b.grace + time.Duration(b.got)*time.Second/MinBodyRate))
	}
	return n, err
}

// deadlineWriter gives each write of the answer WriteTimeout to finish.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) arm() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.d)) }

func (w *deadlineWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(p)
}

func (w *deadlineWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *deadlineWriter) FlushError() error {
	w.arm()
	return w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
