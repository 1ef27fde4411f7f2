package graphindex

import "cmp"
import "encoding/binary"
import "slices"

// The substring rule's scan is narrowed by a trigram index: a document can
// hold a query of three bytes or more only if it holds every three-byte
// run of it. Each trigram keeps the ids of the documents holding it,
// ascending, each stored as its difference from the one before in a
// uvarint: one or two bytes an id, about 20 MB at 100k entities of three
// short observations. Queries shorter than three bytes, holding the field
// separator, or changed by NFC scan every document as before.

// gramList is the documents holding one trigram.
type gramList struct {
	data []byte // ascending ids, delta-coded uvarints
	last int32  // the last id appended; -1 before the first
	n    int32  // ids held
}

// gramsEnough is the candidate count at which intersecting more trigram
// lists costs more than checking the candidates themselves.
const gramsEnough = 256

func gramAt(s string, i int) uint32 { return uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2]) }

// addGrams records in grams (ix.grams or ix.nameGrams) that document id
// holds every trigram of texts. The caller holds ix.mu or owns ix alone;
// ids come in ascending order, so a list whose last id is id already has
// this document.
func addGrams(grams map[uint32]*gramList, id int32, texts ...string) {
	for _, t := range texts {
		for i := 0; i+3 <= len(t); i++ {
			x := gramAt(t, i)
			l := grams[x]
			if l == nil {
				l = &gramList{last: -1}
				grams[x] = l
			} else if l.last == id {
				continue
			}
			l.data = binary.AppendUvarint(l.data, uint64(id-l.last))
			l.last = id
			l.n++
		}
	}
}

// gramCandidates returns, ascending, the documents of v (dead ones
// included) that hold every trigram of q, a superset of those holding q;
// ok is false when q is shorter than a trigram.
func (v *View) gramCandidates(q string) (ids []int32, ok bool) {
	if len(q) < 3 {
		return nil, false
	}
	ix := v.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	lists := make([]*gramList, 0, len(q)-2)
	for i := 0; i+3 <= len(q); i++ {
		l := ix.grams[gramAt(q, i)]
		if l == nil {
			return nil, true // no document holds this trigram
		}
		lists = append(lists, l)
	}
	slices.SortFunc(lists, func(a, b *gramList) int { return cmp.Compare(a.n, b.n) })
	limit := int32(len(v.docs))
	ids = decodeGrams(lists[0], limit)
	for i, l := range lists[1:] {
		if len(ids) <= gramsEnough || !worthIntersecting(len(ids), l.n, limit) {
			break // the longer lists after l are worth it even less
		}
		if l == lists[i] {
			continue // the same trigram twice in q
		}
		ids = intersectGrams(ids, l, limit)
	}
	return ids, true
}

// checkPerDecode is about how many list entries decoding costs as much as
// checking one candidate's text: on the store of BenchmarkSearch100kBroad
// (three 8-word observations an entity), 1.9 ns to decode an entry and
// 190 ns to look for "topic 1" in a candidate's text, 100 to 1; 64 errs
// toward intersecting.
const checkPerDecode = 64

// worthIntersecting reports whether intersecting cand candidates (of docs
// documents) with a trigram list of n documents saves more candidate
// checks than decoding the list costs, taking the list to be independent
// of the candidates: a trigram nearly every document holds ("top" when
// every entity has a "topic") removes few.
func worthIntersecting(cand int, n int32, docs int32) bool {
	removed := float64(cand) * (1 - float64(n)/float64(max(docs, 1)))
	return removed*checkPerDecode > float64(n)
}

// decodeGrams returns the ids of l below limit.
func decodeGrams(l *gramList, limit int32) []int32 {
	out := make([]int32, 0, l.n)
	prev := int32(-1)
	for data := l.data; len(data) > 0; {
		d, k := binary.Uvarint(data)
		data = data[k:]
		prev += int32(d)
		if prev >= limit {
			break
		}
		out = append(out, prev)
	}
	return out
}

// intersectGrams keeps the ids of cand (ascending) that l holds, in place.
func intersectGrams(cand []int32, l *gramList, limit int32) []int32 {
	out := cand[:0]
	j := 0
	prev := int32(-1)
	for data := l.data; len(data) > 0 && j < len(cand); {
		d, k := binary.Uvarint(data)
		data = data[k:]
		prev += int32(d)
		if prev >= limit {
			break
		}
		for j < len(cand) && cand[j] < prev {
			j++
		}
		if j < len(cand) && cand[j] == prev {
			out = append(out, prev)
			j++
		}
	}
	return out
}
