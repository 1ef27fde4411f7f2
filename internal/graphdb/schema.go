package graphdb

import "context"
import "fmt"
import "slices"

// This file is the graph schema in one place: the tables, and the upgrade
// of graphs written by an earlier memsnap.

// Schema is the graph schema every snapshot carries (format 6 on). Search
// needs nothing in the graph: readers keep their own index in memory
// (internal/graphindex).
var Schema = []string{
	"CREATE NODE TABLE IF NOT EXISTS Entity(name STRING PRIMARY KEY, entityType STRING, observations STRING[], created_at TIMESTAMP, updated_at TIMESTAMP)",
	"CREATE REL TABLE IF NOT EXISTS Relation(FROM Entity TO Entity, relationType STRING, created_at TIMESTAMP)",
}

// What snapshots of formats 1-5 carried for search, and a graph written
// by an earlier memsnap may still hold: Entity.search_text (the
// observations joined, for substring search in Kuzu), Entity.doc and the
// TextDoc table (insert-only documents) and Kuzu's full-text index
// entity_fts over them (or, in format 1-2, over Entity).
const (
	oldDocTable = "TextDoc"
	oldFTSIndex = "entity_fts"
)

var oldEntityColumns = []string{"doc", "search_text"}

// EnsureSchema creates the memsnap tables if they do not exist and drops
// the search structures of formats 1-5 from a graph that has them. It runs
// statements Kuzu allows only outside an explicit transaction.
func EnsureSchema(ctx context.Context, c *Conn) error {
	for _, q := range Schema {
		if err := c.Exec(ctx, q, nil); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	if err := dropOldSearch(ctx, c); err != nil {
		return fmt.Errorf("upgrade schema (search moved into readers' memory): %w", err)
	}
	return nil
}

// dropOldSearch drops the full-text index, the TextDoc table and the
// Entity columns formats 1-5 kept for search, whichever exist.
func dropOldSearch(ctx context.Context, c *Conn) error {
	res, err := c.Query(ctx, "CALL SHOW_INDEXES() RETURN table_name, index_name", nil)
	if err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	for _, row := range res.Rows {
		if row[1] == oldFTSIndex {
			if err := c.Exec(ctx, fmt.Sprintf("CALL DROP_FTS_INDEX('%v', '%s')", row[0], oldFTSIndex), nil); err != nil {
				return fmt.Errorf("drop the full-text index: %w", err)
			}
		}
	}
	res, err = c.Query(ctx, "CALL show_tables() RETURN name", nil)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	for _, row := range res.Rows {
		if row[0] == oldDocTable {
			if err := c.Exec(ctx, "DROP TABLE "+oldDocTable, nil); err != nil {
				return fmt.Errorf("drop %s: %w", oldDocTable, err)
			}
		}
	}
	cols, err := columns(ctx, c, "Entity")
	if err != nil {
		return err
	}
	for _, col := range oldEntityColumns {
		if slices.Contains(cols, col) {
			if err := c.Exec(ctx, "ALTER TABLE Entity DROP "+col, nil); err != nil {
				return fmt.Errorf("drop Entity.%s: %w", col, err)
			}
		}
	}
	return nil
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
