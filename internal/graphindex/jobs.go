package graphindex

import "errors"
import "fmt"
import "slices"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"

// ErrDiverged is returned by ApplyJobs and FollowJobs when the jobs do not
// lead from the View to the snapshot they were applied in: the memory's
// rules (fsm.Apply) reject a job on the View, or the result's counts or
// content digest differ from the snapshot's manifest. The caller builds
// the snapshot's index from its graph instead.
var ErrDiverged = errors.New("graphindex: the jobs do not lead to the snapshot")

// Target is what a snapshot's manifest says of its content, which the
// View the jobs lead to must match.
type Target struct {
	Entities, Relations int64
	// Digest is the manifest's content digest; HasDigest is false when it
	// records none (written before digests), and only counts are checked.
	Digest    fsm.Digest
	HasDigest bool
}

// ApplyJobs is FollowJobs checked against the snapshot's entity and
// relation counts alone.
func (v *View) ApplyJobs(jobs []*model.Job, entities, relations int64) (*View, error) {
	return v.FollowJobs(jobs, Target{Entities: entities, Relations: relations})
}

// FollowJobs returns the View of the snapshot that the writer made by
// applying jobs, in order, to v's snapshot: the jobs it archived (each
// applied whole; see snapshot.Store.JobsSince). It runs them with the
// memory's state machine (fsm.Apply) on v, and checks the result against
// the snapshot's counts and, when t has one, its content digest, before
// it extends the index, so that no Kuzu query is needed to follow a
// snapshot. It returns ErrDiverged, without changing anything, when the
// jobs do not fit v or t; and a nil View, as Apply does, when v is not its
// lineage's newest or the index should be built afresh.
func (v *View) FollowJobs(jobs []*model.Job, t Target) (*View, error) {
	st := &indexState{v: v, ents: map[string]*pending{}, touched: map[string]bool{}}
	for i, job := range jobs {
		if _, err := fsm.Apply(st, job); err != nil {
			return nil, fmt.Errorf("%w: job %d of %d: %w", ErrDiverged, i+1, len(jobs), err)
		}
	}
	liveAfter, relsAfter := int64(v.live), v.rels
	current := make([]model.Entity, 0, len(st.changed))
	var rels []model.Relation
	for _, name := range st.changed {
		p := st.ents[name]
		if p.inBase {
			liveAfter--
			relsAfter -= int64(p.baseOut)
		}
		if !p.exists {
			continue
		}
		liveAfter++
		relsAfter += int64(len(p.out))
		current = append(current, p.e)
		for _, r := range p.out {
			rels = append(rels, model.Relation{From: name, To: r.To, RelationType: r.Type})
		}
	}
	if liveAfter != t.Entities || relsAfter != t.Relations {
		return nil, fmt.Errorf("%w: %d entities and %d relations after the jobs, the snapshot holds %d and %d",
			ErrDiverged, liveAfter, relsAfter, t.Entities, t.Relations)
	}
	if t.HasDigest {
		if d := v.digestAfter(st.changed, current, rels); d != t.Digest {
			return nil, fmt.Errorf("%w: content digest %s after the jobs, the snapshot records %s", ErrDiverged, d, t.Digest)
		}
	}
	return v.Apply(st.changed, current, rels), nil
}

// pending is one entity as the jobs leave it.
type pending struct {
	inBase, exists bool
	baseOut        int // outgoing relations in the base View
	e              model.Entity
	out            []Rel // never changed in place: replaced on change
}

// indexState is the fsm.State of a View followed by jobs: the entities
// the jobs reach, loaded from the View on first use, as they leave them.
type indexState struct {
	v       *View
	ents    map[string]*pending
	changed []string // names the jobs changed, in first-change order
	touched map[string]bool
	undo    []func()
}

// get returns the named entity's pending state, loading it from the View.
func (s *indexState) get(name string) *pending {
	p := s.ents[name]
	if p == nil {
		e, out, ok := s.v.Lookup(name)
		p = &pending{inBase: ok, exists: ok, baseOut: len(out), e: e}
		for _, r := range out {
			p.out = append(p.out, Rel{To: r.To, Type: r.RelationType})
		}
		s.ents[name] = p
	}
	return p
}

// change returns the named entity's pending state to be changed: its
// current value goes to the undo log and the name to changed.
func (s *indexState) change(name string) *pending {
	p := s.get(name)
	prev := *p
	s.undo = append(s.undo, func() { *p = prev })
	if !s.touched[name] {
		s.touched[name] = true
		s.changed = append(s.changed, name)
	}
	return p
}

// Entity implements fsm.State.
func (s *indexState) Entity(name string) (fsm.Entity, bool) {
	p := s.get(name)
	return fsm.Entity{Type: p.e.EntityType, Observations: p.e.Observations}, p.exists
}

// PutEntity implements fsm.State.
func (s *indexState) PutEntity(name string, e fsm.Entity) {
	p := s.change(name)
	p.exists = true
	p.e = model.Entity{Name: name, EntityType: e.Type, Observations: e.Observations}
}

// DeleteEntity implements fsm.State.
func (s *indexState) DeleteEntity(name string) {
	p := s.change(name)
	p.exists, p.out = false, nil
}

// HasRelation implements fsm.State.
func (s *indexState) HasRelation(r model.Relation) bool {
	from := s.get(r.From)
	return from.exists && slices.Contains(from.out, Rel{To: r.To, Type: r.RelationType})
}

// PutRelation implements fsm.State.
func (s *indexState) PutRelation(r model.Relation) {
	from := s.change(r.From)
	from.out = append(slices.Clip(from.out), Rel{To: r.To, Type: r.RelationType})
}

// DeleteRelation implements fsm.State.
func (s *indexState) DeleteRelation(r model.Relation) {
	from := s.change(r.From)
	rel := Rel{To: r.To, Type: r.RelationType}
	from.out = slices.DeleteFunc(slices.Clone(from.out), func(x Rel) bool { return x == rel })
}

// RelationsOf implements fsm.State: the entity's outgoing relations, and
// those into it from the View's entities (Sources) and from entities the
// jobs changed.
func (s *indexState) RelationsOf(name string) []model.Relation {
	var out []model.Relation
	if p := s.get(name); p.exists {
		for _, r := range p.out {
			out = append(out, model.Relation{From: name, To: r.To, RelationType: r.Type})
		}
	}
	for _, src := range s.v.Sources([]string{name}) {
		s.get(src)
	}
	for src, q := range s.ents {
		if src == name || !q.exists {
			continue
		}
		for _, r := range q.out {
			if r.To == name {
				out = append(out, model.Relation{From: src, To: name, RelationType: r.Type})
			}
		}
	}
	slices.SortFunc(out, fsm.CompareRelations)
	return out
}

// Mark implements fsm.State.
func (s *indexState) Mark() int { return len(s.undo) }

// Undo implements fsm.State.
func (s *indexState) Undo(mark int) { fsm.Undo(&s.undo, mark) }

// Forget implements fsm.State.
func (s *indexState) Forget(mark int) { fsm.Forget(&s.undo, mark) }
