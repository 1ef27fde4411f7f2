package reader

import "context"
import "encoding/json"
import "errors"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// graphKey is a graph as a comparable string: entity names (sorted when
// sorted is set), then each entity with its type and observations, then
// the relations, sorted.
func graphKey(g *Graph, sorted bool) string {
	var names, ents, rels []string
	for _, e := range g.Entities {
		names = append(names, e.Name)
		ents = append(ents, e.Name+":"+e.EntityType+"["+strings.Join(e.Observations, ",")+"]")
	}
	for _, r := range g.Relations {
		rels = append(rels, r.From+">"+r.To+":"+r.RelationType)
	}
	if sorted {
		slices.Sort(names)
	}
	slices.Sort(ents)
	slices.Sort(rels)
	return strings.Join(names, " ") + "\n" + strings.Join(ents, " ") + "\n" + strings.Join(rels, " ")
}

// The reads with queued jobs (an entity created with relations,
// observations added and deleted, an entity with relations deleted, a
// relation deleted, a job the rules reject) answer what the same reads
// answer once the writer has committed those jobs, read from Kuzu and a
// fresh index by a reader that ignores the queue; every answer before the
// commit says how many jobs it applied.
func TestQueuedReadsEqualCommitted(t *testing.T) {
	ctx := context.Background()
	f, all, r := memoryFixture(t)
	jobs := []map[string]any{
		{"ops": []any{createOp(Entity{Name: "queued one", EntityType: "person", Observations: []string{"drinks coffee"}}),
			relOp(Relation{From: "queued one", To: "memsnap", RelationType: "uses"}, Relation{From: "Kuzu", To: "queued one", RelationType: "knows"})}},
		{"ops": []any{map[string]any{"op": "add_observations", "observations": []any{
			map[string]any{"entityName": "coffee machine", "contents": []string{"descales on friday"}}}}}},
		{"ops": []any{map[string]any{"op": "delete_entities", "entityNames": []string{"Kuzu"}}}},
		{"ops": []any{map[string]any{"op": "add_observations", "observations": []any{ // rejected: Kuzu is gone
			map[string]any{"entityName": "Kuzu", "contents": []string{"never"}}}}}},
		{"ops": []any{map[string]any{"op": "delete_observations", "deletions": []any{
			map[string]any{"entityName": "memsnap", "observations": []string{"reads snapshots of a kuzu graph without locks"}}}},
			map[string]any{"op": "delete_relations", "relations": []Relation{{From: all[0].Name, To: all[1].Name, RelationType: "knows"}}}}},
	}
	for _, job := range jobs {
		b, err := json.Marshal(job)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := producer.Enqueue(f.store, b, f.wopts.Limits); err != nil {
			t.Fatal(err)
		}
	}
	type read struct {
		name   string
		sorted bool // the entities' order is not the read's to keep
		run    func(r *Reader) (*Graph, error)
	}
	pages := func(opts ReadGraphOptions) func(r *Reader) (*Graph, error) {
		return func(r *Reader) (*Graph, error) {
			whole := &Graph{}
			for {
				g, err := r.ReadGraph(ctx, opts)
				if err != nil {
					return nil, err
				}
				whole.Entities, whole.Relations, whole.Queued = append(whole.Entities, g.Entities...), append(whole.Relations, g.Relations...), g.Queued
				if opts.Cursor = g.NextCursor; opts.Cursor == "" {
					return whole, nil
				}
			}
		}
	}
	reads := []read{
		{"search coffee", true, func(r *Reader) (*Graph, error) { return r.SearchNodes(ctx, "coffee", SearchOptions{}) }},
		{"search kuzu", true, func(r *Reader) (*Graph, error) { return r.SearchNodes(ctx, "kuzu", SearchOptions{}) }},
		{"search friday", true, func(r *Reader) (*Graph, error) { return r.SearchNodes(ctx, "friday", SearchOptions{}) }},
		{"open", false, func(r *Reader) (*Graph, error) {
			return r.OpenNodes(ctx, []string{"queued one", "Kuzu", "memsnap", all[0].Name, "coffee machine"})
		}},
		{"read_graph", false, pages(ReadGraphOptions{})},
		{"read_graph pages of 7", false, pages(ReadGraphOptions{Limit: 7})},
		{"read_graph person pages of 5", false, pages(ReadGraphOptions{Limit: 5, EntityType: "person"})},
		{"neighbors memsnap 2", true, func(r *Reader) (*Graph, error) { return r.Neighbors(ctx, "memsnap", NeighborsOptions{Depth: 2}) }},
		{"neighbors coffee machine 3 fuels", true, func(r *Reader) (*Graph, error) {
			return r.Neighbors(ctx, "coffee machine", NeighborsOptions{Depth: 3, RelationType: "fuels"})
		}},
		{"neighbors queued one", true, func(r *Reader) (*Graph, error) { return r.Neighbors(ctx, "queued one", NeighborsOptions{}) }},
	}
	before := map[string]string{}
	for _, rd := range reads {
		g, err := rd.run(r)
		if err != nil {
			t.Fatalf("%s with the jobs queued: %v", rd.name, err)
		}
		if g.Queued != len(jobs) {
			t.Errorf("%s: answered with %d queued jobs, want %d", rd.name, g.Queued, len(jobs))
		}
		before[rd.name] = graphKey(g, rd.sorted)
	}
	if _, err := r.Neighbors(ctx, "Kuzu", NeighborsOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("neighbors of an entity a queued job deletes: %v, want not found", err)
	}
	if sum, err := f.w.Commit(ctx, writer.CommitOptions{}); err != nil || sum.Applied != len(jobs)-1 || sum.Rejected != 1 {
		t.Fatalf("commit: %+v %v", sum, err)
	}
	opts := f.opts
	opts.QueuedWrites = false
	plain := f.openWith(t, opts, nil)
	defer plain.Close()
	for _, rd := range reads {
		g, err := rd.run(plain)
		if err != nil {
			t.Fatalf("%s committed: %v", rd.name, err)
		}
		if got := graphKey(g, rd.sorted); got != before[rd.name] {
			t.Errorf("%s:\nqueued    %s\ncommitted %s", rd.name, before[rd.name], got)
		}
	}
}

