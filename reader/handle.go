package reader

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memsnap/memsnap/internal/graphdb"
	"github.com/memsnap/memsnap/internal/kvstore"
	"github.com/memsnap/memsnap/snapshot"
)

// handle is one open snapshot. It starts with one reference, owned by the
// Reader while it is current; each query holds one more. It closes when the
// count drops to zero.
type handle struct {
	seq      uint64
	manifest *snapshot.Manifest
	opened   time.Time
	pin      *snapshot.Pin
	graph    *graphdb.DB
	kv       *kvstore.DB
	refs     atomic.Int64
	// release closes the handle once its last reference is gone; the
	// Reader sets it to close in the background, off the query path.
	release func(*handle)

	mu    sync.Mutex // guards conns
	conns []*graphdb.Conn
}

// pinVerified pins CURRENT's snapshot and checks the files check covers
// (store.VerifyFiles or store.VerifyKV) as verify (reader.verify) says. A
// damaged snapshot is refused before Kuzu or Pebble see it: a flipped byte
// could otherwise be served as data or crash the engine. The caller releases
// the pin.
func pinVerified(store *snapshot.Store, verify string, check func(*snapshot.Manifest, bool) []error) (*snapshot.Pin, *snapshot.Manifest, error) {
	pin, err := store.PinCurrent()
	if err != nil {
		return nil, nil, err
	}
	seq := pin.Seq()
	m, err := store.Manifest(seq)
	if err != nil {
		pin.Release()
		return nil, nil, snapshot.VerifyError(seq, []error{err})
	}
	if verify != "off" {
		if err := snapshot.VerifyError(seq, check(m, verify == "full")); err != nil {
			pin.Release()
			return nil, nil, err
		}
	}
	return pin, m, nil
}

func openHandle(store *snapshot.Store, o graphdb.Options, verify string, log *slog.Logger) (h *handle, err error) {
	pin, m, err := pinVerified(store, verify, store.VerifyFiles)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			pin.Release()
		}
	}()
	seq := pin.Seq()
	dir := store.SnapshotDir(seq)
	o.ReadOnly = true
	g, err := graphdb.Open(filepath.Join(dir, snapshot.GraphFile), o)
	if err != nil {
		return nil, fmt.Errorf("open snapshot %d: %w", seq, err)
	}
	kv, err := kvstore.OpenRO(filepath.Join(dir, snapshot.KVDir), log)
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("open snapshot %d: %w", seq, err)
	}
	h = &handle{seq: seq, manifest: m, opened: time.Now(), pin: pin, graph: g, kv: kv}
	h.refs.Store(1)
	return h, nil
}

// tryRef takes a reference unless the handle has already closed.
func (h *handle) tryRef() bool {
	for {
		n := h.refs.Load()
		if n <= 0 {
			return false
		}
		if h.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// unref drops a reference and releases the handle with the last one.
func (h *handle) unref() {
	if h.refs.Add(-1) == 0 {
		if h.release != nil {
			h.release(h)
			return
		}
		h.close()
	}
}

func (h *handle) close() {
	h.mu.Lock()
	for _, c := range h.conns {
		c.Close()
	}
	h.conns = nil
	h.mu.Unlock()
	h.graph.Close()
	h.kv.Close()
	h.pin.Release()
}

// conn borrows a Kuzu connection; give it back with putConn.
func (h *handle) conn() (*graphdb.Conn, error) {
	h.mu.Lock()
	if n := len(h.conns); n > 0 {
		c := h.conns[n-1]
		h.conns = h.conns[:n-1]
		h.mu.Unlock()
		return c, nil
	}
	h.mu.Unlock()
	return h.graph.Conn()
}

func (h *handle) putConn(c *graphdb.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.conns) < 4 {
		h.conns = append(h.conns, c)
		return
	}
	c.Close()
}
