package graphindex

import "fmt"
import "slices"
import "sort"
import "strings"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"

// Overlay is a View followed by jobs the writer has not applied yet (the
// acknowledged jobs waiting in the queue), without changing the View or
// its Index: the entities the jobs change, as the memory's state machine
// (fsm.Apply) leaves them, over the View, which answers for every other
// entity. It never changes and is safe for concurrent use while its View
// is its lineage's newest; once a later View replaces it (the reader
// serves the next snapshot), the Overlay's answers are those of the View
// it was made on and the caller makes a new one.
type Overlay struct {
	base *View
	ents map[string]*pending // only the entities the jobs changed
	// names is every changed entity that exists after the jobs, sorted.
	names []string
	// small indexes those entities alone, for Search.
	small *View
	// shadowed is the base View's documents of the changed entities,
	// ascending: Hits leaves them out.
	shadowed []int32
	rejected []error
	digest   fsm.Digest // of the memory after the jobs (Digest)
}

// Overlay returns v followed by jobs, in order, each applied whole by
// fsm.Apply or, when the rules reject it (a job naming an entity that the
// View and the jobs before it do not hold), skipped as the writer will
// skip it; the rejections are listed by Rejected. ok is false when v is
// not its lineage's newest View (see Lookup): the caller takes the newest.
func (v *View) Overlay(jobs []*model.Job) (o *Overlay, ok bool) {
	st := &indexState{v: v, ents: map[string]*pending{}, touched: map[string]bool{}}
	o = &Overlay{base: v, ents: map[string]*pending{}}
	for i, job := range jobs {
		if _, err := fsm.Apply(st, job); err != nil {
			o.rejected = append(o.rejected, fmt.Errorf("queued job %d of %d: %w", i+1, len(jobs), err))
		}
	}
	// Read before the check below: a later Apply changes the names' documents.
	o.shadowed = v.docsOf(st.changed)
	if !v.Newest() {
		// A Lookup during the jobs may have found nothing because a later
		// View replaced v: nothing here can be trusted.
		return nil, false
	}
	var ents []model.Entity
	var rels []model.Relation
	for _, name := range st.changed {
		p := st.ents[name]
		o.ents[name] = p
		if !p.exists {
			continue
		}
		o.names = append(o.names, name)
		ents = append(ents, p.e)
		for _, r := range p.out {
			rels = append(rels, model.Relation{From: name, To: r.To, RelationType: r.Type})
		}
	}
	slices.Sort(o.names)
	o.small = Build(ents, rels)
	o.digest = v.digestAfter(st.changed, ents, rels)
	return o, true
}

// Digest returns the content digest of the memory the Overlay answers for:
// its View's, with the entities the jobs changed as they leave them (the
// digest the writer's snapshot of those jobs will record).
func (o *Overlay) Digest() fsm.Digest { return o.digest }

