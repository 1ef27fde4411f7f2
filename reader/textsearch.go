package reader

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memsnap/memsnap/internal/graphdb"
	"github.com/memsnap/memsnap/internal/graphindex"
	"github.com/memsnap/memsnap/internal/model"
	"github.com/memsnap/memsnap/snapshot"
)

// A process's search index follows the snapshots it serves: the index of
// a new snapshot is derived from the newest one built, through the jobs
// the snapshots in between archived, when they changed few entities
// (deriveAtMost names over at most deriveSnapshots snapshots); otherwise it
// is built from a scan of the snapshot's entities.
const (
	deriveAtMost    = 4096
	deriveSnapshots = 64
)

// textState is the newest search index a Reader built and the snapshot it
// indexes.
type textState struct {
	mu   sync.Mutex // serialises builds, guards the fields below
	view *graphindex.View
	man  *snapshot.Manifest

	used           atomic.Bool // a search asked for an index
	built, derived atomic.Int64
	// fellBack counts derives whose archived jobs did not lead to the
	// snapshot's counts (graphindex.ErrDiverged), so that the changed
	// entities were read from the snapshot instead.
	fellBack atomic.Int64
}

// SearchIndexStats returns how many search indexes the Reader built from a
// scan of a snapshot and how many it derived from the previous one.
func (r *Reader) SearchIndexStats() (built, derived int64) {
	return r.text.built.Load(), r.text.derived.Load()
}

// SearchIndexFellBack returns how many search index derives could not
// follow a snapshot's archived jobs (their result did not match the
// snapshot's entity and relation counts) and read the changed entities
// from the snapshot instead. On jobs the writer applied it stays 0: more
// means the index's rules for the jobs (graphindex.View.ApplyJobs) and the
// writer's differ.
func (r *Reader) SearchIndexFellBack() int64 { return r.text.fellBack.Load() }

// builtText is h's search index if it is built, else nil; nil also while
// it is being built, rather than wait for it.
func (h *handle) builtText() *graphindex.View {
	if !h.textMu.TryLock() {
		return nil
	}
	defer h.textMu.Unlock()
	return h.text
}

// textView returns h's search index, building it on first use: derived
// from the newest index the Reader built when the snapshots in between
// allow, else (unless deriveOnly, then it returns nil) from a scan of h's
// entities.
func (r *Reader) textView(ctx context.Context, h *handle, c *graphdb.Conn, deriveOnly bool) (*graphindex.View, error) {
	h.textMu.Lock()
	defer h.textMu.Unlock()
	if h.text != nil {
		return h.text, nil
	}
	t := &r.text
	t.used.Store(true)
	t.mu.Lock()
	defer t.mu.Unlock()
	t0 := time.Now()
	how := "derived"
	var v *graphindex.View
	if t.view != nil {
		var err error
		if v, err = r.deriveText(ctx, c, t.view, t.man, h.manifest); err != nil {
			return nil, err
		}
	}
	if v == nil && deriveOnly {
		return nil, nil
	}
	if v == nil {
		how = "built"
		ents, rels, err := readGraph(ctx, h, c)
		if err != nil {
			return nil, err
		}
		v = graphindex.Build(ents, rels)
	}
	if how == "built" {
		t.built.Add(1)
	} else {
		t.derived.Add(1)
	}
	r.log.Debug("search index ready", "seq", h.seq, "how", how, "entities", v.Live(), "ms", ms(time.Since(t0)))
	h.text = v
	// The newest snapshot's index is the one to derive from; one built
	// afresh also follows a rollback to an older snapshot.
	if t.man == nil || h.seq >= t.man.Seq || how == "built" {
		t.view, t.man = v, h.manifest
	}
	return v, nil
}

// deriveOnSwap derives the search index of h, about to be swapped in,
// from the newest one when the process has searched before: no search
// waits for it once h serves, and each snapshot's jobs are read while the
// store still keeps them. Where it cannot be derived (see deriveText), the
// first search on h builds it. Close cancels it.
func (r *Reader) deriveOnSwap(ctx context.Context, h *handle) {
	if !r.text.used.Load() {
		return
	}
	ctx, cancel := r.bounded(ctx) // a search that finds no index builds it
	defer cancel()
	defer context.AfterFunc(r.bgCtx, cancel)()
	c, err := h.conn()
	if err != nil {
		r.log.Warn("search index: no connection to derive it on swap", "seq", h.seq, "error", err)
		return
	}
	defer h.putConn(c)
	if _, err := r.textView(ctx, h, c, true); err != nil && ctx.Err() == nil {
		r.log.Warn("search index: derive on swap", "seq", h.seq, "error", err)
	}
}

