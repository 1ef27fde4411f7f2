package reader

import "context"
import "encoding/base64"
import "encoding/json"
import "errors"
import "fmt"
import "maps"
import "slices"
import "sort"
import "unicode/utf8"

import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/graphindex"
import "github.com/memsnap/memsnap/internal/model"

// Entity is a node of the memory graph, shaped as the reference MCP memory
// server shapes it (model.Entity, the job format's type, read back).
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
	// Suggestions, only from a SearchNodes that matched nothing, are the
	// entities whose names are closest to the query (likely typos), best
	// first: not matches, so not among Entities.
	Suggestions []Suggestion `json:"suggestions,omitempty"`
	// Queued is how many acknowledged jobs the snapshot does not hold yet
	// the answer applied over it (Options.QueuedWrites); 0: the snapshot
	// alone.
	Queued int `json:"queued,omitempty"`
	// QueuedLeft is how many more acknowledged jobs wait behind those: a
	// read applies at most the first 10,000 (MaxOverlayJobs), and the
	// answer lacks the rest until the writer applies the first.
	QueuedLeft int `json:"queued_left,omitempty"`
	// content is the content digest of the memory answered when queued
	// jobs were applied (Content).
	content string
	// From and Total describe a SearchNodes answer: Entities are the
	// ranked matches From to From+len(Entities)-1 of Total (a part when
	// SearchOptions.Offset, Limit or MaxBytes cut it). Not in the JSON.
	From  int `json:"-"`
	Total int `json:"-"`
}

// Content is the content digest (internal/fsm.Digest) of the memory the
// graph was read from when queued jobs were applied over its snapshot: the
// digest the snapshot of those jobs will record. "" when the snapshot
// answered alone: its manifest records its digest (snapshot.Manifest.Digest).
// A caller paging through a ranking compares them to tell that the memory
// changed between pages.
func (g *Graph) Content() string { return g.content }

// Suggestion is an entity a search that matched nothing offers instead: its
// name is close to the query by trigram similarity (0 to 1).
type Suggestion struct {
	Name       string  `json:"name"`
	EntityType string  `json:"entityType"`
	Similarity float64 `json:"similarity"`
}

// SuggestMax is the most suggestions a search that matched nothing gives.
const SuggestMax = 5

// ErrNotFound is returned (wrapped) when a named entity does not exist.
var ErrNotFound = errors.New("not found")

// NotFoundError is a read of an entity that does not exist, worded as the
// reference memory server words it (model.EntityNotFound). errors.Is(err,
// ErrNotFound) holds.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return model.EntityNotFound(e.Name) }

// Is reports ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

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
	ctx, cancel := r.bounded(ctx)
	defer cancel()
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

// entityCols reads an entity's columns, its observations as one JSON
// string: go-kuzu converts a list element by element through cgo, which
// at 100k entities took 1.06 s against 0.42 s as JSON.
const entityCols = "e.name, e.entityType, to_json(e.observations)"

func entityOf(row []any) (Entity, error) {
	e := Entity{Name: graphdb.String(row[0]), EntityType: graphdb.String(row[1]), Observations: []string{}}
	switch v := row[2].(type) {
	case string:
		if err := json.Unmarshal([]byte(v), &e.Observations); err != nil {
			return e, fmt.Errorf("entity %q: observations: %w", e.Name, err)
		}
		if e.Observations == nil { // JSON null
			e.Observations = []string{}
		}
	case nil:
	default:
		return e, fmt.Errorf("entity %q: observations come as %T", e.Name, v)
	}
	return e, nil
}

