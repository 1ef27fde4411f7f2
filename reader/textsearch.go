package reader

import (
	"context"
	"fmt"
	"os"
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
}

// SearchIndexStats returns how many search indexes the Reader built from a
// scan of a snapshot and how many it derived from the previous one.
func (r *Reader) SearchIndexStats() (built, derived int64) {
	return r.text.built.Load(), r.text.derived.Load()
}

// textView returns h's search index, building it on first use: derived
// from the newest index the Reader built when the snapshots in between
// allow, else from a scan of h's entities.
func (r *Reader) textView(ctx context.Context, h *handle, c *graphdb.Conn) (*graphindex.View, error) {
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

// followText derives the index of h, just swapped in, in the background
// when the process has searched before: the next search finds it ready,
// and each snapshot's jobs are read while the store still keeps them (a
// snapshot collected before its index was derived makes the next one be
// built afresh).
func (r *Reader) followText(h *handle) {
	if !r.text.used.Load() || !h.tryRef() {
		return
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		defer h.unref()
		if r.cur.Load() != h {
			return // already replaced: the next one follows
		}
		c, err := h.conn()
		if err != nil {
			r.log.Warn("search index: no connection to derive it on swap", "seq", h.seq, "error", err)
			return
		}
		defer h.putConn(c)
		if _, err := r.textView(r.bgCtx, h, c); err != nil && r.bgCtx.Err() == nil {
			r.log.Warn("search index: derive on swap", "seq", h.seq, "error", err)
		}
	}()
}

// deriveText returns the index of snapshot to from base, the index of
// snapshot from, by reading again the entities the jobs in between change
// (jobChanges); nil when it must be built afresh instead.
func (r *Reader) deriveText(ctx context.Context, c *graphdb.Conn, base *graphindex.View, from, to *snapshot.Manifest) (*graphindex.View, error) {
	jobs, ok := r.store.JobsSince(from, to, deriveSnapshots)
	if !ok {
		return nil, nil
	}
	seen := map[string]bool{}
	var changed, deleted []string
	for _, j := range jobs {
		data, err := os.ReadFile(j.Path)
		if err != nil {
			// Collected since: build afresh.
			r.log.Debug("search index: job file gone, building afresh", "file", j.Path, "error", err)
			return nil, nil
		}
		job, err := model.DecodeJob(data, model.Limits{})
		if err != nil {
			r.log.Warn("search index: archived job unreadable, building afresh", "file", j.Path, "error", err)
			return nil, nil
		}
		jobChanges(job, func(name string, del bool) {
			if !seen[name] {
				seen[name] = true
				changed = append(changed, name)
			}
			if del {
				deleted = append(deleted, name)
			}
		})
		if len(changed) > deriveAtMost {
			return nil, nil
		}
	}
	// A deleted entity's relations went with it: their sources changed.
	for _, name := range base.Sources(deleted) {
		if !seen[name] {
			seen[name] = true
			changed = append(changed, name)
		}
	}
	if len(changed) > deriveAtMost {
		return nil, nil
	}
	current, err := entitiesByName(ctx, c, changed)
	if err != nil {
		return nil, err
	}
	rels, err := relationsFrom(ctx, c, changed, nil)
	if err != nil {
		return nil, err
	}
	return base.Apply(changed, current, rels), nil
}

// jobChanges calls changed with every entity whose text or outgoing
// relations job may change, del true for those it deletes.
func jobChanges(job *model.Job, changed func(name string, del bool)) {
	for _, op := range job.Ops {
		for _, e := range op.Entities {
			changed(e.Name, false)
		}
		for _, o := range op.Observations {
			changed(o.EntityName, false)
		}
		for _, d := range op.Deletions {
			changed(d.EntityName, false)
		}
		for _, rel := range op.Relations {
			changed(rel.From, false)
		}
		for _, n := range op.EntityNames {
			changed(n, true)
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
