package main

import "context"
import "errors"
import "fmt"
import "slices"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"

// How import merges a file into the store (issue 28)
//
// Importing a file again, or a file naming entities the store holds, merges
// it: each entity is queued in create_entities as before (the reference's
// rule: an entity whose name exists is left as it is), and for an entity
// the store already holds, an add_observations job follows with the file's
// observations the store lacks (the reference's add_observations skips
// those present anyway). Relations are queued with create_relations, which
// skips the ones that exist. The summary counts the entities merged and
// the observations added. The entity type is never changed: create_entities
// keeps an existing entity whole, and no op of the reference changes a
// type; an entityType that differs from the store's is reported on its
// line, with the store's type kept (delete the entity first to take the
// file's).

// storeLookup tells which entities the store holds as the queue will leave
// it: CURRENT's entities (none when nothing is published yet) with the jobs
// still queued or claimed when it was first asked (an earlier import not
// committed yet) applied in queue order by the memory's rules (fsm.Apply),
// so that an entity a queued job creates is found and one it deletes is
// not. It opens one reader for the whole import; Close releases it.
type storeLookup struct {
	a   *app
	ctx context.Context
	s   *snapshot.Store

	ready   bool
	r       *reader.Reader  // nil when nothing is published
	mem     *fsm.MemState   // the rows the queued jobs read, the jobs applied
	touched map[string]bool // the entities the queued jobs name: mem has their final state
}

func (a *app) newStoreLookup(ctx context.Context, s *snapshot.Store) *storeLookup {
	return &storeLookup{a: a, ctx: ctx, s: s}
}

// init opens the reader and applies the queued jobs, once.
func (l *storeLookup) init() error {
	if l.ready {
		return nil
	}
	jobs := l.a.queuedJobs(l.s)
	reads := fsm.Reads(jobs)
	r, err := reader.Open(l.ctx, l.s, l.a.cfg.ReaderOptions(), l.a.log)
	switch {
	case errors.Is(err, snapshot.ErrNoSnapshot):
		r = nil
	case err != nil:
		return err
	}
	l.r = r
	var st *model.State
	if r != nil && len(reads.Names) > 0 {
		ss, err := r.State(l.ctx, reads.Names, reads.Sources, nil)
		if err != nil {
			return err
		}
		st = ss.Graph
	}
	l.mem = fsm.NewMemState(st)
	for _, job := range jobs {
		_, _ = fsm.Apply(l.mem, job) // a job the writer will reject changes nothing
	}
	l.touched = make(map[string]bool, len(reads.Names))
	for _, n := range reads.Names {
		l.touched[n] = true
	}
	l.ready = true
	return nil
}

// entities returns the entities of names the store holds (see storeLookup).
func (l *storeLookup) entities(names []string) (map[string]fsm.Entity, error) {
	if err := l.init(); err != nil {
		return nil, err
	}
	out := map[string]fsm.Entity{}
	var rest []string
	for _, n := range names {
		if !l.touched[n] {
			rest = append(rest, n)
		} else if e, ok := l.mem.Entity(n); ok {
			out[n] = e
		}
	}
	if l.r == nil || len(rest) == 0 {
		return out, nil
	}
	slices.Sort(rest)
	ss, err := l.r.State(l.ctx, slices.Compact(rest), nil, nil)
	if err != nil {
		return nil, err
	}
	for _, row := range ss.Graph.Entities {
		out[row.Name] = fsm.Entity{Type: row.EntityType, Observations: row.Observations}
	}
	return out, nil
}

// holds reports which of names the store holds: memoryImport.known.
func (l *storeLookup) holds(names []string) (map[string]bool, error) {
	ents, err := l.entities(names)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ents))
	for n := range ents {
		out[n] = true
	}
	return out, nil
}

// Close releases the reader.
func (l *storeLookup) Close() {
	if l.r != nil {
		l.r.Close()
		l.r = nil
	}
}

// merge returns the observations of ents (entities of the file, about to
// be queued in create_entities) that entities the store already holds
// lack, as add_observations items, counting those entities in m.merged and
// the observations in m.obsAdded, and reporting each whose entityType
// differs from the store's (which is kept).
func (m *memoryImport) merge(ents []model.Entity) ([]model.ObservationAdd, error) {
	if m.existing == nil || len(ents) == 0 {
		return nil, nil
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name
	}
	have, err := m.existing(names)
	if err != nil {
		return nil, fmt.Errorf("import %s: look up the file's entities in the store: %w", m.path, err)
	}
	var adds []model.ObservationAdd
	for _, e := range ents {
		old, ok := have[e.Name]
		if !ok {
			continue
		}
		m.merged++
		if old.Type != e.EntityType {
			m.problems = append(m.problems, memoryProblem{Line: m.entityLine[e.Name], Merged: true,
				Reason: fmt.Sprintf("entity %s has entityType %q in the store and %q in the file: the store's is kept (create_entities never changes an existing entity; delete the entity first to take the file's)",
					quoteName(e.Name), old.Type, e.EntityType)})
		}
		present := make(map[string]bool, len(old.Observations))
		for _, o := range old.Observations {
			present[o] = true
		}
		var fresh []string
		for _, o := range e.Observations {
			if !present[o] {
				present[o] = true
				fresh = append(fresh, o)
			}
		}
		if len(fresh) > 0 {
			adds = append(adds, model.ObservationAdd{EntityName: e.Name, Contents: fresh})
			m.obsAdded += len(fresh)
		}
	}
	return adds, nil
}
