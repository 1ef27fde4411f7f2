package graphindex

import "cmp"
import "math"
import "slices"
import "strings"
import "unicode/utf8"

import "github.com/memsnap/memsnap/internal/model"

// Ranking (issue 28): a search answers the exact name first, then the
// entities holding the whole query as one phrase in one field (the
// reference server's substring rule), then those holding every word of it.
// Within a tier, relevance decides: the field (name, then type, then an
// observation), then for a phrase whether it stands as whole words ("thing
// 1" in "thing 1", ahead of "thing 12"), for words how close they stand
// (Span), then BM25 over the query's words, then the shorter entity. Only
// hits equal in all of these are put in name order, so that the order is
// the same on every index of the same memory (a built and a derived one)
// and a page of it stays put.

// SortHits orders hits best first, as the ranking above says.
func SortHits(hits []Hit) {
	// Sort positions, not the hits themselves (about 100 bytes each).
	order := make([]int32, len(hits))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return compareHits(&hits[a], &hits[b]) })
	sorted := make([]Hit, len(hits))
	for i, j := range order {
		sorted[i] = hits[j]
	}
	copy(hits, sorted)
}

// BestFirst returns a function that yields hits one at a time in
// SortHits's order (ok false once all were yielded), for a caller that
// takes only the first few: heaps, so that taking k of n hits costs
// O(n + k log n) comparisons instead of a sort of all n. A broad search's
// hits are split into one range per CPU (inParallel), each made a heap on
// its own goroutine; each next takes the best of the heaps' tops. The
// heaps hold each hit's ranking key (hitKey), not the hit: a comparison
// reads 40 bytes in one place rather than two hits and their names.
// hits itself is left as it is.
func BestFirst(hits []Hit) (next func() (h *Hit, ok bool)) {
	heaps := make([]hitHeap, parts(len(hits)))
	ranks := broadRanks(hits)
	inParallel(len(hits), func(p, lo, hi int) {
		h := hitHeap{hits: hits, keys: make([]hitKey, hi-lo)}
		for i := range h.keys {
			h.keys[i] = keyOf(hits, lo+i, ranks)
		}
		for i := len(h.keys)/2 - 1; i >= 0; i-- {
			h.down(i)
		}
		heaps[p] = h
	})
	return func() (*Hit, bool) {
		best := -1
		for p := range heaps {
			if len(heaps[p].keys) > 0 && (best < 0 || heaps[p].before(&heaps[p].keys[0], &heaps[best].keys[0])) {
				best = p
			}
		}
		if best < 0 {
			return nil, false
		}
		return &hits[heaps[best].pop()], true
	}
}

// broadRanks is the name ranks (View.nameRanks) of the Views hits come
// from, for a ranking of enough hits (parallelMin) that comparing names
// would cost more than the ranks; nil for fewer.
func broadRanks(hits []Hit) map[*View][]int32 {
	if len(hits) < parallelMin {
		return nil
	}
	ranks := map[*View][]int32{}
	for i := range hits {
		if v := hits[i].v; v != nil && ranks[v] == nil {
			ranks[v] = v.nameRanks()
		}
	}
	return ranks
}

// hitKey is a hit's place in SortHits's order, packed: the signals in
// one integer, then the score, the length and the name's rank in its View.
type hitKey struct {
	signals uint64 // Tier, Field, not Bounded, spanRank: lower ranks first
	score   float64
	terms   int32
	rank    int32 // the name's place in v's name order; -1: compare names
	v       *View
	at      int32 // the hit's index in hits
}

// keyOf is the hitKey of hits[i], its name ranked by ranks (nil: names
// compared).
func keyOf(hits []Hit, i int, ranks map[*View][]int32) hitKey {
	h := &hits[i]
	notBounded := uint64(1)
	if h.Bounded {
		notBounded = 0
	}
	k := hitKey{
		signals: uint64(h.Tier)<<48 | uint64(h.Field)<<40 | notBounded<<32 | uint64(min(spanRank(h.Span), math.MaxUint32)),
		score:   h.Score, terms: h.terms, rank: -1, v: h.v, at: int32(i),
	}
	if r := ranks[h.v]; r != nil && h.v != nil {
		k.rank = r[h.id]
	}
	return k
}

