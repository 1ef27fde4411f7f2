// Package graphindex is an in-memory index of one snapshot's graph for
// search: every entity's text, for the reference memory server's substring
// rule (exact) and a word index scored by BM25, ranked together as
// memsnap's search_nodes answers (rank.go), with trigram suggestions for a
// query that matches nothing; and every entity's outgoing relations, so
// that a search's relations need no read of the graph either.
//
// A View answers for one snapshot and never changes. Apply derives the
// next snapshot's View from the newest one by the entities that changed,
// sharing everything else: the documents are appended to, never written
// over, and a View sees only the first n of them less its own dead set.
// A process builds one View per snapshot it searches and replaces few
// documents per snapshot, so a search costs the trigram lists of the query
// and a check of the documents holding them all (a scan of the text in
// memory for a query under three bytes), the postings of the query's
// words, and never a read of the graph.
package graphindex

import "cmp"
import "math"
import "runtime"
import "slices"
import "sort"
import "strings"
import "sync"
import "sync/atomic"
import "unicode"
import "unicode/utf8"

import porterstemmer "github.com/blevesearch/go-porterstemmer"

import "golang.org/x/text/unicode/norm"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"

// BM25 parameters, Kuzu's full-text defaults, which memsnap used before
// this index.
const (
	bm25K = 1.2
	bm25B = 0.75
)

// sep joins the fields of a document's text. No query matches across it
// (a query holding it is checked field by field), so a match in the joined
// text is a match in one field, the reference server's rule.
const sep = "\x00"

// doc is one entity: its fields are substrings of orig (name, type and
// observations joined by sep), and text is orig lower-cased, the same
// string when orig has no upper case.
type doc struct {
	orig    string
	text    string
	nameLen int32 // length of the lower-cased name at the start of text
	// nfc is text in Unicode normalization form C when that differs from
	// text (else ""), and nfcNameLen the length of its name.
	nfc        string
	nfcNameLen int32
	fields     []int32 // end of each field in orig: name, type, observations
	terms      int32   // words indexed, the document's length for BM25
	ascii      bool    // orig is ASCII: text has orig's offsets, and its NFC is itself
	out        []Rel   // the entity's outgoing relations
}

// folded is the document's text lower-cased and in NFC.
func (d *doc) folded() string {
	if d.nfc != "" {
		return d.nfc
	}
	return d.text
}

// foldedName is the name lower-cased and in NFC.
func (d *doc) foldedName() string {
	if d.nfc != "" {
		return d.nfc[:d.nfcNameLen]
	}
	return d.text[:d.nameLen]
}

// NFC returns s in Unicode normalization form C (golang.org/x/text/
// unicode/norm): "cafe\u0301" and "caf\u00e9" become the same string.
func NFC(s string) string {
	if isASCII(s) {
		return s
	}
	return norm.NFC.String(s)
}

// Rel is an outgoing relation of an entity.
type Rel struct {
	To, Type string
}

// name is the entity's name, sharing orig's memory.
func (d *doc) name() string { return d.orig[:d.fields[0]] }

// entity rebuilds the entity from orig: the strings share its memory.
func (d *doc) entity() model.Entity {
	e := model.Entity{Observations: make([]string, 0, len(d.fields)-2)}
	start := 0
	for i, end := range d.fields {
		f := d.orig[start:end]
		switch i {
		case 0:
			e.Name = f
		case 1:
			e.EntityType = f
		default:
			e.Observations = append(e.Observations, f)
		}
		start = int(end) + len(sep)
	}
	return e
}

type posting struct {
	doc int32
	tf  int32
}

// Index is the state Views of one lineage share. Only the newest View may
// be extended (Apply); postings are guarded by mu, documents are appended
// past every older View's length and so need no lock.
type Index struct {
	// mu guards postings, byName, sources, stems, newest, grams and
	// nameGrams.
	mu       sync.RWMutex
	postings map[string][]posting // guarded by mu; docs ascending
	docs     []doc                // append-only; Views hold prefixes
	// lens is each document's terms, as docs holds them: what BM25 reads
	// of every document a word finds, in 4 bytes rather than the doc's
	// cache line. Append-only with docs.
	lens    []int32
	byName  map[string]int32     // newest document of each live name; guarded by mu
	sources map[string][]int32   // documents that had a relation to the name; guarded by mu
	stems   map[string]string    // word -> stem, a cache; guarded by mu
	newest  *View                // guarded by mu
	grams   map[uint32]*gramList // trigram -> documents holding it; guarded by mu
	// nameGrams is grams of the names alone (lower-cased, in NFC, and
	// as their letters and digits alone, wordChars):
	// what Suggest compares a query that matched nothing with. Guarded by mu.
	nameGrams map[uint32]*gramList
}

