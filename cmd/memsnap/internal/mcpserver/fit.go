package mcpserver

// Answers that always fit (mcp.max_answer_bytes). A tool's answer goes
// twice in its message: as structuredContent (compact JSON) and as text
// (the same JSON indented, as the reference server writes it, escaped as a
// JSON string); sentSize counts both. An answer that would pass the cap
// holds the best-ranked part that fits (the entities in the order the
// whole answer has them), a nextCursor and a note saying how many more
// there are; passed back with the same other arguments, the cursor gives
// the next part. An answer that fits is the whole answer, unchanged.
//
// search_nodes, open_nodes, neighbors and kv_scan compute the whole answer
// again for each part and skip to the cursor's offset (pageCursor), so
// paging through a search reaches every entity it finds as long as no
// write changes the answer in between (each part names its snapshot in
// _meta memsnap/snapshot). read_graph and recent_changes page with their
// own cursors, which stay valid across snapshots.

import "context"
import "crypto/sha256"
import "encoding/base64"
import "encoding/hex"
import "encoding/json"
import "fmt"
import "strings"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"

// answerCap is mcp.max_answer_bytes, in bytes (its default when unset, as
// in a Config built by hand).
func (s *Server) answerCap() int {
	if c := s.o.Config.MCP.MaxAnswerBytes; c > 0 {
		return max(c, config.MinAnswerBytes)
	}
	return config.Default().MCP.MaxAnswerBytes
}

// pageCursor is the nextCursor of a cut search_nodes, open_nodes,
// neighbors or kv_scan answer: where the next part starts in the whole
// answer, and which call it continues.
type pageCursor struct {
	Tool   string `json:"t"`
	Offset int    `json:"o"`
	Args   string `json:"a"` // argsDigest of the call's other arguments
	// Content is the content digest of the memory the page before was
	// read from (memoryOf), and Snapshot and Queued where it stood: a
	// next page read from another memory says so.
	Content  string `json:"c,omitempty"`
	Snapshot uint64 `json:"s,omitempty"`
	Queued   int    `json:"q,omitempty"`
}

// cursorPrefix starts every pageCursor, so that a cursor of another kind
// (read_graph's) is told apart.
const cursorPrefix = "p"

