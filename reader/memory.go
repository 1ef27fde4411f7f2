package reader

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/memsnap/memsnap/internal/graphdb"
	"github.com/memsnap/memsnap/internal/model"
)

// Entity is a node of the memory graph, shaped as the reference MCP memory
// server shapes it (the writer's job type, read back).
type Entity = model.Entity

// Relation is a directed, typed edge between two entities.
type Relation = model.Relation

// Graph is a set of entities and relations read from one snapshot.
type Graph struct {
	// Snapshot is the seq of the snapshot every part of the answer came from.
	Snapshot  uint64     `json:"snapshot"`
	Entities  []Entity   `json:"entities"`
	Relations []Relation `json:"relations"`
	// NextCursor, when set, continues a paged ReadGraph.
	NextCursor string `json:"nextCursor,omitempty"`
}

// ErrNotFound is returned (wrapped) when a named entity does not exist.
var ErrNotFound = errors.New("not found")

// ErrBadOption is returned (wrapped, with the reason) for an option a read
// cannot take: a negative limit, a depth out of range, a cursor this reader
// did not give out.
var ErrBadOption = errors.New("bad option")

// withConn runs fn on one snapshot with a borrowed connection, so that every
// query fn makes sees the same snapshot; fn's ctx carries reader.query_timeout.
func (r *Reader) withConn(ctx context.Context, fn func(ctx context.Context, seq uint64, c *graphdb.Conn) error) error {
	return r.withHandle(ctx, func(ctx context.Context, h *handle, c *graphdb.Conn) error { return fn(ctx, h.seq, c) })
}

// withHandle is withConn that hands fn the snapshot's handle itself (its
// key-value store included).
func (r *Reader) withHandle(ctx context.Context, fn func(ctx context.Context, h *handle, c *graphdb.Conn) error) error {
	h, err := r.acquire()
	if err != nil {
		return err
	}
	defer h.unref()
	if t := r.opts.QueryTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	c, err := h.conn()
	if err != nil {
		return err
	}
	err = fn(ctx, h, c)
	h.putConn(c)
	if err != nil {
		return fmt.Errorf("snapshot %d: %w", h.seq, err)
	}
	return nil
}

const entityCols = "e.name, e.entityType, e.observations"

func entityOf(row []any) Entity {
	e := Entity{Name: graphdb.String(row[0]), EntityType: graphdb.String(row[1]), Observations: []string{}}
	if l, ok := row[2].([]any); ok {
		for _, o := range l {
			e.Observations = append(e.Observations, graphdb.String(o))
		}
	}
	return e
}

// entitiesByName looks entities up by primary key; missing names are skipped.
func entitiesByName(ctx context.Context, c *graphdb.Conn, names []string) ([]Entity, error) {
	out := make([]Entity, 0, len(names))
	err := graphdb.LookupRows(ctx, c, "read entities", "UNWIND $names AS nm MATCH (e:Entity {name: nm}) RETURN "+entityCols,
		"MATCH (e:Entity {name: $n}) RETURN "+entityCols, names, nil, func(row []any) { out = append(out, entityOf(row)) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// relationsFrom returns the relations whose source is one of names, and,
// when to is non-nil, whose target is in to.
func relationsFrom(ctx context.Context, c *graphdb.Conn, names []string, to map[string]bool) ([]Relation, error) {
	out := []Relation{}
	const rels = "-[r:Relation]->(b:Entity) RETURN a.name, b.name, r.relationType"
	err := graphdb.LookupRows(ctx, c, "read relations", "UNWIND $names AS nm MATCH (a:Entity {name: nm})"+rels,
		"MATCH (a:Entity {name: $n})"+rels, names, nil, func(row []any) {
			rel := Relation{From: graphdb.String(row[0]), To: graphdb.String(row[1]), RelationType: graphdb.String(row[2])}
			if to == nil || to[rel.To] {
				out = append(out, rel)
			}
		})
	if err != nil {
		return nil, err
	}
	sortRelations(out)
	return out, nil
}

func sortRelations(rs []Relation) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.RelationType < b.RelationType
	})
}

func nameSet(es []Entity) map[string]bool {
	m := make(map[string]bool, len(es))
	for _, e := range es {
		m[e.Name] = true
	}
	return m
}

func names(es []Entity) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