// View is the index of one snapshot: documents [0, len(docs)) of its
// Index less dead. Safe for concurrent use.
type View struct {
	ix       *Index
	docs     []doc
	lens     []int32  // ix.lens, as long as docs
	dead     []uint64 // bitset over docs
	live     int
	rels     int64      // live documents' outgoing relations
	totalLen int64      // sum of live documents' terms
	digest   fsm.Digest // of the live documents and their relations

	// order is the live documents in name order: built on the first Page,
	// then carried by Apply to each next View (see nameOrder).
	order   atomic.Pointer[[]int32]
	orderMu sync.Mutex // serialises building order
	// ranks is each document's place in order (-1: dead), built from it
	// on the first broad ranking (see nameRanks).
	ranks atomic.Pointer[[]int32]
}

// Build indexes one snapshot's entities (names unique) and relations.
func Build(ents []model.Entity, rels []model.Relation) *View {
	ix := &Index{postings: map[string][]posting{}, byName: make(map[string]int32, len(ents)),
		sources: map[string][]int32{}, stems: map[string]string{}, grams: map[uint32]*gramList{},
		nameGrams: map[uint32]*gramList{}}
	ix.docs, ix.lens = make([]doc, 0, len(ents)), make([]int32, 0, len(ents))
	v := &View{ix: ix, dead: make([]uint64, 0, len(ents)/64+1)}
	out := outgoing(rels)
	docs := make([]doc, len(ents))
	for i, e := range ents {
		docs[i] = newDoc(e, out[e.Name])
	}
	compact(docs)
	for i, e := range ents {
		v.addDoc(e, docs[i])
	}
	ix.newest = v
	return v
}

