package reader

import "fmt"
import "log/slog"
import "path/filepath"
import "sync"
import "sync/atomic"
import "time"

import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/graphindex"
import "github.com/memsnap/memsnap/internal/kvstore"
import "github.com/memsnap/memsnap/internal/sysinfo"
import "github.com/memsnap/memsnap/snapshot"

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

	textMu sync.Mutex       // serialises the search index's build
	text   *graphindex.View // the snapshot's search index, built on first search; guarded by textMu
}

// pinVerified pins CURRENT's snapshot and checks the files check covers
// (store.VerifyFiles or store.VerifyKV) as verify (reader.verify) says. A
// damaged snapshot is refused before Kuzu or Pebble see it: a flipped byte
// could otherwise be served as data or crash the engine. A snapshot of a
// newer format is refused with a *snapshot.NewerFormatError. With a memo
// (a long-lived Reader), a snapshot that failed before is not checked
// again until its retry time (see verifyMemo). The caller releases the pin.
func pinVerified(store *snapshot.Store, verify string, check func(*snapshot.Manifest, bool) []error, memo *verifyMemo) (*snapshot.Pin, *snapshot.Manifest, error) {
	pin, err := store.PinCurrent()
	if err != nil {
		return nil, nil, err
	}
	seq := pin.Seq()
	m, sum, err := store.ManifestSum(seq)
	if ferr := memo.admit(seq, sum); ferr != nil {
		pin.Release()
		return nil, nil, ferr
	}
	switch {
	case err != nil:
		err = snapshot.VerifyError(seq, []error{err})
	case verify != "off":
		err = snapshot.VerifyError(seq, check(m, verify == "full"))
	}
	if err = memo.done(seq, sum, err); err != nil {
		pin.Release()
		return nil, nil, err
	}
	return pin, m, nil
}

// A Reader does not re-read a snapshot that failed verification on every
// refresh tick: with reader.verify=full that is a checksum of the whole
// snapshot per tick, per reader, for as long as CURRENT stays damaged. It
// remembers the failure by the snapshot's seq and the CRC-32C of its
// manifest's bytes, keeps serving what it has, and checks that snapshot
// again only after a backoff that doubles from verifyRetryMin up to
// verifyRetryMax. The same seq with a different manifest (repaired or
// replaced) or another seq is checked at once.
const (
	verifyRetryMin = time.Second
	verifyRetryMax = 4 * time.Minute
)

// verifyFailure is the error of a snapshot that failed verification, as
// refreshes report it until the snapshot is checked again.
type verifyFailure struct {
	seq uint64
	err error // why it failed
}

func (f *verifyFailure) Error() string { return f.err.Error() }
func (f *verifyFailure) Unwrap() error { return f.err }

// verifyMemo remembers the last snapshot that failed verification and
// counts verifications. A nil *verifyMemo remembers nothing (JobOutcome,
// which keeps no state between calls). Safe for concurrent use.
type verifyMemo struct {
	// files checks snapshots' files, reading only the chunks it cannot
	// trust from an earlier check (snapshot.Verifier).
	files   *snapshot.Verifier
	log     *slog.Logger
	serving func() uint64    // the seq being served, 0 for none
	now     func() time.Time // time.Now; tests replace it

	mu       sync.Mutex     // guards the fields below
	last     *verifyFailure // the last failure, nil after a success
	sum      uint32         // CRC-32C of last's manifest bytes
	failures int            // checks of last's snapshot that failed in a row
	retryAt  time.Time      // when last's snapshot may be checked again
	attempts map[uint64]int64
	deferred int64
}

func newVerifyMemo(log *slog.Logger, serving func() uint64) *verifyMemo {
	return &verifyMemo{log: log, serving: serving, now: time.Now, attempts: map[uint64]int64{}, files: snapshot.NewVerifier()}
}

// admit is asked once snapshot seq is pinned and its manifest (whose bytes
// sum to sum) read. It returns the remembered failure if that very
// snapshot failed and its retry time has not come; nil means check it now.
func (v *verifyMemo) admit(seq uint64, sum uint32) error {
	if v == nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last != nil && v.last.seq == seq && v.sum == sum && v.now().Before(v.retryAt) {
		v.deferred++
		return v.last
	}
	v.attempts[seq]++
	return nil
}

