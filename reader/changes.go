package reader

import "cmp"
import "context"
import "encoding/base64"
import "encoding/json"
import "fmt"
import "slices"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/graphdb"

// Time windows and the change feed
//
// Entities carry created_at and updated_at (the time of the job that last
// changed them), relations created_at. The change feed orders every
// entity and relation by its change time, then entities before relations,
// then by name (entities) or from, to, type (relations): a total order, so
// that a bulk import stamping thousands of items with one time still pages
// by keyset with no item skipped or repeated. RecentChanges reads it two
// ways. From a time (Since, or a forward cursor), oldest first: its cursor
// is the position after the last item of a page, so paging goes on across
// snapshot swaps and an entity changed again after its page comes back on
// a later one. Without either, newest first: the page is the Limit newest
// items, and its cursor gives the next older ones until the oldest.
// Deletions leave nothing to list.

// TimeWindow keeps entities changed (created or updated) at or after Since
// and before Until; a zero bound is open.
type TimeWindow struct {
	Since, Until time.Time
}

// IsZero reports whether w keeps everything.
func (w TimeWindow) IsZero() bool { return w.Since.IsZero() && w.Until.IsZero() }

// where returns the Cypher condition on variable v's updated_at and its
// parameters ("" when w keeps everything).
func (w TimeWindow) where(v string) (string, map[string]any) {
	var conds []string
	params := map[string]any{}
	if !w.Since.IsZero() {
		conds = append(conds, v+".updated_at >= timestamp($since)")
		params["since"] = kuzuTime(w.Since)
	}
	if !w.Until.IsZero() {
		conds = append(conds, v+".updated_at < timestamp($until)")
		params["until"] = kuzuTime(w.Until)
	}
	return strings.Join(conds, " AND "), params
}

// namesIn returns the names of the entities w keeps.
func (w TimeWindow) namesIn(ctx context.Context, c *graphdb.Conn) (map[string]bool, error) {
	cond, params := w.where("e")
	return namesWhere(ctx, c, cond, params)
}

// kuzuTime formats t as Kuzu's timestamp() reads it, in UTC to the
// microsecond (Kuzu's precision).
func kuzuTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000") }