// compact moves the documents' strings into one allocation: every text in
// document order, then the originals that differ from their text and the
// NFC forms. A broad search reads the texts of tens of thousands of
// documents in ascending order, and read from one run of memory they come
// at the speed the processor prefetches them, not one cache miss each
// (BenchmarkSearch100kBroad); the garbage collector marks one object
// instead of one to three a document. Build compacts its documents before
// it indexes them, so that the word lists' keys, cut from the texts, keep
// no other copy alive.
func compact(docs []doc) {
	size := 0
	for i := range docs {
		d := &docs[i]
		size += len(d.text) + len(d.nfc)
		if d.orig != d.text {
			size += len(d.orig)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for i := range docs {
		b.WriteString(docs[i].text)
	}
	for i := range docs {
		d := &docs[i]
		if d.orig != d.text {
			b.WriteString(d.orig)
		}
		b.WriteString(d.nfc)
	}
	all := b.String()
	at := 0
	take := func(n int) string {
		s := all[at : at+n]
		at += n
		return s
	}
	same := make([]bool, len(docs))
	for i := range docs {
		d := &docs[i]
		same[i] = d.orig == d.text
		d.text = take(len(d.text))
	}
	for i := range docs {
		d := &docs[i]
		if same[i] {
			d.orig = d.text
		} else {
			d.orig = take(len(d.orig))
		}
		if d.nfc != "" {
			d.nfc = take(len(d.nfc))
		}
	}
}

// outgoing groups relations by source.
func outgoing(rels []model.Relation) map[string][]Rel {
	out := map[string][]Rel{}
	for _, r := range rels {
		out[r.From] = append(out[r.From], Rel{To: r.To, Type: r.RelationType})
	}
	return out
}

// Digest returns the content digest of the view's entities and relations
// (fsm.Digest), which a snapshot's manifest records.
func (v *View) Digest() fsm.Digest { return v.digest }

// entityDigest is the digest of entity e with its outgoing relations out.
func entityDigest(e model.Entity, out []Rel) fsm.Digest {
	d := fsm.EntityHash(e.Name, e.EntityType, e.Observations)
	for _, r := range out {
		d = d.Add(fsm.RelationHash(model.Relation{From: e.Name, To: r.To, RelationType: r.Type}))
	}
	return d
}

// digestAfter is the digest Apply(changed, current, rels) would give v's
// successor, computed without changing the Index.
func (v *View) digestAfter(changed []string, current []model.Entity, rels []model.Relation) fsm.Digest {
	ix := v.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	d := v.digest
	seen := make(map[string]bool, len(changed)+len(current))
	drop := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if id, ok := ix.byName[name]; ok && id < int32(len(v.docs)) && !v.isDead(id) {
			d = d.Sub(entityDigest(v.docs[id].entity(), v.docs[id].out))
		}
	}
	for _, name := range changed {
		drop(name)
	}
	last := make(map[string]model.Entity, len(current))
	for _, e := range current {
		drop(e.Name)
		last[e.Name] = e // Apply keeps the last document of a name
	}
	out := outgoing(rels)
	for name, e := range last {
		d = d.Add(entityDigest(e, out[name]))
	}
	return d
}

// Live returns the number of entities in the view.
func (v *View) Live() int { return v.live }

// Relations returns the number of relations in the view.
func (v *View) Relations() int64 { return v.rels }

// add appends e's document with its outgoing relations; the caller holds
// ix.mu or owns ix alone.
func (v *View) add(e model.Entity, out []Rel) { v.addDoc(e, newDoc(e, out)) }

// newDoc is e's document, with its outgoing relations out, before it is
// indexed (addDoc).
func newDoc(e model.Entity, out []Rel) doc {
	var b strings.Builder
	size := len(e.Name) + len(e.EntityType) + len(sep)
	for _, o := range e.Observations {
		size += len(sep) + len(o)
	}
	b.Grow(size)
	fields := make([]int32, 0, 2+len(e.Observations))
	b.WriteString(e.Name)
	fields = append(fields, int32(b.Len()))
	b.WriteString(sep)
	b.WriteString(e.EntityType)
	fields = append(fields, int32(b.Len()))
	for _, o := range e.Observations {
		b.WriteString(sep)
		b.WriteString(o)
		fields = append(fields, int32(b.Len()))
	}
	orig := b.String()
	text := Lower(orig)
	d := doc{orig: orig, text: text, nameLen: int32(len(Lower(e.Name))), fields: fields, ascii: isASCII(orig), out: out}
	if nfc := NFC(text); nfc != text {
		d.nfc, d.nfcNameLen = nfc, int32(len(NFC(Lower(e.Name))))
	}
	return d
}

// addDoc indexes d, e's document, and appends it; the caller holds ix.mu or
// owns ix alone. The words' posting lists are keyed by substrings of d's
// strings (compact's one allocation, for a built index).
func (v *View) addDoc(e model.Entity, d doc) {
	ix := v.ix
	id := int32(len(ix.docs))
	for _, r := range d.out {
		ix.sources[r.To] = append(ix.sources[r.To], id)
	}
	addGrams(ix.grams, id, d.text, d.nfc)
	if d.nfc != "" {
		addGrams(ix.nameGrams, id, d.text[:d.nameLen], d.foldedName(), wordChars(d.foldedName()))
	} else {
		addGrams(ix.nameGrams, id, d.text[:d.nameLen], wordChars(d.text[:d.nameLen]))
	}
	terms := terms(d.folded(), ix.stems, true)
	d.terms = int32(len(terms))
	slices.Sort(terms)
	for i := 0; i < len(terms); {
		j := i + 1
		for j < len(terms) && terms[j] == terms[i] {
			j++
		}
		ix.postings[terms[i]] = append(ix.postings[terms[i]], posting{doc: id, tf: int32(j - i)})
		i = j
	}
	ix.docs, ix.lens = append(ix.docs, d), append(ix.lens, d.terms)
	v.docs, v.lens = ix.docs, ix.lens
	for len(v.dead) < len(v.docs)/64+1 {
		v.dead = append(v.dead, 0)
	}
	ix.byName[e.Name] = id
	v.live++
	v.rels += int64(len(d.out))
	v.totalLen += int64(d.terms)
	v.digest = v.digest.Add(entityDigest(e, d.out))
}

func (v *View) isDead(id int32) bool { return v.dead[id/64]&(1<<(id%64)) != 0 }

// Sources returns the names of the live entities of v with a relation to
// one of names: when an entity is deleted, its relations go with it, so
// their sources change too.
func (v *View) Sources(names []string) []string {
	ix := v.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	seen := map[int32]bool{}
	var out []string
	n := int32(len(v.docs))
	for _, name := range names {
		for _, id := range ix.sources[name] {
			if id >= n || v.isDead(id) || seen[id] {
				continue
			}
			seen[id] = true
			for _, r := range v.docs[id].out {
				if r.To == name {
					out = append(out, v.docs[id].entity().Name)
					break
				}
			}
		}
	}
	return out
}

// Lookup returns the live entity named name and its outgoing relations as
// v holds them. It answers only on its lineage's newest View (the one
// Apply extends); on any other, and for a name v does not hold, ok is false.
func (v *View) Lookup(name string) (e model.Entity, out []model.Relation, ok bool) {
	ix := v.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	id, found := ix.byName[name]
	if ix.newest != v || !found || id >= int32(len(v.docs)) || v.isDead(id) {
		return e, nil, false
	}
	d := &v.docs[id]
	for _, r := range d.out {
		out = append(out, model.Relation{From: name, To: r.To, RelationType: r.Type})
	}
	return d.entity(), out, true
}

// Apply returns the View of the next snapshot, in which the entities
// named in changed are as in current, with the outgoing relations rels
// has for them (an entity of changed missing from current was deleted).
// Every entity whose text or outgoing relations changed must be in
// changed, including the sources of relations to a deleted entity
// (Sources). It returns nil when v is not its lineage's newest View, or
// when replaced documents would make up more than a quarter of the index:
// the caller builds afresh.
func (v *View) Apply(changed []string, current []model.Entity, rels []model.Relation) *View {
	ix := v.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.newest != v || v.tooMuchGarbage(changed, current) {
		return nil
	}
	next := &View{ix: ix, docs: v.docs, lens: v.lens, dead: append([]uint64(nil), v.dead...), live: v.live, rels: v.rels, totalLen: v.totalLen,
		digest: v.digest}
	kill := func(name string) {
		if id, ok := ix.byName[name]; ok && !next.isDead(id) {
			next.dead[id/64] |= 1 << (id % 64)
			next.live--
			next.rels -= int64(len(ix.docs[id].out))
			next.totalLen -= int64(ix.docs[id].terms)
			next.digest = next.digest.Sub(entityDigest(ix.docs[id].entity(), ix.docs[id].out))
			delete(ix.byName, name)
		}
	}
	for _, name := range changed {
		kill(name)
	}
	out := outgoing(rels)
	for _, e := range current {
		kill(e.Name) // listed twice in current, or not in changed: keep one document
		next.add(e, out[e.Name])
	}
	if p := v.order.Load(); p != nil {
		// A process that pages keeps paging: carry the order rather than
		// sort every name again on the next page.
		order := next.carryOrder(*p, int32(len(v.docs)))
		next.order.Store(&order)
	}
	ix.newest = next
	return next
}

// tooMuchGarbage reports whether Apply(changed, current) would leave
// replaced and deleted documents making up more than a quarter of the
// index (and over 1024 of them). It is decided before Apply changes the
// Index the Views share: a refused Apply must leave v whole, as the View
// a later Apply extends. The caller holds ix.mu.
func (v *View) tooMuchGarbage(changed []string, current []model.Entity) bool {
	seen := make(map[string]bool, len(changed)+len(current))
	killed, created := 0, 0
	visit := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if id, ok := v.ix.byName[name]; ok && id < int32(len(v.docs)) && !v.isDead(id) {
			killed++
		}
	}
	for _, name := range changed {
		visit(name)
	}
	fresh := make(map[string]bool, len(current))
	for _, e := range current {
		visit(e.Name)
		fresh[e.Name] = true
	}
	created = len(fresh)
	docs := len(v.docs) + len(current)
	garbage := docs - (v.live - killed + created)
	return garbage > 1024 && garbage*4 > docs
}

