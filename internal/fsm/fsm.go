package fsm

import "fmt"
import "slices"
import "strings"

import "github.com/memsnap/memsnap/internal/model"

// Entity is an entity's content as a State holds it. Observations is never
// changed in place: a change stores a new slice.
type Entity struct {
	Type         string
	Observations []string
}

// State is what Apply runs a job on: the entities and relations the job
// reads (see Reads), with an undo log so that a rejected job leaves no
// trace. Its methods do no I/O and cannot fail.
type State interface {
	// Entity returns the named entity, ok false if it does not exist.
	Entity(name string) (e Entity, ok bool)
	// PutEntity creates the named entity or replaces its content.
	PutEntity(name string, e Entity)
	// DeleteEntity deletes the named entity; Apply deletes its relations
	// first.
	DeleteEntity(name string)
	// HasRelation reports whether relation r exists.
	HasRelation(r model.Relation) bool
	// PutRelation creates relation r, which does not exist.
	PutRelation(r model.Relation)
	// DeleteRelation deletes relation r, which exists.
	DeleteRelation(r model.Relation)
	// RelationsOf returns every existing relation into or out of the named
	// entity, each once; Apply asks it for the entities a job deletes
	// (ReadSet.Touching). A State that loaded only part of them (the
	// durable acknowledgement's, which reads no relation into an entity)
	// gives Apply the same results and a wrong Delta.
	RelationsOf(name string) []model.Relation
	// Mark returns a point of the undo log; Undo(mark) undoes every change
	// since it; Forget(mark) keeps them and drops their undo records.
	Mark() int
	Undo(mark int)
	Forget(mark int)
}

// KVChange is a key-value change of an applied job, in job order.
type KVChange struct {
	Key    string
	Value  string
	Delete bool
}

// Result is what an applied job did.
type Result struct {
	// Ops holds what each op did, in op order (model.OpResult).
	Ops []model.OpResult
	// KV lists the job's key-value changes, in order; the State holds none.
	KV []KVChange
	// Delta is the job's change of the content Digest: what to add to the
	// digest of the state before the job to get the digest after it.
	Delta Digest
}

// Apply runs job on st. It returns what the job did, or, when the rules
// refuse it, a *model.Rejection and st as it was. The same State content
// and the same job always give the same result.
func Apply(st State, job *model.Job) (res Result, err error) {
	mark := st.Mark()
	a := &applier{st: st}
	res.Ops = make([]model.OpResult, len(job.Ops))
	for i, op := range job.Ops {
		spec, ok := ops[op.Op]
		if !ok {
			st.Undo(mark)
			return Result{}, &model.Rejection{Op: i, OpName: op.Op, Code: model.RejectUnknownOp}
		}
		if missing, ok := spec.apply(a, op, &res.Ops[i]); !ok {
			st.Undo(mark)
			return Result{}, &model.Rejection{Op: i, OpName: op.Op, Code: model.RejectEntityNotFound, Entity: missing}
		}
	}
	st.Forget(mark)
	res.KV, res.Delta = a.kv, a.delta
	return res, nil
}

// applier runs a job's ops on a State, keeping the digest's delta.
type applier struct {
	st    State
	kv    []KVChange
	delta Digest
}

func (a *applier) putEntity(name string, old Entity, existed bool, e Entity) {
	if existed {
		a.delta = a.delta.Sub(EntityHash(name, old.Type, old.Observations))
	}
	a.delta = a.delta.Add(EntityHash(name, e.Type, e.Observations))
	a.st.PutEntity(name, e)
}

func (a *applier) deleteEntity(name string, old Entity) {
	for _, r := range a.st.RelationsOf(name) {
		a.deleteRelation(r)
	}
	a.delta = a.delta.Sub(EntityHash(name, old.Type, old.Observations))
	a.st.DeleteEntity(name)
}

func (a *applier) putRelation(r model.Relation) {
	a.delta = a.delta.Add(RelationHash(r))
	a.st.PutRelation(r)
}

func (a *applier) deleteRelation(r model.Relation) {
	a.delta = a.delta.Sub(RelationHash(r))
	a.st.DeleteRelation(r)
}

