package graphindex

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/memsnap/memsnap/internal/model"
)

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
	slices.SortFunc(hits, func(a, b Hit) int { return compareHits(&a, &b) })
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
	return strings.Compare(a.Entity.Name, b.Entity.Name)
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
	start := int32(0)
	if i > 0 {
		start = d.fields[i-1] + int32(len(sep))
	}
	return d.orig[start:d.fields[i]]
}

// fieldKind is the Field of d's field i.
func fieldKind(i int) Field {
	return Field(min(i, int(FieldObservation)))
}

// phraseField returns the best field of d holding lq (the lower-cased
// query) or nq (its NFC) as the substring rule checks, and whether the
// query stands there as whole words; FieldSpread when no field holds it
// (an exact-name hit the substring rule did not look for holds it in its
// name).
func (d *doc) phraseField(lq, nq string) (best Field, bounded bool) {
	best = FieldSpread
	for i := range d.fields {
		k := fieldKind(i)
		if k > best || (k == best && bounded) {
			break
		}
		lf, q := Lower(d.field(i)), lq
		at := occurrences(lf, q)
		if len(at) == 0 && (nq != lq || !isASCII(lf)) {
			lf, q = NFC(lf), nq
			at = occurrences(lf, q)
		}
		if len(at) == 0 {
			continue
		}
		b := false
		for _, p := range at {
			if wordBoundary(lf, p) && wordBoundary(lf, p+len(q)) {
				b = true
				break
			}
		}
		if k < best || b {
			best, bounded = k, b
		}
	}
	return best, bounded
}

// occurrences returns the byte offsets of every occurrence of q in s, up to
// 64 of them.
func occurrences(s, q string) []int {
	if q == "" {
		return nil
	}
	var at []int
	for off := 0; len(at) < 64; {
		i := strings.Index(s[off:], q)
		if i < 0 {
			break
		}
		at = append(at, off+i)
		_, n := utf8.DecodeRuneInString(s[off+i:])
		off += i + n
	}
	return at
}

// wordBoundary reports whether offset i of s does not split a word: a
// word character does not stand on both sides of it.
func wordBoundary(s string, i int) bool {
	if i == 0 || i == len(s) {
		return true
	}
	before, _ := utf8.DecodeLastRuneInString(s[:i])
	after, _ := utf8.DecodeRuneInString(s[i:])
	return !isWordRune(before) || !isWordRune(after)
}

// wordsField returns the best field of d holding every one of qterms
// (distinct, as Terms gives them) and the fewest consecutive words of it
// that hold them all; FieldSpread and 0 when no one field holds them all.
func (d *doc) wordsField(qterms []string) (best Field, span int) {
	best = FieldSpread
	if len(qterms) == 0 {
		return best, 0
	}
	for i := range d.fields {
		k := fieldKind(i)
		if k > best || (k == best && span == len(qterms)) {
			break
		}
		s := minSpan(Terms(fold(d.field(i))), qterms)
		if s > 0 && (k < best || s < span) {
			best, span = k, s
		}
	}
	return best, span
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

// Suggest returns up to n live entities whose names are closest to q by
// trigram similarity (at least SuggestAtLeast), best first (equal ones in
// name order): what a search that found nothing offers instead. The
// similarity is the Jaccard index of the sets of byte trigrams of the
// folded strings, each padded with a space and with runs of other
// characters than letters and digits as one space; a name counts with its
// best run of as many words as the query has, so "lovleace" finds "Ada
// Lovelace".
func (v *View) Suggest(q string, n int) []Suggestion {
	fq := padded(fold(q))
	if fq == "  " || n <= 0 {
		return nil
	}
	qg := trigrams(fq)
	words := len(strings.Fields(fq))
	var out []Suggestion
	v.suggestCandidates(fold(q), func(id int32) {
		d := &v.docs[id]
		if s := nameSimilarity(qg, words, padded(d.foldedName())); s >= SuggestAtLeast {
			out = append(out, Suggestion{Entity: d.entity(), Similarity: s})
		}
	})
	slices.SortFunc(out, func(a, b Suggestion) int {
		if c := cmp.Compare(b.Similarity, a.Similarity); c != 0 {
			return c
		}
		return strings.Compare(a.Entity.Name, b.Entity.Name)
	})
	return out[:min(n, len(out))]
}

// suggestCandidates calls found with each live document that holds a
// trigram of fq (every live document when fq is shorter than a trigram).
func (v *View) suggestCandidates(fq string, found func(int32)) {
	limit := int32(len(v.docs))
	if len(fq) < 3 {
		for id := int32(0); id < limit; id++ {
			if !v.isDead(id) {
				found(id)
			}
		}
		return
	}
	seen := make([]uint64, len(v.dead))
	ix := v.ix
	ix.mu.RLock()
	var lists []*gramList
	for i := 0; i+3 <= len(fq) && len(lists) < 64; i++ {
		if l := ix.grams[gramAt(fq, i)]; l != nil && !slices.Contains(lists, l) {
			lists = append(lists, l)
		}
	}
	var ids []int32
	for _, l := range lists {
		ids = append(ids, decodeGrams(l, limit)...)
	}
	ix.mu.RUnlock()
	for _, id := range ids {
		if v.isDead(id) || seen[id/64]&(1<<(id%64)) != 0 {
			continue
		}
		seen[id/64] |= 1 << (id % 64)
		found(id)
	}
}

// padded is s with every run of characters other than letters and digits
// as one space, and a space at each end.
func padded(s string) string {
	return " " + strings.Join(strings.FieldsFunc(s, func(r rune) bool { return !isWordRune(r) }), " ") + " "
}

// nameSimilarity is the best trigram similarity of qg (the trigrams of a
// padded query of words words) with the padded name or a run of words of
// its words.
func nameSimilarity(qg []uint32, words int, name string) float64 {
	best := jaccard(qg, trigrams(name))
	nw := strings.Fields(name)
	if words < len(nw) {
		for i := 0; i+words <= len(nw); i++ {
			best = max(best, jaccard(qg, trigrams(" "+strings.Join(nw[i:i+words], " ")+" ")))
		}
	}
	return best
}

// trigrams returns the distinct byte trigrams of s, ascending.
func trigrams(s string) []uint32 {
	out := make([]uint32, 0, max(len(s)-2, 0))
	for i := 0; i+3 <= len(s); i++ {
		out = append(out, gramAt(s, i))
	}
	slices.Sort(out)
	return slices.Compact(out)
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