// Open returns the live entities of names that v holds, in the order of
// names and each once, and every relation with at least one end among them,
// unordered: open_nodes, answered from memory. ok is false unless v is its
// lineage's newest View, the only one whose names it can resolve.
func (v *View) Open(names []string) (ents []model.Entity, rels []model.Relation, ok bool) {
	ix := v.ix
	ix.mu.RLock()
	if ix.newest != v {
		ix.mu.RUnlock()
		return nil, nil, false
	}
	var hits []Hit
	seen := make(map[string]bool, len(names))
	n := int32(len(v.docs))
	for _, name := range names {
		id, found := ix.byName[name]
		if !found || seen[name] || id >= n || v.isDead(id) {
			continue
		}
		seen[name] = true
		d := &v.docs[id]
		ents = append(ents, d.entity())
		hits = append(hits, Hit{id: id, d: d, v: v})
	}
	ix.mu.RUnlock()
	return ents, v.RelationsTouching(hits), true
}

// RelationsTouching returns the relations with at least one end among
// hits (found by v's Search), each once, unordered: the reference server's
// rule for search_nodes since 2026-02.
func (v *View) RelationsTouching(hits []Hit) []model.Relation {
	ix := v.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	in := make(map[string]bool, len(hits))
	for i := range hits {
		in[hits[i].Name()] = true
	}
	var out []model.Relation
	n := int32(len(v.docs))
	for i := range hits {
		name := hits[i].Name()
		for _, r := range v.docs[hits[i].id].out {
			out = append(out, model.Relation{From: name, To: r.To, RelationType: r.Type})
		}
		// Relations into the hit from entities that are not hits (those
		// from hits are listed above).
		srcs := ix.sources[name]
		for i, id := range srcs {
			// A document with several relations to name is listed once per
			// relation, in a row.
			if id >= n || v.isDead(id) || (i > 0 && srcs[i-1] == id) {
				continue
			}
			d := &v.docs[id]
			from := d.name()
			if in[from] {
				continue
			}
			for _, r := range d.out {
				if r.To == name {
					out = append(out, model.Relation{From: from, To: name, RelationType: r.Type})
				}
			}
		}
	}
	return out
}