// opSpec is one op kind's entry in the table.
type opSpec struct {
	// apply runs the op, recording what it did in res; on a missing
	// entity it returns its name and ok false (the job is rejected).
	apply func(a *applier, op model.Op, res *model.OpResult) (missing string, ok bool)
	// reads adds to r what the op reads of a State.
	reads func(op model.Op, r *readSet)
	// changes calls fn with every entity whose content or outgoing
	// relations the op may change, and what it may change.
	changes func(op model.Op, fn func(name string, ch Change))
	// describe names the op and its first item, for messages.
	describe func(op model.Op) string
	// items lists what the op touches, one short label each (a name, a
	// relation as "from -[type]-> to", a key), for a job's summary.
	items func(op model.Op) []string
}

// ops is the table of op kinds: nothing outside this package implements
// an op.
var ops = map[string]opSpec{
	model.OpCreateEntities:     {applyCreateEntities, readsEntities, changesCreate, describeEntities, entityItems},
	model.OpCreateRelations:    {applyCreateRelations, readsRelations, changesRelations, describeRelations, relationItems},
	model.OpAddObservations:    {applyAddObservations, readsObservations, changesObservations, describeObservations, observationItems},
	model.OpDeleteEntities:     {applyDeleteEntities, readsDeleteEntities, changesDelete, describeNames, nameItems},
	model.OpDeleteObservations: {applyDeleteObservations, readsDeletions, changesDeletions, describeDeletions, deletionItems},
	model.OpDeleteRelations:    {applyDeleteRelations, readsRelations, changesRelations, describeRelations, relationItems},
	model.OpKVPut:              {applyKVPut, readsNothing, changesNothing, describeKey, keyItems},
	model.OpKVDelete:           {applyKVDelete, readsNothing, changesNothing, describeKey, keyItems},
}

// create_entities: a name that exists is skipped (New lists the others).
func applyCreateEntities(a *applier, op model.Op, res *model.OpResult) (string, bool) {
	for i, e := range op.Entities {
		if _, ok := a.st.Entity(e.Name); ok {
			continue
		}
		a.putEntity(e.Name, Entity{}, false, Entity{Type: e.EntityType, Observations: dedupe(nil, e.Observations)})
		res.New = append(res.New, i)
	}
	return "", true
}

// create_relations: both ends must exist; a relation that exists is
// skipped (New lists the others).
func applyCreateRelations(a *applier, op model.Op, res *model.OpResult) (string, bool) {
	for i, r := range op.Relations {
		for _, n := range []string{r.From, r.To} {
			if _, ok := a.st.Entity(n); !ok {
				return n, false
			}
		}
		if !a.st.HasRelation(r) {
			a.putRelation(r)
			res.New = append(res.New, i)
		}
	}
	return "", true
}

// add_observations: the entity must exist; an observation it holds is
// skipped (Added lists the others, per item).
func applyAddObservations(a *applier, op model.Op, res *model.OpResult) (string, bool) {
	res.Added = make([][]string, len(op.Observations))
	for i, o := range op.Observations {
		cur, ok := a.st.Entity(o.EntityName)
		if !ok {
			return o.EntityName, false
		}
		obs := dedupe(cur.Observations, o.Contents)
		res.Added[i] = obs[len(cur.Observations):]
		if len(obs) != len(cur.Observations) {
			a.putEntity(o.EntityName, cur, true, Entity{Type: cur.Type, Observations: obs})
		}
	}
	return "", true
}

// delete_entities: each entity goes with every relation touching it; a
// missing one is listed (Missing), not an error.
func applyDeleteEntities(a *applier, op model.Op, res *model.OpResult) (string, bool) {
	for _, n := range op.EntityNames {
		cur, ok := a.st.Entity(n)
		if !ok {
			res.Missing = append(res.Missing, n)
			continue
		}
		res.Deleted++
		a.deleteEntity(n, cur)
	}
	return "", true
}

// delete_observations: every copy of each named observation goes; a
// missing entity is listed (Missing), not an error.
func applyDeleteObservations(a *applier, op model.Op, res *model.OpResult) (string, bool) {
	for _, d := range op.Deletions {
		cur, ok := a.st.Entity(d.EntityName)
		if !ok {
			res.Missing = append(res.Missing, d.EntityName)
			continue
		}
		obs := slices.DeleteFunc(slices.Clone(cur.Observations), func(s string) bool { return slices.Contains(d.Observations, s) })
		if len(obs) != len(cur.Observations) {
			res.Deleted += len(cur.Observations) - len(obs)
			a.putEntity(d.EntityName, cur, true, Entity{Type: cur.Type, Observations: obs})
		}
	}
	return "", true
}

