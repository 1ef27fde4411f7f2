package graphdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// This file is the graph schema in one place: the tables, the full-text
// index and its documents, and the migrations from earlier schemas.

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

// EnsureSchema creates the memsnap tables and the full-text index if they do
// not exist, and upgrades a graph written by an earlier memsnap by running
// the migrations it lacks, in order. It runs statements Kuzu allows only
// outside an explicit transaction.
func EnsureSchema(ctx context.Context, c *Conn) error {
	cols, err := columns(ctx, c, "Entity")
	fresh := errors.Is(err, ErrNoTable)
	if err != nil && !fresh {
		return err
	}
	for _, q := range Schema {
		if err := c.Exec(ctx, q, nil); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	if !fresh {
		for _, m := range migrations {
			if slices.Contains(cols, m.column) {
				continue
			}
			if err := m.run(ctx, c); err != nil {
				return fmt.Errorf("upgrade schema (%s): %w", m.name, err)
			}
		}
	}
	return EnsureFTS(ctx, c)
}

// migration upgrades a graph written by an earlier memsnap. A graph needs it
// when its Entity table lacks column, which the migration adds.
type migration struct {
	name   string
	column string
	run    func(ctx context.Context, c *Conn) error
}

// migrations are the schema's history, oldest first. A new schema change
// adds one here (and bumps snapshot.FormatVersion).
var migrations = []migration{
	{"substring search over observations", "search_text", addSearchText},
	{"full-text index moved onto insert-only TextDoc documents", "doc", moveFTSToDocs},
}

// addSearchText adds Entity.search_text and fills it. Observations written
// before this column existed rarely hold whitespace other than spaces; the
// next write of each entity folds it.
func addSearchText(ctx context.Context, c *Conn) error {
	if err := c.Exec(ctx, "ALTER TABLE Entity ADD search_text STRING DEFAULT ''", nil); err != nil {
		return err
	}
	if err := c.Exec(ctx, "MATCH (e:Entity) WHERE size(e.observations) > 0 "+
		"SET e.search_text = lower(list_reduce(e.observations, (a, b) -> a + ' ' + b))", nil); err != nil {
		return fmt.Errorf("fill search_text: %w", err)
	}
	return nil
}

// moveFTSToDocs drops the full-text index from Entity, adds Entity.doc and
// writes one document per entity; EnsureSchema then builds the index on
// TextDoc.
func moveFTSToDocs(ctx context.Context, c *Conn) error {
	on, err := ftsTable(ctx, c)
	if err != nil {
		return err
	}
	if on == "Entity" {
		if err := c.Exec(ctx, "CALL DROP_FTS_INDEX('Entity', '"+FTSIndex+"')", nil); err != nil {
			return fmt.Errorf("drop the old full-text index: %w", err)
		}
	}
	if err := c.Exec(ctx, "ALTER TABLE Entity ADD doc INT64", nil); err != nil {
		return err
	}
	if err := DropFTS(ctx, c); err != nil {
		return err
	}
	return RebuildDocs(ctx, c)
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

// PendingShare is the share of a graph's entities (1 in PendingShare) whose
// full-text document may wait before IndexPending adds them: adding
// documents with the index in place costs a checkpoint in proportion to the
// whole index (940 ms against 150 ms without it at 100k entities), so a
// writer that indexed every change at once would pay that on every commit.
// Waiting for 1% of the graph keeps the cost per change flat at every size.
const PendingShare = 100

// IndexPending adds a current document for every entity that lacks one
// (created or changed since the index last took it: Entity.doc is NULL),
// once they are at least 1 in PendingShare of the graph's entities (so at
// once in graphs under PendingShare entities), or whenever any wait if all
// is set. It returns how many documents it added. Until then the full-text
// query (FTSQuery) does not find those entities; the substring search,
// which is the reference server's rule, does. Safe with the index in place.
func IndexPending(ctx context.Context, c *Conn, all bool) (int64, error) {
	res, err := c.Query(ctx, "MATCH (e:Entity) RETURN count(*) - count(e.doc), count(*)", nil)
	if err != nil {
		return 0, fmt.Errorf("count unindexed entities: %w", err)
	}
	pending, total := res.Int(), int64(0)
	if len(res.Rows) == 1 {
		total, _ = res.Rows[0][1].(int64)
	}
	if pending == 0 || (!all && pending*PendingShare < total) {
		return 0, nil
	}
	res, err = c.Query(ctx, "MATCH (e:Entity) WHERE e.doc IS NULL RETURN e.name, e.entityType, e.search_text", nil)
	if err != nil {
		return 0, fmt.Errorf("read unindexed entities: %w", err)
	}
	docs := make([]Doc, len(res.Rows))
	for i, row := range res.Rows {
		docs[i] = Doc{Name: String(row[0]), EntityType: String(row[1]), SearchText: String(row[2])}
	}
	n, err := AddDocs(ctx, c, docs)
	if err != nil {
		return 0, err
	}
	if n != int64(len(docs)) {
		return n, fmt.Errorf("index entities: indexed %d, expected %d", n, len(docs))
	}
	return n, nil
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