// Tier says why an entity matched.
type Tier int

// Tiers, best first.
const (
	TierExactName Tier = iota // the name equals the query, ignoring case
	TierPhrase                // holds the whole query in one field, ignoring case: the reference server's rule
	TierAllWords              // holds every word of the query, stemmed, in any order and fields
)

// Field is where a hit holds the query, best first: its name, its type, an
// observation, or (words only) every word but spread over several fields.
type Field int8

// Fields, best first.
const (
	FieldName Field = iota
	FieldType
	FieldObservation
	FieldSpread
)

// Hit is an entity that matched a query. SortHits orders hits by the
// fields after Entity.
type Hit struct {
	// Entity is the entity found, as Search gives it. Hits leaves it empty
	// (a broad search finds tens of thousands of entities and a caller
	// sends a few hundred): Name, StringBytes and Load read the index.
	Entity    *model.Entity
	Tier      Tier
	NameMatch bool // the name holds the query, ignoring case
	// Substring says the reference server's rule found it: its name, type
	// or one observation holds the query, ignoring case (or both in NFC).
	Substring bool
	// Field is the best field holding the query (Substring) or, for a hit
	// found by words alone, every word of it.
	Field Field
	// Bounded says the query, found as a substring, starts and ends at word
	// boundaries in Field ("thing 1" in "thing 1 ok", not in "thing 12").
	Bounded bool
	// Span is, for a hit found by words alone, the fewest consecutive
	// words of one field that hold every query word (its proximity; the
	// query's word count when they stand together); 0 when no one field
	// holds them all, and for substring hits.
	Span  int
	Score float64 // BM25 over the query's words (digits included); 0 when it lacks one
	terms int32   // the entity's indexed words: a shorter entity ranks first on equal scores
	id    int32   // the entity's document in the View searched
	d     *doc    // that document; nil in a Hit made by hand (Entity is then the entity)
	v     *View   // the View searched; nil in a Hit made by hand
}

// Name is the name of the hit's entity.
func (h *Hit) Name() string {
	if h.d != nil {
		return h.d.name()
	}
	return h.Entity.Name
}

// StringBytes is the bytes of the hit's entity's strings, as
// model.Entity.StringBytes counts them, without building the entity.
func (h *Hit) StringBytes() int {
	if h.d != nil {
		return len(h.d.orig) - (len(h.d.fields)-1)*len(sep)
	}
	return h.Entity.StringBytes()
}

// Load returns the hit's entity: rebuilt from its document (the strings
// share the index's memory), or Entity for a Hit made by hand.
func (h *Hit) Load() model.Entity {
	if h.d != nil {
		return h.d.entity()
	}
	return *h.Entity
}

// loaded sets the Entity of every hit (Load) and returns hits.
func loaded(hits []Hit) []Hit {
	for i := range hits {
		e := hits[i].Load()
		hits[i].Entity = &e
	}
	return hits
}

// Search returns every entity that matches q, unordered (SortHits ranks
// them): those holding the lower-cased q in their name, type or one
// observation (the reference server's rule), or holding it once both are
// in Unicode normalization form C (a decomposed "cafe\u0301" finds
// "café"), and those holding every word of q after stemming (Terms),
// scored by BM25, each with the signals SortHits ranks by (rank.go) and
// its Entity.
func (v *View) Search(q string) []Hit { return loaded(v.Hits(q)) }

// Hits is Search without building the entities (Hit.Entity is empty; Name,
// StringBytes and Load read the index), in document order: a search costs
// what it finds and ranks, and the caller builds only the entities it
// sends. The hits are one slice; the ranking signals of each are computed
// from its document's text, with no allocation for an ASCII document, and
// a broad query's candidates and hits are checked on every CPU
// (inParallel).
func (v *View) Hits(q string) []Hit { return v.hits(q, 0) }

