package fsm

import "maps"
import "slices"

import "github.com/memsnap/memsnap/internal/model"

// ReadSet is what a list of jobs reads of a State, each list sorted: the
// State to run them on must hold these rows (model.State is such rows).
type ReadSet struct {
	// Names are every entity the jobs name.
	Names []string
	// Sources are the sources of the relations they create or delete: the
	// State needs their outgoing relations.
	Sources []string
	// Touching are the entities they delete: the State needs every
	// relation into or out of them for the Delta to be right (the results
	// do not depend on them).
	Touching []string
}

// readSet collects a ReadSet.
type readSet struct{ names, sources, touching map[string]bool }

// Reads returns what jobs read (see ReadSet).
func Reads(jobs []*model.Job) ReadSet {
	r := readSet{names: map[string]bool{}, sources: map[string]bool{}, touching: map[string]bool{}}
	for _, j := range jobs {
		for _, op := range j.Ops {
			if spec, ok := ops[op.Op]; ok {
				spec.reads(op, &r)
			}
		}
	}
	return ReadSet{Names: slices.Sorted(maps.Keys(r.names)), Sources: slices.Sorted(maps.Keys(r.sources)),
		Touching: slices.Sorted(maps.Keys(r.touching))}
}

func readsEntities(op model.Op, r *readSet) {
	for _, e := range op.Entities {
		r.names[e.Name] = true
	}
}

func readsRelations(op model.Op, r *readSet) {
	for _, rel := range op.Relations {
		r.names[rel.From], r.names[rel.To], r.sources[rel.From] = true, true, true
	}
}

func readsObservations(op model.Op, r *readSet) {
	for _, o := range op.Observations {
		r.names[o.EntityName] = true
	}
}

func readsDeleteEntities(op model.Op, r *readSet) {
	for _, n := range op.EntityNames {
		r.names[n], r.touching[n] = true, true
	}
}

func readsDeletions(op model.Op, r *readSet) {
	for _, d := range op.Deletions {
		r.names[d.EntityName] = true
	}
}

func readsNothing(model.Op, *readSet) {}

// Change says what a job may change of an entity.
type Change uint8

// What a job may change of an entity (Changes).
const (
	ChangeContent   Change = 1 << iota // its type or observations, or whether it exists
	ChangeRelations                    // its outgoing relations
	ChangeDeleted                      // it is deleted (and may be created again)
	ChangeCreated                      // it is created unless it exists
)

// Changes calls changed with every entity whose content or outgoing
// relations job may change, and what it may change. The sources of
// relations into a deleted entity change too; they are not listed (the
// caller that needs them finds them from what it holds).
func Changes(job *model.Job, changed func(name string, ch Change)) {
	for _, op := range job.Ops {
		if spec, ok := ops[op.Op]; ok {
			spec.changes(op, changed)
		}
	}
}

func changesCreate(op model.Op, fn func(string, Change)) {
	for _, e := range op.Entities {
		// Created anew after a delete, it has no relations.
		fn(e.Name, ChangeContent|ChangeRelations|ChangeCreated)
	}
}

func changesRelations(op model.Op, fn func(string, Change)) {
	for _, r := range op.Relations {
		fn(r.From, ChangeRelations)
	}
}

func changesObservations(op model.Op, fn func(string, Change)) {
	for _, o := range op.Observations {
		fn(o.EntityName, ChangeContent)
	}
}

func changesDeletions(op model.Op, fn func(string, Change)) {
	for _, d := range op.Deletions {
		fn(d.EntityName, ChangeContent)
	}
}

func changesDelete(op model.Op, fn func(string, Change)) {
	for _, n := range op.EntityNames {
		fn(n, ChangeContent|ChangeRelations|ChangeDeleted)
	}
}

func changesNothing(model.Op, func(string, Change)) {}

// CreatesAtMost is an upper bound on the entities jobs create: the number
// of create_entities items, before duplicates and failures are known.
func CreatesAtMost(jobs []*model.Job) int {
	n := 0
	for _, j := range jobs {
		Changes(j, func(_ string, ch Change) {
			if ch&ChangeCreated != 0 {
				n++
			}
		})
	}
	return n
}
