// Package graphdb is memsnap's only door to Kuzu. It opens database files
// read-write (writer) or read-only (readers) with explicit memory limits,
// turns Kuzu's bare "status 1" failures into errors that say what happened,
// ties queries to a context, and converts results into plain Go values.
//
// Kuzu upstream is archived; keeping every call behind this package keeps a
// future engine swap local.
package graphdb

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	kuzu "github.com/kuzudb/go-kuzu"
)

// Schema is the graph schema every snapshot carries. search_text holds the
// observations as one string (see SearchText) for substring search. The
// full-text index is not on Entity but on TextDoc, an insert-only copy of
// each entity's searchable text: Entity.doc names the entity's current
// document, and a document no entity names is stale. See RebuildDocs.
var Schema = []string{
	"CREATE NODE TABLE IF NOT EXISTS Entity(name STRING PRIMARY KEY, entityType STRING, observations STRING[], created_at TIMESTAMP, updated_at TIMESTAMP, search_text STRING, doc INT64)",
	"CREATE REL TABLE IF NOT EXISTS Relation(FROM Entity TO Entity, relationType STRING, created_at TIMESTAMP)",
	"CREATE NODE TABLE IF NOT EXISTS " + DocTable + "(id SERIAL PRIMARY KEY, name STRING, entityType STRING, search_text STRING)",
}

// DocTable is the node table the full-text index covers. Its rows are only
// ever inserted while the index exists: Kuzu 0.11.3's incremental index
// maintenance crashes after some update and delete sequences, while plain
// inserts are safe and cost in proportion to the rows inserted. When an
// entity is created or its observations change, the writer inserts a new
// document and points Entity.doc at it; the old one goes stale. Stale
// documents are dropped only with the index dropped (RebuildDocs).
const DocTable = "TextDoc"

// FTSIndex is the name of the full-text index over TextDoc's name,
// entityType and search_text. Readers query it with QUERY_FTS_INDEX and
// keep the documents an entity still names (see FTSQuery); only the writer
// can build it (a read-only database cannot create indexes).
const FTSIndex = "entity_fts"

// FTSQuery returns the live entities matching the full-text query $q, as
// rows of (name, score): the index's documents joined to the entities whose
// current document they are. opts is appended to QUERY_FTS_INDEX's
// arguments, e.g. "conjunctive := true, top := 100".
func FTSQuery(opts string) string {
	if opts != "" {
		opts = ", " + opts
	}
	return "CALL QUERY_FTS_INDEX('" + DocTable + "', '" + FTSIndex + "', $q" + opts + ") WITH node, score " +
		"MATCH (e:Entity {name: node.name}) WHERE e.doc = node.id RETURN e.name, score"
}

// SearchText is the value of search_text for a list of observations: joined
// by spaces, lower-cased (strings.ToLower), with every whitespace character
// turned into a plain space, because Kuzu's full-text tokenizer splits words
// on spaces only. Every lower-cased substring of an observation, whitespace
// mapped by SpaceFold, is a substring of it.
func SearchText(observations []string) string {
	return SpaceFold(strings.ToLower(strings.Join(observations, " ")))
}

// SpaceFold replaces every whitespace character with a plain space.
func SpaceFold(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
}

// Options sets how a database file is opened.
type Options struct {
	// ReadOnly opens the file with a shared lock; many read-only opens coexist.
	ReadOnly bool
	// BufferPoolBytes caps Kuzu's page cache. Zero means 64 MiB, never Kuzu's
	// default of 80% of RAM.
	BufferPoolBytes uint64
	// Threads caps the threads one query may use. Zero means 1.
	Threads uint64
	// MaxDBBytes bounds the address space Kuzu reserves for the file. Zero
	// means 1 TiB.
	MaxDBBytes uint64
}

// DB is an open Kuzu database file. Its methods are safe for concurrent use;
// each Conn runs one query at a time.
type DB struct {
	path     string
	readOnly bool
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
	cfg.MaxNumThreads = o.Threads
	if cfg.MaxNumThreads == 0 {
		cfg.MaxNumThreads = 1
	}
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
	return &DB{path: path, readOnly: o.ReadOnly, db: db}, nil
}

// Path is the database file this DB was opened from.
func (d *DB) Path() string { return d.path }

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
}