// entitiesOf converts rows of entityCols.
func entitiesOf(rows [][]any) ([]Entity, error) {
	out := make([]Entity, len(rows))
	for i, row := range rows {
		var err error
		if out[i], err = entityOf(row); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// entitiesByName looks entities up by primary key; missing names are skipped.
func entitiesByName(ctx context.Context, c *graphdb.Conn, names []string) ([]Entity, error) {
	out := make([]Entity, 0, len(names))
	var bad error
	err := graphdb.LookupRows(ctx, c, "read entities", "UNWIND $names AS nm MATCH (e:Entity {name: nm}) RETURN "+entityCols,
		"MATCH (e:Entity {name: $n}) RETURN "+entityCols, names, nil, func(row []any) {
			e, err := entityOf(row)
			if err != nil && bad == nil {
				bad = err
			}
			out = append(out, e)
		})
	if err == nil {
		err = bad
	}
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

func names(es []Entity) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

// OpenNodes returns the named entities that exist, in the order asked, and
// every relation with at least one end among them (the reference server's
// rule since 2026-02; before, both ends). Names that do not exist are left
// out, as the reference server does.
//
// Once the process has searched, the snapshot's search index holds every
// entity and relation, and answers from memory; otherwise two Kuzu queries
// do (primary-key lookups, then the relations touching them).
func (r *Reader) OpenNodes(ctx context.Context, want []string) (*Graph, error) {
	if g, ok, err := r.openQueued(ctx, want); ok || err != nil {
		return g, err
	}
	if g, ok := r.openFromIndex(want); ok {
		return g, nil
	}
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
		rows, err := graphdb.RelationsTouching(ctx, c, slices.Sorted(maps.Keys(seen)))
		g.Relations = make([]Relation, len(rows))
		for i, r := range rows {
			g.Relations[i] = Relation{From: r.From, To: r.To, RelationType: r.RelationType}
		}
		sortRelations(g.Relations)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// openFromIndex answers OpenNodes from the search index of the snapshot
// being served, when it is built and is its lineage's newest (see
// graphindex.View.Open); ok is false otherwise.
func (r *Reader) openFromIndex(want []string) (*Graph, bool) {
	return r.fromIndex(func(v *graphindex.View) (*Graph, bool) {
		ents, rels, ok := v.Open(want)
		if !ok {
			return nil, false
		}
		g := &Graph{Entities: model.NonNil(ents), Relations: model.NonNil(rels)}
		sortRelations(g.Relations)
		return g, true
	})
}

// fromIndex returns what read answers from the search index of the
// snapshot being served, stamped with that snapshot's seq; ok is false
// when the index is not built (or being built) or read says so.
func (r *Reader) fromIndex(read func(v *graphindex.View) (*Graph, bool)) (*Graph, bool) {
	h, err := r.acquire()
	if err != nil {
		return nil, false
	}
	defer h.unref()
	v := h.builtText()
	if v == nil {
		return nil, false
	}
	g, ok := read(v)
	if ok {
		g.Snapshot = h.seq
	}
	return g, ok
}

// ReadGraphOptions pages and filters ReadGraph.
type ReadGraphOptions struct {
	// Limit caps the entities of one page; 0 returns every entity.
	Limit int
	// Cursor continues after the page that returned it as NextCursor.
	Cursor string
	// EntityType keeps only entities of this type (and relations between them).
	EntityType string
	// Window keeps only entities changed within it (with the relations
	// that start at them, as pages have).
	Window TimeWindow
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
			return nil, fmt.Errorf("read graph: %w: cursor %q is not one this server gave out", ErrBadOption, clipped(opts.Cursor))
		}
		after = string(b[1:])
	}
	if opts.Window.IsZero() {
		if g, ok, err := r.pageQueued(ctx, after, opts); ok || err != nil {
			return g, err
		}
		if g, ok := r.pageFromIndex(after, opts); ok {
			return g, nil
		}
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
		if cond, wp := opts.Window.where("e"); cond != "" {
			q += " AND " + cond
			maps.Copy(params, wp)
		}
		q += " RETURN " + entityCols + " ORDER BY e.name"
		if opts.Limit > 0 {
			q += fmt.Sprintf(" LIMIT %d", opts.Limit+1)
		}
		res, err := c.Query(ctx, q, params)
		if err != nil {
			return fmt.Errorf("read entities: %w", err)
		}
		if g.Entities, err = entitiesOf(res.Rows); err != nil {
			return fmt.Errorf("read entities: %w", err)
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
		sortRelations(g.Relations)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// pageFromIndex answers ReadGraph (without a time window) from the search
// index of the snapshot being served, when it is built and is its
// lineage's newest (see graphindex.View.Page); ok is false otherwise. Kuzu
// has no ordered index on names: a page of 100 sorted every entity, 1.4 s
// at a million.
func (r *Reader) pageFromIndex(after string, opts ReadGraphOptions) (*Graph, bool) {
	return r.fromIndex(func(v *graphindex.View) (*Graph, bool) {
		ents, rels, more, ok := v.Page(after, opts.Limit, opts.EntityType)
		if !ok {
			return nil, false
		}
		g := &Graph{Entities: model.NonNil(ents), Relations: model.NonNil(rels)}
		sortRelations(g.Relations)
		if more {
			g.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("n" + ents[len(ents)-1].Name))
		}
		return g, true
	})
}

func namesOfType(ctx context.Context, c *graphdb.Conn, typ string) (map[string]bool, error) {
	return namesWhere(ctx, c, "e.entityType = $type", map[string]any{"type": typ})
}

// namesWhere returns the names of the entities e that match the Cypher
// condition cond.
func namesWhere(ctx context.Context, c *graphdb.Conn, cond string, params map[string]any) (map[string]bool, error) {
	res, err := c.Query(ctx, "MATCH (e:Entity) WHERE "+cond+" RETURN e.name", params)
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
	if g, ok, err := r.neighborsQueued(ctx, name, depth, opts); ok || err != nil {
		return g, err
	}
	g := &Graph{}
	err := r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		g.Snapshot = seq
		start, err := entitiesByName(ctx, c, []string{name})
		if err != nil {
			return err
		}
		if len(start) == 0 {
			return &NotFoundError{Name: name}
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
	// Limit caps the entities returned after ranking (and after Offset);
	// 0 returns every match.
	Limit int
	// Offset skips the first Offset ranked matches: the answer is a part
	// that starts there (Graph.From, Graph.Total).
	Offset int
	// MaxBytes, when positive, ends the part before the entity that takes
	// the bytes of its entities' strings (names, types, observations) past
	// MaxBytes; a part holds at least one entity when any is left. A caller
	// that sends the answer with a size cap passes what can fit at most
	// (an MCP answer carries each string at least twice: MaxBytes is half
	// its cap), so that a search of many matches reads the relations and
	// prices the entities of what it can send, not of every match.
	MaxBytes int
	// Window keeps only entities changed within it.
	Window TimeWindow
}

// SearchNodes finds entities whose name, type or observations match query and
// returns them ranked, with every relation touching them (at least one end
// among them), as OpenNodes does. It finds every entity
// the reference server's case-insensitive substring search finds (name, type
// or one observation holds the query), and also entities that hold every
// word of the query, stemmed, in any order (graphindex.Terms; words with
// digits count): of those the substring rule does not find, the best
// Options.SearchWordHits. Ranking (graphindex.SortHits): the exact name
// first, then the entities holding the whole query in one field (the
// substring rule), then those holding every word; within each, by
// relevance (the field, whole words or proximity, BM25). When nothing
// matches and no window is set, Graph.Suggestions holds the entities whose
// names are closest to the query by trigram similarity (typos;
// graphindex.View.Suggest), up to SuggestMax; Entities stays empty, as the
// reference answers. The search runs on the snapshot's in-memory index
// (textView), built on the first search of the process and carried from
// snapshot to snapshot.
func (r *Reader) SearchNodes(ctx context.Context, query string, opts SearchOptions) (*Graph, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("search: %w: limit %d is negative", ErrBadOption, opts.Limit)
	}
	if g, ok, err := r.searchQueued(ctx, query, opts); ok || err != nil {
		return g, err
	}
	g := &Graph{}
	err := r.withHandle(ctx, func(ctx context.Context, h *handle, c *graphdb.Conn) error {
		g.Snapshot = h.seq
		v, err := r.textView(ctx, h, c, false)
		if err != nil {
			return err
		}
		found := v.Hits(query)
		if !opts.Window.IsZero() {
			in, err := opts.Window.namesIn(ctx, c)
			if err != nil {
				return err
			}
			found = slices.DeleteFunc(found, func(h graphindex.Hit) bool { return !in[h.Name()] })
		}
		if len(found) == 0 && opts.Window.IsZero() {
			for _, s := range v.Suggest(query, SuggestMax) {
				g.Suggestions = append(g.Suggestions, Suggestion{Name: s.Entity.Name, EntityType: s.Entity.EntityType, Similarity: s.Similarity})
			}
		}
		g.part(found, r.opts.SearchWordHits, opts, v.RelationsTouching)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// rank orders hits as SearchNodes says and drops the word-only hits
// (found by words, not by the substring rule) past the first wordHits (0:
// none dropped).
func rank(hits []graphindex.Hit, wordHits int) []graphindex.Hit {
	graphindex.SortHits(hits)
	if wordHits > 0 {
		n := 0
		hits = slices.DeleteFunc(hits, func(h graphindex.Hit) bool {
			if h.Substring || h.Tier == graphindex.TierExactName {
				return false
			}
			n++
			return n > wordHits
		})
	}
	return hits
}

// part sets g to the part opts asks for (Offset, Limit, MaxBytes) of the
// hits as rank orders them, with the relations touching its entities
// (touching, sorted), and g.From and g.Total to where it starts and how
// many ranked hits there are. A part cut by Limit or MaxBytes takes its
// hits best first from a heap (graphindex.BestFirst) rather than ranking
// every hit: a broad search sends a few thousand of its tens of thousands.
func (g *Graph) part(found []graphindex.Hit, wordHits int, opts SearchOptions, touching func([]graphindex.Hit) []model.Relation) {
	var hits []graphindex.Hit
	if opts.Limit > 0 || opts.MaxBytes > 0 {
		hits, g.From, g.Total = bestPart(found, wordHits, opts)
	} else {
		ranked := rank(found, wordHits)
		g.From, g.Total = min(opts.Offset, len(ranked)), len(ranked)
		hits = ranked[g.From:]
	}
	g.Entities = make([]Entity, len(hits))
	for i := range hits {
		g.Entities[i] = hits[i].Load() // only the entities sent are built
	}
	g.Relations = model.NonNil(touching(hits))
	sortRelations(g.Relations)
}

// bestPart is rank(found, wordHits)[from:] cut to at most opts.Limit hits
// (0: no limit) and to opts.MaxBytes of their strings (the first hit
// always; 0: no cap), with total the length of the whole ranking, taken
// best first from a heap without ranking the rest.
func bestPart(found []graphindex.Hit, wordHits int, opts SearchOptions) (part []graphindex.Hit, from, total int) {
	wordOnly := func(h *graphindex.Hit) bool { return !h.Substring && h.Tier != graphindex.TierExactName }
	total = len(found)
	if wordHits > 0 {
		n := 0
		for i := range found {
			if wordOnly(&found[i]) {
				n++
			}
		}
		total -= max(n-wordHits, 0)
	}
	from = min(opts.Offset, total)
	next := graphindex.BestFirst(found)
	seen, words, sum := 0, 0, 0
	for {
		h, ok := next()
		if !ok || opts.Limit > 0 && len(part) == opts.Limit {
			return part, from, total
		}
		if wordHits > 0 && wordOnly(h) {
			if words++; words > wordHits {
				continue
			}
		}
		if seen++; seen <= from {
			continue
		}
		if opts.MaxBytes > 0 {
			if sum += h.StringBytes(); len(part) > 0 && sum > opts.MaxBytes {
				return part, from, total
			}
		}
		part = append(part, *h)
	}
}

// clipped is s cut to 64 bytes (at a rune boundary) with "..." after, for
// an error that names what a caller sent: a 100 KB cursor is not echoed.
func clipped(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
