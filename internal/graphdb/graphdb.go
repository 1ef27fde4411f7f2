// Package graphdb is memsnap's only door to Kuzu. It opens database files
// read-write (writer) or read-only (readers) with explicit memory limits,
// turns Kuzu's bare "status 1" failures into errors that say what happened,
// ties queries to a context, and converts results into plain Go values.
//
// Kuzu upstream is archived; keeping every call behind this package keeps a
// future engine swap local.
package graphdb

import "context"
import "fmt"
import "math/big"
import "math/bits"
import "os"
import "slices"
import "strings"
import "sync"
import "time"

import kuzu "github.com/kuzudb/go-kuzu"

// Options sets how a database file is opened.
type Options struct {
	// ReadOnly opens the file with a shared lock; many read-only opens coexist.
	ReadOnly bool
	// BufferPoolBytes caps Kuzu's page cache. Zero means 64 MiB, never Kuzu's
	// default of 80% of RAM.
	BufferPoolBytes uint64
	// Threads caps the threads one query may use. Zero means 1.
	Threads uint64
	// Workers is how many threads run queries, shared by every connection:
	// how many queries (of one thread each) run at once, so that one slow
	// query does not hold up the others. Zero means Threads. Kuzu starts
	// them when the database opens.
	Workers uint64
	// MaxDBBytes bounds the address space Kuzu reserves for the file, and
	// so the file's size: a power of two (Kuzu refuses others; see
	// MaxDBSize). Zero means 1 TiB.
	MaxDBBytes uint64
}

// minMaxDB is the least maximum database size memsnap opens a file with.
// Kuzu 0.11.3 refused to open with 4 MiB; with 8 and 16 MiB a store's
// first commit failed (the checkpoint found no free frame group, or left
// its WAL behind without an error); 32 MiB worked.
const minMaxDB = 32 << 20

// MaxDBSize is the maximum database size to open a graph with: the
// smallest power of two that is at least least and four times need (the
// bytes the file holds, or will hold by the end of a write), and at least
// minMaxDB. least 0 gives 0, Options' default. Kuzu's own default, 8 TiB, is address space it
// reserves at every open: under Wine that made each open take 9-73 s
// (0.03-0.4 s with 1 GiB; issue 26). A write that would grow the file past
// the bound fails, so writers pass what the graph will hold.
func MaxDBSize(least, need uint64) uint64 {
	if least == 0 {
		return 0
	}
	want := max(least, 4*need, minMaxDB)
	if want&(want-1) == 0 {
		return want
	}
	return 1 << bits.Len64(want)
}

// DB is an open Kuzu database file. Its methods are safe for concurrent use;
// each Conn runs one query at a time.
type DB struct {
	readOnly bool
	threads  uint64 // per query (Options.Threads)
	db       *kuzu.Database
	mu       sync.Mutex // guards closed
	closed   bool
}

// Open opens the Kuzu database at path. A read-only open of a missing file
// fails instead of creating one.
func Open(path string, o Options) (*DB, error) {
	if o.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open graph %s: %w", path, err)
		}
	}
	cfg := kuzu.DefaultSystemConfig()
	cfg.BufferPoolSize = o.BufferPoolBytes
	if cfg.BufferPoolSize == 0 {
		cfg.BufferPoolSize = 64 << 20
	}
	threads := max(o.Threads, 1)
	cfg.MaxNumThreads = max(o.Workers, threads)
	cfg.MaxDbSize = o.MaxDBBytes
	if cfg.MaxDbSize == 0 {
		cfg.MaxDbSize = 1 << 40
	}
	cfg.ReadOnly = o.ReadOnly
	db, err := kuzu.OpenDatabase(path, cfg)
	if err != nil {
		db.Close()
		mode := "read-write"
		if o.ReadOnly {
			mode = "read-only"
		}
		return nil, fmt.Errorf("open graph %s %s: kuzu refused it (another process holds a conflicting lock, or the file is not a readable kuzu database): %w", path, mode, err)
	}
	return &DB{readOnly: o.ReadOnly, db: db, threads: threads}, nil
}

// OpenConn opens the Kuzu database at path and one connection to it. The
// caller closes the connection, then the database.
func OpenConn(path string, o Options) (*DB, *Conn, error) {
	db, err := Open(path, o)
	if err != nil {
		return nil, nil, err
	}
	c, err := db.Conn()
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, c, nil
}