// Conn opens a new connection.
func (d *DB) Conn() (*Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("graphdb: database is closed")
	}
	c, err := kuzu.OpenConnection(d.db)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("open graph connection: %w", err)
	}
	return &Conn{c: c, single: d.readOnly}, nil
}

// Close closes the connection. It is idempotent.
func (c *Conn) Close() { c.c.Close() }

// Result is a fully read query answer.
type Result struct {
	Columns []string
	Rows    [][]any
}

// Query runs one statement with parameters and reads every row. Cancelling
// ctx interrupts the running query. Parameters must all be used by the
// statement (Kuzu rejects unused ones).
func (c *Conn) Query(ctx context.Context, query string, params map[string]any) (*Result, error) {
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
		var st *kuzu.PreparedStatement
		st, err = c.c.Prepare(query)
		if err == nil {
			qr, err = c.c.Execute(st, params)
			st.Close()
		} else {
			st.Close()
		}
	}
	if qr != nil {
		defer qr.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("query interrupted: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%s", oneLine(err.Error()))
	}
	res := &Result{Columns: qr.GetColumnNames()}
	for qr.HasNext() {
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
		res.Rows = append(res.Rows, vals)
	}
	return res, nil
}

// Exec runs a statement and discards its rows.
func (c *Conn) Exec(ctx context.Context, query string, params map[string]any) error {
	_, err := c.Query(ctx, query, params)
	return err
}