// OpenNodes returns the named entities that exist, in the order asked, and
// the relations between them. Names that do not exist are left out, as the
// reference server does.
func (r *Reader) OpenNodes(ctx context.Context, want []string) (*Graph, error) {
	g := &Graph{}
	err := r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		g.Snapshot = seq
		uniq := slices.Compact(slices.Sorted(slices.Values(want)))
		found, err := entitiesByName(ctx, c, uniq)
		if err != nil {
			return err
		}
		byName := make(map[string]Entity, len(found))
		for _, e := range found {
			byName[e.Name] = e
		}
		g.Entities = []Entity{}
		seen := map[string]bool{}
		for _, n := range want {
			if e, ok := byName[n]; ok && !seen[n] {
				seen[n] = true
				g.Entities = append(g.Entities, e)
			}
		}
		g.Relations, err = relationsFrom(ctx, c, uniq, seen)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// ReadGraphOptions pages and filters ReadGraph.
type ReadGraphOptions struct {
	// Limit caps the entities of one page; 0 returns every entity.
	Limit int
	// Cursor continues after the page that returned it as NextCursor.
	Cursor string
	// EntityType keeps only entities of this type (and relations between them).
	EntityType string
}

// ReadGraph returns the graph's entities in name order, a page at a time
// when opts.Limit is set, with the relations that start at the page's
// entities (so paging through the whole graph yields every relation once).
// With an EntityType filter, only relations between entities of that type
// are returned. Cursors are opaque and stay valid across snapshots: a page
// continues after the last name of the previous one.
func (r *Reader) ReadGraph(ctx context.Context, opts ReadGraphOptions) (*Graph, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("read graph: %w: limit %d is negative", ErrBadOption, opts.Limit)
	}
	after := ""
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		if err != nil || len(b) == 0 || b[0] != 'n' {
			return nil, fmt.Errorf("read graph: %w: cursor %q is not one this server gave out", ErrBadOption, opts.Cursor)
		}
		after = string(b[1:])
	}
	g := &Graph{}
	err := r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		g.Snapshot = seq
		q := "MATCH (e:Entity) WHERE e.name > $after"
		params := map[string]any{"after": after}
		if opts.EntityType != "" {
			q += " AND e.entityType = $type"
			params["type"] = opts.EntityType
		}
		q += " RETURN " + entityCols + " ORDER BY e.name"
		if opts.Limit > 0 {
			q += fmt.Sprintf(" LIMIT %d", opts.Limit+1)
		}
		res, err := c.Query(ctx, q, params)
		if err != nil {
			return fmt.Errorf("read entities: %w", err)
		}
		g.Entities = make([]Entity, 0, len(res.Rows))
		for _, row := range res.Rows {
			g.Entities = append(g.Entities, entityOf(row))
		}
		if opts.Limit > 0 && len(g.Entities) > opts.Limit {
			g.Entities = g.Entities[:opts.Limit]
			g.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("n" + g.Entities[opts.Limit-1].Name))
		}
		var to map[string]bool
		if opts.EntityType != "" {
			to, err = namesOfType(ctx, c, opts.EntityType)
			if err != nil {
				return err
			}
		}
		g.Relations, err = relationsFrom(ctx, c, names(g.Entities), to)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

func namesOfType(ctx context.Context, c *graphdb.Conn, typ string) (map[string]bool, error) {
	res, err := c.Query(ctx, "MATCH (e:Entity) WHERE e.entityType = $type RETURN e.name", map[string]any{"type": typ})
	if err != nil {
		return nil, fmt.Errorf("read entities: %w", err)
	}
	m := make(map[string]bool, len(res.Rows))
	for _, row := range res.Rows {
		m[graphdb.String(row[0])] = true
	}
	return m, nil
}

// MaxDepth bounds Neighbors' traversal depth.
const MaxDepth = 6

// NeighborsOptions shapes a Neighbors traversal.
type NeighborsOptions struct {
	// Depth is how many hops to follow, 1 to MaxDepth; 0 means 1.
	Depth int
	// RelationType, if set, follows only relations of this type.
	RelationType string
	// Limit caps the entities returned (the start included); 0 means no cap.
	Limit int
}