// Close releases the database and its file lock. It is idempotent. Every Conn
// must be closed first.
func (d *DB) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.db.Close()
		d.closed = true
	}
}

// Conn is one Kuzu connection. It is not safe for concurrent use.
type Conn struct {
	c *kuzu.Connection
	// single makes every query go through Prepare, which Kuzu refuses for
	// more than one statement: on a read-only database, a second statement
	// smuggled past the reader's guard is an error, never run.
	single bool
	// prepared keeps the statements a read-only connection prepared, by
	// query text, for its next calls: Kuzu's Prepare (parse, bind, plan)
	// costs as much as a primary-key lookup's execution (0.27 against
	// 0.3 ms at 10k entities). Only read-only connections keep them: their
	// schema cannot change under the plan.
	prepared map[string]*kuzu.PreparedStatement
}

// preparedAtMost bounds a connection's kept statements; past it they are
// all dropped and prepared again as used.
const preparedAtMost = 64

// Conn opens a new connection.
func (d *DB) Conn() (*Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	c, err := kuzu.OpenConnection(d.db)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("open graph connection: %w", err)
	}
	c.SetMaxNumThreads(d.threads)
	return &Conn{c: c, single: d.readOnly}, nil
}

// Close closes the connection and the statements it kept. It is idempotent.
func (c *Conn) Close() {
	c.dropPrepared()
	c.c.Close()
}

func (c *Conn) dropPrepared() {
	for _, st := range c.prepared {
		st.Close()
	}
	c.prepared = nil
}

// prepare returns query prepared, from the kept statements when the
// connection keeps them. done(ok) releases it after its execution, keeping
// it when the execution succeeded. Kept statements are looked up by the
// query and the names of its parameters: Kuzu keeps the values of an
// execution's parameters in the statement, so a later call missing one
// would run with the earlier value; a statement that ran once with a set
// of names needs exactly those (Kuzu refuses missing and unused ones), and
// each call under its key binds every one of them anew.
func (c *Conn) prepare(query string, params map[string]any) (st *kuzu.PreparedStatement, done func(ok bool), err error) {
	key := query
	if c.single {
		names := make([]string, 0, len(params))
		for k := range params {
			names = append(names, k)
		}
		slices.Sort(names)
		key = query + "\x00" + strings.Join(names, "\x00")
		if st := c.prepared[key]; st != nil {
			return st, func(ok bool) {
				if !ok {
					delete(c.prepared, key)
					st.Close()
				}
			}, nil
		}
	}
	if st, err = c.c.Prepare(query); err != nil {
		err = preparedError(err, st)
		st.Close()
		return nil, nil, err
	}
	return st, func(ok bool) {
		if !ok || !c.single {
			st.Close()
			return
		}
		if len(c.prepared) >= preparedAtMost {
			c.dropPrepared()
		}
		if c.prepared == nil {
			c.prepared = make(map[string]*kuzu.PreparedStatement)
		}
		c.prepared[key] = st
	}, nil
}

// Result is a fully read query answer.
type Result struct {
	Columns []string
	Rows    [][]any
}

// Query runs one statement with parameters and reads every row. Cancelling
// ctx interrupts the running query, and stops the reading of its rows
// (ctx is checked every ctxEveryRows rows). Parameters must all be used by
// the statement (Kuzu rejects unused ones).
func (c *Conn) Query(ctx context.Context, query string, params map[string]any) (*Result, error) {
	res := &Result{}
	cols, err := c.QueryEach(ctx, query, params, func(row []any) bool {
		res.Rows = append(res.Rows, row)
		return true
	})
	if err != nil {
		return nil, err
	}
	res.Columns = cols
	return res, nil
}

// ctxEveryRows is how often the row loop looks at its context: often
// enough that a cancelled read of millions of rows stops within
// milliseconds, rarely enough that the check costs nothing.
const ctxEveryRows = 64