// hits is Hits with room for spare more hits in the slice.
func (v *View) hits(q string, spare int) []Hit {
	lq := Lower(q)
	nq := NFC(lq)
	qq := &query{lq: lq, nq: nq, terms: uniq(Terms(nq)), plain: lq == nq && lq != "" && isASCII(lq)}
	phrase, sigs := v.substringAt(lq, qq.plain) // ascending; each one's signals when known
	words := v.scoredWords(nq)                  // ascending
	// The union of the two, ascending: each document once, with its
	// signals when the substring check learned them and its score; then
	// the others' signals, in parallel (inParallel).
	n := unionLen(phrase, words)
	hits, known := make([]Hit, 0, n+spare), make([]phraseSig, 0, n)
	for i, j := 0, 0; i < len(phrase) || j < len(words); {
		h, sig := Hit{}, phraseSig(0)
		if i < len(phrase) && (j == len(words) || phrase[i] <= words[j].doc) {
			h.id, h.Substring, sig = phrase[i], true, sigs[i]
			i++
		}
		if j < len(words) && (!h.Substring || words[j].doc == h.id) {
			h.id, h.Score = words[j].doc, words[j].score
			j++
		}
		hits, known = append(hits, h), append(known, sig)
	}
	v.ix.mu.RLock() // for the stems wordsField reads
	defer v.ix.mu.RUnlock()
	inParallel(len(hits), func(_, lo, hi int) {
		for k := lo; k < hi; k++ {
			h := &hits[k]
			if known[k]&sigKnown != 0 {
				*h = known[k].hit(v, h.id, h.Score)
				continue
			}
			*h = v.hit(h.id, qq, h.Substring, h.Score)
		}
	})
	return hits
}

// phraseSig is what the substring check learned of a document holding the
// query as a phrase, the signals hit would otherwise compute from its text
// again: a broad search checks tens of thousands of documents, and reading
// each one's text twice costs the second read from memory rather than
// cache.
type phraseSig uint8

const (
	sigKnown     phraseSig = 1 << iota // the signals below were set
	sigExact                           // TierExactName
	sigNameMatch                       // Hit.NameMatch
	sigBounded                         // Hit.Bounded
	sigField                           // Hit.Field: this bit and the two above it
)

// hit is the Hit of v's document id with signals s and score.
func (s phraseSig) hit(v *View, id int32, score float64) Hit {
	h := Hit{Tier: TierPhrase, Substring: true, Score: score, terms: v.lens[id], id: id, d: &v.docs[id], v: v,
		NameMatch: s&sigNameMatch != 0, Bounded: s&sigBounded != 0, Field: Field(s / sigField)}
	if s&sigExact != 0 {
		h.Tier = TierExactName
	}
	return h
}

// phraseSigOf is the phraseSig of ASCII document d, which holds find's
// needle (ASCII, not empty, without sep, its own NFC) first at offset at
// of its text: as hit computes them, the offsets standing for orig's.
func (d *doc) phraseSigOf(find *finder, at int) phraseSig {
	lq := find.needle
	s := sigKnown
	if at == 0 && int(d.nameLen) == len(lq) {
		s |= sigExact
	}
	if at+len(lq) <= int(d.nameLen) {
		s |= sigNameMatch
	}
	field, bounded := d.phraseFieldFrom(find, at)
	if bounded {
		s |= sigBounded
	}
	return s | phraseSig(field)*sigField
}

// parallelMin is the least work items (documents checked, hits ranked)
// that inParallel splits among goroutines: below it, starting them costs
// more than it saves.
const parallelMin = 2048

// parts is how many ranges inParallel splits n work items into: one per
// CPU the Go scheduler runs on (GOMAXPROCS), each of at least
// parallelMin/2 items; 1 when n is under parallelMin.
func parts(n int) int {
	if n < parallelMin {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), n/(parallelMin/2)))
}

// inParallel calls f on [0, n) split into parts(n) contiguous ranges, in
// order (part 0 is the first range), each on its own goroutine, and
// returns once every call has; with one part it calls f itself. f must
// only write what its part owns.
func inParallel(n int, f func(part, lo, hi int)) {
	k := parts(n)
	if k == 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for p := 0; p < k; p++ {
		wg.Go(func() { f(p, n*p/k, n*(p+1)/k) })
	}
	wg.Wait()
}

// scored is a document words found, with its BM25 score.
type scored struct {
	doc   int32
	score float64
}

// unionLen is how many documents a and b (both ascending) hold together.
func unionLen(a []int32, b []scored) int {
	n := len(a) + len(b)
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j].doc:
			i++
		case a[i] > b[j].doc:
			j++
		default:
			n--
			i++
			j++
		}
	}
	return n
}

// query is a search's query as hit reads it.
type query struct {
	lq, nq string   // lower-cased, and that in NFC
	terms  []string // its distinct Terms
	// plain says lq is ASCII, not empty and its own NFC: in an ASCII
	// document it stands where it stands in the text, field by field.
	plain bool
}