// Neighbors returns the entity name and every entity within opts.Depth hops
// of it, following relations in both directions, with the relations it
// followed. The start entity comes first, then the others in the order they
// were reached. It fails with ErrNotFound if name does not exist.
func (r *Reader) Neighbors(ctx context.Context, name string, opts NeighborsOptions) (*Graph, error) {
	depth := opts.Depth
	if depth == 0 {
		depth = 1
	}
	if depth < 1 || depth > MaxDepth {
		return nil, fmt.Errorf("neighbors: %w: depth %d is out of range 1..%d", ErrBadOption, opts.Depth, MaxDepth)
	}
	if opts.Limit < 0 {
		return nil, fmt.Errorf("neighbors: %w: limit %d is negative", ErrBadOption, opts.Limit)
	}
	g := &Graph{}
	err := r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		g.Snapshot = seq
		start, err := entitiesByName(ctx, c, []string{name})
		if err != nil {
			return err
		}
		if len(start) == 0 {
			return fmt.Errorf("Entity with name %s %w", name, ErrNotFound)
		}
		order := []string{name}
		seen := map[string]bool{name: true}
		rels := map[Relation]bool{}
		frontier := []string{name}
		filter, params := "", map[string]any{}
		if opts.RelationType != "" {
			filter, params["rt"] = " WHERE r.relationType = $rt", opts.RelationType
		}
		full := func() bool { return opts.Limit > 0 && len(order) >= opts.Limit }
		for d := 0; d < depth && len(frontier) > 0 && !full(); d++ {
			var next []string
			for _, out := range []bool{true, false} {
				edge := "-[r:Relation]->(b:Entity)"
				if !out {
					edge = "<-[r:Relation]-(b:Entity)"
				}
				tail := edge + filter + " RETURN a.name, b.name, r.relationType"
				var rows [][]any
				err := graphdb.LookupRows(ctx, c, "traverse", "UNWIND $names AS nm MATCH (a:Entity {name: nm})"+tail,
					"MATCH (a:Entity {name: $n})"+tail, frontier, params, func(row []any) { rows = append(rows, row) })
				if err != nil {
					return err
				}
				for _, row := range rows {
					a, b := graphdb.String(row[0]), graphdb.String(row[1])
					rel := Relation{From: a, To: b, RelationType: graphdb.String(row[2])}
					if !out {
						rel.From, rel.To = b, a
					}
					if !seen[b] {
						if full() {
							continue
						}
						seen[b] = true
						order = append(order, b)
						next = append(next, b)
					}
					rels[rel] = true
				}
			}
			frontier = next
		}
		ents, err := entitiesByName(ctx, c, order)
		if err != nil {
			return err
		}
		pos := make(map[string]int, len(order))
		for i, n := range order {
			pos[n] = i
		}
		sort.Slice(ents, func(i, j int) bool { return pos[ents[i].Name] < pos[ents[j].Name] })
		g.Entities = ents
		g.Relations = make([]Relation, 0, len(rels))
		for rel := range rels {
			if seen[rel.From] && seen[rel.To] {
				g.Relations = append(g.Relations, rel)
			}
		}
		sortRelations(g.Relations)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// SearchOptions shapes SearchNodes.
type SearchOptions struct {
	// Limit caps the entities returned after ranking; 0 returns every match.
	Limit int
}

// SearchNodes finds entities whose name, type or observations match query and
// returns them ranked, with the relations between them. It finds every entity
// the reference server's case-insensitive substring search finds, and also
// entities that hold every word of the query (stemmed, in any order) through
// the full-text index. Ranking: exact name first, then matches of every query
// word (by full-text score, name matches ahead), then the other substring
// matches.
func (r *Reader) SearchNodes(ctx context.Context, query string, opts SearchOptions) (*Graph, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("search: %w: limit %d is negative", ErrBadOption, opts.Limit)
	}
	g := &Graph{}
	err := r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		g.Snapshot = seq
		ranked, err := search(ctx, c, query, opts.Limit)
		if err != nil {
			return err
		}
		g.Entities = ranked
		g.Relations, err = relationsFrom(ctx, c, names(ranked), nameSet(ranked))
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

type hit struct {
	name      string
	tier      int     // 0 exact name, 1 every word (full-text), 2 substring only
	nameMatch bool    // the name contains the query
	score     float64 // full-text score
}

// search ranks the names of the matching entities and returns the entities of
// the first limit (0: all) of them.
func search(ctx context.Context, c *graphdb.Conn, query string, limit int) ([]Entity, error) {
	q := strings.ToLower(query)
	hits := map[string]*hit{}
	add := func(name string, tier int, score float64) {
		h, ok := hits[name]
		if !ok {
			lname := strings.ToLower(name)
			h = &hit{name: name, tier: tier, score: score, nameMatch: strings.Contains(lname, q)}
			if lname == q {
				h.tier = 0
			}
			hits[name] = h
		}
		h.tier = min(h.tier, tier)
		h.score = max(h.score, score)
	}

	// Substring matches, as the reference finds them. search_text is the
	// observations joined by spaces, lower-cased, whitespace folded, so for
	// a query without whitespace the test in Kuzu is exact; a query with
	// whitespace could match across two observations or differ in the kind
	// of whitespace, so those candidates are checked here against the
	// observations themselves.
	// The scan returns whole entities, so that only the full-text matches
	// it did not find are read again by name below.
	exact := !strings.ContainsFunc(q, unicode.IsSpace)
	stmt, params := "MATCH (e:Entity) RETURN "+entityCols, map[string]any(nil) // "" is in every string
	if q != "" {
		stmt = "MATCH (e:Entity) WHERE contains(lower(e.name), $q) OR contains(lower(e.entityType), $q) " +
			"OR contains(e.search_text, $fq) RETURN " + entityCols
		params = map[string]any{"q": q, "fq": graphdb.SpaceFold(q)}
	}
	res, err := c.Query(ctx, stmt, params)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	read := make(map[string]Entity, len(res.Rows))
	for _, row := range res.Rows {
		e := entityOf(row)
		read[e.Name] = e
		if exact || q == "" || substringMatch(e, q) {
			add(e.Name, 2, 0)
		}
	}

	if err := fullTextMatches(ctx, c, q, add); err != nil {
		return nil, err
	}

	out := make([]*hit, 0, len(hits))
	for _, h := range hits {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.tier != b.tier {
			return a.tier < b.tier
		}
		if a.nameMatch != b.nameMatch {
			return a.nameMatch
		}
		if a.score != b.score {
			return a.score > b.score
		}
		return a.name < b.name
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	var unread []string
	for _, h := range out {
		if _, ok := read[h.name]; !ok {
			unread = append(unread, h.name)
		}
	}
	more, err := entitiesByName(ctx, c, unread)
	if err != nil {
		return nil, err
	}
	for _, e := range more {
		read[e.Name] = e
	}
	ents := make([]Entity, 0, len(out))
	for _, h := range out {
		if e, ok := read[h.name]; ok {
			ents = append(ents, e)
		}
	}
	return ents, nil
}

// fullTextMatches adds the full-text matches of every word of q, stemmed
// (tier 1, by score), and those of the entities awaiting the index
// (pendingMatches). Kuzu drops words with digits or of one letter, so a
// query made only of those finds nothing here.
func fullTextMatches(ctx context.Context, c *graphdb.Conn, q string, add func(name string, tier int, score float64)) error {
	if !hasIndexableWord(q) {
		return nil
	}
	res, err := c.Query(ctx, graphdb.FTSQuery("conjunctive := true, top := 1000000"), map[string]any{"q": q})
	// A snapshot written by an earlier memsnap has its index elsewhere or
	// none: it still answers with the substring matches.
	if errors.Is(err, graphdb.ErrNoIndex) || errors.Is(err, graphdb.ErrNoTable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("full-text search: %w", err)
	}
	for _, row := range res.Rows {
		s, _ := row[1].(float64)
		add(graphdb.String(row[0]), 1, s)
	}
	return pendingMatches(ctx, c, q, add)
}

// stmtPendingMatches finds the entities whose full-text document waits
// for the index (Entity.doc is NULL, see graphdb.IndexPending) and that
// hold every word of $w, unstemmed, in their name, type or observations.
const stmtPendingMatches = "MATCH (e:Entity) WHERE e.doc IS NULL AND " +
	"all(w IN $w WHERE contains(lower(e.name) + ' ' + lower(e.entityType) + ' ' + e.search_text, w)) RETURN e.name"

// pendingMatches adds, with the full-text matches (tier 1, no score), the
// entities not yet in the full-text index that hold every word of a
// multi-word query q, so that an entity just created or changed is found
// by a query whose words it holds in another order, as an indexed one is.
// A one-word query needs nothing here: the substring search finds them.
func pendingMatches(ctx context.Context, c *graphdb.Conn, q string, add func(name string, tier int, score float64)) error {
	words := strings.Fields(q)
	if len(words) < 2 {
		return nil
	}
	res, err := c.Query(ctx, stmtPendingMatches, map[string]any{"w": graphdb.List(words)})
	if err != nil {
		return fmt.Errorf("search entities awaiting the full-text index: %w", err)
	}
	for _, row := range res.Rows {
		add(graphdb.String(row[0]), 1, 0)
	}
	return nil
}

// substringMatch is the reference server's test: the lower-cased query is a
// substring of the lower-cased name, type or one observation.
func substringMatch(e Entity, q string) bool {
	if strings.Contains(strings.ToLower(e.Name), q) || strings.Contains(strings.ToLower(e.EntityType), q) {
		return true
	}
	for _, o := range e.Observations {
		if strings.Contains(strings.ToLower(o), q) {
			return true
		}
	}
	return false
}

// hasIndexableWord reports whether q holds a word Kuzu's full-text tokenizer
// keeps: two or more letters and no digits.
func hasIndexableWord(q string) bool {
	for _, w := range strings.Fields(q) {
		letters, digits := 0, 0
		for _, r := range w {
			switch {
			case unicode.IsLetter(r):
				letters++
			case unicode.IsDigit(r):
				digits++
			}
		}
		if letters >= 2 && digits == 0 {
			return true
		}
	}
	return false
}