// hitHeap is a min-heap, in SortHits's order, of the keys of hits.
type hitHeap struct {
	hits []Hit
	keys []hitKey
}

// before reports whether key a ranks ahead of key b: compareHits on the
// hits they stand for.
func (h *hitHeap) before(a, b *hitKey) bool {
	if a.signals != b.signals {
		return a.signals < b.signals
	}
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c < 0
	}
	if a.terms != b.terms {
		return a.terms < b.terms
	}
	if a.v == b.v && a.rank >= 0 && b.rank >= 0 {
		return a.rank < b.rank
	}
	return h.hits[a.at].Name() < h.hits[b.at].Name()
}

// down moves element i down to its place in the heap.
func (h *hitHeap) down(i int) {
	for n := len(h.keys); ; {
		best, l := i, 2*i+1
		if l < n && h.before(&h.keys[l], &h.keys[best]) {
			best = l
		}
		if r := l + 1; r < n && h.before(&h.keys[r], &h.keys[best]) {
			best = r
		}
		if best == i {
			return
		}
		h.keys[i], h.keys[best] = h.keys[best], h.keys[i]
		i = best
	}
}

// pop removes the heap's top and returns its place in hits.
func (h *hitHeap) pop() int32 {
	top, last := h.keys[0].at, len(h.keys)-1
	h.keys[0] = h.keys[last]
	h.keys = h.keys[:last]
	h.down(0)
	return top
}

