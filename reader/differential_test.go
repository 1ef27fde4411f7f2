package reader

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "log/slog"
import "maps"
import "math/rand/v2"
import "os"
import "slices"
import "strconv"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/graphindex"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// refModel is the memory as the reference server's rules describe it,
// written here without internal/fsm: the differential test's third copy.
type refModel struct {
	ents map[string]model.Entity // observations never changed in place
	rels map[model.Relation]bool
	kv   map[string]string
}

func newRefModel() *refModel {
	return &refModel{ents: map[string]model.Entity{}, rels: map[model.Relation]bool{}, kv: map[string]string{}}
}

func (m *refModel) clone() *refModel {
	return &refModel{ents: maps.Clone(m.ents), rels: maps.Clone(m.rels), kv: maps.Clone(m.kv)}
}

// apply runs job whole or not at all: what each op did, or the reason
// the writer gives for rejecting it.
func (m *refModel) apply(job *model.Job) ([]model.OpResult, string) {
	c := m.clone()
	var results []model.OpResult
	for i, op := range job.Ops {
		res, missing := c.op(op)
		if missing != "" {
			return nil, fmt.Sprintf("op %d (%s): Entity with name %s not found", i, op.Op, missing)
		}
		results = append(results, res)
	}
	*m = *c
	return results, ""
}

// op runs one op; missing names the entity that rejects the job.
func (m *refModel) op(op model.Op) (res model.OpResult, missing string) {
	switch op.Op {
	case model.OpCreateEntities:
		for i, e := range op.Entities {
			if _, ok := m.ents[e.Name]; !ok {
				m.ents[e.Name] = model.Entity{Name: e.Name, EntityType: e.EntityType, Observations: m.without(nil, e.Observations)}
				res.New = append(res.New, i)
			}
		}
	case model.OpCreateRelations:
		for i, r := range op.Relations {
			for _, n := range []string{r.From, r.To} {
				if _, ok := m.ents[n]; !ok {
					return res, n
				}
			}
			if !m.rels[r] {
				m.rels[r] = true
				res.New = append(res.New, i)
			}
		}
	case model.OpAddObservations:
		res.Added = make([][]string, len(op.Observations))
		for i, a := range op.Observations {
			e, ok := m.ents[a.EntityName]
			if !ok {
				return res, a.EntityName
			}
			added := m.without(e.Observations, a.Contents)
			res.Added[i] = added
			e.Observations = slices.Concat(e.Observations, added)
			m.ents[a.EntityName] = e
		}
	case model.OpDeleteEntities:
		for _, n := range op.EntityNames {
			if _, ok := m.ents[n]; !ok {
				res.Missing = append(res.Missing, n)
				continue
			}
			res.Deleted++
			delete(m.ents, n)
			maps.DeleteFunc(m.rels, func(r model.Relation, _ bool) bool { return r.From == n || r.To == n })
		}
	case model.OpDeleteObservations:
		for _, d := range op.Deletions {
			e, ok := m.ents[d.EntityName]
			if !ok {
				res.Missing = append(res.Missing, d.EntityName)
				continue
			}
			keep := []string{}
			for _, o := range e.Observations {
				if !slices.Contains(d.Observations, o) {
					keep = append(keep, o)
				}
			}
			res.Deleted += len(e.Observations) - len(keep)
			e.Observations = keep
			m.ents[d.EntityName] = e
		}
	case model.OpDeleteRelations:
		for _, r := range op.Relations {
			if m.rels[r] {
				delete(m.rels, r)
				res.Deleted++
			}
		}
	case model.OpKVPut:
		m.kv[op.Key] = *op.Value
	case model.OpKVDelete:
		delete(m.kv, op.Key)
	}
	return res, ""
}

