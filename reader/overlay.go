package reader

import "context"
import "encoding/base64"
import "fmt"
import "sync"

import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/graphindex"
import "github.com/memsnap/memsnap/internal/model"

// Reads of queued writes (Options.QueuedWrites): SearchNodes, OpenNodes,
// ReadGraph (without a time window) and Neighbors answer from the snapshot
// served followed by every acknowledged job it does not hold (queue/cur's
// claimed jobs past its watermark, in claim order, then queue/new's in id
// order: the order the writer applies them), run through the memory's
// state machine on the snapshot's search index (graphindex.Overlay). A job
// the rules reject there is left out, as the writer will reject it. Where
// jobs of several processes wait, the answer is what the writer will make
// of the queue as it stands; a job that arrives later under an earlier id
// (ids are the producers' clocks) goes before the queue/new jobs with
// later ids, in the writer's order and in answers from then on.
// Answers carry the snapshot's seq; Graph.Queued says how many jobs were
// applied over it.

// overlayState caches the Overlay of the newest index and queue state.
type overlayState struct {
	mu   sync.Mutex // guards the fields below
	view *graphindex.View
	gen  uint64
	wm   uint64
	last queuedOverlay
}

// queuedOverlay is a snapshot's search index with the queued jobs it does
// not hold applied (Overlay), as a read answers from it.
type queuedOverlay struct {
	o       *graphindex.Overlay
	applied int    // jobs the overlay applied
	left    int    // jobs past maxOverlayJobs it did not
	content string // content digest of the memory after them (Graph.Content)
}

// MaxOverlayJobs bounds the queued jobs a read applies: the first that
// many in the writer's order (a state the writer passes through, as one
// batch of writer.max_batch_jobs' default), so that a large import queued
// at once does not make every read replay all of it; the rest show once
// the writer applies the first.
const MaxOverlayJobs = 10000

// maxOverlayJobs is MaxOverlayJobs, smaller in tests.
var maxOverlayJobs = MaxOverlayJobs

// maxOverlayAttempts bounds the retries of a read whose snapshot was
// replaced while its overlay was made.
const maxOverlayAttempts = 3

// withQueued runs read on the snapshot served and the Overlay of its
// search index by the queued jobs it does not hold, with their count. ok
// is false when no job is queued (or Options.QueuedWrites is off): the
// caller answers from the snapshot alone.
func (r *Reader) withQueued(ctx context.Context, read func(o *graphindex.Overlay) (*Graph, error)) (g *Graph, ok bool, err error) {
	if r.queue == nil {
		return nil, false, nil
	}
	for attempt := 1; ; attempt++ {
		retry := false
		err = r.withHandle(ctx, func(ctx context.Context, h *handle, c *graphdb.Conn) error {
			q, again, err := r.overlayFor(ctx, h, c)
			if err != nil || q.o == nil {
				retry = again && attempt < maxOverlayAttempts
				return err
			}
			o := q.o
			if g, err = read(o); err != nil || g == nil {
				// nil: the View was replaced during the read.
				retry = err == nil && attempt < maxOverlayAttempts
				return err
			}
			g.Snapshot, g.Queued, g.QueuedLeft, g.content, ok = h.seq, q.applied, q.left, q.content, true
			// A refresh during the read made its View an older one, whose
			// lookups find nothing.
			retry = !o.Base().Newest() && attempt < maxOverlayAttempts
			return nil
		})
		if err != nil || !retry {
			return g, ok, err
		}
		g, ok = nil, false
	}
}