// compareHits is SortHits's order: negative when a ranks ahead of b.
func compareHits(a, b *Hit) int {
	if c := cmp.Compare(a.Tier, b.Tier); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Field, b.Field); c != 0 {
		return c
	}
	if a.Bounded != b.Bounded {
		if a.Bounded {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(spanRank(a.Span), spanRank(b.Span)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	if c := cmp.Compare(a.terms, b.terms); c != 0 {
		return c
	}
	return strings.Compare(a.Name(), b.Name())
}

// spanRank makes a Span of 0 (no one field holds every word) rank last.
func spanRank(span int) int {
	if span == 0 {
		return int(^uint(0) >> 1)
	}
	return span
}

// field returns d's field i (0: name, 1: type, then the observations) as
// it was written.
func (d *doc) field(i int) string {
	start, end := d.bounds(i)
	return d.orig[start:end]
}

// bounds returns where d's field i starts and ends in orig (and in text,
// for an ASCII document).
func (d *doc) bounds(i int) (start, end int32) {
	if i > 0 {
		start = d.fields[i-1] + int32(len(sep))
	}
	return start, d.fields[i]
}

// fieldKind is the Field of d's field i.
func fieldKind(i int) Field {
	return Field(min(i, int(FieldObservation)))
}

// phraseField returns the best field of d holding lq (the lower-cased
// query) or nq (its NFC) as the substring rule checks, and whether the
// query stands there as whole words; FieldSpread when no field holds it.
func (d *doc) phraseField(lq, nq string) (best Field, bounded bool) {
	best = FieldSpread
	ascii := d.ascii // then d.text has orig's offsets
	start := int32(0)
	for i, end := range d.fields {
		k := fieldKind(i)
		if k > best || (k == best && bounded) {
			break
		}
		var lf string
		if ascii {
			lf = d.text[start:end]
		} else {
			lf = Lower(d.orig[start:end])
		}
		start = end + int32(len(sep))
		found, b := phraseIn(lf, lq)
		if !found && (nq != lq || !ascii) {
			found, b = phraseIn(NFC(lf), nq)
		}
		if found && (k < best || b) {
			best, bounded = k, b
		}
	}
	return best, bounded
}

// phraseFieldFrom is phraseField for an ASCII document and query (lq,
// find's needle, not empty, without sep) that stands first at offset at of
// d.text: the
// fields before the one holding at do not hold it, so that field's kind
// is the best, and the query is bounded when it stands at word boundaries
// at one of its places in the fields of that kind. Fields are separated
// by sep, which is no word character, so a field's ends are word
// boundaries in d.text as in the field alone.
func (d *doc) phraseFieldFrom(find *finder, at int) (best Field, bounded bool) {
	lq := find.needle
	f := 0
	for int(d.fields[f]) < at+len(lq) {
		f++
	}
	best = fieldKind(f)
	for {
		for int(d.fields[f]) < at+len(lq) {
			f++
		}
		if fieldKind(f) != best {
			return best, false
		}
		if wordBoundary(d.text, at) && wordBoundary(d.text, at+len(lq)) {
			return best, true
		}
		next := find.index(d.text[at+1:])
		if next < 0 {
			return best, false
		}
		at += 1 + next
	}
}

// phraseIn reports whether s holds q and whether it does once at word
// boundaries.
func phraseIn(s, q string) (found, bounded bool) {
	if q == "" {
		return false, false
	}
	for off := 0; ; {
		i := strings.Index(s[off:], q)
		if i < 0 {
			return found, false
		}
		found = true
		at := off + i
		if wordBoundary(s, at) && wordBoundary(s, at+len(q)) {
			return true, true
		}
		_, n := utf8.DecodeRuneInString(s[at:])
		off = at + n
	}
}

// wordBoundary reports whether offset i of s does not split a word: a
// word character does not stand on both sides of it.
func wordBoundary(s string, i int) bool {
	if i == 0 || i == len(s) {
		return true
	}
	before, after := rune(s[i-1]), rune(s[i])
	if before >= utf8.RuneSelf {
		before, _ = utf8.DecodeLastRuneInString(s[:i])
	}
	if after >= utf8.RuneSelf {
		after, _ = utf8.DecodeRuneInString(s[i:])
	}
	return !isWordRune(before) || !isWordRune(after)
}

// wordsField returns the best field of d holding every one of qterms
// (distinct, as Terms gives them) and the fewest consecutive words of it
// that hold them all; FieldSpread and 0 when no one field holds them all.
// stems is the Index's cache of stems, read only (the caller holds ix.mu).
func (d *doc) wordsField(qterms []string, stems map[string]string) (best Field, span int) {
	best = FieldSpread
	if len(qterms) == 0 {
		return best, 0
	}
	for i := range d.fields {
		k := fieldKind(i)
		if k > best || (k == best && span == len(qterms)) {
			break
		}
		var s int
		if d.ascii && len(qterms) <= maxSpanTerms {
			start, end := d.bounds(i)
			s = minSpanASCII(d.text[start:end], qterms, stems)
		} else {
			s = minSpan(terms(fold(d.field(i)), stems, false), qterms)
		}
		if s > 0 && (k < best || s < span) {
			best, span = k, s
		}
	}
	return best, span
}

// maxSpanTerms is the most query terms minSpanASCII takes; a longer query
// goes through minSpan.
const maxSpanTerms = 16

// minSpanASCII is minSpan(terms(text, stems, false), qterms) for text
// lower-cased ASCII (an ASCII document's text), without building the
// words: a broad search asks it of thousands of documents. It walks the
// words as terms splits and keeps them (the same filters and stems; a word
// whose first letter starts no term is not stemmed), and for each word that
// is a query term, the shortest run ending there that
// holds every term starts at the earliest of the terms' last places.
func minSpanASCII(text string, qterms []string, stems map[string]string) int {
	var last [maxSpanTerms]int // 1 + the place of each term's last word; 0: not yet
	var initial [256]bool      // the first bytes of the terms
	for _, t := range qterms {
		initial[t[0]] = true
	}
	have, best, place := 0, 0, 0
	for i := 0; i < len(text); {
		if !isWordByte(text[i]) {
			i++
			continue
		}
		j, digits := i, false
		for ; j < len(text) && isWordByte(text[j]); j++ {
			digits = digits || '0' <= text[j] && text[j] <= '9'
		}
		w := text[i:j]
		i = j
		if (!digits && len(w) < 2) || isStopWord(w) {
			continue
		}
		place++
		if !initial[w[0]] {
			continue // the Porter stemmer keeps a word's first letter
		}
		if !digits {
			w = stem(w, stems, false)
		}
		k := slices.Index(qterms, w)
		if k < 0 {
			continue
		}
		if last[k] == 0 {
			have++
		}
		last[k] = place
		if have < len(qterms) {
			continue
		}
		first := place
		for _, p := range last[:len(qterms)] {
			first = min(first, p)
		}
		if n := place - first + 1; best == 0 || n < best {
			best = n
		}
	}
	return best
}

// isWordByte is isWordRune for an ASCII byte.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// minSpan returns the length of the shortest run of words holding every
// one of qterms (distinct), 0 when words lacks one.
func minSpan(words, qterms []string) int {
	want := make(map[string]int, len(qterms))
	for i, t := range qterms {
		want[t] = i
	}
	count := make([]int, len(qterms))
	have, best := 0, 0
	lo := 0
	for hi, w := range words {
		j, ok := want[w]
		if !ok {
			continue
		}
		if count[j] == 0 {
			have++
		}
		count[j]++
		for have == len(qterms) {
			if n := hi - lo + 1; best == 0 || n < best {
				best = n
			}
			if k, ok := want[words[lo]]; ok {
				count[k]--
				if count[k] == 0 {
					have--
				}
			}
			lo++
		}
	}
	return best
}

// Suggestion is an entity whose name is close to a query that matched
// nothing: a likely typo.
type Suggestion struct {
	Entity model.Entity
	// Similarity is the trigram similarity of the query and the name (or
	// the run of the name's words as long as the query), 0 to 1.
	Similarity float64
}

// SuggestAtLeast is the trigram similarity a name needs to be suggested:
// PostgreSQL pg_trgm's default threshold.
const SuggestAtLeast = 0.3

// suggestScan bounds the names Suggest compares with the query: those of
// the documents whose names hold most of the query's trigrams.
const suggestScan = 4096

// Suggest returns up to n live entities whose names are closest to q by
// trigram similarity (at least SuggestAtLeast), best first (equal ones by
// the edit distance of their letters and digits to q's, then in name
// order): what a search that found nothing offers instead. The
// similarity is the Jaccard index of the sets of byte trigrams of the
// folded strings, each with runs of characters other than letters and
// digits as one space and a space at each end; a name counts with its best
// run of as many words as the query has, so "lovleace" finds "Ada
// Lovelace". The names compared are those of the suggestScan documents
// whose names hold most trigrams of q (every live one when q is under
// three bytes): a name sharing none of them is not similar.
// A transposition in a short word can fall under the threshold ("Farha"
// and "Farah": 0.25).
func (v *View) Suggest(q string, n int) []Suggestion {
	var sc simScratch
	qn := sc.normalize(fold(q))
	if len(sc.starts) == 0 || n <= 0 {
		return nil
	}
	qg := slices.Clone(sc.trigramsOf(qn))
	words := len(sc.starts)
	type found struct {
		Suggestion
		edits int // editDistance of the squashed query and name
	}
	var out []found
	sq := squash(fold(q))
	for _, id := range v.suggestCandidates(fold(q)) {
		d := &v.docs[id]
		if s := sc.similarity(qg, words, d.foldedName()); s >= SuggestAtLeast {
			out = append(out, found{Suggestion{Entity: d.entity(), Similarity: s}, editDistance(sq, squash(d.foldedName()))})
		}
	}
	slices.SortFunc(out, func(a, b found) int {
		if c := cmp.Compare(b.Similarity, a.Similarity); c != 0 {
			return c
		}
		if c := cmp.Compare(a.edits, b.edits); c != 0 {
			return c
		}
		return strings.Compare(a.Entity.Name, b.Entity.Name)
	})
	best := make([]Suggestion, min(n, len(out)))
	for i := range best {
		best[i] = out[i].Suggestion
	}
	return best
}

// squashRunes is how many runes of a query or name squash keeps: an edit
// distance costs the product of the two lengths.
const squashRunes = 64

// wordChars is s's letters and digits alone: the names' trigrams are
// indexed in this form too, so that a query that drops or adds a
// separator ("ent5", "ent-5") shares more trigrams with the name it means
// than with its neighbours ("nt5" in "ent5" and in "ent-5" so written,
// not in "ent-1"); Suggest draws its candidates by those counts.
func wordChars(s string) string {
	return strings.Map(func(r rune) rune {
		if isWordRune(r) {
			return r
		}
		return -1
	}, s)
}

// squash is wordChars(s) as runes, the first squashRunes of them: "ent5"
// and "Ent-5" differ only in case and a hyphen, which trigrams of words do
// not see ("ent5" shares " en" and "ent" with "ent-5" and "ent-50" alike).
func squash(s string) []rune {
	r := []rune(wordChars(s))
	return r[:min(len(r), squashRunes)]
}

// editDistance is the Levenshtein distance of a and b: the fewest
// insertions, deletions and substitutions of one rune that turn a into b.
// Suggest breaks ties of similarity by it, the closer name first.
func editDistance(a, b []rune) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// suggestCandidates returns the live documents whose names hold a trigram
// of fq (as it is or as wordChars leaves it, in the name as it is or so
// left), at most suggestScan of them, those holding most first (every live
// document when fq is shorter than a trigram).
func (v *View) suggestCandidates(fq string) []int32 {
	limit := int32(len(v.docs))
	var ids []int32
	if len(fq) < 3 {
		for id := int32(0); id < limit; id++ {
			if !v.isDead(id) {
				ids = append(ids, id)
			}
		}
		return ids
	}
	counts := make([]uint8, limit)
	ix := v.ix
	ix.mu.RLock()
	var lists []*gramList
	for _, q := range []string{fq, wordChars(fq)} {
		for i := 0; i+3 <= len(q) && len(lists) < 64; i++ {
			if l := ix.nameGrams[gramAt(q, i)]; l != nil && !slices.Contains(lists, l) {
				lists = append(lists, l)
			}
		}
	}
	for _, l := range lists {
		for _, id := range decodeGrams(l, limit) {
			if counts[id] == 0 && !v.isDead(id) {
				ids = append(ids, id)
			}
			counts[id]++ // at most 64 lists: no overflow
		}
	}
	ix.mu.RUnlock()
	if len(ids) > suggestScan {
		slices.SortFunc(ids, func(a, b int32) int {
			if c := cmp.Compare(counts[b], counts[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		ids = ids[:suggestScan]
	}
	return ids
}

// simScratch holds the buffers similarity reuses from name to name.
type simScratch struct {
	buf    []byte
	grams  []uint32
	starts []int // where each word of buf starts
}

// normalize returns s with every run of characters other than letters and
// digits as one space and a space at each end (" " when s has no word),
// and records where its words start; the result is sc's buffer.
func (sc *simScratch) normalize(s string) []byte {
	sc.buf = append(sc.buf[:0], ' ')
	sc.starts = sc.starts[:0]
	in := false
	for _, r := range s {
		switch {
		case isWordRune(r):
			if !in {
				sc.starts = append(sc.starts, len(sc.buf))
				in = true
			}
			sc.buf = utf8.AppendRune(sc.buf, r)
		case in:
			sc.buf = append(sc.buf, ' ')
			in = false
		}
	}
	if in {
		sc.buf = append(sc.buf, ' ')
	}
	return sc.buf
}

// similarity is the best trigram similarity of qg (the trigrams of a
// normalized query of words words) with the normalized name or a run of as
// many of its words.
func (sc *simScratch) similarity(qg []uint32, words int, name string) float64 {
	nn := sc.normalize(name)
	best := jaccard(qg, sc.trigramsOf(nn))
	nw := len(sc.starts)
	for i := 0; words < nw && i+words <= nw; i++ {
		lo, hi := sc.starts[i]-1, len(nn)
		if i+words < nw {
			hi = sc.starts[i+words]
		}
		best = max(best, jaccard(qg, sc.trigramsOf(nn[lo:hi])))
	}
	return best
}

// trigramsOf returns the distinct byte trigrams of s, ascending, in sc's
// buffer.
func (sc *simScratch) trigramsOf(s []byte) []uint32 {
	sc.grams = sc.grams[:0]
	for i := 0; i+3 <= len(s); i++ {
		sc.grams = append(sc.grams, uint32(s[i])<<16|uint32(s[i+1])<<8|uint32(s[i+2]))
	}
	slices.Sort(sc.grams)
	sc.grams = slices.Compact(sc.grams)
	return sc.grams
}

// jaccard is |a ∩ b| / |a ∪ b| of two ascending sets.
func jaccard(a, b []uint32) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	both := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			both++
			i++
			j++
		}
	}
	return float64(both) / float64(len(a)+len(b)-both)
}