// done records the outcome of the check admit let through and returns err,
// as a *verifyFailure when the check failed. The first failure of a
// snapshot (seq and manifest) is logged as a warning, once; failing again
// on a retry is logged at debug level only.
func (v *verifyMemo) done(seq uint64, sum uint32, err error) error {
	if v == nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err == nil {
		if v.last != nil && v.last.seq == seq {
			v.log.Info("snapshot passed verification after failing", "seq", seq, "failed_checks", v.failures)
		}
		v.last, v.failures = nil, 0
		return nil
	}
	again := v.last != nil && v.last.seq == seq && v.sum == sum
	if !again {
		v.failures = 0
	}
	v.failures++
	backoff := verifyRetryMax
	if v.failures <= 16 {
		backoff = min(verifyRetryMin<<(v.failures-1), verifyRetryMax)
	}
	v.last, v.sum, v.retryAt = &verifyFailure{seq: seq, err: err}, sum, v.now().Add(backoff)
	serving := v.serving()
	switch {
	case serving == 0:
		// Opening: the caller gets the error and there is nothing to keep serving.
	case !again:
		v.log.Warn("snapshot failed verification; still serving the previous one, will check it again with backoff",
			"seq", seq, "serving", serving, "error", err, "retry_in", backoff)
	default:
		v.log.Debug("snapshot failed verification again", "seq", seq, "serving", serving, "failed_checks", v.failures, "retry_in", backoff)
	}
	return v.last
}

// VerifyStats counts a Reader's snapshot verifications.
type VerifyStats struct {
	// Attempts counts, per snapshot seq, the times the Reader read the
	// snapshot's manifest and checked its files (as reader.verify says)
	// before serving it.
	Attempts map[uint64]int64 `json:"attempts"`
	// Deferred counts refreshes that found CURRENT to be a snapshot that
	// had failed verification and was not yet due for another check.
	Deferred int64 `json:"deferred"`
}

// VerifyStats returns the Reader's verification counts since Open.
func (r *Reader) VerifyStats() VerifyStats {
	v := r.verify
	v.mu.Lock()
	defer v.mu.Unlock()
	st := VerifyStats{Attempts: make(map[uint64]int64, len(v.attempts)), Deferred: v.deferred}
	for seq, n := range v.attempts {
		st.Attempts[seq] = n
	}
	return st
}

func openHandle(store *snapshot.Store, o graphdb.Options, verify string, log *slog.Logger, memo *verifyMemo) (h *handle, err error) {
	check := store.VerifyFiles
	if memo != nil && memo.files != nil {
		check = func(m *snapshot.Manifest, sums bool) []error { return memo.files.Files(store, m, sums) }
	}
	t0 := time.Now()
	pin, m, err := pinVerified(store, verify, check, memo)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			pin.Release()
		}
	}()
	t1 := time.Now()
	seq := pin.Seq()
	dir := store.SnapshotDir(seq)
	o.ReadOnly = true
	o.BufferPoolBytes = bufferPool(o.BufferPoolBytes, m)
	o.MaxDBBytes = graphdb.MaxDBSize(o.MaxDBBytes, graphSize(m))
	// The key-value store opens while Kuzu does: a swap waits for the
	// slower of the two, not for both.
	var kv *kvstore.DB
	var kvErr error
	var kvTook time.Duration
	kvDone := make(chan struct{})
	go func() {
		defer close(kvDone)
		kv, kvErr = kvstore.OpenRO(filepath.Join(dir, snapshot.KVDir), log)
		kvTook = time.Since(t1)
	}()
	g, err := graphdb.Open(filepath.Join(dir, snapshot.GraphFile), o)
	t2 := time.Now()
	<-kvDone
	if err == nil && kvErr != nil {
		g.Close()
		err = kvErr
	} else if err != nil && kvErr == nil {
		kv.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("open snapshot %d: %w", seq, err)
	}
	if log != nil {
		log.Debug("opened snapshot", "seq", seq, "verify_ms", ms(t1.Sub(t0)), "graph_ms", ms(t2.Sub(t1)), "kv_ms", ms(kvTook),
			"open_ms", ms(time.Since(t1)))
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

// graphSize is the size of m's graph file in bytes, from its manifest.
func graphSize(m *snapshot.Manifest) uint64 {
	for _, f := range m.Files {
		if f.Path == snapshot.GraphFile {
			return uint64(f.Size)
		}
	}
	return 0
}

// ms is d in milliseconds, to the microsecond, for logs.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// bufferPool is the Kuzu buffer pool a snapshot opens with: at least
// least (reader.buffer_pool_mb), and four times the graph file, capped at
// half the machine's memory. Kuzu keeps query results in the pool, and
// the search index reads every entity and relation in one query each
// (at 1M entities the relations alone did not fit in 64 MiB: "the buffer
// pool is full"). The pool is reserved address space: only the pages a
// query uses take memory.
func bufferPool(least uint64, m *snapshot.Manifest) uint64 {
	want := 4 * graphSize(m)
	if ram := sysinfo.TotalRAM(); ram > 0 {
		want = min(want, ram/2)
	}
	return max(least, want)
}