// without returns the strings of add not in have, each once (never nil).
func (m *refModel) without(have, add []string) []string {
	out := []string{}
	for _, s := range add {
		if !slices.Contains(have, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (m *refModel) lists() ([]model.Entity, []model.Relation) {
	return slices.Collect(maps.Values(m.ents)), slices.Collect(maps.Keys(m.rels))
}

// renderMemory is entities and relations as sorted lines, each once.
func renderMemory(ents []model.Entity, rels []model.Relation) string {
	set := map[string]bool{}
	for _, e := range ents {
		set[fmt.Sprintf("%s %s %q", e.Name, e.EntityType, e.Observations)] = true
	}
	for _, r := range rels {
		set[fmt.Sprintf("%s -%s-> %s", r.From, r.RelationType, r.To)] = true
	}
	return strings.Join(slices.Sorted(maps.Keys(set)), "\n")
}

// diffJobs makes random jobs over a handful of names, so that they
// collide: every op kind, creates of what exists, relations and
// observations naming missing entities (rejected jobs), deletes that take
// relations with them, observations given twice.
type diffJobs struct {
	rng   *rand.Rand
	names []string
	m     *refModel // the memory so far: deletes aim at what exists half the time
}

// existingRel is a relation the model holds, if any, else a random one.
func (g diffJobs) existingRel() model.Relation {
	rels := slices.SortedFunc(maps.Keys(g.m.rels), fsm.CompareRelations)
	if len(rels) == 0 || g.rng.IntN(2) == 0 {
		return g.rel()
	}
	return rels[g.rng.IntN(len(rels))]
}

func (g diffJobs) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g diffJobs) obs() []string {
	out := []string{}
	for n := g.rng.IntN(4); n > 0; n-- {
		out = append(out, g.pick([]string{"amber", "birch", "cedar", "Dune ü"}))
	}
	return out
}

func (g diffJobs) rel() model.Relation {
	return model.Relation{From: g.pick(g.names), To: g.pick(g.names), RelationType: g.pick([]string{"r1", "r2"})}
}

func (g diffJobs) op() model.Op {
	switch g.rng.IntN(11) {
	case 0, 1:
		return model.Op{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: g.pick(g.names), EntityType: g.pick([]string{"t1", "t2"}), Observations: g.obs()}}}
	case 2, 3:
		return model.Op{Op: model.OpCreateRelations, Relations: []model.Relation{g.rel(), g.rel()}}
	case 4, 10:
		return model.Op{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: g.pick(g.names), Contents: g.obs()}}}
	case 5:
		return model.Op{Op: model.OpDeleteEntities, EntityNames: []string{g.pick(g.names)}}
	case 6:
		return model.Op{Op: model.OpDeleteObservations, Deletions: []model.ObservationDelete{{EntityName: g.pick(g.names), Observations: g.obs()}}}
	case 7:
		return model.Op{Op: model.OpDeleteRelations, Relations: []model.Relation{g.existingRel()}}
	case 8:
		v := strconv.Itoa(g.rng.IntN(100))
		return model.Op{Op: model.OpKVPut, Key: g.pick([]string{"k1", "k2"}), Value: &v}
	default:
		return model.Op{Op: model.OpKVDelete, Key: g.pick([]string{"k1", "k2"})}
	}
}

func (g diffJobs) job() *model.Job {
	job := &model.Job{}
	for k := 1 + g.rng.IntN(3); k > 0; k-- {
		job.Ops = append(job.Ops, g.op())
	}
	if g.rng.IntN(2) == 0 { // a relation whose ends exist: most jobs then apply
		rl := g.rel()
		job.Ops = append(job.Ops, model.Op{Op: model.OpCreateEntities, Entities: []model.Entity{
			{Name: rl.From, EntityType: "t1", Observations: []string{}}, {Name: rl.To, EntityType: "t1", Observations: []string{}}}},
			model.Op{Op: model.OpCreateRelations, Relations: []model.Relation{rl}})
	}
	return job
}

// diffSeed is the differential test's seed: MEMSNAP_DIFF_SEED, else 27.
func diffSeed(t *testing.T) uint64 {
	seed := uint64(27)
	if s := os.Getenv("MEMSNAP_DIFF_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MEMSNAP_DIFF_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (MEMSNAP_DIFF_SEED=%d replays it)", seed, seed)
	return seed
}

// diffRun is one differential run: a writer committing on Kuzu, a Reader
// following each snapshot by replaying its jobs on its search index, and
// refModel, fed the same jobs.
type diffRun struct {
	f    *fixture
	r    *Reader
	logs *testutil.LockedBuffer
	m    *refModel
	// seen counts what the jobs exercised, by op kind or event.
	seen map[string]int
}

