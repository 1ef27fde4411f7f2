package graphindex

import (
	"errors"
	"fmt"
	"slices"

	"github.com/memsnap/memsnap/internal/model"
)

// ErrDiverged is returned by ApplyJobs when the jobs do not lead from the
// View to the snapshot they were applied in: a job names an entity the View
// does not hold where the writer needs one, or the result's counts differ
// from the snapshot's manifest. The caller reads the changed entities from
// the snapshot instead.
var ErrDiverged = errors.New("graphindex: the jobs do not lead to the snapshot")

// pending is one entity as the jobs leave it.
type pending struct {
	inBase, exists bool
	baseOut        int // outgoing relations in the base View
	e              model.Entity
	out            []Rel // never changed in place: replaced on change
}

// ApplyJobs returns the View of the snapshot that the writer made by
// applying jobs, in order, to v's snapshot: the jobs it archived (each
// applied whole; see snapshot.Store.JobsSince). It runs them with the
// writer's rules for the memory tools (those of the reference server: a
// created entity that exists is left as it is, observations are added once,
// a deleted entity takes every relation touching it, key-value ops change
// nothing here) and checks the result against the snapshot's entity and
// relation counts before it extends the index, so that no Kuzu query is
// needed to follow a snapshot. It returns ErrDiverged, without changing
// anything, when the jobs do not fit v or the counts; and a nil View, as
// Apply does, when v is not its lineage's newest or the index should be
// built afresh.
func (v *View) ApplyJobs(jobs []*model.Job, entities, relations int64) (*View, error) {
	state := map[string]*pending{}
	var changed []string
	get := func(name string) *pending {
		p := state[name]
		if p == nil {
			e, out, ok := v.Lookup(name)
			p = &pending{inBase: ok, exists: ok, baseOut: len(out), e: e}
			for _, r := range out {
				p.out = append(p.out, Rel{To: r.To, Type: r.RelationType})
			}
			state[name] = p
		}
		return p
	}
	touched := map[string]bool{}
	mark := func(name string) {
		if !touched[name] {
			touched[name] = true
			changed = append(changed, name)
		}
	}
	for _, job := range jobs {
		for _, op := range job.Ops {
			if err := v.runOp(op, get, mark, state); err != nil {
				return nil, err
			}
		}
	}
	liveAfter, relsAfter := int64(v.live), v.rels
	current := make([]model.Entity, 0, len(changed))
	var rels []model.Relation
	for _, name := range changed {
		p := state[name]
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
	if liveAfter != entities || relsAfter != relations {
		return nil, fmt.Errorf("%w: %d entities and %d relations after the jobs, the snapshot holds %d and %d",
			ErrDiverged, liveAfter, relsAfter, entities, relations)
	}
	return v.Apply(changed, current, rels), nil
}

// runOp runs one op of a job on the pending entities (get loads one from
// v, mark records it changed).
func (v *View) runOp(op model.Op, get func(string) *pending, mark func(string), state map[string]*pending) error {
	missing := func(name string) error {
		return fmt.Errorf("%w: %s names %q, which does not exist", ErrDiverged, op.Op, name)
	}
	switch op.Op {
	case model.OpCreateEntities:
		for _, e := range op.Entities {
			if p := get(e.Name); !p.exists {
				p.exists, p.out = true, nil
				p.e = model.Entity{Name: e.Name, EntityType: e.EntityType, Observations: addNew(nil, e.Observations)}
				mark(e.Name)
			}
		}
	case model.OpCreateRelations:
		for _, r := range op.Relations {
			from, to := get(r.From), get(r.To)
			if !from.exists {
				return missing(r.From)
			}
			if !to.exists {
				return missing(r.To)
			}
			if rel := (Rel{To: r.To, Type: r.RelationType}); !slices.Contains(from.out, rel) {
				from.out = append(slices.Clip(from.out), rel)
				mark(r.From)
			}
		}
	case model.OpAddObservations:
		for _, a := range op.Observations {
			p := get(a.EntityName)
			if !p.exists {
				return missing(a.EntityName)
			}
			if obs := addNew(p.e.Observations, a.Contents); len(obs) != len(p.e.Observations) {
				p.e.Observations = obs
				mark(a.EntityName)
			}
		}
	case model.OpDeleteObservations:
		for _, d := range op.Deletions {
			p := get(d.EntityName)
			if !p.exists {
				continue
			}
			obs := slices.DeleteFunc(slices.Clone(p.e.Observations), func(o string) bool { return slices.Contains(d.Observations, o) })
			if len(obs) != len(p.e.Observations) {
				p.e.Observations = obs
				mark(d.EntityName)
			}
		}
	case model.OpDeleteRelations:
		for _, r := range op.Relations {
			from := get(r.From)
			rel := Rel{To: r.To, Type: r.RelationType}
			if from.exists && slices.Contains(from.out, rel) {
				from.out = slices.DeleteFunc(slices.Clone(from.out), func(x Rel) bool { return x == rel })
				mark(r.From)
			}
		}
	case model.OpDeleteEntities:
		for _, n := range op.EntityNames {
			p := get(n)
			if !p.exists {
				continue
			}
			p.exists, p.out = false, nil
			mark(n)
			// Its relations go with it: those into it from the base's
			// entities and from entities the jobs changed.
			for _, src := range v.Sources([]string{n}) {
				get(src)
			}
			for name, q := range state {
				if q.exists && slices.ContainsFunc(q.out, func(x Rel) bool { return x.To == n }) {
					q.out = slices.DeleteFunc(slices.Clone(q.out), func(x Rel) bool { return x.To == n })
					mark(name)
				}
			}
		}
	case model.OpKVPut, model.OpKVDelete:
	default:
		return fmt.Errorf("%w: unknown op %q", ErrDiverged, op.Op)
	}
	return nil
}

// addNew appends to a copy of base the strings of add it does not hold yet,
// each once: the writer's rule for observations.
func addNew(base, add []string) []string {
	out := make([]string, len(base), len(base)+len(add))
	copy(out, base)
	for _, s := range add {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
