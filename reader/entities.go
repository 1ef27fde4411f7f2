package reader

import "cmp"
import "context"
import "fmt"
import "slices"

import "github.com/memsnap/memsnap/internal/graphdb"

// Browsing every entity (the dashboard's entities page and graph view).
//
// ListEntities pages by keyset, never by OFFSET: a page's cursor is the
// position of its last entity, by name, or by (updated_at, name) newest
// first (the change feed's order, entities only), so a page costs the same
// at the millionth entity as at the first and paging across snapshot swaps
// neither skips nor repeats an entity that did not change meanwhile.

// EntityOrder is the order ListEntities lists in.
type EntityOrder string

const (
	// ByName lists by name, in byte order.
	ByName EntityOrder = "name"
	// Newest lists the most recently created or changed first (updated_at,
	// then name, both descending).
	Newest EntityOrder = "newest"
)

// DefaultList is ListEntities' page size when none is given.
const DefaultList = 50

// ListOptions shapes ListEntities.
type ListOptions struct {
	// Type keeps only the entities of this entityType; "" keeps all.
	Type string
	// Untyped keeps only the entities whose entityType is "" (Type is
	// then ignored).
	Untyped bool
	// Order is ByName or Newest; "" means Newest.
	Order EntityOrder
	// Limit caps a page; 0 means DefaultList.
	Limit int
	// Cursor continues after the page that returned it as NextCursor, in
	// the same order.
	Cursor string
}

// EntityPage is one page of ListEntities.
type EntityPage struct {
	Snapshot uint64
	Entities []ChangedEntity
	// NextCursor gives the next page; "" when this page holds the last
	// entity.
	NextCursor string
}

// ListEntities returns a page of the entities in opts.Order, with their
// times. It returns ErrBadOption for an order it does not know, a negative
// limit, or a cursor it did not give for that order.
func (r *Reader) ListEntities(ctx context.Context, opts ListOptions) (*EntityPage, error) {
	order := cmp.Or(opts.Order, Newest)
	if order != ByName && order != Newest {
		return nil, fmt.Errorf("list entities: %w: order %q is not %q or %q", ErrBadOption, clipped(string(opts.Order)), ByName, Newest)
	}
	if opts.Limit < 0 {
		return nil, fmt.Errorf("list entities: %w: limit %d is negative", ErrBadOption, opts.Limit)
	}
	limit := cmp.Or(opts.Limit, DefaultList)
	var after *feedPos
	if opts.Cursor != "" {
		p, err := decodeFeedPos(opts.Cursor)
		if err != nil || p.Kind != "e" || p.Desc != (order == Newest) {
			return nil, fmt.Errorf("list entities: %w: cursor %q is not one this server gave out for order %s", ErrBadOption, clipped(opts.Cursor), order)
		}
		after = &p
	}
	cond, params, sortBy := "", map[string]any{}, "e.name"
	if order == Newest {
		cond, params = entitiesAfter(after)
		sortBy = "e.updated_at DESC, e.name DESC"
	} else if after != nil {
		cond, params["n"] = "e.name > $n", after.Key[0]
	}
	if opts.Type != "" || opts.Untyped {
		cond = joinAnd(cond, "e.entityType = $type")
		params["type"] = opts.Type
		if opts.Untyped {
			params["type"] = ""
		}
	}
	q := fmt.Sprintf("MATCH (e:Entity) %s RETURN %s, e.created_at, e.updated_at ORDER BY %s LIMIT %d", where(cond), entityCols, sortBy, limit)
	out := &EntityPage{Entities: []ChangedEntity{}}
	err := r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		out.Snapshot = seq
		res, err := c.Query(ctx, q, params)
		if err != nil {
			return fmt.Errorf("list entities: %w", err)
		}
		if out.Entities, err = changedEntitiesOf(res.Rows); err != nil {
			return fmt.Errorf("list entities: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n := len(out.Entities); n == limit {
		last := out.Entities[n-1]
		p := feedPos{Kind: "e", Key: []string{last.Name}}
		if order == Newest {
			p.At, p.Desc = last.UpdatedAt, true
		}
		out.NextCursor = p.encode()
	}
	return out, nil
}

// joinAnd joins two Cypher conditions with AND ("" is none).
func joinAnd(a, b string) string {
	if a == "" {
		return b
	}
	return a + " AND " + b
}

// TypeCount is an entityType and how many entities have it.
type TypeCount struct {
	Type  string
	Count int64
}

// EntityTypes returns every entityType in the snapshot with its number of
// entities, by type.
func (r *Reader) EntityTypes(ctx context.Context) ([]TypeCount, error) {
	var out []TypeCount
	err := r.withConn(ctx, func(ctx context.Context, _ uint64, c *graphdb.Conn) error {
		res, err := c.Query(ctx, "MATCH (e:Entity) RETURN e.entityType, count(*) ORDER BY e.entityType", nil)
		if err != nil {
			return fmt.Errorf("entity types: %w", err)
		}
		for _, row := range res.Rows {
			n, _ := row[1].(int64)
			out = append(out, TypeCount{Type: graphdb.String(row[0]), Count: n})
		}
		return nil
	})
	return out, err
}

// MostConnected returns the limit entities with the most relations (in
// and out, a relation to itself counted once), most first, then by name,
// with the relations between them. Degree maps each one's name to its
// number of relations in the whole graph.
func (r *Reader) MostConnected(ctx context.Context, limit int) (g *Graph, degree map[string]int64, err error) {
	if limit < 1 {
		return nil, nil, fmt.Errorf("most connected: %w: limit %d is not positive", ErrBadOption, limit)
	}
	g, degree = &Graph{}, map[string]int64{}
	err = r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		g.Snapshot = seq
		res, err := c.Query(ctx, fmt.Sprintf("MATCH (e:Entity) OPTIONAL MATCH (e)-[r:Relation]-(:Entity) "+
			"WITH e.name AS name, count(DISTINCT r) AS d RETURN name, d ORDER BY d DESC, name LIMIT %d", limit), nil)
		if err != nil {
			return fmt.Errorf("most connected: %w", err)
		}
		top := make([]string, 0, len(res.Rows))
		for _, row := range res.Rows {
			name := graphdb.String(row[0])
			d, _ := row[1].(int64)
			top = append(top, name)
			degree[name] = d
		}
		ents, err := entitiesByName(ctx, c, top)
		if err != nil {
			return fmt.Errorf("most connected: %w", err)
		}
		slices.SortStableFunc(ents, func(a, b Entity) int {
			return cmp.Or(cmp.Compare(degree[b.Name], degree[a.Name]), cmp.Compare(a.Name, b.Name))
		})
		g.Entities = ents
		in := make(map[string]bool, len(top))
		for _, n := range top {
			in[n] = true
		}
		if g.Relations, err = relationsFrom(ctx, c, top, in); err != nil {
			return fmt.Errorf("most connected: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return g, degree, nil
}