// overlayFor returns the Overlay of h's search index by the queued jobs h
// does not hold and how many they are; nil when there are none. again is
// true when the read should start over on a newer snapshot: CURRENT, read
// after the queue, is past h, and the Reader now serves a newer snapshot
// than h (moved there by this read's Refresh or by one that ran
// meanwhile).
//
// Why CURRENT is read after the queue, on every read: the writer removes a
// job from the queue only once a snapshot holding it is CURRENT. So when
// CURRENT is still h's after the queue was looked at, every acknowledged
// job h does not hold was still in the queue then, and the answer has it.
// When it is not, a job may have left the queue for a snapshot newer than
// h, and an answer from h and that queue would lack it: a process that
// started after the job was queued never saw it in the queue at all.
func (r *Reader) overlayFor(ctx context.Context, h *handle, c *graphdb.Conn) (q queuedOverlay, again bool, err error) {
	st, err := r.queue.current()
	if err != nil {
		r.log.Warn("queued writes: cannot read the queue; answering from the snapshot alone", "error", err)
		return queuedOverlay{}, false, nil
	}
	if seq, err := r.store.Current(); err == nil && seq > h.seq {
		// Refresh waits for a refresh under way (the background one:
		// open, verify, derive the index), which may have swapped
		// already; either way h is stale, and a read on it would build
		// its search index from a scan on what is left of this
		// attempt's reader.query_timeout. The read starts over on the
		// newer snapshot, with a budget of its own.
		if swapped, err := r.Refresh(ctx); (err == nil && swapped) || r.Seq() > h.seq {
			return queuedOverlay{}, true, nil
		}
	}
	ov := &r.overlay
	wm := h.manifest.Watermark
	queued := notHeld(h, st)
	if len(queued) == 0 {
		return queuedOverlay{}, false, nil
	}
	if len(queued) > maxOverlayJobs {
		r.log.Debug("queued writes: reads apply the first queued jobs only", "queued", len(queued), "applied", maxOverlayJobs)
		q.left, queued = len(queued)-maxOverlayJobs, queued[:maxOverlayJobs]
	}
	v, err := r.textView(ctx, h, c, false)
	if err != nil {
		return queuedOverlay{}, false, err
	}
	ov.mu.Lock()
	defer ov.mu.Unlock()
	if ov.view == v && ov.gen == st.gen && ov.wm == wm {
		return ov.last, false, nil
	}
	jobs := make([]*model.Job, len(queued))
	for i, j := range queued {
		jobs[i] = j.job
	}
	o, ok := v.Overlay(jobs)
	if !ok {
		return queuedOverlay{}, true, nil
	}
	for _, err := range o.Rejected() {
		r.log.Debug("queued writes: a queued job the writer will reject is left out", "seq", h.seq, "error", err)
	}
	q.o, q.applied, q.content = o, len(jobs), o.Digest().String()
	ov.view, ov.gen, ov.wm, ov.last = v, st.gen, wm, q
	return q, false, nil
}

// notHeld returns the jobs of st that h's snapshot does not hold, in the
// writer's order: those in queue/new, and those claimed into queue/cur
// past its watermark (less the forwarded ones it holds); undecodable ones
// are left out (the writer dead-letters them).
func notHeld(h *handle, st queueState) []*queuedJob {
	wm := h.manifest.Watermark
	var out []*queuedJob
	for _, j := range st.jobs {
		if j.job != nil && (j.claim == 0 || j.claim > wm) && !(j.fwd && holdsJob(h, j.id)) {
			out = append(out, j)
		}
	}
	return out
}

// QueuedJobs returns the acknowledged jobs waiting in the queue that the
// snapshot the Reader serves does not hold, in the order the writer will
// apply them: what a write's prediction must allow for
// (producer.Acker.FollowQueue). Nil without Options.QueuedWrites.
func (r *Reader) QueuedJobs() ([]model.QueuedJob, error) {
	if r.queue == nil {
		return nil, nil
	}
	st, err := r.queue.current()
	if err != nil {
		return nil, fmt.Errorf("read the queue: %w", err)
	}
	h, err := r.acquire()
	if err != nil {
		return nil, err
	}
	defer h.unref()
	var out []model.QueuedJob
	for _, j := range notHeld(h, st) {
		out = append(out, model.QueuedJob{ID: j.id, Job: j.job})
	}
	return out, nil
}

