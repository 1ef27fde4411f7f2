package queryworker

import "bufio"
import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "os"
import "path/filepath"
import "sync"
import "time"

import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/snapshot"

// WorkerOptions configures the worker side (memsnap query-worker).
type WorkerOptions struct {
	// BufferPoolMB is the least Kuzu page cache, in MiB, as
	// reader.buffer_pool_mb; the worker opens a snapshot with four times
	// its graph file if that is more, but never more than half of
	// MaxMemoryMB.
	BufferPoolMB int
	// Threads caps the threads of one query.
	Threads int
	// MaxDBMB is the least maximum database size, in MiB, as max_db_mb:
	// a snapshot opens with graphdb.MaxDBSize of it and its graph file.
	// 0: 1 TiB.
	MaxDBMB int
	// MaxMemoryMB is the worker's memory cap in MiB (0: none); see
	// "Memory cap" in the package doc.
	MaxMemoryMB int
}

// worker is the state of one worker process: the snapshot it has open.
type worker struct {
	store *snapshot.Store
	opts  WorkerOptions
	log   *slog.Logger

	seq  uint64 // the snapshot open, 0 for none
	pin  *snapshot.Pin
	db   *graphdb.DB
	conn *graphdb.Conn
}

// Serve answers the requests framed on in, one at a time, on out, until in
// ends (the parent closed it or died). Cancel frames interrupt the query
// running. It returns nil when in ends cleanly.
func Serve(ctx context.Context, in io.Reader, out io.Writer, store *snapshot.Store, opts WorkerOptions, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &worker{store: store, opts: opts, log: log.With("component", "query-worker", "pid", os.Getpid())}
	defer w.closeSnapshot()
	reqs := make(chan request)
	var (
		mu      sync.Mutex // guards running and cancel
		running uint64
		cancel  context.CancelFunc
	)
	readErr := make(chan error, 1)
	go func() {
		defer close(reqs)
		br := bufio.NewReader(in)
		for {
			var req request
			if err := readFrame(br, maxRequestFrame, &req); err != nil {
				if !errors.Is(err, io.EOF) {
					readErr <- err
				}
				return
			}
			if req.Cancel {
				mu.Lock()
				if running == req.ID && cancel != nil {
					cancel()
				}
				mu.Unlock()
				continue
			}
			reqs <- req
		}
	}()
	bw := bufio.NewWriter(out)
	for req := range reqs {
		qctx, qcancel := context.WithCancel(ctx)
		if req.TimeoutMS > 0 {
			qctx, qcancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMS)*time.Millisecond)
		}
		mu.Lock()
		running, cancel = req.ID, qcancel
		mu.Unlock()
		if err := writeFrame(bw, response{ID: req.ID, Ack: true}); err != nil {
			return fmt.Errorf("query worker: acknowledge: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("query worker: acknowledge: %w", err)
		}
		resp := w.answer(qctx, req)
		mu.Lock()
		running, cancel = 0, nil
		mu.Unlock()
		qcancel()
		if err := writeFrame(bw, resp); err != nil {
			return fmt.Errorf("query worker: write answer: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("query worker: write answer: %w", err)
		}
	}
	select {
	case err := <-readErr:
		return fmt.Errorf("query worker: read request: %w", err)
	default:
		return nil
	}
}

