package connguard

import "context"
import "net"
import "net/http"
import "testing"
import "time"

// pipeConn is a net.Conn that records whether it was closed.
type pipeConn struct {
	net.Conn
	closed bool
}

func (c *pipeConn) Close() error { c.closed = true; return c.Conn.Close() }

// accept makes a connection arrive at g in state st, authenticated or not.
func accept(t *testing.T, g *Guard, st http.ConnState, authd bool) *pipeConn {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := &pipeConn{Conn: a}
	ctx := g.connContext(context.Background(), c)
	g.connState(c, http.StateNew)
	if st != http.StateNew && !c.closed {
		g.connState(c, st)
	}
	if authd {
		r, _ := http.NewRequestWithContext(ctx, "GET", "/", nil)
		Authenticated(httptestRecorder{}, r)
	}
	return c
}

type httptestRecorder struct{ http.ResponseWriter }

func (httptestRecorder) Header() http.Header { return http.Header{} }

// At the cap, the connection closed is the oldest without the token that is
// not in a request; then the oldest without the token; then the oldest idle
// one with it; and the new one when every other one is busy with the token.
func TestMakeRoomOrder(t *testing.T) {
	g := New(Options{MaxConns: 3, MaxStreams: 1, HeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, IdleTimeout: time.Second})
	authIdle := accept(t, g, http.StateIdle, true)
	anonBusy := accept(t, g, http.StateActive, false)
	anonNew := accept(t, g, http.StateNew, false)
	if authIdle.closed || anonBusy.closed || anonNew.closed || g.Open() != 3 {
		t.Fatalf("below the cap something was closed, %d open", g.Open())
	}
	authBusy := accept(t, g, http.StateActive, true) // the fourth: one must go
	if !anonNew.closed || anonBusy.closed || authIdle.closed {
		t.Errorf("first: want the waiting connection without the token closed")
	}
	authBusy2 := accept(t, g, http.StateActive, true)
	if !anonBusy.closed || authIdle.closed {
		t.Errorf("second: want the busy connection without the token closed")
	}
	_ = accept(t, g, http.StateActive, true)
	if !authIdle.closed || authBusy.closed || authBusy2.closed {
		t.Errorf("third: want the idle connection with the token closed")
	}
	last := accept(t, g, http.StateNew, false)
	if !last.closed || authBusy.closed || authBusy2.closed {
		t.Errorf("fourth: every other one busy with the token: want the new one closed")
	}
	if anon, authd := g.Evicted(); anon != 3 || authd != 1 {
		t.Errorf("evicted %d without and %d with the token, want 3 and 1", anon, authd)
	}
	if g.Open() != 3 {
		t.Errorf("%d open, want 3", g.Open())
	}
}

func TestStreamCap(t *testing.T) {
	g := New(Options{MaxConns: 2, MaxStreams: 1})
	release, err := g.Stream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Stream(); err == nil {
		t.Errorf("a second stream beyond MaxStreams 1 was let in")
	}
	release()
	release() // idempotent
	if g.Streams() != 0 {
		t.Errorf("%d streams open after release", g.Streams())
	}
}