// holdsJob reports whether h's snapshot records job id's outcome: a job a
// replica forwarded has come back in it and must not be applied twice. A
// lookup that fails counts as not held: an acknowledged write is never
// left out of an answer.
func holdsJob(h *handle, id string) bool {
	_, found, err := h.kv.GetJob(id)
	return err == nil && found
}

// searchQueued is SearchNodes over the queued writes.
func (r *Reader) searchQueued(ctx context.Context, query string, opts SearchOptions) (*Graph, bool, error) {
	if !opts.Window.IsZero() {
		return nil, false, nil // change times are the writer's: the snapshot answers
	}
	return r.withQueued(ctx, func(o *graphindex.Overlay) (*Graph, error) {
		g := &Graph{}
		g.part(o.Hits(query), r.opts.SearchWordHits, opts, o.RelationsTouching)
		return g, nil
	})
}

// openQueued is OpenNodes over the queued writes.
func (r *Reader) openQueued(ctx context.Context, want []string) (*Graph, bool, error) {
	return r.withQueued(ctx, func(o *graphindex.Overlay) (*Graph, error) {
		ents, rels := o.Open(want)
		g := &Graph{Entities: model.NonNil(ents), Relations: model.NonNil(rels)}
		sortRelations(g.Relations)
		return g, nil
	})
}

// pageQueued is ReadGraph (without a time window) over the queued writes.
func (r *Reader) pageQueued(ctx context.Context, after string, opts ReadGraphOptions) (*Graph, bool, error) {
	return r.withQueued(ctx, func(o *graphindex.Overlay) (*Graph, error) {
		ents, rels, more, ok := o.Page(after, opts.Limit, opts.EntityType)
		if !ok {
			return nil, nil // the View was replaced: withQueued reads again
		}
		g := &Graph{Entities: model.NonNil(ents), Relations: model.NonNil(rels)}
		sortRelations(g.Relations)
		if more {
			g.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("n" + ents[len(ents)-1].Name))
		}
		return g, nil
	})
}

// neighborsQueued is Neighbors over the queued writes, traversing the
// Overlay in memory: the start entity first, then the others in the order
// they were reached (each hop: outgoing relations, then incoming ones).
func (r *Reader) neighborsQueued(ctx context.Context, name string, depth int, opts NeighborsOptions) (*Graph, bool, error) {
	return r.withQueued(ctx, func(o *graphindex.Overlay) (*Graph, error) {
		start, ok := o.Entity(name)
		if !ok {
			return nil, fmt.Errorf("Entity with name %s %w", name, ErrNotFound)
		}
		order := []Entity{start}
		seen := map[string]bool{name: true}
		rels := map[Relation]bool{}
		frontier := []string{name}
		full := func() bool { return opts.Limit > 0 && len(order) >= opts.Limit }
		for d := 0; d < depth && len(frontier) > 0 && !full(); d++ {
			var next []string
			for _, out := range []bool{true, false} {
				for _, n := range frontier {
					edges, far := o.In(n), func(r Relation) string { return r.From }
					if out {
						edges, far = o.Out(n), func(r Relation) string { return r.To }
					}
					for _, rel := range edges {
						if opts.RelationType != "" && rel.RelationType != opts.RelationType {
							continue
						}
						if b := far(rel); !seen[b] {
							if full() {
								continue
							}
							e, _ := o.Entity(b)
							seen[b] = true
							order = append(order, e)
							next = append(next, b)
						}
						rels[rel] = true
					}
				}
			}
			frontier = next
		}
		g := &Graph{Entities: order, Relations: make([]Relation, 0, len(rels))}
		for rel := range rels {
			if seen[rel.From] && seen[rel.To] {
				g.Relations = append(g.Relations, rel)
			}
		}
		sortRelations(g.Relations)
		return g, nil
	})
}