// deriveText returns the index of snapshot to from base, the index of
// snapshot from, by reading again what the jobs in between change
// (jobChanges): the entities whose text changed and the outgoing relations
// of those whose relations changed, the rest of each changed entity taken
// from base. It returns nil when the index must be built afresh instead.
func (r *Reader) deriveText(ctx context.Context, c *graphdb.Conn, base *graphindex.View, from, to *snapshot.Manifest) (*graphindex.View, error) {
	jobs, ok := r.store.JobsSince(from, to, deriveSnapshots)
	if !ok {
		return nil, nil
	}
	what := map[string]change{}
	var changed, deleted []string
	note := func(name string, ch change) {
		if what[name] == 0 {
			changed = append(changed, name)
		}
		what[name] |= ch
	}
	decoded := make([]*model.Job, 0, len(jobs))
	for _, j := range jobs {
		data, err := os.ReadFile(j.Path)
		if err != nil {
			// Collected since: build afresh.
			r.log.Debug("search index: job file gone, building afresh", "file", j.Path, "error", err)
			return nil, nil
		}
		job, err := model.DecodeAppliedJob(data, model.Limits{})
		if err != nil {
			r.log.Warn("search index: archived job unreadable, building afresh", "file", j.Path, "error", err)
			return nil, nil
		}
		decoded = append(decoded, job)
		jobChanges(job, func(name string, ch change) {
			note(name, ch)
			if ch&changeDeleted != 0 {
				deleted = append(deleted, name)
			}
		})
		if len(changed) > deriveAtMost {
			return nil, nil
		}
	}
	// The jobs alone give the next index when they lead to the snapshot's
	// counts: no Kuzu query (on a snapshot just opened, its pages cold, the
	// lookups below took 5-13 ms of a 15-20 ms swap).
	t0 := time.Now()
	v, err := base.ApplyJobs(decoded, to.Entities, to.Relations)
	if err == nil {
		r.log.Debug("search index derive steps (ms)", "seq", to.Seq, "jobs", len(jobs), "from", "jobs", "apply", ms(time.Since(t0)))
		return v, nil
	}
	r.text.fellBack.Add(1)
	r.log.Warn("search index: the archived jobs do not lead to the snapshot; reading the entities they change", "seq", to.Seq, "error", err)
	// A deleted entity's relations went with it: their sources changed.
	for _, name := range base.Sources(deleted) {
		note(name, changeRelations)
	}
	if len(changed) > deriveAtMost {
		return nil, nil
	}
	t0 = time.Now()
	current, rels, err := r.changedRows(ctx, c, base, changed, what)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	v = base.Apply(changed, current, rels)
	r.log.Debug("search index derive steps (ms)", "seq", to.Seq, "jobs", len(jobs), "from", "snapshot", "changed", len(changed),
		"read", ms(t1.Sub(t0)), "apply", ms(time.Since(t1)))
	return v, nil
}

// changedRows returns the entities named in changed as the snapshot holds
// them, and their outgoing relations: read from the snapshot where what
// says they changed, else taken from base.
func (r *Reader) changedRows(ctx context.Context, c *graphdb.Conn, base *graphindex.View, changed []string, what map[string]change) ([]Entity, []Relation, error) {
	var readEnts, readRels []string
	var current []Entity
	var rels []Relation
	for _, name := range changed {
		e, out, ok := base.Lookup(name)
		switch ch := what[name]; {
		case !ok:
			readEnts, readRels = append(readEnts, name), append(readRels, name)
		case ch&changeText == 0:
			current = append(current, e)
			readRels = append(readRels, name)
		case ch&changeRelations == 0:
			readEnts = append(readEnts, name)
			rels = append(rels, out...)
		default:
			readEnts, readRels = append(readEnts, name), append(readRels, name)
		}
	}
	ents, err := entitiesByName(ctx, c, readEnts)
	if err != nil {
		return nil, nil, err
	}
	read, err := relationsFrom(ctx, c, readRels, nil)
	if err != nil {
		return nil, nil, err
	}
	// An entity read as gone takes no relations from base.
	live := nameSet(ents)
	for _, e := range current {
		live[e.Name] = true
	}
	rels = slices.DeleteFunc(rels, func(rel Relation) bool { return !live[rel.From] })
	return append(current, ents...), append(rels, read...), nil
}

// change says what a job may change of an entity.
type change uint8

const (
	changeText      change = 1 << iota // its type or observations, or whether it exists
	changeRelations                    // its outgoing relations
	changeDeleted                      // it is deleted (and may be created again)
)

// jobChanges calls changed with every entity whose text or outgoing
// relations job may change, and what it may change.
func jobChanges(job *model.Job, changed func(name string, ch change)) {
	for _, op := range job.Ops {
		for _, e := range op.Entities {
			// Created anew after a delete, it has no relations.
			changed(e.Name, changeText|changeRelations)
		}
		for _, o := range op.Observations {
			changed(o.EntityName, changeText)
		}
		for _, d := range op.Deletions {
			changed(d.EntityName, changeText)
		}
		for _, rel := range op.Relations {
			changed(rel.From, changeRelations)
		}
		for _, n := range op.EntityNames {
			changed(n, changeText|changeRelations|changeDeleted)
		}
	}
}

// readGraph reads every entity and relation of h's snapshot, the
// relations on a second connection at the same time.
func readGraph(ctx context.Context, h *handle, c *graphdb.Conn) ([]Entity, []Relation, error) {
	var rels []Relation
	relErr := make(chan error, 1)
	go func() {
		c2, err := h.conn()
		if err != nil {
			relErr <- err
			return
		}
		defer h.putConn(c2)
		res, err := c2.Query(ctx, "MATCH (a:Entity)-[r:Relation]->(b:Entity) RETURN a.name, b.name, r.relationType", nil)
		if err != nil {
			relErr <- err
			return
		}
		rels = make([]Relation, len(res.Rows))
		for i, row := range res.Rows {
			rels[i] = Relation{From: graphdb.String(row[0]), To: graphdb.String(row[1]), RelationType: graphdb.String(row[2])}
		}
		relErr <- nil
	}()
	res, err := c.Query(ctx, "MATCH (e:Entity) RETURN "+entityCols, nil)
	var ents []Entity
	if err == nil {
		ents, err = entitiesOf(res.Rows)
	}
	if rerr := <-relErr; rerr != nil {
		return nil, nil, fmt.Errorf("read relations for the search index: %w", rerr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read entities for the search index: %w", err)
	}
	return ents, rels, nil
}