// docsOf returns the live documents of v named in names, ascending.
func (v *View) docsOf(names []string) []int32 {
	ix := v.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var ids []int32
	for _, name := range names {
		if id, ok := ix.byName[name]; ok && id < int32(len(v.docs)) && !v.isDead(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Newest reports whether v is its lineage's newest View: the one
// Lookup, Open and Page answer on, and Apply extends.
func (v *View) Newest() bool {
	v.ix.mu.RLock()
	defer v.ix.mu.RUnlock()
	return v.ix.newest == v
}

// Base is the View the Overlay follows.
func (o *Overlay) Base() *View { return o.base }

// Changed is how many entities the jobs changed (created, changed or
// deleted).
func (o *Overlay) Changed() int { return len(o.ents) }

// Rejected lists the jobs the rules rejected over the View, which the
// Overlay skipped, each naming its position among the jobs and wrapping
// its *model.Rejection.
func (o *Overlay) Rejected() []error { return o.rejected }

// Entity returns the named entity as the jobs leave it, ok false if it
// does not exist.
func (o *Overlay) Entity(name string) (model.Entity, bool) {
	if p, ok := o.ents[name]; ok {
		return p.e, p.exists
	}
	e, _, ok := o.base.Lookup(name)
	return e, ok
}

// Out returns the named entity's outgoing relations as the jobs leave
// them, in the View's order.
func (o *Overlay) Out(name string) []model.Relation {
	if p, ok := o.ents[name]; ok {
		if !p.exists {
			return nil
		}
		out := make([]model.Relation, len(p.out))
		for i, r := range p.out {
			out[i] = model.Relation{From: name, To: r.To, RelationType: r.Type}
		}
		return out
	}
	_, out, _ := o.base.Lookup(name)
	return out
}

// In returns the relations into the named entity as the jobs leave them,
// from entities the jobs did not change (the View's) and from those they
// did.
func (o *Overlay) In(name string) []model.Relation {
	var in []model.Relation
	for _, src := range o.base.Sources([]string{name}) {
		if _, changed := o.ents[src]; changed {
			continue
		}
		_, out, _ := o.base.Lookup(src)
		for _, r := range out {
			if r.To == name {
				in = append(in, r)
			}
		}
	}
	for _, src := range o.names {
		for _, r := range o.ents[src].out {
			if r.To == name {
				in = append(in, model.Relation{From: src, To: name, RelationType: r.Type})
			}
		}
	}
	return in
}

// Open is View.Open over the Overlay: the live entities of names, in the
// order of names and each once, and every relation with at least one end
// among them, unordered.
func (o *Overlay) Open(names []string) (ents []model.Entity, rels []model.Relation) {
	in := make(map[string]bool, len(names))
	for _, name := range names {
		if in[name] {
			continue
		}
		if e, ok := o.Entity(name); ok {
			in[name] = true
			ents = append(ents, e)
		}
	}
	for _, e := range ents {
		rels = append(rels, o.Out(e.Name)...)
		for _, r := range o.In(e.Name) {
			if !in[r.From] { // from an entity of ents: listed as its Out
				rels = append(rels, r)
			}
		}
	}
	return ents, rels
}

// Search is View.Search over the Overlay: the View's hits less the
// entities the jobs changed, and the hits among the changed entities that
// exist. The changed entities' BM25 scores are computed among themselves
// (a small index), not over the whole memory: they rank as the same words
// would in a memory of those entities alone, until the writer applies the
// jobs.
func (o *Overlay) Search(q string) []Hit { return loaded(o.Hits(q)) }

// Hits is Search without building the entities, as View.Hits.
func (o *Overlay) Hits(q string) []Hit {
	small := o.small.Hits(q)
	hits := o.base.hits(q, len(small))
	if len(o.shadowed) > 0 {
		// Both ascending: one walk drops the changed entities' documents.
		k, s := 0, o.shadowed
		for i := range hits {
			for len(s) > 0 && s[0] < hits[i].id {
				s = s[1:]
			}
			if len(s) > 0 && s[0] == hits[i].id {
				continue
			}
			hits[k] = hits[i]
			k++
		}
		hits = hits[:k]
	}
	return append(hits, small...)
}

// RelationsTouching is View.RelationsTouching for hits of the Overlay's
// Search: the relations with at least one end among them, each once,
// unordered.
func (o *Overlay) RelationsTouching(hits []Hit) []model.Relation {
	in := make(map[string]bool, len(hits))
	var baseHits, smallHits []Hit
	for _, h := range hits {
		in[h.Name()] = true
		if _, changed := o.ents[h.Name()]; changed {
			smallHits = append(smallHits, h)
		} else {
			baseHits = append(baseHits, h)
		}
	}
	// The View's relations of its hits, less those from a changed entity.
	rels := slices.DeleteFunc(o.base.RelationsTouching(baseHits), func(r model.Relation) bool {
		_, changed := o.ents[r.From]
		return changed
	})
	// The changed entities' relations to or from a hit.
	for _, src := range o.names {
		for _, r := range o.ents[src].out {
			if in[src] || in[r.To] {
				rels = append(rels, model.Relation{From: src, To: r.To, RelationType: r.Type})
			}
		}
	}
	// Relations into a changed hit from the View's entities that are not
	// hits themselves (a hit's are listed above).
	for _, h := range smallHits {
		for _, r := range o.In(h.Name()) {
			if _, changed := o.ents[r.From]; !changed && !in[r.From] {
				rels = append(rels, r)
			}
		}
	}
	return rels
}

// Page is View.Page over the Overlay: up to limit (0: no limit) live
// entities named after after, in name order, of entityType when it is not
// "", with their outgoing relations (to entities of entityType when it is
// set), and whether more follow. ok is false when the View cannot page
// (it is no longer its lineage's newest).
func (o *Overlay) Page(after string, limit int, entityType string) (ents []model.Entity, rels []model.Relation, more, ok bool) {
	// The View's page, long enough to make up for the changed entities it
	// holds, less those; merged with the changed entities that exist.
	baseLimit := 0
	if limit > 0 {
		baseLimit = limit + len(o.ents)
	}
	bents, brels, bmore, ok := o.base.Page(after, baseLimit, entityType)
	if !ok {
		return nil, nil, false, false
	}
	bents = slices.DeleteFunc(bents, func(e model.Entity) bool { _, changed := o.ents[e.Name]; return changed })
	var fresh []model.Entity
	i := sort.SearchStrings(o.names, after)
	for ; i < len(o.names); i++ {
		if e := o.ents[o.names[i]].e; e.Name > after && (entityType == "" || e.EntityType == entityType) {
			fresh = append(fresh, e)
		}
	}
	ents = mergeByName(bents, fresh)
	if limit > 0 && len(ents) > limit {
		ents, more = ents[:limit], true
	} else if bmore {
		// The View had more past its page: the page's last name is a
		// View entity's at or before them.
		more = true
	}
	// The View's relations of its entities on the page stand: a relation
	// to an entity the jobs deleted (or deleted and created again) went
	// with it, which changed its source.
	onPage := make(map[string]bool, len(ents))
	for _, e := range ents {
		onPage[e.Name] = true
	}
	for _, r := range brels {
		if _, changed := o.ents[r.From]; !changed && onPage[r.From] {
			rels = append(rels, r)
		}
	}
	for _, e := range ents {
		if _, changed := o.ents[e.Name]; !changed {
			continue
		}
		for _, r := range o.Out(e.Name) {
			if entityType != "" {
				if to, ok := o.Entity(r.To); !ok || to.EntityType != entityType {
					continue
				}
			}
			rels = append(rels, r)
		}
	}
	return ents, rels, more, true
}

// mergeByName merges two lists of entities sorted by name (byte order).
func mergeByName(a, b []model.Entity) []model.Entity {
	out := make([]model.Entity, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if strings.Compare(a[0].Name, b[0].Name) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