// The writer on Kuzu, the reader's index replaying the archived jobs
// (graphindex.View.FollowJobs) and an independent model of the rules reach
// the same content and the same content digest after every commit, and the
// writer answers each job as the model does (its results, or its rejection
// in the writer's words). The manifest's digest, which the writer keeps
// from the change alone, is the digest of what Kuzu holds.
func TestDifferentialWriterIndexModel(t *testing.T) {
	ctx := context.Background()
	d := &diffRun{f: newFixture(t), logs: &testutil.LockedBuffer{}, m: newRefModel(), seen: map[string]int{}}
	g := diffJobs{rng: rand.New(rand.NewPCG(diffSeed(t), 27)), names: []string{"ash", "bay", "cove", "dell", "Elm ü", "fir"}}
	d.f.wopts.Keep, d.f.wopts.MinAge, d.f.wopts.RecycleMinMB = 3, 0, 0 // older graphs are recycled: the writer's replay path too
	d.f.w = writer.New(d.f.store, d.f.wopts, nil)
	d.commit(t, []*model.Job{{Ops: []model.Op{{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "ash", EntityType: "t1", Observations: []string{}}}}}}})
	var err error
	d.r, err = Open(ctx, d.f.store, d.f.opts, slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer d.r.Close()
	rounds, atLeast := 40, 3 // each kind of case at least this often
	if testing.Short() {
		rounds, atLeast = 15, 1
	}
	for round := 0; round <= rounds; round++ {
		if round > 0 {
			var jobs []*model.Job
			g.m = d.m
			for n := 1 + g.rng.IntN(4); n > 0; n-- {
				jobs = append(jobs, g.job())
			}
			d.commit(t, jobs)
		}
		d.check(t, round, g.names)
	}
	if built, _ := d.r.SearchIndexStats(); built != 1 || d.r.SearchIndexFellBack() != 0 {
		t.Errorf("search index built %d times, fell back %d times; want 1 and 0:\n%s", built, d.r.SearchIndexFellBack(), d.logs)
	}
	t.Logf("exercised: %v", d.seen)
	for _, what := range []string{model.OpCreateEntities, model.OpCreateRelations, model.OpAddObservations, model.OpDeleteEntities,
		model.OpDeleteObservations, model.OpDeleteRelations, model.OpKVPut, model.OpKVDelete, "rejected", "cascade", "duplicate observation", "create of what exists",
		model.OpDeleteRelations + " removing", model.OpDeleteObservations + " removing"} {
		if d.seen[what] < atLeast {
			t.Errorf("%q exercised %d times: the jobs do not test it", what, d.seen[what])
		}
	}
}

