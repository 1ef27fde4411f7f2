package fsm

import "cmp"
import "slices"
import "strings"

import "github.com/memsnap/memsnap/internal/model"

// MemState is a State in memory: the rows read from a snapshot
// (model.State), as the durable acknowledgement predicts the writer's
// answer on them and import checks what queued jobs leave.
type MemState struct {
	ents map[string]Entity
	rels map[model.Relation]bool
	// relsOf lists the relation keys touching each entity (some may no
	// longer exist), built on the first RelationsOf.
	relsOf map[string][]model.Relation
	undo   []func()
}

// NewMemState returns a MemState holding st's rows (nil: nothing).
func NewMemState(st *model.State) *MemState {
	m := &MemState{ents: map[string]Entity{}, rels: map[model.Relation]bool{}}
	if st == nil {
		return m
	}
	for _, e := range st.Entities {
		m.ents[e.Name] = Entity{Type: e.EntityType, Observations: e.Observations}
	}
	for _, r := range st.Relations {
		m.rels[model.Relation{From: r.From, To: r.To, RelationType: r.RelationType}] = true
	}
	return m
}

// Entity implements State.
func (m *MemState) Entity(name string) (Entity, bool) {
	e, ok := m.ents[name]
	return e, ok
}

// PutEntity implements State.
func (m *MemState) PutEntity(name string, e Entity) { setUndoably(&m.undo, m.ents, name, e, true) }

// DeleteEntity implements State.
func (m *MemState) DeleteEntity(name string) { setUndoably(&m.undo, m.ents, name, Entity{}, false) }

// HasRelation implements State.
func (m *MemState) HasRelation(r model.Relation) bool { return m.rels[r] }

// PutRelation implements State.
func (m *MemState) PutRelation(r model.Relation) {
	if _, known := m.rels[r]; !known && m.relsOf != nil {
		m.addRelOf(r)
	}
	setUndoably(&m.undo, m.rels, r, true, true)
}

// DeleteRelation implements State.
func (m *MemState) DeleteRelation(r model.Relation) { setUndoably(&m.undo, m.rels, r, false, true) }

// RelationsOf implements State.
func (m *MemState) RelationsOf(name string) []model.Relation {
	if m.relsOf == nil {
		m.relsOf = map[string][]model.Relation{}
		for r := range m.rels {
			m.addRelOf(r)
		}
	}
	out := slices.DeleteFunc(slices.Clone(m.relsOf[name]), func(r model.Relation) bool { return !m.rels[r] })
	slices.SortFunc(out, CompareRelations)
	return out
}

func (m *MemState) addRelOf(r model.Relation) {
	m.relsOf[r.From] = append(m.relsOf[r.From], r)
	if r.To != r.From {
		m.relsOf[r.To] = append(m.relsOf[r.To], r)
	}
}

// Mark implements State.
func (m *MemState) Mark() int { return len(m.undo) }

// Undo implements State.
func (m *MemState) Undo(mark int) { Undo(&m.undo, mark) }

// Forget implements State.
func (m *MemState) Forget(mark int) { Forget(&m.undo, mark) }

// setUndoably stores v under k in mp (deletes k when keep is false) and
// records in log how to undo that.
func setUndoably[K comparable, V any](log *[]func(), mp map[K]V, k K, v V, keep bool) {
	prev, had := mp[k]
	*log = append(*log, func() {
		if had {
			mp[k] = prev
		} else {
			delete(mp, k)
		}
	})
	if keep {
		mp[k] = v
	} else {
		delete(mp, k)
	}
}

// SetUndoably stores v under k in mp and records in log how to undo that:
// the undo log of a State kept in maps.
func SetUndoably[K comparable, V any](log *[]func(), mp map[K]V, k K, v V) {
	setUndoably(log, mp, k, v, true)
}

// Undo runs the records of log after mark, newest first, and drops them.
func Undo(log *[]func(), mark int) {
	for i := len(*log) - 1; i >= mark; i-- {
		(*log)[i]()
	}
	clear((*log)[mark:])
	*log = (*log)[:mark]
}

// Forget drops the records of log after mark without running them (a job
// that applied: only a rejected one is undone, and a 100k-entity import
// held 200k records, about 30 MB).
func Forget(log *[]func(), mark int) {
	clear((*log)[mark:])
	*log = (*log)[:mark]
}

// CompareRelations orders relations by source, target, then type.
func CompareRelations(a, b model.Relation) int {
	return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(a.To, b.To), strings.Compare(a.RelationType, b.RelationType))
}