// hit is the Hit of document id for q, which the substring rule found
// when substring is set and the words with score otherwise or as well.
// The caller holds ix.mu for reading.
func (v *View) hit(id int32, q *query, substring bool, score float64) Hit {
	d := &v.docs[id]
	h := Hit{Tier: TierAllWords, Substring: substring, Score: score, terms: d.terms, id: id, d: d, v: v}
	if substring {
		h.Tier = TierPhrase
	}
	lname, fname := d.text[:d.nameLen], d.foldedName()
	if lname == q.lq || fname == q.nq {
		h.Tier = TierExactName
	}
	h.NameMatch = strings.Contains(lname, q.lq) || strings.Contains(fname, q.nq)
	if h.Substring || h.Tier == TierExactName {
		h.Field, h.Bounded = d.phraseField(q.lq, q.nq)
	} else {
		h.Field, h.Span = d.wordsField(q.terms, v.ix.stems)
	}
	return h
}

// substring calls found for every live document holding lq (lower-cased)
// in one field, as it is or with both in NFC.
func (v *View) substring(lq string, found func(int32)) {
	ids, _ := v.substringAt(lq, false)
	for _, id := range ids {
		found(id)
	}
}

// substringAt returns, ascending, the live documents holding lq
// (lower-cased) in one field, as it is or with both in NFC, and, when
// signals is set (lq is ASCII, not empty and its own NFC: query.plain),
// for each the phraseSig of an ASCII document that holds lq as it is (0,
// not known, for the others and without signals). The candidates
// are checked in parallel (inParallel).
func (v *View) substringAt(lq string, signals bool) (ids []int32, sigs []phraseSig) {
	nq := NFC(lq)
	across := strings.Contains(lq, sep)
	find := newFinder(lq)
	check := func(id int32) (phraseSig, bool) {
		if v.isDead(id) {
			return 0, false
		}
		d := &v.docs[id]
		at := find.index(d.text)
		switch {
		case at >= 0 && !across:
			if signals && d.ascii {
				return d.phraseSigOf(&find, at), true
			}
			return 0, true
		case at >= 0 && d.inOneField(lq, Lower):
			return 0, true
		case (d.nfc != "" || nq != lq) && strings.Contains(d.folded(), nq) && (!across || d.inOneField(nq, fold)):
			return 0, true
		}
		return 0, false
	}
	var cand []int32 // nil: every document
	n := len(v.docs)
	if !across && nq == lq {
		// Only documents holding every trigram of the query can hold it
		// (both texts of a document are indexed: see addGrams).
		if c, ok := v.gramCandidates(lq); ok {
			cand, n = c, len(c)
		}
	}
	type found struct {
		ids  []int32
		sigs []phraseSig
	}
	byPart := make([]found, parts(n))
	inParallel(n, func(p, lo, hi int) {
		f := &byPart[p]
		f.ids, f.sigs = make([]int32, 0, hi-lo), make([]phraseSig, 0, hi-lo)
		for k := lo; k < hi; k++ {
			id := int32(k)
			if cand != nil {
				id = cand[k]
			}
			if sig, ok := check(id); ok {
				f.ids, f.sigs = append(f.ids, id), append(f.sigs, sig)
			}
		}
	})
	if len(byPart) == 1 {
		return byPart[0].ids, byPart[0].sigs
	}
	for _, f := range byPart { // ascending ranges, in order
		ids, sigs = append(ids, f.ids...), append(sigs, f.sigs...)
	}
	return ids, sigs
}

// fold lower-cases s and puts it in NFC.
func fold(s string) string { return NFC(Lower(s)) }

// inOneField reports whether one of d's fields, as f transforms it, holds
// q.
func (d *doc) inOneField(q string, f func(string) string) bool {
	start := 0
	for _, end := range d.fields {
		if strings.Contains(f(d.orig[start:end]), q) {
			return true
		}
		start = int(end) + len(sep)
	}
	return false
}

// words calls found with the BM25 score of every live document holding
// every term of fq (lower-cased, in NFC), in ascending order. It walks the
// shortest posting list and seeks in the others (a broad query pairs a
// word most documents hold with a rare one), and copies none of them.
func (v *View) words(fq string, found func(int32, float64)) {
	for _, w := range v.scoredWords(fq) {
		found(w.doc, w.score)
	}
}