// ChangedEntity is an entity with its times (UTC).
type ChangedEntity struct {
	Entity
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ChangedRelation is a relation with the time it was created (UTC).
type ChangedRelation struct {
	Relation
	CreatedAt time.Time `json:"createdAt"`
}

// Changes is one page of RecentChanges.
type Changes struct {
	Snapshot  uint64            `json:"-"`
	Entities  []ChangedEntity   `json:"entities"`
	Relations []ChangedRelation `json:"relations"`
	// NextCursor continues the feed. Read from a time (oldest first): the
	// position after this page's last item (or where the page started,
	// when it is empty); passed back, it gives what changed after, now or
	// later, and an empty page means nothing newer yet. Read newest first:
	// the position of this page's oldest item, for the next older ones;
	// "" once the page reached the oldest change.
	NextCursor string `json:"nextCursor"`
}

// RecentOptions shapes RecentChanges.
type RecentOptions struct {
	// Since starts the feed at this time (inclusive), oldest first; zero
	// lists the newest changes first.
	Since time.Time
	// Limit caps the items (entities and relations) of a page; 0 means
	// DefaultRecent. A page holds exactly Limit items while the feed has
	// that many in its direction.
	Limit int
	// Cursor continues after the page that returned it as NextCursor, in
	// that page's direction; it overrides Since.
	Cursor string
}

// FeedAt is the cursor of the change feed at time t, oldest first: before
// every change at or after t (the zero time: before every change there
// will be). A server with no snapshot yet answers a read from t with it.
func FeedAt(t time.Time) string { return feedPos{At: t, Kind: "e", Key: []string{""}}.encode() }

// DefaultRecent is RecentChanges' page size when none is given.
const DefaultRecent = 100

// feedPos is a position in the change feed: a time, then kind 'e'
// (entities, by name) before 'r' (relations, by from, to, type). Desc
// marks a cursor of the newest-first reading, which goes on to older
// positions.
type feedPos struct {
	At   time.Time `json:"t"`
	Kind string    `json:"k"`
	Key  []string  `json:"n"`
	Desc bool      `json:"d,omitempty"`
}

func (p feedPos) encode() string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeFeedPos(s string) (feedPos, error) {
	var p feedPos
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil || (p.Kind != "e" && p.Kind != "r") || (p.Kind == "e" && len(p.Key) != 1) || (p.Kind == "r" && len(p.Key) != 3) {
		return p, fmt.Errorf("recent changes: %w: cursor %q is not one this server gave out", ErrBadOption, clipped(s))
	}
	return p, nil
}

// compare orders feed positions, oldest first (Desc plays no part).
func (p feedPos) compare(q feedPos) int {
	return cmp.Or(p.At.Compare(q.At), strings.Compare(p.Kind, q.Kind), slices.Compare(p.Key, q.Key))
}

// RecentChanges returns one page of the change feed (see TimeWindow's
// package notes): from opts.Since or a forward cursor, the entities and
// relations created or changed at or after it, oldest first; without
// either, the newest first. At most opts.Limit items, with a cursor to
// the rest. It returns ErrBadOption for a negative limit or a cursor it
// did not give.
func (r *Reader) RecentChanges(ctx context.Context, opts RecentOptions) (*Changes, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("recent changes: %w: limit %d is negative", ErrBadOption, opts.Limit)
	}
	limit := cmp.Or(opts.Limit, DefaultRecent)
	var after *feedPos // nil: from the newest change
	switch {
	case opts.Cursor != "":
		p, err := decodeFeedPos(opts.Cursor)
		if err != nil {
			return nil, err
		}
		after = &p
	case !opts.Since.IsZero():
		// Just before every item at since: entities at since have
		// names after "".
		after = &feedPos{At: opts.Since, Kind: "e", Key: []string{""}}
	}
	out := &Changes{Entities: []ChangedEntity{}, Relations: []ChangedRelation{}}
	err := r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		out.Snapshot = seq
		return readFeed(ctx, c, after, limit, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// feedItem is one entity or relation of the change feed at its position.
type feedItem struct {
	pos feedPos
	ent *ChangedEntity
	rel *ChangedRelation
}

// readFeed reads the first limit items after position p into out, in p's
// direction (p nil: newest first from the newest).
func readFeed(ctx context.Context, c *graphdb.Conn, p *feedPos, limit int, out *Changes) error {
	desc := p == nil || p.Desc
	entQ, entP, relQ, relP := feedQueries(p, limit)
	var items []feedItem
	res, err := c.Query(ctx, entQ, entP)
	if err != nil {
		return fmt.Errorf("recent changes: read entities: %w", err)
	}
	ents, err := changedEntitiesOf(res.Rows)
	if err != nil {
		return fmt.Errorf("recent changes: %w", err)
	}
	for i, ce := range ents {
		items = append(items, feedItem{pos: feedPos{At: ce.UpdatedAt, Kind: "e", Key: []string{ce.Name}, Desc: desc}, ent: &ents[i]})
	}
	if res, err = c.Query(ctx, relQ, relP); err != nil {
		return fmt.Errorf("recent changes: read relations: %w", err)
	}
	for _, row := range res.Rows {
		cr := &ChangedRelation{Relation: Relation{From: graphdb.String(row[0]), To: graphdb.String(row[1]), RelationType: graphdb.String(row[2])},
			CreatedAt: timeOf(row[3])}
		items = append(items, feedItem{pos: feedPos{At: cr.CreatedAt, Kind: "r", Key: []string{cr.From, cr.To, cr.RelationType}, Desc: desc}, rel: cr})
	}
	slices.SortFunc(items, func(a, b feedItem) int {
		if desc {
			return b.pos.compare(a.pos)
		}
		return a.pos.compare(b.pos)
	})
	items = items[:min(limit, len(items))]
	switch {
	case desc && len(items) < limit:
		out.NextCursor = "" // the oldest change is on this page
	case len(items) > 0:
		out.NextCursor = items[len(items)-1].pos.encode()
	default:
		out.NextCursor = p.encode()
	}
	for _, it := range items {
		if it.ent != nil {
			out.Entities = append(out.Entities, *it.ent)
		} else {
			out.Relations = append(out.Relations, *it.rel)
		}
	}
	return nil
}

// feedQueries returns the Cypher queries, with their parameters, of the
// first limit entities and the first limit relations after position p in
// its direction (p nil: newest first from the newest).
func feedQueries(p *feedPos, limit int) (entQ string, entP map[string]any, relQ string, relP map[string]any) {
	order := feedOrder(p)
	entCond, entP := entitiesAfter(p)
	entQ = fmt.Sprintf("MATCH (e:Entity) %s RETURN %s, e.created_at, e.updated_at ORDER BY e.updated_at%[3]s, e.name%[3]s LIMIT %d",
		where(entCond), entityCols, order, limit)
	relCond, relP := relationsAfter(p)
	relQ = fmt.Sprintf("MATCH (a:Entity)-[r:Relation]->(b:Entity) %s RETURN a.name, b.name, r.relationType, r.created_at "+
		"ORDER BY r.created_at%[2]s, a.name%[2]s, b.name%[2]s, r.relationType%[2]s LIMIT %d", where(relCond), order, limit)
	return entQ, entP, relQ, relP
}

// feedOrder is the ORDER BY direction of a read after p: " DESC" newest
// first (p nil or a newest-first cursor), else "".
func feedOrder(p *feedPos) string {
	if p == nil || p.Desc {
		return " DESC"
	}
	return ""
}

// where is "WHERE cond", or "" for no condition.
func where(cond string) string {
	if cond == "" {
		return ""
	}
	return "WHERE " + cond
}

// entitiesAfter returns the Cypher condition on e ("" for none) and its
// parameters that keep the entities after position p in its direction
// (p nil: all).
func entitiesAfter(p *feedPos) (string, map[string]any) {
	return itemsAfter(p, "e", "e.updated_at", "e.name")
}

// relationsAfter is entitiesAfter for the relations r from a to b.
func relationsAfter(p *feedPos) (string, map[string]any) {
	return itemsAfter(p, "r", "r.created_at", "a.name", "b.name", "r.relationType")
}

// itemsAfter returns the condition keeping the items of one kind (timed
// by column at, keyed by columns key) after position p in its direction,
// with its parameters ($t, $k0, $k1, ...). At p's time, items of p's kind
// follow by key; the other kind's come all before p or all after it
// (entities before relations, oldest first).
func itemsAfter(p *feedPos, kind, at string, key ...string) (string, map[string]any) {
	params := map[string]any{}
	if p == nil {
		return "", params
	}
	params["t"] = kuzuTime(p.At)
	gt, ge := ">", ">="
	if p.Desc {
		gt, ge = "<", "<="
	}
	if p.Kind != kind {
		// The other kind at p's time: after p when it sorts after p's
		// kind in the direction read.
		if (kind > p.Kind) != p.Desc {
			return fmt.Sprintf("%s %s timestamp($t)", at, ge), params
		}
		return fmt.Sprintf("%s %s timestamp($t)", at, gt), params
	}
	// (at, key...) after (t, p.Key...), one column at a time.
	cond := ""
	for i := len(key) - 1; i >= 0; i-- {
		k := fmt.Sprintf("$k%d", i)
		params[k[1:]] = p.Key[i]
		if cond == "" {
			cond = fmt.Sprintf("%s %s %s", key[i], gt, k)
		} else {
			cond = fmt.Sprintf("%s %s %s OR (%[1]s = %[3]s AND (%s))", key[i], gt, k, cond)
		}
	}
	return fmt.Sprintf("(%s %s timestamp($t) OR (%[1]s = timestamp($t) AND (%[3]s)))", at, gt, cond), params
}

// changedEntitiesOf decodes rows of entityCols followed by e.created_at and
// e.updated_at; never nil.
func changedEntitiesOf(rows [][]any) ([]ChangedEntity, error) {
	out := make([]ChangedEntity, 0, len(rows))
	for _, row := range rows {
		e, err := entityOf(row)
		if err != nil {
			return nil, err
		}
		out = append(out, ChangedEntity{Entity: e, CreatedAt: timeOf(row[3]), UpdatedAt: timeOf(row[4])})
	}
	return out, nil
}

func timeOf(v any) time.Time {
	t, _ := v.(time.Time)
	return t.UTC()
}