// delete_relations: a relation that does not exist is skipped.
func applyDeleteRelations(a *applier, op model.Op, res *model.OpResult) (string, bool) {
	for _, r := range op.Relations {
		if a.st.HasRelation(r) {
			res.Deleted++
			a.deleteRelation(r)
		}
	}
	return "", true
}

func applyKVPut(a *applier, op model.Op, _ *model.OpResult) (string, bool) {
	value := ""
	if op.Value != nil {
		value = *op.Value
	}
	a.kv = append(a.kv, KVChange{Key: op.Key, Value: value})
	return "", true
}

func applyKVDelete(a *applier, op model.Op, _ *model.OpResult) (string, bool) {
	a.kv = append(a.kv, KVChange{Key: op.Key, Delete: true})
	return "", true
}

// dedupe appends to a copy of base the strings of add it does not hold,
// each once; never nil (an entity's observations encode as []).
func dedupe(base, add []string) []string {
	out := slices.Clone(base)
	seen := make(map[string]bool, len(base)+len(add))
	for _, s := range base {
		seen[s] = true
	}
	for _, s := range add {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// Describe names what a job does in a few words, for messages about it:
// its ops and the first item of each, e.g. `add_observations to "Kuzu"`.
func Describe(job *model.Job) string {
	parts := make([]string, 0, len(job.Ops))
	for _, op := range job.Ops {
		if spec, ok := ops[op.Op]; ok {
			parts = append(parts, spec.describe(op))
		} else {
			parts = append(parts, op.Op)
		}
	}
	return strings.Join(parts, "; ")
}

// describeFirst is the op's kind, then its first item as first words it
// and how many more there are; the kind alone for an op of n = 0 items.
func describeFirst(op model.Op, n int, first func() string) string {
	switch {
	case n == 0:
		return op.Op
	case n == 1:
		return op.Op + " " + first()
	}
	return fmt.Sprintf("%s %s and %d more", op.Op, first(), n-1)
}

func describeEntities(op model.Op) string {
	return describeFirst(op, len(op.Entities), func() string { return fmt.Sprintf("%q", op.Entities[0].Name) })
}

func describeRelations(op model.Op) string {
	return describeFirst(op, len(op.Relations), func() string {
		r := op.Relations[0]
		return fmt.Sprintf("%q -[%s]-> %q", r.From, r.RelationType, r.To)
	})
}

func describeObservations(op model.Op) string {
	return describeFirst(op, len(op.Observations), func() string { return fmt.Sprintf("to %q", op.Observations[0].EntityName) })
}

func describeDeletions(op model.Op) string {
	return describeFirst(op, len(op.Deletions), func() string { return fmt.Sprintf("from %q", op.Deletions[0].EntityName) })
}

func describeNames(op model.Op) string {
	return describeFirst(op, len(op.EntityNames), func() string { return fmt.Sprintf("%q", op.EntityNames[0]) })
}

func describeKey(op model.Op) string {
	n := 0
	if op.Key != "" {
		n = 1
	}
	return describeFirst(op, n, func() string { return fmt.Sprintf("%q", op.Key) })
}

// Summarize describes each op of job in one line: its kind and the first
// three items it touches (names, relations, keys), then how many more,
// e.g. "create_entities a, b, c (and 2 more)". An op of an unknown kind
// is its kind alone.
func Summarize(job *model.Job) []string {
	out := make([]string, 0, len(job.Ops))
	for _, op := range job.Ops {
		var names []string
		if spec, ok := ops[op.Op]; ok {
			names = spec.items(op)
		}
		line := op.Op + " " + strings.Join(names[:min(len(names), 3)], ", ")
		if len(names) > 3 {
			line += fmt.Sprintf(" (and %d more)", len(names)-3)
		}
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

// itemsOf labels each element of list with label.
func itemsOf[T any](list []T, label func(T) string) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = label(x)
	}
	return out
}

func entityItems(op model.Op) []string {
	return itemsOf(op.Entities, func(e model.Entity) string { return e.Name })
}

func relationItems(op model.Op) []string {
	return itemsOf(op.Relations, func(r model.Relation) string {
		return fmt.Sprintf("%s -[%s]-> %s", r.From, r.RelationType, r.To)
	})
}

func observationItems(op model.Op) []string {
	return itemsOf(op.Observations, func(o model.ObservationAdd) string { return o.EntityName })
}

func deletionItems(op model.Op) []string {
	return itemsOf(op.Deletions, func(d model.ObservationDelete) string { return d.EntityName })
}

func nameItems(op model.Op) []string { return op.EntityNames }

func keyItems(op model.Op) []string { return []string{op.Key} }
