package reader

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/memsnap/memsnap/internal/graphdb"
)

// Time windows and the change feed
//
// Entities carry created_at and updated_at (the time of the job that last
// changed them), relations created_at. RecentChanges lists them in the
// order they changed, oldest first, a page at a time: its cursor is the
// position (time, then entities before relations, then name or from, to,
// type) after the last item of a page, so paging goes on across snapshot
// swaps and an entity changed again after its page comes back on a later
// one. Deletions leave nothing to list.

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
	// NextCursor is the position after this page's last item (or where
	// the page started, when it is empty): passed back, it gives what
	// changed after, now or later. An empty page means nothing newer yet.
	NextCursor string `json:"nextCursor"`
}

// RecentOptions shapes RecentChanges.
type RecentOptions struct {
	// Since starts the feed at this time (inclusive); zero starts it at
	// the Limit most recent changes.
	Since time.Time
	// Limit caps the items (entities and relations) of a page; 0 means
	// DefaultRecent.
	Limit int
	// Cursor continues after the page that returned it as NextCursor; it
	// overrides Since.
	Cursor string
}

// FeedStart is the cursor of the change feed's very start: before every
// change there will be. A server with no snapshot yet answers with it.
func FeedStart() string { return feedPos{Kind: "e", Key: []string{""}}.encode() }

// DefaultRecent is RecentChanges' page size when none is given.
const DefaultRecent = 100

// feedPos is a position in the change feed: a time, then kind 'e'
// (entities, by name) before 'r' (relations, by from, to, type).
type feedPos struct {
	At   time.Time `json:"t"`
	Kind string    `json:"k"`
	Key  []string  `json:"n"`
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

// compare orders feed positions.
func (p feedPos) compare(q feedPos) int {
	return cmp.Or(p.At.Compare(q.At), strings.Compare(p.Kind, q.Kind), slices.Compare(p.Key, q.Key))
}

// RecentChanges returns the entities and relations created or changed
// after a position of the change feed (see TimeWindow's package notes),
// oldest first, at most opts.Limit of them, with a cursor to the rest. It
// returns ErrBadOption for a negative limit or a cursor it did not give.
func (r *Reader) RecentChanges(ctx context.Context, opts RecentOptions) (*Changes, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("recent changes: %w: limit %d is negative", ErrBadOption, opts.Limit)
	}
	limit := cmp.Or(opts.Limit, DefaultRecent)
	var after feedPos
	if opts.Cursor != "" {
		var err error
		if after, err = decodeFeedPos(opts.Cursor); err != nil {
			return nil, err
		}
	}
	out := &Changes{Entities: []ChangedEntity{}, Relations: []ChangedRelation{}}
	err := r.withConn(ctx, func(ctx context.Context, seq uint64, c *graphdb.Conn) error {
		out.Snapshot = seq
		if opts.Cursor == "" {
			since := opts.Since
			if since.IsZero() {
				var err error
				if since, err = nthNewest(ctx, c, limit); err != nil {
					return err
				}
			}
			// Just before every item at since: entities at since have
			// names after "".
			after = feedPos{At: since, Kind: "e", Key: []string{""}}
		}
		return readFeed(ctx, c, after, limit, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// nthNewest returns the time of the n-th most recent change (the oldest
// change when there are fewer).
func nthNewest(ctx context.Context, c *graphdb.Conn, n int) (time.Time, error) {
	var times []time.Time
	for _, q := range []string{
		"MATCH (e:Entity) RETURN e.updated_at AS t ORDER BY t DESC LIMIT %d",
		"MATCH (:Entity)-[r:Relation]->(:Entity) RETURN r.created_at AS t ORDER BY t DESC LIMIT %d",
	} {
		res, err := c.Query(ctx, fmt.Sprintf(q, n), nil)
		if err != nil {
			return time.Time{}, fmt.Errorf("recent changes: %w", err)
		}
		for _, row := range res.Rows {
			t, _ := row[0].(time.Time)
			times = append(times, t)
		}
	}
	if len(times) == 0 {
		return time.Time{}, nil
	}
	slices.SortFunc(times, func(a, b time.Time) int { return b.Compare(a) })
	return times[min(n, len(times))-1], nil
}

// readFeed reads the first limit items after position p into out.
func readFeed(ctx context.Context, c *graphdb.Conn, p feedPos, limit int, out *Changes) error {
	at := kuzuTime(p.At)
	// Entities after p: later, or at p's time after its name (an entity
	// position only: entities come before relations at one time).
	entQ := "MATCH (e:Entity) WHERE e.updated_at > timestamp($t)"
	entP := map[string]any{"t": at}
	if p.Kind == "e" {
		entQ += " OR (e.updated_at = timestamp($t) AND e.name > $n)"
		entP["n"] = p.Key[0]
	}
	entQ += fmt.Sprintf(" RETURN %s, e.created_at, e.updated_at ORDER BY e.updated_at, e.name LIMIT %d", entityCols, limit+1)
	relQ := "MATCH (a:Entity)-[r:Relation]->(b:Entity) WHERE r.created_at > timestamp($t)"
	relP := map[string]any{"t": at}
	if p.Kind == "e" {
		relQ = "MATCH (a:Entity)-[r:Relation]->(b:Entity) WHERE r.created_at >= timestamp($t)"
	} else {
		relQ += " OR (r.created_at = timestamp($t) AND (a.name > $f OR (a.name = $f AND (b.name > $to OR (b.name = $to AND r.relationType > $ty)))))"
		relP["f"], relP["to"], relP["ty"] = p.Key[0], p.Key[1], p.Key[2]
	}
	relQ += fmt.Sprintf(" RETURN a.name, b.name, r.relationType, r.created_at ORDER BY r.created_at, a.name, b.name, r.relationType LIMIT %d", limit+1)
	type item struct {
		pos feedPos
		ent *ChangedEntity
		rel *ChangedRelation
	}
	var items []item
	res, err := c.Query(ctx, entQ, entP)
	if err != nil {
		return fmt.Errorf("recent changes: read entities: %w", err)
	}
	for _, row := range res.Rows {
		e, err := entityOf(row)
		if err != nil {
			return fmt.Errorf("recent changes: %w", err)
		}
		ce := &ChangedEntity{Entity: e, CreatedAt: timeOf(row[3]), UpdatedAt: timeOf(row[4])}
		items = append(items, item{pos: feedPos{At: ce.UpdatedAt, Kind: "e", Key: []string{e.Name}}, ent: ce})
	}
	if res, err = c.Query(ctx, relQ, relP); err != nil {
		return fmt.Errorf("recent changes: read relations: %w", err)
	}
	for _, row := range res.Rows {
		cr := &ChangedRelation{Relation: Relation{From: graphdb.String(row[0]), To: graphdb.String(row[1]), RelationType: graphdb.String(row[2])},
			CreatedAt: timeOf(row[3])}
		items = append(items, item{pos: feedPos{At: cr.CreatedAt, Kind: "r", Key: []string{cr.From, cr.To, cr.RelationType}}, rel: cr})
	}
	slices.SortFunc(items, func(a, b item) int { return a.pos.compare(b.pos) })
	items = items[:min(limit, len(items))]
	out.NextCursor = p.encode()
	if len(items) > 0 {
		out.NextCursor = items[len(items)-1].pos.encode()
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

func timeOf(v any) time.Time {
	t, _ := v.(time.Time)
	return t.UTC()
}