// answer runs one request.
func (w *worker) answer(ctx context.Context, req request) response {
	resp := response{ID: req.ID, Snapshot: req.Seq}
	if err := w.openSnapshot(req.Seq); err != nil {
		resp.Error, resp.Kind = err.Error(), kindOpen
		return resp
	}
	params, err := decodeParams(req.Params)
	if err != nil {
		resp.Error, resp.Kind = err.Error(), kindQuery
		return resp
	}
	var rows bytes.Buffer
	rows.WriteByte('[')
	n := 0
	var rowErr error
	cols, err := w.conn.QueryEach(ctx, req.Cypher, params, func(row []any) bool {
		if req.MaxRows > 0 && n >= req.MaxRows {
			resp.Truncated, resp.TruncatedReason = true, fmt.Sprintf("more than %d rows (reader.query_max_rows)", req.MaxRows)
			return false
		}
		b, err := json.Marshal(row)
		if err != nil {
			rowErr = fmt.Errorf("row %d: %w", n+1, err)
			return false
		}
		if req.MaxBytes > 0 && rows.Len()+len(b)+2 > req.MaxBytes {
			resp.Truncated, resp.TruncatedReason = true, fmt.Sprintf("more than %d bytes of rows (reader.query_max_bytes)", req.MaxBytes)
			return false
		}
		if n > 0 {
			rows.WriteByte(',')
		}
		rows.Write(b)
		n++
		return true
	})
	if err == nil {
		err = rowErr
	}
	if err != nil {
		resp.Error, resp.Kind = err.Error(), kindQuery
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			resp.Kind = kindTimeout
		case errors.Is(err, context.Canceled):
			resp.Kind = kindCancel
		case errors.Is(err, graphdb.ErrNoMemory):
			resp.Kind = kindMemory
		}
		return resp
	}
	rows.WriteByte(']')
	resp.Columns, resp.Rows = cols, rows.Bytes()
	return resp
}

// openSnapshot makes snapshot seq the open one: pinned, then opened
// read-only; the one open before is closed first.
func (w *worker) openSnapshot(seq uint64) error {
	if seq == w.seq && w.conn != nil {
		return nil
	}
	w.closeSnapshot()
	pin, err := w.store.Pin(seq)
	if err != nil {
		return fmt.Errorf("query worker: %w", err)
	}
	path := filepath.Join(w.store.SnapshotDir(seq), snapshot.GraphFile)
	raiseDataLimit()
	db, conn, err := graphdb.OpenConn(path, graphdb.Options{ReadOnly: true, BufferPoolBytes: w.bufferPool(path), Threads: uint64(max(w.opts.Threads, 1)),
		MaxDBBytes: w.maxDB(path)})
	if err != nil {
		pin.Release()
		return fmt.Errorf("query worker: open snapshot %d: %w", seq, err)
	}
	w.seq, w.pin, w.db, w.conn = seq, pin, db, conn
	if w.opts.MaxMemoryMB > 0 {
		if err := limitData(int64(w.opts.MaxMemoryMB)<<20, int64(w.bufferPool(path))); err != nil {
			w.log.Warn("cannot set the data limit; the parent's watchdog alone caps memory", "error", err)
		}
	}
	w.log.Debug("opened snapshot", "seq", seq)
	return nil
}

func (w *worker) closeSnapshot() {
	if w.conn != nil {
		w.conn.Close()
		w.db.Close()
		w.pin.Release()
	}
	w.seq, w.pin, w.db, w.conn = 0, nil, nil, nil
}

// maxDB is the maximum database size the graph file at path opens with
// (graphdb.MaxDBSize of MaxDBMB and the file's size).
func (w *worker) maxDB(path string) uint64 {
	var size uint64
	if fi, err := os.Stat(path); err == nil {
		size = uint64(fi.Size())
	}
	return graphdb.MaxDBSize(uint64(w.opts.MaxDBMB)<<20, size)
}

// bufferPool is the page cache a snapshot opens with: at least
// BufferPoolMB, four times the graph file if more, at most half the
// memory cap (buffer pool pages count in the worker's memory).
func (w *worker) bufferPool(path string) uint64 {
	least := uint64(max(w.opts.BufferPoolMB, 16)) << 20
	want := least
	if fi, err := os.Stat(path); err == nil {
		want = max(least, 4*uint64(fi.Size()))
	}
	if w.opts.MaxMemoryMB > 0 {
		want = min(want, uint64(w.opts.MaxMemoryMB)<<20/2)
	}
	return max(want, 16<<20)
}

// decodeParams decodes query parameters, numbers as int64 when they are
// integers (as Kuzu wants a LIMIT or an INT64 property), else float64.
func decodeParams(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("query parameters: %w", err)
	}
	for k, v := range m {
		m[k] = plainNumbers(v)
	}
	return m, nil
}

func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = plainNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = plainNumbers(x[k])
		}
	}
	return v
}
