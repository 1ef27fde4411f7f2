package reader

import "context"
import "fmt"
import "os"
import "sync"
import "sync/atomic"
import "time"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/graphindex"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"

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
	mu   sync.Mutex // serialises builds and guards view and man
	view *graphindex.View
	man  *snapshot.Manifest

	// The counters below are atomics, read without mu (Stats).
	used           atomic.Bool // a search asked for an index
	built, derived atomic.Int64
	// fellBack counts derives whose archived jobs did not lead to the
	// snapshot's counts and content digest (graphindex.ErrDiverged), so
	// that the index was built from the snapshot's graph instead.
	fellBack atomic.Int64
}

// SearchIndexStats returns how many search indexes the Reader built from a
// scan of a snapshot and how many it derived from the previous one.
func (r *Reader) SearchIndexStats() (built, derived int64) {
	return r.text.built.Load(), r.text.derived.Load()
}

// SearchIndexFellBack returns how many search index derives could not
// follow a snapshot's archived jobs (their result did not match the
// snapshot's entity and relation counts and content digest) and built the
// index from the snapshot's graph instead. On jobs the writer applied it
// stays 0: more means the index and the writer disagree about the memory
// (graphindex.View.FollowJobs).
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
		v = r.deriveText(t.view, t.man, h.manifest)
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
		if d, ok := h.manifest.ContentDigest(); ok && v.Digest() != d {
			r.log.Warn("search index: the snapshot's content differs from its manifest's digest (the writer's record of its changes and its graph disagree)",
				"seq", h.seq, "graph", v.Digest().String(), "manifest", d.String())
		}
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
// snapshot from, by following the jobs in between (graphindex.View.FollowJobs,
// the memory's state machine on the index). It returns nil when the index
// must be built afresh instead: the jobs are gone or change too many
// entities (fsm.Changes), or they do not lead to the snapshot's counts
// and content digest, which it logs as a warning, naming why (a
// difference means the index and the writer disagree about the memory),
// and then drops base as the index to derive from. The caller holds
// r.text.mu.
func (r *Reader) deriveText(base *graphindex.View, from, to *snapshot.Manifest) *graphindex.View {
	jobs, ok := r.store.JobsSince(from, to, deriveSnapshots)
	if !ok {
		return nil
	}
	changed := map[string]bool{}
	decoded := make([]*model.Job, 0, len(jobs))
	for _, j := range jobs {
		data, err := os.ReadFile(j.Path)
		if err != nil {
			// Collected since: build afresh.
			r.log.Debug("search index: job file gone, building afresh", "file", j.Path, "error", err)
			return nil
		}
		job, err := model.DecodeAppliedJob(data, model.Limits{})
		if err != nil {
			r.log.Warn("search index: archived job unreadable, building afresh", "file", j.Path, "error", err)
			return nil
		}
		decoded = append(decoded, job)
		fsm.Changes(job, func(name string, _ fsm.Change) { changed[name] = true })
		if len(changed) > deriveAtMost {
			return nil
		}
	}
	// The jobs alone give the next index: no Kuzu query (on a snapshot
	// just opened, its pages cold, reading the changed entities took 5-13
	// ms of a 15-20 ms swap).
	t0 := time.Now()
	target := graphindex.Target{Entities: to.Entities, Relations: to.Relations}
	target.Digest, target.HasDigest = to.ContentDigest()
	v, err := base.FollowJobs(decoded, target)
	if err != nil {
		// base is not the memory its snapshot holds, or the jobs are not
		// what the writer applied: no later index derives from it.
		r.text.fellBack.Add(1)
		r.text.view, r.text.man = nil, nil
		r.log.Warn("search index: the archived jobs do not lead to the snapshot; building its index from the graph", "seq", to.Seq, "error", err)
		return nil
	}
	r.log.Debug("search index derive steps (ms)", "seq", to.Seq, "jobs", len(jobs), "from", "jobs", "apply", ms(time.Since(t0)))
	return v
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