// scoredWords is what words finds, as one slice.
func (v *View) scoredWords(fq string) (out []scored) {
	terms := uniq(Terms(fq))
	if len(terms) == 0 || v.live == 0 {
		return nil
	}
	v.ix.mu.RLock()
	lists := make([][]posting, len(terms))
	for i, t := range terms {
		lists[i] = v.ix.postings[t]
	}
	v.ix.mu.RUnlock()
	// The postings of one View: ascending, cut at its length; its dead
	// documents are skipped below.
	n := int32(len(v.docs))
	N := float64(v.live)
	avg := float64(v.totalLen) / N
	idf := make([]float64, len(lists))
	for i, l := range lists {
		lists[i] = l[:sort.Search(len(l), func(k int) bool { return l[k].doc >= n })]
		df := float64(v.liveIn(lists[i]))
		if df == 0 {
			return nil
		}
		idf[i] = math.Log(1 + (N-df+0.5)/(df+0.5))
	}
	// Walk the shortest list; idf stays with its list.
	order := make([]int, len(lists))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(len(lists[a]), len(lists[b])) })
	pos := make([]int, len(lists))
	part := make([]float64, len(lists)) // each term's share of the score
	lens := v.lens
	out = make([]scored, 0, len(lists[order[0]]))
	for _, p := range lists[order[0]] {
		if v.isDead(p.doc) {
			continue
		}
		all := true
		dl := float64(lens[p.doc])
		for _, i := range order {
			l := lists[i]
			pos[i] = seek(l, pos[i], p.doc)
			if pos[i] == len(l) || l[pos[i]].doc != p.doc {
				all = false
				break
			}
			tf := float64(l[pos[i]].tf)
			part[i] = idf[i] * tf * (bm25K + 1) / (tf + bm25K*(1-bm25B+bm25B*dl/avg))
		}
		if all {
			score := 0.0
			for _, x := range part { // in the query's order, as the sum always was
				score += x
			}
			out = append(out, scored{p.doc, score})
		}
	}
	return out
}

// seek returns the first place at or after from where l (ascending) holds
// doc or a later document, len(l) if none: a galloping search (steps 1,
// 2, 4, ... then a binary search within the last), so that walking a list
// costs what it skips logarithmically and what it steps over one by one.
func seek(l []posting, from int, doc int32) int {
	step, lo, hi := 1, from, from
	for hi < len(l) && l[hi].doc < doc {
		lo = hi + 1
		hi += step
		step *= 2
	}
	hi = min(hi, len(l))
	return lo + sort.Search(hi-lo, func(k int) bool { return l[lo+k].doc >= doc })
}

// liveIn is how many of the documents of l (cut at v's length) are live
// in v.
func (v *View) liveIn(l []posting) int {
	if v.live == len(v.docs) {
		return len(l) // no dead document
	}
	k := 0
	for _, p := range l {
		if !v.isDead(p.doc) {
			k++
		}
	}
	return k
}

func uniq(ts []string) []string {
	seen := map[string]bool{}
	out := ts[:0]
	for _, t := range ts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// Terms splits lower-cased text into the words the index keeps, stemmed:
// runs of letters and digits (anything else splits words: "3.12" is "3"
// and "12"), of two characters or more unless they hold a digit ("7",
// "2023" and "ticket123" are words, kept whole), less English stop words,
// each reduced by the Porter stemmer (ASCII words without digits; others
// are kept whole).
func Terms(text string) []string { return terms(text, nil, false) }

// terms is Terms with stems, if not nil, a cache of the stems of words,
// which it adds to when learn is set (the caller holds ix.mu to write, or
// to read it otherwise).
func terms(text string, stems map[string]string, learn bool) []string {
	var out []string
	for len(text) > 0 {
		i := strings.IndexFunc(text, isWordRune)
		if i < 0 {
			break
		}
		text = text[i:]
		j := strings.IndexFunc(text, func(r rune) bool { return !isWordRune(r) })
		if j < 0 {
			j = len(text)
		}
		w := text[:j]
		text = text[j:]
		digits := strings.ContainsFunc(w, unicode.IsDigit)
		if (!digits && utf8.RuneCountInString(w) < 2) || isStopWord(w) {
			continue
		}
		if !digits { // "2023", "7" and "ticket123" are kept whole
			w = stem(w, stems, learn)
		}
		out = append(out, w)
	}
	return out
}

// stem reduces the word w by the Porter stemmer (ASCII words; others are
// kept whole), looking it up in stems, and adding it there when learn is
// set.
func stem(w string, stems map[string]string, learn bool) string {
	if st, ok := stems[w]; ok {
		return st
	}
	if !isASCII(w) {
		return w
	}
	st := porterstemmer.StemString(w)
	if learn {
		stems[strings.Clone(w)] = st
	}
	return st
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf { // no ASCII character is a mark (Mn)
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func isASCII(s string) bool {
	// Eight bytes at a time: a search asks it of every entity it finds.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if w&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isStopWord reports whether w is an English stop word, left out of the
// index and of queries: the words of Lucene's default list. A switch, not
// a map: a search asks it of every word of every entity it ranks.
func isStopWord(w string) bool {
	switch w {
	case "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
		"no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they",
		"this", "to", "was", "will", "with":
		return true
	}
	return false
}
