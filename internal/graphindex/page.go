package graphindex

import "slices"
import "sort"
import "strings"

import "github.com/memsnap/memsnap/internal/model"

// Page returns, in name order, up to limit (0: no limit) live entities of v
// named after after (byte order, as Kuzu orders STRING), only those of
// entityType when it is not "", with their outgoing relations (only those
// to entities of entityType when it is set), and whether more entities
// follow: read_graph's keyset pages, answered from memory. ok is false
// unless v is its lineage's newest View. The first Page of a View sorts its
// names (about 0.5 s at a million entities); the next Views of a process
// that pages carry that order (Apply), so later pages cost their length.
func (v *View) Page(after string, limit int, entityType string) (ents []model.Entity, rels []model.Relation, more, ok bool) {
	order := v.nameOrder()
	ix := v.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.newest != v {
		return nil, nil, false, false
	}
	i := sort.Search(len(order), func(i int) bool { return v.docs[order[i]].name() > after })
	for ; i < len(order); i++ {
		d := &v.docs[order[i]]
		if entityType != "" && d.entityType() != entityType {
			continue
		}
		if limit > 0 && len(ents) == limit {
			return ents, rels, true, true
		}
		e := d.entity()
		ents = append(ents, e)
		for _, r := range d.out {
			if entityType != "" {
				id, found := ix.byName[r.To]
				if !found || v.docs[id].entityType() != entityType {
					continue
				}
			}
			rels = append(rels, model.Relation{From: e.Name, To: r.To, RelationType: r.Type})
		}
	}
	return ents, rels, false, true
}

// entityType is the entity's type, sharing orig's memory.
func (d *doc) entityType() string { return d.orig[d.fields[0]+int32(len(sep)) : d.fields[1]] }

// nameOrder returns v's live documents in name order, sorting them on
// first use.
func (v *View) nameOrder() []int32 {
	if p := v.order.Load(); p != nil {
		return *p
	}
	v.orderMu.Lock()
	defer v.orderMu.Unlock()
	if p := v.order.Load(); p != nil {
		return *p
	}
	order := make([]int32, 0, v.live)
	for i := range v.docs {
		if !v.isDead(int32(i)) {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(v.docs[a].name(), v.docs[b].name()) })
	v.order.Store(&order)
	return order
}

// nameRanks returns each of v's documents' place in its name order
// (nameOrder), -1 for a dead one: an int32 compared instead of two names
// when a broad ranking breaks its ties (BestFirst).
func (v *View) nameRanks() []int32 {
	if p := v.ranks.Load(); p != nil {
		return *p
	}
	order := v.nameOrder()
	ranks := make([]int32, len(v.docs))
	for i := range ranks {
		ranks[i] = -1
	}
	for i, id := range order {
		ranks[id] = int32(i)
	}
	v.ranks.Store(&ranks) // two callers at once build the same
	return ranks
}

// carryOrder returns the name order of v, a View Apply just made from one
// whose order was prev and which held the documents below added: prev less
// the documents v no longer holds, merged with v's new ones. Each new
// document's place is found by binary search in prev, so a few changes
// cost a copy of prev and a few logarithmic searches, not a comparison of
// names per document (a broad search orders the View by name for its ties:
// every later View of a process that searched carries it).
func (v *View) carryOrder(prev []int32, added int32) []int32 {
	var fresh []int32
	for id := added; id < int32(len(v.docs)); id++ {
		if !v.isDead(id) {
			fresh = append(fresh, id)
		}
	}
	name := func(id int32) string { return v.docs[id].name() }
	slices.SortFunc(fresh, func(a, b int32) int { return strings.Compare(name(a), name(b)) })
	out := make([]int32, 0, v.live)
	keep := func(ids []int32) {
		for _, id := range ids {
			if !v.isDead(id) {
				out = append(out, id)
			}
		}
	}
	for _, id := range fresh {
		// prev's names are distinct and sorted; a dead document of the
		// same name (the one id replaced) is dropped by keep either way.
		at, _ := slices.BinarySearchFunc(prev, name(id), func(p int32, n string) int { return strings.Compare(name(p), n) })
		keep(prev[:at])
		out = append(out, id)
		prev = prev[at:]
	}
	keep(prev)
	return out
}