// EnsureSchema creates the memsnap tables and the full-text index if they do
// not exist, and upgrades a graph written by an earlier memsnap: it adds
// search_text, and moves the full-text index from Entity onto TextDoc. It
// runs statements Kuzu allows only outside an explicit transaction.
func EnsureSchema(ctx context.Context, c *Conn) error {
	cols, err := columns(ctx, c, "Entity")
	if err != nil && !strings.Contains(err.Error(), "does not exist") {
		return err
	}
	fresh := err != nil
	for _, q := range Schema {
		if err := c.Exec(ctx, q, nil); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	if fresh {
		return EnsureFTS(ctx, c)
	}
	if !slices.Contains(cols, "search_text") {
		// Observations written before this column existed rarely hold
		// whitespace other than spaces; the next write of each entity folds it.
		if err := c.Exec(ctx, "ALTER TABLE Entity ADD search_text STRING DEFAULT ''", nil); err != nil {
			return fmt.Errorf("upgrade schema: %w", err)
		}
		if err := c.Exec(ctx, "MATCH (e:Entity) WHERE size(e.observations) > 0 "+
			"SET e.search_text = lower(list_reduce(e.observations, (a, b) -> a + ' ' + b))", nil); err != nil {
			return fmt.Errorf("upgrade schema: fill search_text: %w", err)
		}
	}
	if !slices.Contains(cols, "doc") {
		on, err := ftsTable(ctx, c)
		if err != nil {
			return err
		}
		if on == "Entity" {
			if err := c.Exec(ctx, "CALL DROP_FTS_INDEX('Entity', '"+FTSIndex+"')", nil); err != nil {
				return fmt.Errorf("upgrade schema: drop the old full-text index: %w", err)
			}
		}
		if err := c.Exec(ctx, "ALTER TABLE Entity ADD doc INT64", nil); err != nil {
			return fmt.Errorf("upgrade schema: %w", err)
		}
		if err := DropFTS(ctx, c); err != nil {
			return err
		}
		if err := RebuildDocs(ctx, c); err != nil {
			return fmt.Errorf("upgrade schema: %w", err)
		}
	}
	return EnsureFTS(ctx, c)
}

func columns(ctx context.Context, c *Conn, table string) ([]string, error) {
	info, err := c.Query(ctx, "CALL table_info('"+table+"') RETURN name", nil)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	var out []string
	for _, row := range info.Rows {
		out = append(out, fmt.Sprint(row[0]))
	}
	return out, nil
}

// ftsTable is the table the full-text index is on, or "" if there is none.
func ftsTable(ctx context.Context, c *Conn) (string, error) {
	res, err := c.Query(ctx, "CALL SHOW_INDEXES() RETURN table_name, index_name", nil)
	if err != nil {
		return "", fmt.Errorf("list indexes: %w", err)
	}
	for _, row := range res.Rows {
		if row[1] == FTSIndex {
			return fmt.Sprint(row[0]), nil
		}
	}
	return "", nil
}

// HasFTS reports whether the full-text index exists on TextDoc.
func HasFTS(ctx context.Context, c *Conn) (bool, error) {
	on, err := ftsTable(ctx, c)
	return on == DocTable, err
}

// EnsureFTS builds the full-text index if it is missing.
func EnsureFTS(ctx context.Context, c *Conn) error {
	ok, err := HasFTS(ctx, c)
	if err != nil || ok {
		return err
	}
	q := "CALL CREATE_FTS_INDEX('" + DocTable + "', '" + FTSIndex + "', ['name', 'entityType', 'search_text'], stemmer := 'porter')"
	if err := c.Exec(ctx, q, nil); err != nil {
		return fmt.Errorf("build full-text index: %w", err)
	}
	return nil
}

// DropFTS removes the full-text index if it exists. Bulk loads and
// RebuildDocs need it gone (Kuzu's COPY FROM refuses an indexed table, and
// only inserts are safe on one); EnsureFTS rebuilds it afterwards.
func DropFTS(ctx context.Context, c *Conn) error {
	ok, err := HasFTS(ctx, c)
	if err != nil || !ok {
		return err
	}
	if err := c.Exec(ctx, "CALL DROP_FTS_INDEX('"+DocTable+"', '"+FTSIndex+"')", nil); err != nil {
		return fmt.Errorf("drop full-text index: %w", err)
	}
	return nil
}

// stmtAddDocs inserts a current document for each named entity. The text
// comes in as parameters, indexed straight from the lists: Kuzu 0.11.3's
// index maintenance indexes every row of a multi-row insert with the first
// row's terms when an inserted value passes through a WITH alias.
// TestAddDocsIndexesEveryRow guards this.
const stmtAddDocs = "UNWIND range(1, size($n)) AS i MATCH (e:Entity {name: $n[i]}) " +
	"CREATE (d:" + DocTable + " {name: $n[i], entityType: $t[i], search_text: $x[i]}) SET e.doc = d.id RETURN count(*)"

// Doc is the searchable text of one entity.
type Doc struct {
	Name, EntityType, SearchText string
}

// AddDocs inserts a new current document for each entity in docs (new, or
// with changed observations); their old documents go stale. It returns how
// many it inserted. Safe with the index in place.
func AddDocs(ctx context.Context, c *Conn, docs []Doc) (int64, error) {
	if len(docs) == 0 {
		return 0, nil
	}
	n, t, x := make([]any, len(docs)), make([]any, len(docs)), make([]any, len(docs))
	for i, d := range docs {
		n[i], t[i], x[i] = d.Name, d.EntityType, d.SearchText
	}
	res, err := c.Query(ctx, stmtAddDocs, map[string]any{"n": n, "t": t, "x": x})
	if err != nil {
		return 0, fmt.Errorf("index entities: %w", err)
	}
	return res.Int(), nil
}

// RebuildDocs deletes every document and writes one current document per
// entity, dropping the stale ones. The full-text index must be dropped
// first (DropFTS) and rebuilt afterwards (EnsureFTS).
func RebuildDocs(ctx context.Context, c *Conn) error {
	if err := c.Exec(ctx, "MATCH (d:"+DocTable+") DELETE d", nil); err != nil {
		return fmt.Errorf("rebuild documents: %w", err)
	}
	if err := c.Exec(ctx, "MATCH (e:Entity) CREATE (d:"+DocTable+" {name: e.name, entityType: e.entityType, search_text: e.search_text}) "+
		"SET e.doc = d.id", nil); err != nil {
		return fmt.Errorf("rebuild documents: %w", err)
	}
	return nil
}

// DocCounts returns the number of documents and of entities; their
// difference is the stale documents.
func DocCounts(ctx context.Context, c *Conn) (docs, entities int64, err error) {
	for _, x := range []struct {
		q string
		n *int64
	}{{"MATCH (d:" + DocTable + ") RETURN count(*)", &docs}, {"MATCH (e:Entity) RETURN count(*)", &entities}} {
		res, err := c.Query(ctx, x.q, nil)
		if err != nil {
			return 0, 0, fmt.Errorf("count documents: %w", err)
		}
		*x.n = res.Int()
	}
	return docs, entities, nil
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

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