func (c pageCursor) String() string {
	b, _ := json.Marshal(c)
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// argsDigest identifies a call's arguments (other than cursor and limit)
// in its cursor: 12 bytes of the SHA-256 of their JSON.
func argsDigest(args ...any) string {
	b, _ := json.Marshal(args)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// offsetOf reads cursor ("" starts at 0), which must be a pageCursor that
// tool gave out for the same arguments (digest); otherwise it fails with
// reader.ErrBadOption.
func offsetOf(tool, digest, cursor string) (int, error) {
	c, err := cursorOf(tool, digest, cursor)
	return c.Offset, err
}

// cursorOf is offsetOf giving the whole cursor (zero for "").
func cursorOf(tool, digest, cursor string) (pageCursor, error) {
	if cursor == "" {
		return pageCursor{}, nil
	}
	var c pageCursor
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cursor, cursorPrefix))
	if err != nil || !strings.HasPrefix(cursor, cursorPrefix) || json.Unmarshal(b, &c) != nil || c.Offset < 0 {
		return pageCursor{}, fmt.Errorf("%w: cursor %q is not one this server gave out", reader.ErrBadOption, clip(cursor))
	}
	if c.Tool != tool || c.Args != digest {
		return pageCursor{}, fmt.Errorf("%w: cursor %q continues another call (%s with other arguments): pass it with the arguments of the call that gave it",
			reader.ErrBadOption, clip(cursor), c.Tool)
	}
	return c, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// itemShare is how many bytes one element of a list at depth 2 of an
// answer ({"entities": [ELEMENT, ...]}) takes as sent: compact with its
// comma in the structured content, and indented with its comma, line break
// and indent in the text, escaped as a JSON string.
func itemShare(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	ind := appendIndented(make([]byte, 0, 2*len(b)), b, 2)
	return len(b) + 1 + jsonStringLen(string(ind)) - 2 + len(",\\n    ")
}

// noteReserve is room kept for the nextCursor and note of a cut answer
// while its part is chosen.
const noteReserve = 1024

// fitList returns how many of items, from the first, fit in left bytes,
// at most limit (0: no limit), where item i costs cost(i) bytes; at least
// one when there is one (see trimEntity for one that does not fit alone).
func fitList(n, limit, left int, cost func(i int) int) int {
	k := 0
	for ; k < n && (limit == 0 || k < limit); k++ {
		c := cost(k)
		if c > left && k > 0 {
			break
		}
		left -= c
	}
	return k
}

// graphPage is the part of full (entities in order, the relations that go
// with them: the whole answer when complete, else the reader's part of it
// holding every entity that can fit) that starts at offset and fits budget
// bytes as sent, with at most limit entities (0: no limit). A part with
// every entity of a complete full from offset 0 is full itself, carrying
// its encoding (sent) so that it is encoded once; any other part holds the
// relations with at least one end among its entities. shown is how many
// entities it holds.
func graphPage(full *reader.Graph, offset, limit, budget int, complete bool) (out graphOut, shown int) {
	ents := full.Entities[min(offset, len(full.Entities)):]
	if offset == 0 && complete && (limit == 0 || len(ents) <= limit) {
		out = graphOut{Entities: ents, Relations: full.Relations}
		if a, ok := encodedWithin(out, budget, 2*rawLen(ents, full.Relations)); ok {
			out.sent = a
			return out, len(ents)
		}
	}
	touching := map[string][]int{}
	for i, r := range full.Relations {
		touching[r.From] = append(touching[r.From], i)
		if r.To != r.From {
			touching[r.To] = append(touching[r.To], i)
		}
	}
	entShares, relShares := newShares(ents), newShares(full.Relations)
	for b := budget; ; b -= budget / 16 {
		used := make([]bool, len(full.Relations))
		k := fitList(len(ents), limit, b-sizeOf(graphOut{Entities: ents[:0], Relations: full.Relations[:0]})-noteReserve, func(i int) int {
			c := entShares.of(i)
			for _, ri := range touching[ents[i].Name] {
				if !used[ri] {
					used[ri] = true
					c += relShares.of(ri)
				}
			}
			return c
		})
		// fitList priced entity k too (the one that did not fit) and marked
		// its relations: the part's relations are those of ents[:k] alone.
		clear(used)
		for _, e := range ents[:k] {
			for _, ri := range touching[e.Name] {
				used[ri] = true
			}
		}
		out = graphOut{Entities: ents[:k], Relations: relationsOf(full, used)}
		if k <= 1 || fits(out, b) {
			if k == 1 && !fits(out, budget-noteReserve) {
				out = trimEntity(out, budget-noteReserve)
			}
			return out, k
		}
	}
}

// shares is each item's itemShare, computed the first time it is asked
// for and kept, as graphPage asks again for a smaller budget.
type shares[T any] struct {
	items []T
	share []int // 0: not computed yet
}

func newShares[T any](items []T) *shares[T] {
	return &shares[T]{items: items, share: make([]int, len(items))}
}

// of is items[i]'s itemShare, in bytes.
func (s *shares[T]) of(i int) int {
	if s.share[i] == 0 {
		s.share[i] = itemShare(s.items[i])
	}
	return s.share[i]
}

// rawLen is the bytes of the strings in ents and rels: each goes at least
// once, escaped (never shorter), in the structured content and again in
// the text, so an answer holding them takes at least twice that as sent.
func rawLen(ents []reader.Entity, rels []reader.Relation) int {
	n := 0
	for _, e := range ents {
		n += e.StringBytes()
	}
	for _, r := range rels {
		n += len(r.From) + len(r.To) + len(r.RelationType)
	}
	return n
}

// encodedWithin says whether v fits budget bytes as sent (fits), with its
// encoding when it does. atLeast is a lower bound of v's size as sent
// (rawLen): over budget, v is not encoded at all. An answer that cannot
// be encoded fits, as with sizeOf, without an encoding (its encoding
// fails again, with the error, when it is sent).
func encodedWithin(v any, budget, atLeast int) (*sentAnswer, bool) {
	if atLeast > budget {
		return nil, false
	}
	a, err := encodeSent(v)
	if err != nil {
		return nil, true
	}
	return a, a.size() <= budget
}

// relationsOf lists the relations of full marked in used, in full's order.
func relationsOf(full *reader.Graph, used []bool) []reader.Relation {
	rels := []reader.Relation{}
	for i, u := range used {
		if u {
			rels = append(rels, full.Relations[i])
		}
	}
	return rels
}

// trimEntity cuts the one entity of out, too large to fit budget bytes
// alone, to the observations and relations that fit, and says so in the
// note (the rest can be read with query).
func trimEntity(out graphOut, budget int) graphOut {
	e := out.Entities[0]
	obs, rels := e.Observations, out.Relations
	left := budget - sizeOf(graphOut{Entities: []reader.Entity{{Name: e.Name, EntityType: e.EntityType, Observations: []string{}}}, Relations: rels[:0]})
	r := fitList(len(rels), 0, left, func(i int) int { return itemShare(rels[i]) })
	for ; r > 0 && sumShares(rels[:r]) > left/2; r-- {
		// relations take at most half of the room, observations the rest
	}
	left -= sumShares(rels[:r])
	o := 0
	for ; o < len(obs); o++ {
		enc, _ := json.Marshal(obs[o])
		c := len(enc) + 1 + jsonStringLen(string(enc)) - 2 + len(",\\n        ") // compact, and indented in the text
		if c > left {
			break
		}
		left -= c
	}
	cut := reader.Entity{Name: e.Name, EntityType: e.EntityType, Observations: obs[:o]}
	out.Entities, out.Relations = []reader.Entity{cut}, rels[:r]
	for o > 0 && !fits(out, budget) { // the estimate was short
		o--
		out.Entities[0].Observations = obs[:o]
	}
	out.Note = fmt.Sprintf("entity %q alone is over mcp.max_answer_bytes: shown with %d of its %d observations and %d of its %d relations here; "+
		"read the rest with the query tool", e.Name, o, len(obs), r, len(rels))
	return out
}

func sumShares[T any](items []T) int {
	n := 0
	for _, it := range items {
		n += itemShare(it)
	}
	return n
}

// sizeOf is how many bytes v takes as an answer, as sent (sentSize).
func sizeOf(v any) int {
	structured, text, err := encodeAnswer(v)
	if err != nil {
		return 0
	}
	return sentSize(structured, text)
}

func fits(v any, budget int) bool { return sizeOf(v) <= budget }

// cutNote is the note of a part that ends before the whole answer: which
// entities it shows, how many more there are and how to get them.
func cutNote(tool, why string, from, shown, total int, atLeast bool) string {
	more := fmt.Sprint(total - from - shown)
	if atLeast {
		more = "at least " + more
	}
	return fmt.Sprintf("answer cut %s: %s %d to %d of %d shown, %s more; call %s again with the same arguments and cursor set to nextCursor for the next part",
		why, "entities", from+1, from+shown, total, more, tool)
}

// cutReason says why a part ended: the cap or the limit.
func (s *Server) cutReason(limit, shown int) string {
	if limit > 0 && shown == limit {
		return fmt.Sprintf("at limit %d", limit)
	}
	return fmt.Sprintf("to fit mcp.max_answer_bytes (%d bytes)", s.answerCap())
}

// pagedGraph answers with the part of full from cursor (a pageCursor of
// tool for args) that fits mcp.max_answer_bytes, with at most limit
// entities: the whole of full, unchanged, when it fits. full is the whole
// answer, or the reader's part of it from the cursor's offset on
// (reader.Graph.From and Total: searchPart).
func (s *Server) pagedGraph(tool string, full *reader.Graph, cursor string, limit int, args ...any) (graphOut, error) {
	digest := argsDigest(args...)
	c, err := cursorOf(tool, digest, cursor)
	if err != nil {
		return graphOut{}, err
	}
	offset, content := c.Offset, s.memoryOf(full)
	total, skip := len(full.Entities), offset
	if full.Total > 0 { // a part: the reader skipped to offset
		total, skip = full.Total, max(offset-full.From, 0)
	}
	complete := full.From == 0 && len(full.Entities) == total
	out, shown := graphPage(full, skip, limit, s.answerCap(), complete)
	if full.Suggestions != nil { // only when nothing matched: nothing to page
		out.Suggestions, out.sent = full.Suggestions, nil
	}
	if offset+shown < total {
		out.NextCursor = pageCursor{Tool: tool, Offset: offset + shown, Args: digest,
			Content: content, Snapshot: full.Snapshot, Queued: full.Queued}.String()
		note := cutNote(tool, s.cutReason(limit, shown), offset, shown, total, false)
		if out.Note != "" {
			note = out.Note + "; " + note
		}
		out.Note, out.sent = note, nil
	}
	if c.Content != "" && content != "" && c.Content != content {
		note := changedNote(c.Snapshot, c.Queued, full.Snapshot, full.Queued)
		out.Note, out.sent = strings.TrimSuffix(note+"; "+out.Note, "; "), nil
	}
	return out, nil
}

// memoryOf is the content digest of the memory g was read from: the one
// the queued jobs applied over its snapshot leave (reader.Graph.Content),
// else the one its snapshot's manifest records; "" when neither is known.
// A write that changes no entity or relation (a kv_put), or the commit of
// jobs a read had already applied, leaves it as it was.
func (s *Server) memoryOf(g *reader.Graph) string {
	if c := g.Content(); c != "" {
		return c
	}
	if s.o.Store == nil || g.Snapshot == 0 {
		return ""
	}
	if m, err := s.o.Store.Manifest(g.Snapshot); err == nil {
		return m.Digest
	}
	return ""
}

// changedNote is the note of a page read from another memory than the
// page before it (its snapshot and queued writes then and now): the
// ranking moved, so a match may be missing from the pages or shown twice.
func changedNote(snapThen uint64, queuedThen int, snapNow uint64, queuedNow int) string {
	return fmt.Sprintf("the memory changed since the page before (snapshot %d with %d queued writes then, snapshot %d with %d now): "+
		"this page is taken from the ranking as it stands now, so a match may be missing from the pages or shown twice; "+
		"search again without cursor for one consistent list", snapThen, queuedThen, snapNow, queuedNow)
}

// searchPart is the search_nodes part SearchOptions asks the reader for:
// the ranked matches from the cursor's offset, at most limit, and no more
// than can fit mcp.max_answer_bytes (each string goes twice: rawLen), so
// that a broad search reads and prices what it can send, not every match.
// A cursor that is not this call's gives offset 0: pagedGraph refuses it.
func (s *Server) searchPart(in searchNodesIn, w reader.TimeWindow) reader.SearchOptions {
	offset, _ := offsetOf("search_nodes", argsDigest(in.Query, in.Since, in.Until), in.Cursor)
	return reader.SearchOptions{Window: w, Offset: offset, Limit: in.Limit, MaxBytes: s.answerCap() / 2}
}

// fitPages re-reads a page of at most k items, shrinking k until the page
// fits budget bytes or holds one item; page reads the page of k items and
// returns its answer and how many items it holds. It returns the last
// page read.
func fitPages[T any](k, budget int, page func(k int) (T, int, error)) (T, int, error) {
	for {
		out, n, err := page(k)
		if err != nil || n <= 1 || fits(out, budget) {
			return out, n, err
		}
		k = min(n-1, n*15/16)
	}
}

// shortPage is a paged read's answer (read_graph, recent_changes) fitted
// to mcp.max_answer_bytes by shorten.
type shortPage[T any] struct {
	whole T      // the page asked for
	all   int    // its items
	snap  uint64 // the snapshot it was read from
	part  T      // the answer: whole when it fits, else a shorter page that does
	n     int    // the answer's items
	cut   bool   // part is shorter than whole
}

// shorten reads the page asked for with read(0) and answers it when fit
// says it fits (fit may keep the encoding it made in its answer); else it
// reads a page of at most k items, k first estimated from the whole page,
// and shrinks it until it fits budget less noteReserve (fitPages). read
// takes the limit to read with (0: the one asked for) and returns the page
// as an answer, its items and its snapshot.
func shorten[T any](budget int, read func(limit int) (T, int, uint64, error), fit func(*T) bool, estimate func(T) int) (shortPage[T], error) {
	var p shortPage[T]
	var err error
	if p.whole, p.all, p.snap, err = read(0); err != nil {
		return p, err
	}
	if p.part, p.n = p.whole, p.all; fit(&p.part) {
		return p, nil
	}
	p.cut = true
	p.part, p.n, err = fitPages(estimate(p.whole), budget-noteReserve, func(k int) (T, int, error) {
		out, n, _, err := read(k)
		return out, n, err
	})
	return p, err
}

// pageReader is shorten's read for a reader call: call with opts, its
// limit set by setLimit when one is given, and the page it returns made an
// answer with its items and snapshot by answer.
func pageReader[O, P, T any](opts O, setLimit func(*O, int), call func(O) (P, error), answer func(P) (T, int, uint64)) func(int) (T, int, uint64, error) {
	return func(limit int) (T, int, uint64, error) {
		o := opts
		if limit > 0 {
			setLimit(&o, limit)
		}
		p, err := call(o)
		if err != nil {
			var zero T
			return zero, 0, 0, err
		}
		out, n, snap := answer(p)
		return out, n, snap, nil
	}
}

// readGraphPart answers read_graph: the page the reader gives (the whole
// graph without a limit) when it fits mcp.max_answer_bytes; else a shorter
// page that does, with the reader's own nextCursor (by name, valid across
// snapshots) and a note.
func (s *Server) readGraphPart(ctx context.Context, r *reader.Reader, opts reader.ReadGraphOptions) (graphOut, uint64, error) {
	budget := s.answerCap()
	read := pageReader(opts, func(o *reader.ReadGraphOptions, k int) { o.Limit = k },
		func(o reader.ReadGraphOptions) (*reader.Graph, error) { return r.ReadGraph(ctx, o) },
		func(g *reader.Graph) (graphOut, int, uint64) {
			return graphOut{Entities: model.NonNil(g.Entities), Relations: model.NonNil(g.Relations), NextCursor: g.NextCursor}, len(g.Entities), g.Snapshot
		})
	fit := func(out *graphOut) bool {
		a, ok := encodedWithin(*out, budget, 2*rawLen(out.Entities, out.Relations))
		if ok {
			out.sent = a
		}
		return ok
	}
	estimate := func(out graphOut) int {
		from := map[string]int{} // each entity's share of the relations that start at it
		for _, rel := range out.Relations {
			from[rel.From] += itemShare(rel)
		}
		left := budget - noteReserve - sizeOf(graphOut{Entities: out.Entities[:0], Relations: out.Relations[:0], NextCursor: out.NextCursor})
		return fitList(len(out.Entities), 0, left, func(i int) int { return itemShare(out.Entities[i]) + from[out.Entities[i].Name] })
	}
	p, err := shorten(budget, read, fit, estimate)
	if err != nil {
		return graphOut{}, 0, err
	}
	if !p.cut {
		return p.part, p.snap, nil
	}
	cut := p.part
	if p.n == 1 && !fits(cut, budget-noteReserve) {
		cut = trimEntity(cut, budget-noteReserve)
	}
	more := fmt.Sprint(p.all - p.n)
	if p.whole.NextCursor != "" {
		more = "at least " + more
	}
	note := fmt.Sprintf("answer cut %s: %d of %d entities shown, %s more; call read_graph again with the same arguments and cursor set to nextCursor for the next page",
		s.cutReason(0, p.n), p.n, p.all, more)
	cut.Note = strings.TrimPrefix(cut.Note+"; "+note, "; ")
	return cut, p.snap, nil
}

// recentPart answers recent_changes: the reader's page when it fits
// mcp.max_answer_bytes, else a page of fewer changes that does, with its
// own nextCursor (a feed position) and a note.
func (s *Server) recentPart(ctx context.Context, r *reader.Reader, opts reader.RecentOptions) (changesOut, uint64, error) {
	budget := s.answerCap()
	read := pageReader(opts, func(o *reader.RecentOptions, k int) { o.Limit = k },
		func(o reader.RecentOptions) (*reader.Changes, error) { return r.RecentChanges(ctx, o) },
		func(c *reader.Changes) (changesOut, int, uint64) {
			c.Entities, c.Relations = model.NonNil(c.Entities), model.NonNil(c.Relations)
			return changesOut{Changes: *c}, len(c.Entities) + len(c.Relations), c.Snapshot
		})
	estimate := func(out changesOut) int {
		total := len(out.Entities) + len(out.Relations)
		return max(1, int(int64(total)*int64(budget-noteReserve)/int64(sizeOf(out))))
	}
	p, err := shorten(budget, read, func(out *changesOut) bool { return fits(*out, budget) }, estimate)
	if err != nil {
		return changesOut{}, 0, err
	}
	if p.cut {
		p.part.Note = fmt.Sprintf("answer cut to fit mcp.max_answer_bytes (%d bytes): %d of %d changes shown, %d more in this page's range and "+
			"possibly more after it; call recent_changes again with cursor set to nextCursor for the next page", budget, p.n, p.all, p.all-p.n)
	}
	return p.part, p.snap, nil
}

// kvPart is the part of pairs (a whole kv_scan answer) from cursor that
// fits mcp.max_answer_bytes, with a cursor and a note when it ends early.
func (s *Server) kvPart(pairs []reader.Pair, snap uint64, in kvScanIn) (kvScanOut, error) {
	digest := argsDigest(in.Prefix, in.Limit)
	offset, err := offsetOf("kv_scan", digest, in.Cursor)
	if err != nil {
		return kvScanOut{}, err
	}
	rest := pairs[min(offset, len(pairs)):]
	out := kvScanOut{Pairs: rest, Snapshot: snap}
	budget := s.answerCap()
	if fits(out, budget) {
		return out, nil
	}
	left := budget - noteReserve - sizeOf(kvScanOut{Pairs: rest[:0], Snapshot: snap})
	k := fitList(len(rest), 0, left, func(i int) int { return itemShare(rest[i]) })
	for k > 1 && !fits(kvScanOut{Pairs: rest[:k], Snapshot: snap}, budget-noteReserve) {
		k = min(k-1, k*15/16)
	}
	out.Pairs = rest[:k]
	out.NextCursor = pageCursor{Tool: "kv_scan", Offset: offset + k, Args: digest}.String()
	out.Note = fmt.Sprintf("answer cut to fit mcp.max_answer_bytes (%d bytes): keys %d to %d of %d shown, %d more; "+
		"call kv_scan again with the same arguments and cursor set to nextCursor for the next part", budget, offset+1, offset+k, len(pairs), len(pairs)-offset-k)
	return out, nil
}