// commit queues jobs, commits them in one batch and checks each outcome
// against the model's.
func (d *diffRun) commit(t *testing.T, jobs []*model.Job) {
	t.Helper()
	ids := make([]string, len(jobs))
	for i, job := range jobs {
		b, err := json.Marshal(job)
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = producer.Enqueue(d.f.store, b, d.f.wopts.Limits); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := d.f.w.Commit(context.Background(), writer.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sum.Stages {
		d.seen["staged "+st.Method]++
	}
	for i, job := range jobs {
		d.note(job)
		rels := len(d.m.rels)
		want, reason := d.m.apply(job)
		o, err := JobOutcome(context.Background(), d.f.store, d.f.opts.Verify, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if reason != "" {
			d.seen["rejected"]++
			if o.Status != model.StatusRejected || o.Reason != reason {
				t.Fatalf("job %d %s: the writer says %s %q, the model rejects it: %q", i, fsm.Describe(job), o.Status, o.Reason, reason)
			}
			continue
		}
		got, _ := json.Marshal(o.Results)
		w, _ := json.Marshal(want)
		if o.Status != model.StatusApplied || !bytes.Equal(got, w) {
			t.Fatalf("job %d %s: the writer says %s %s %q, the model %s", i, fsm.Describe(job), o.Status, got, o.Reason, w)
		}
		if len(d.m.rels) < rels && slices.ContainsFunc(job.Ops, func(op model.Op) bool { return op.Op == model.OpDeleteEntities }) {
			d.seen["cascade"]++
		}
		for k, op := range job.Ops {
			if want[k].Deleted > 0 {
				d.seen[op.Op+" removing"]++
			}
		}
	}
}

// note counts what job exercises before the model applies it.
func (d *diffRun) note(job *model.Job) {
	for _, op := range job.Ops {
		d.seen[op.Op]++
		for _, e := range op.Entities {
			if _, ok := d.m.ents[e.Name]; ok {
				d.seen["create of what exists"]++
			}
		}
		for _, a := range op.Observations {
			e, ok := d.m.ents[a.EntityName]
			if ok && (len(slices.Compact(slices.Sorted(slices.Values(a.Contents)))) < len(a.Contents) ||
				slices.ContainsFunc(a.Contents, func(s string) bool { return slices.Contains(e.Observations, s) })) {
				d.seen["duplicate observation"]++
			}
		}
	}
}

// check compares, on the newest snapshot, what Kuzu holds (a Reader that
// never searched reads it), the Reader's index (derived from the jobs
// since the first round) and the model, with their digests and the
// manifest's.
func (d *diffRun) check(t *testing.T, round int, names []string) {
	t.Helper()
	ctx := context.Background()
	if _, err := d.r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.r.SearchNodes(ctx, "amber", SearchOptions{}); err != nil { // the index of this snapshot
		t.Fatal(err)
	}
	d.r.text.mu.Lock()
	view, man := d.r.text.view, d.r.text.man
	d.r.text.mu.Unlock()
	fresh, err := Open(ctx, d.f.store, d.f.opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	kuzu, err := fresh.OpenNodes(ctx, names)
	fresh.Close()
	if err != nil {
		t.Fatal(err)
	}
	ments, mrels := d.m.lists()
	want, wantDigest := renderMemory(ments, mrels), fsm.DigestOf(ments, mrels)
	ients, irels, ok := view.Open(names)
	if !ok {
		t.Fatalf("round %d: the index is not its lineage's newest", round)
	}
	if got := renderMemory(kuzu.Entities, kuzu.Relations); got != want {
		t.Fatalf("round %d: Kuzu holds\n%s\nthe model\n%s", round, got, want)
	}
	if got := renderMemory(ients, irels); got != want {
		t.Fatalf("round %d: the index holds\n%s\nthe model\n%s", round, got, want)
	}
	kd := fsm.DigestOf(kuzu.Entities, kuzu.Relations)
	if md, ok := man.ContentDigest(); !ok || md != wantDigest || kd != wantDigest || view.Digest() != wantDigest {
		t.Fatalf("round %d: digests: manifest %s (%v), Kuzu %s, index %s, model %s", round, man.Digest, ok, kd, view.Digest(), wantDigest)
	}
	if man.Entities != int64(len(d.m.ents)) || man.Relations != int64(len(d.m.rels)) || man.KVKeys != int64(len(d.m.kv)) {
		t.Fatalf("round %d: manifest counts %d/%d/%d, model %d/%d/%d", round, man.Entities, man.Relations, man.KVKeys,
			len(d.m.ents), len(d.m.rels), len(d.m.kv))
	}
}

// An index that replayed the jobs to a content digest other than the
// manifest's is not served: the Reader builds the snapshot's index from
// its graph and says why in a warning. The drift is made by hand here, as
// a wrong rule in one copy would leave it: the same names and counts, one
// observation different.
func TestDivergedIndexIsRebuiltAndLogged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ash := model.Entity{Name: "ash", EntityType: "tree", Observations: []string{"amber"}}
	bay := model.Entity{Name: "bay", EntityType: "place", Observations: []string{}}
	near := model.Relation{From: "ash", To: "bay", RelationType: "near"}
	f.commitJob(t, map[string]any{"ops": []any{createOp(ash, bay), relOp(near)}})
	logs := &testutil.LockedBuffer{}
	r := f.openWith(t, f.opts, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer r.Close()
	if _, err := r.SearchNodes(ctx, "amber", SearchOptions{}); err != nil { // builds the index
		t.Fatal(err)
	}
	drifted := ash
	drifted.Observations = []string{"drifted"}
	r.text.mu.Lock()
	r.text.view = graphindex.Build([]model.Entity{drifted, bay}, []model.Relation{near})
	r.text.mu.Unlock()

	f.commitJob(t, map[string]any{"ops": []any{map[string]any{"op": "add_observations",
		"observations": []any{map[string]any{"entityName": "bay", "contents": []string{"cedar"}}}}}})
	if _, err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"drifted": 0, "amber": 1, "cedar": 1} {
		g, err := r.SearchNodes(ctx, q, SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Entities) != want {
			t.Errorf("search %q: %d entities, want %d (the drifted index was served)", q, len(g.Entities), want)
		}
	}
	if built, derived := r.SearchIndexStats(); built != 2 || derived != 0 || r.SearchIndexFellBack() != 1 {
		t.Errorf("built %d, derived %d, fell back %d; want 2, 0, 1", built, derived, r.SearchIndexFellBack())
	}
	log := logs.String()
	if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "building its index from the graph") ||
		!strings.Contains(log, "content digest") {
		t.Errorf("the rebuild is not logged with its reason:\n%s", log)
	}
	r.text.mu.Lock()
	d := r.text.view.Digest()
	r.text.mu.Unlock()
	m, err := f.store.Manifest(2)
	if err != nil {
		t.Fatal(err)
	}
	if md, ok := m.ContentDigest(); !ok || md != d {
		t.Errorf("the rebuilt index's digest %s, the manifest's %s", d, m.Digest)
	}
}