// QueryEach runs one statement with parameters and hands each row, its
// values made plain (see Plain), to row, in order, until row returns false
// or the rows end. It returns the column names. Cancelling ctx interrupts
// the running query and stops the row loop with an error wrapping
// ctx.Err().
func (c *Conn) QueryEach(ctx context.Context, query string, params map[string]any, row func([]any) bool) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, c.c.Interrupt)
	defer stop()
	var (
		qr  *kuzu.QueryResult
		err error
	)
	if len(params) == 0 && !c.single {
		qr, err = c.c.Query(query)
	} else {
		var (
			st   *kuzu.PreparedStatement
			done func(bool)
		)
		if st, done, err = c.prepare(query, params); err == nil {
			qr, err = c.c.Execute(st, params)
			done(err == nil)
		}
	}
	if qr != nil {
		defer qr.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("query interrupted: %w", ctx.Err())
		}
		return nil, kuzuError(resultError(err, qr))
	}
	cols := qr.GetColumnNames()
	for n := 1; qr.HasNext(); n++ {
		if n%ctxEveryRows == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("query interrupted while reading row %d: %w", n, ctx.Err())
		}
		t, err := qr.Next()
		if err != nil {
			return nil, fmt.Errorf("read row: %w", err)
		}
		vals, err := t.GetAsSlice()
		t.Close()
		if err != nil {
			return nil, fmt.Errorf("read row: %w", err)
		}
		for i, v := range vals {
			vals[i] = Plain(v)
		}
		if !row(vals) {
			break
		}
	}
	return cols, nil
}

// Exec runs a statement and discards its rows.
func (c *Conn) Exec(ctx context.Context, query string, params map[string]any) error {
	_, err := c.Query(ctx, query, params)
	return err
}

// Int returns the first value of the first row as an integer, as a count(*)
// gives it: 0 for no rows, -1 if the value is not an integer.
func (r *Result) Int() int64 {
	if r == nil || len(r.Rows) == 0 || len(r.Rows[0]) == 0 {
		return 0
	}
	switch v := r.Rows[0][0].(type) {
	case int64:
		return v
	case uint64:
		return int64(v)
	case int:
		return int64(v)
	}
	return -1
}

// Plain converts a value returned by Kuzu into JSON-friendly Go values:
// nodes and relationships become maps of their properties, times become UTC,
// big integers become strings.
func Plain(v any) any {
	switch x := v.(type) {
	case kuzu.Node:
		m := map[string]any{"_label": x.Label}
		for k, p := range x.Properties {
			m[k] = Plain(p)
		}
		return m
	case kuzu.Relationship:
		m := map[string]any{"_label": x.Label}
		for k, p := range x.Properties {
			m[k] = Plain(p)
		}
		return m
	case kuzu.InternalID:
		return fmt.Sprintf("%d:%d", x.TableID, x.Offset)
	case time.Time:
		return x.UTC()
	case *big.Int:
		return x.String()
	case []any:
		for i := range x {
			x[i] = Plain(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = Plain(x[k])
		}
		return x
	case []kuzu.MapItem:
		out := make([][2]any, len(x))
		for i, it := range x {
			out[i] = [2]any{Plain(it.Key), Plain(it.Value)}
		}
		return out
	default:
		return v
	}
}

// CopyFrom bulk-loads table from the file at path with Kuzu's COPY FROM
// (the format follows the file's extension; options such as
// "header=false" go in parentheses after it) and returns how many rows it
// loaded, read from Kuzu's "N tuples have been copied" answer.
func CopyFrom(ctx context.Context, c *Conn, table, path, options string) (int64, error) {
	q := "COPY " + table + " FROM " + cypherString(path)
	if options != "" {
		q += " (" + options + ")"
	}
	res, err := c.Query(ctx, q, nil)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", table, err)
	}
	var n int64 = -1
	if len(res.Rows) == 1 && len(res.Rows[0]) == 1 {
		msg, _ := res.Rows[0][0].(string)
		if _, err := fmt.Sscanf(msg, "%d tuples", &n); err != nil {
			return 0, fmt.Errorf("copy %s: unexpected answer %q", table, msg)
		}
	}
	return n, nil
}

// cypherString quotes s as a Cypher string literal: a backslash (every
// Windows path has them) and a quote are escaped, or the parser takes the
// \U of C:\Users for an escape sequence.
func cypherString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// List turns a Go slice into the []any Kuzu takes as a list parameter.
func List[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// String is a result value as a string, or "" when it is not one (NULL).
func String(v any) string { s, _ := v.(string); return s }