// A queued read on a snapshot that another refresh replaced while the read
// waited (the background refresh, holding the refresh lock while it opens,
// verifies and derives the newer one) starts over on the newer snapshot:
// it does not build the stale snapshot's search index from a scan on what
// is left of its reader.query_timeout. Under Wine on a loaded machine that
// build began with the time already spent and failed ("read relations for
// the search index: context deadline exceeded").
func TestQueuedReadMovesOnAfterAnotherRefresh(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.addEntity(t)
	r := f.open(t)
	q := f.store.Queue()
	enqueueEntity(t, q, "first")
	if _, err := r.queue.current(); err != nil { // the read that saw "first" queued
		t.Fatal(err)
	}
	h, err := r.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer h.unref()
	if sum, err := f.w.Commit(ctx, writer.CommitOptions{}); err != nil || sum.Applied != 1 {
		t.Fatalf("commit: %+v %v", sum, err)
	}
	if swapped, err := r.Refresh(ctx); err != nil || !swapped { // the other refresh
		t.Fatalf("refresh: swapped %v, %v", swapped, err)
	}
	enqueueEntity(t, q, "second")
	c, err := h.conn()
	if err != nil {
		t.Fatal(err)
	}
	defer h.putConn(c)
	ov, again, err := r.overlayFor(ctx, h, c)
	if err != nil || ov.o != nil || !again {
		t.Errorf("overlay on snapshot %d, replaced by %d: overlay %v, again %v, %v; want a start over", h.seq, r.Seq(), ov.o != nil, again, err)
	}
	if built, _ := r.SearchIndexStats(); built != 0 {
		t.Errorf("%d search indexes built from a scan, want none (the stale snapshot's)", built)
	}
	g, err := r.SearchNodes(ctx, "second", SearchOptions{})
	if err != nil || g.Snapshot != r.Seq() || g.Queued != 1 || len(g.Entities) != 1 {
		t.Errorf("search after the start over: %+v %v; want the queued entity over snapshot %d", g, err, r.Seq())
	}
}

// A process that starts after a write was queued may never see the job in
// the queue: the writer commits it and removes it before the process's
// queue watch looks. Its reads must not answer from the snapshot it opened
// before that commit and a queue without the job: a read looks at CURRENT
// after the queue, and moves on to the newer snapshot that holds the job.
// (Found as 60 of 100 acknowledged writes missing from 'memsnap open' run
// right after them while a daemon committed.)
func TestQueuedReadSeesAJobItsWatchNeverSaw(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.addEntity(t)
	opts := f.opts
	opts.WatchCurrent, opts.Refresh = false, "" // only reads move the reader on
	r := f.openWith(t, opts, nil)
	before := r.Seq()
	// The write: acknowledged (queued), committed and removed from the
	// queue before the process's watch ever looks.
	r.queue.close()
	enqueueEntity(t, f.store.Queue(), "late")
	if sum, err := f.w.Commit(ctx, writer.CommitOptions{}); err != nil || sum.Applied != 1 {
		t.Fatalf("commit: %+v %v", sum, err)
	}
	r.queue = newQueueWatch(f.store.Queue(), opts.JobLimits, r.log)
	r.queue.start(nil)
	if r.Seq() != before {
		t.Fatalf("the reader moved to snapshot %d by itself; the test needs it on %d", r.Seq(), before)
	}
	for _, read := range []struct {
		name string
		do   func() (*Graph, error)
	}{
		{"open_nodes", func() (*Graph, error) { return r.OpenNodes(ctx, []string{"late"}) }},
		{"search_nodes", func() (*Graph, error) { return r.SearchNodes(ctx, "late", SearchOptions{}) }},
		{"read_graph", func() (*Graph, error) { return r.ReadGraph(ctx, ReadGraphOptions{Limit: 100}) }},
		{"neighbors", func() (*Graph, error) { return r.Neighbors(ctx, "late", NeighborsOptions{}) }},
	} {
		g, err := read.do()
		if err != nil || !slices.ContainsFunc(g.Entities, func(e Entity) bool { return e.Name == "late" }) {
			t.Errorf("%s right after the commit, on a reader opened before it: %+v %v; want the entity written", read.name, g, err)
		}
	}
}

// A read applies at most the first MaxOverlayJobs queued jobs (three
// here): its answer says how many more wait (Graph.QueuedLeft), so that a
// caller can tell it lacks acknowledged writes.
func TestQueuedReadSaysWhatItLeftOut(t *testing.T) {
	defer func(n int) { maxOverlayJobs = n }(maxOverlayJobs)
	maxOverlayJobs = 3
	ctx := context.Background()
	f := newFixture(t)
	f.addEntity(t)
	r := f.open(t)
	for _, name := range []string{"q1", "q2", "q3", "q4", "q5"} {
		enqueueEntity(t, f.store.Queue(), name)
	}
	g, err := r.ReadGraph(ctx, ReadGraphOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range g.Entities {
		names = append(names, e.Name)
	}
	if g.Queued != 3 || g.QueuedLeft != 2 || !slices.Equal(names, []string{"e0", "q1", "q2", "q3"}) {
		t.Errorf("read with 5 jobs queued and 3 applied: queued %d, left %d, entities %v; want 3, 2, [e0 q1 q2 q3]", g.Queued, g.QueuedLeft, names)
	}
}
