package writer_test

import "bytes"
import "context"
import "encoding/json"
import "flag"
import "fmt"
import "log/slog"
import "math/rand/v2"
import "os"
import "strings"
import "testing"

import "github.com/oklog/ulid/v2"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// genJob makes a random job over a tiny universe of names, so that jobs
// collide: duplicates, deletes of what others create, observations and
// relations for entities that may not exist (jobs that must fail).
func genJob(rng *rand.Rand) map[string]any {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	name := func() string { return pick("ash", "bay", "cove", "dell") }
	obs := func() []string {
		out := []string{}
		for n := rng.IntN(3); n > 0; n-- {
			out = append(out, pick("amber", "birch", "cedar", "dune"))
		}
		return out
	}
	var ops []map[string]any
	for n := 1 + rng.IntN(4); n > 0; n-- {
		var op map[string]any
		switch rng.IntN(8) {
		case 0, 1:
			var es []map[string]any
			for k := 1 + rng.IntN(2); k > 0; k-- {
				es = append(es, map[string]any{"name": name(), "entityType": pick("xenon", "yarrow"), "observations": obs()})
			}
			op = map[string]any{"op": "create_entities", "entities": es}
		case 2:
			op = map[string]any{"op": "create_relations", "relations": []map[string]any{{"from": name(), "to": name(), "relationType": pick("r1", "r2")}}}
		case 3:
			op = map[string]any{"op": "add_observations", "observations": []map[string]any{{"entityName": name(), "contents": obs()}}}
		case 4:
			op = map[string]any{"op": "delete_entities", "entityNames": []string{name()}}
		case 5:
			op = map[string]any{"op": "delete_observations", "deletions": []map[string]any{{"entityName": name(), "observations": obs()}}}
		case 6:
			op = map[string]any{"op": "delete_relations", "relations": []map[string]any{{"from": name(), "to": name(), "relationType": pick("r1", "r2")}}}
		case 7:
			if rng.IntN(3) == 0 {
				op = map[string]any{"op": "kv_delete", "key": pick("k1", "k2", "k3")}
			} else {
				op = map[string]any{"op": "kv_put", "key": pick("k1", "k2", "k3"), "value": pick("v1", "v2", "v3")}
			}
		}
		ops = append(ops, op)
	}
	return map[string]any{"ops": ops}
}

type storeUnderTest struct {
	store *snapshot.Store
	cfg   config.Config
	w     *writer.Writer
}

// newTestStore is a store checked when the test ends (snapshottest.NewStore,
// which opts adjust) and a writer of cfg, the defaults but for the two
// settings below.
func newTestStore(t *testing.T, opts ...snapshottest.Option) *storeUnderTest {
	t.Helper()
	s := snapshottest.NewStore(t, opts...)
	cfg := config.Default()
	cfg.Store = s.Dir()
	cfg.Writer.RecycleMinMB = 0 // small test graphs take the recycling path too
	// Retention by gc.keep alone, which the tests of recycling count on:
	// the history window keeps every snapshot of its last 10 minutes
	// (history_test.go sets its own).
	cfg.History.KeepFor = 0
	return &storeUnderTest{store: s, cfg: cfg, w: writer.New(s, cfg.WriterOptions(), nil)}
}

// withOptions gives s a writer with the config's options as edit changes
// them.
func (s *storeUnderTest) withOptions(edit func(*writer.Options)) {
	opts := s.cfg.WriterOptions()
	edit(&opts)
	s.w = writer.New(s.store, opts, nil)
}

// useCopy makes every create in this store go through COPY FROM.
func (s *storeUnderTest) useCopy() {
	s.cfg.Writer.CopyThreshold = 1
	s.w = writer.New(s.store, s.cfg.WriterOptions(), nil)
}

// put writes a job file straight into queue/new under a fixed id, as an
// enqueue would, so that two stores get identical ids and times.
func (s *storeUnderTest) put(t *testing.T, id string, job []byte) {
	t.Helper()
	if err := os.WriteFile(s.store.Path("queue", "new", id+".job"), job, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *storeUnderTest) commit(t *testing.T, opts writer.CommitOptions) writer.Summary {
	t.Helper()
	sum, err := s.w.Commit(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// dump renders the whole graph, KV and the outcome of every job.
func (s *storeUnderTest) dump(t *testing.T, ids []string) string {
	t.Helper()
	ctx := context.Background()
	r, err := reader.Open(ctx, s.store, s.cfg.ReaderOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []any
	for _, q := range []string{
		"MATCH (e:Entity) RETURN e.name, e.entityType, e.observations, e.created_at, e.updated_at ORDER BY e.name",
		"MATCH (a:Entity)-[r:Relation]->(b:Entity) RETURN a.name, b.name, r.relationType, r.created_at ORDER BY a.name, b.name, r.relationType",
	} {
		res, err := r.Query(ctx, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Rows)
	}
	checkSearch(t, r)
	kv, _, err := r.KVScan(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, kv)
	for _, id := range ids {
		o, err := r.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(o.Status)+" "+o.Reason)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// Done-when 6: random job sequences give the same graph, KV and outcomes
// whether committed as one batch, in random-size batches, or one job per
// commit — and that state is the one an independent reference model of the
// job semantics predicts.
func TestBatchEqualsSequence(t *testing.T) {
	seeds, jobs := *batchSeeds, 40
	if testing.Short() {
		seeds = 2
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel() // seeds are independent stores; commits wait on fsync as much as on the CPU
			rng := rand.New(rand.NewPCG(uint64(seed), 42))
			ids := make([]string, jobs)
			data := make([][]byte, jobs)
			entropy := rand.New(rand.NewPCG(uint64(seed), 7))
			for i := range ids {
				ids[i] = ulid.MustNew(uint64(1_700_000_000_000+i*1000+seed), ulidEntropy{entropy}).String()
				data[i], _ = json.Marshal(genJob(rng))
			}
			// A shared prefix, committed alike everywhere, gives the batches
			// existing rows to delete, re-create and relate.
			const prefix = 10
			batch, chunks, single := newTestStore(t), newTestStore(t), newTestStore(t)
			batch.useCopy() // the one batch goes through the bulk COPY path
			for _, st := range []*storeUnderTest{batch, chunks, single} {
				for i := 0; i < prefix; i++ {
					st.put(t, ids[i], data[i])
				}
				st.commit(t, writer.CommitOptions{MaxJobs: 3})
			}
			for i := prefix; i < jobs; i++ {
				batch.put(t, ids[i], data[i])
				chunks.put(t, ids[i], data[i])
			}
			if sum := batch.commit(t, writer.CommitOptions{MaxRounds: 1}); sum.Batches != 1 || sum.Applied+sum.Rejected != jobs-prefix {
				t.Fatalf("one batch: %+v", sum)
			}
			for left := jobs - prefix; left > 0; {
				sum := chunks.commit(t, writer.CommitOptions{MaxJobs: 1 + rng.IntN(6), MaxRounds: 1})
				left -= sum.Applied + sum.Rejected
			}
			for i := prefix; i < jobs; i++ {
				single.put(t, ids[i], data[i])
				if sum := single.commit(t, writer.CommitOptions{}); sum.Batches != 1 {
					t.Fatalf("job %d alone: %+v", i, sum)
				}
			}
			want := modelDump(ids, data)
			if got := single.dump(t, ids); got != want {
				t.Fatalf("one job per commit differs from the reference model:\nsingle: %s\nmodel:  %s", got, want)
			}
			if got := batch.dump(t, ids); got != want {
				t.Fatalf("one batch differs from one job per commit:\nbatch:  %s\nsingle: %s", got, want)
			}
			if got := chunks.dump(t, ids); got != want {
				t.Fatalf("random batches differ from one job per commit:\nchunks: %s\nsingle: %s", got, want)
			}
		})
	}
}

// batchSeeds is how many random sequences TestBatchEqualsSequence checks:
// 3 in make test (each costs about a minute of CPU under -race with the
// recycling path), more with -batch.seeds (make soak-batch).
var batchSeeds = flag.Int("batch.seeds", 3, "random job sequences TestBatchEqualsSequence checks")

type ulidEntropy struct{ r *rand.Rand }

func (e ulidEntropy) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e.r.Uint32())
	}
	return len(p), nil
}

// checkSequence commits prefix jobs one by one, then jobs as one batch in one
// store and one per commit in another, and compares both with the model.
func checkSequence(t *testing.T, prefix, jobs []string) {
	t.Helper()
	all := append(append([]string{}, prefix...), jobs...)
	ids := make([]string, len(all))
	entropy := rand.New(rand.NewPCG(1, 2))
	for i := range ids {
		ids[i] = ulid.MustNew(uint64(1_700_000_000_000+i*1000), ulidEntropy{entropy}).String()
	}
	m := newOracle()
	for i := range all {
		m = m.apply(ids[i], []byte(all[i]))
	}
	want := m.dump()
	batch, single := newTestStore(t), newTestStore(t)
	batch.useCopy()
	for i := range prefix {
		for _, st := range []*storeUnderTest{batch, single} {
			st.put(t, ids[i], []byte(all[i]))
			st.commit(t, writer.CommitOptions{})
		}
	}
	for i := len(prefix); i < len(all); i++ {
		batch.put(t, ids[i], []byte(all[i]))
		single.put(t, ids[i], []byte(all[i]))
		single.commit(t, writer.CommitOptions{})
	}
	if sum := batch.commit(t, writer.CommitOptions{MaxRounds: 1}); sum.Batches != 1 {
		t.Fatalf("batch: %+v", sum)
	}
	if got := single.dump(t, ids); got != want {
		t.Errorf("one job per commit:\ngot:   %s\nmodel: %s", got, want)
	}
	if got := batch.dump(t, ids); got != want {
		t.Errorf("one batch:\ngot:   %s\nmodel: %s", got, want)
	}
}

// Edge cases the random generator reaches only by luck.
func TestBatchEdgeCases(t *testing.T) {
	const (
		ab      = `{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":["o1"]},{"name":"b","entityType":"t","observations":[]}]}]}`
		relAB   = `{"ops":[{"op":"create_relations","relations":[{"from":"a","to":"b","relationType":"r"}]}]}`
		relBA   = `{"ops":[{"op":"create_relations","relations":[{"from":"b","to":"a","relationType":"r"}]}]}`
		delA    = `{"ops":[{"op":"delete_entities","entityNames":["a"]}]}`
		a2      = `{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"u","observations":["new"]}]}]}`
		delRel  = `{"ops":[{"op":"delete_relations","relations":[{"from":"a","to":"b","relationType":"r"}]}]}`
		obsA    = `{"ops":[{"op":"add_observations","observations":[{"entityName":"a","contents":["o2","o1","o2"]}]}]}`
		badJob  = `{"ops":[{"op":"create_entities","entities":[{"name":"c","entityType":"t","observations":[]}]},{"op":"add_observations","observations":[{"entityName":"zz","contents":["x"]}]}]}`
		relC    = `{"ops":[{"op":"create_relations","relations":[{"from":"a","to":"c","relationType":"r"}]}]}`
		selfRel = `{"ops":[{"op":"create_relations","relations":[{"from":"a","to":"a","relationType":"self"}]}]}`
	)
	cases := map[string]struct{ prefix, jobs []string }{
		"delete and re-create an endpoint, then relate again": {[]string{ab, relAB, relBA}, []string{delA, a2, relAB}},
		"delete an endpoint only":                             {[]string{ab, relAB, relBA}, []string{delA}},
		"delete relation then re-create it":                   {[]string{ab, relAB}, []string{delRel, relAB}},
		"create relation then delete it":                      {[]string{ab}, []string{relAB, delRel}},
		"observations dedupe across jobs":                     {[]string{ab}, []string{obsA, obsA}},
		"failed job leaves nothing behind":                    {[]string{ab}, []string{badJob, relC}},
		"self relation and delete":                            {[]string{ab}, []string{selfRel, delA, a2, selfRel}},
		"create in batch then delete in batch":                {nil, []string{ab, relAB, delA, relAB}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) { checkSequence(t, c.prefix, c.jobs) })
	}
}

// A job claimed twice in one batch runs once: a rollback killed after it
// queued its claimed jobs again and before it dropped their claimed copies
// leaves the same id in queue/cur and queue/new, and recovery claims both.
func TestJobClaimedTwiceInOneBatchRunsOnce(t *testing.T) {
	s := newTestStore(t)
	seed := ulid.MustNew(1_700_000_000_000, ulidEntropy{rand.New(rand.NewPCG(3, 3))}).String()
	s.put(t, seed, []byte(`{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":[]}]}]}`))
	s.commit(t, writer.CommitOptions{})
	m := snapshottest.CurrentManifest(t, s.store)
	id := ulid.MustNew(1_700_000_001_000, ulidEntropy{rand.New(rand.NewPCG(4, 4))}).String()
	job := []byte(`{"ops":[{"op":"kv_put","key":"k","value":"v"}]}`)
	claimed := s.store.Path("queue", "cur", fmt.Sprintf("%016d-%s.job", m.Watermark+1, id))
	if err := os.WriteFile(claimed, job, 0o600); err != nil {
		t.Fatal(err)
	}
	s.put(t, id, job)
	sum := s.commit(t, writer.CommitOptions{})
	if sum.Applied != 1 || sum.Duplicates != 1 || sum.Rejected != 0 {
		t.Fatalf("a job claimed twice in one batch: %+v, want applied 1, duplicates 1", sum)
	}
	if n, err := s.store.Queue().Counts(); err != nil || n.New != 0 || n.Cur != 0 {
		t.Fatalf("queue after the commit: %+v %v", n, err)
	}
}

// The exactly-once backstop: a job file delivered again under an id that a
// snapshot already records is skipped, and its first outcome stands.
func TestRedeliveredJobIsNotAppliedTwice(t *testing.T) {
	s := newTestStore(t)
	create := ulid.MustNew(1_700_000_000_000, ulidEntropy{rand.New(rand.NewPCG(1, 1))}).String()
	del := ulid.MustNew(1_700_000_001_000, ulidEntropy{rand.New(rand.NewPCG(2, 2))}).String()
	createJob := []byte(`{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":[]}]}]}`)
	s.put(t, create, createJob)
	s.commit(t, writer.CommitOptions{})
	s.put(t, del, []byte(`{"ops":[{"op":"delete_entities","entityNames":["a"]}]}`))
	s.commit(t, writer.CommitOptions{})
	s.put(t, create, createJob) // redelivered
	sum := s.commit(t, writer.CommitOptions{})
	if sum.Duplicates != 1 || sum.Applied != 0 || sum.Rejected != 0 {
		t.Fatalf("redelivery: %+v", sum)
	}
	ctx := context.Background()
	r, err := reader.Open(ctx, s.store, s.cfg.ReaderOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Query(ctx, "MATCH (e:Entity) RETURN count(e)", nil)
	if err != nil || res.Rows[0][0].(int64) != 0 {
		t.Fatalf("the redelivered create ran again: %v %v", res, err)
	}
	if o, err := r.Job(ctx, create); err != nil || o.Status != "applied" || o.Snapshot != 1 {
		t.Fatalf("first outcome not kept: %+v %v", o, err)
	}
	if q, _ := s.store.Queue().Counts(); q.New+q.Cur+q.Dead != 0 {
		t.Fatalf("redelivered file left in the queue: %+v", q)
	}
}

// checkSearch fails unless search_nodes finds, for each word the generated
// jobs use, every entity that holds it, as the reference's substring rule
// does (a plain scan of the snapshot).
func checkSearch(t *testing.T, r *reader.Reader) {
	t.Helper()
	ctx := context.Background()
	for _, word := range []string{"amber", "birch", "cedar", "dune", "xenon", "yarrow"} {
		// The word is a literal: Kuzu 0.11.3 fails an assertion on a
		// parameter inside a list predicate.
		scan, err := r.Query(ctx, "MATCH (e:Entity) WHERE contains(lower(e.name), '"+word+"') OR contains(lower(e.entityType), '"+word+"') "+
			"OR any(o IN e.observations WHERE contains(lower(o), '"+word+"')) RETURN e.name", nil)
		if err != nil {
			t.Fatal(err)
		}
		g, err := r.SearchNodes(ctx, word, reader.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, e := range g.Entities {
			found[e.Name] = true
		}
		for _, row := range scan.Rows {
			if !found[row[0].(string)] {
				t.Fatalf("snapshot %d: search %q misses %v, which holds it", r.Seq(), word, row[0])
			}
		}
	}
}

// An applied job's outcome says what each op did, as the reference memory
// server's answers do: which items were new, which observations were added,
// how many rows a delete removed and which names it did not find.
func TestOutcomeResults(t *testing.T) {
	s := newTestStore(t)
	ids := make([]string, 2)
	for i := range ids {
		ids[i] = ulid.MustNew(uint64(1_700_000_000_000+i*1000), ulidEntropy{rand.New(rand.NewPCG(uint64(i), 3))}).String()
	}
	s.put(t, ids[0], []byte(`{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":["o1"]},{"name":"b","entityType":"t","observations":[]}]}]}`))
	s.commit(t, writer.CommitOptions{})
	s.put(t, ids[1], []byte(`{"ops":[
		{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":[]},{"name":"c","entityType":"t","observations":[]},{"name":"c","entityType":"t","observations":[]}]},
		{"op":"create_relations","relations":[{"from":"a","to":"b","relationType":"r"},{"from":"a","to":"b","relationType":"r"}]},
		{"op":"add_observations","observations":[{"entityName":"a","contents":["o1","o2","o2"]},{"entityName":"b","contents":[]}]},
		{"op":"delete_observations","deletions":[{"entityName":"a","observations":["o1","nope"]},{"entityName":"zz","observations":["x"]}]},
		{"op":"delete_relations","relations":[{"from":"a","to":"b","relationType":"r"},{"from":"b","to":"a","relationType":"r"}]},
		{"op":"delete_entities","entityNames":["c","ghost"]},
		{"op":"kv_put","key":"k","value":"v"}]}`))
	s.commit(t, writer.CommitOptions{})
	r, err := reader.Open(context.Background(), s.store, s.cfg.ReaderOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	o, err := r.Job(context.Background(), ids[1])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(o.Results)
	want := `[{"new":[1]},{"new":[0]},{"added":[["o2"],[]]},{"deleted":1,"missing":["zz"]},{"deleted":1},{"deleted":1,"missing":["ghost"]},{}]`
	if o.Status != "applied" || string(got) != want {
		t.Fatalf("outcome %s %s results\n got %s\nwant %s", o.Status, o.Reason, got, want)
	}
}

// A commit runs another round only for jobs its batch limits left behind:
// jobs queued while it works wait for the next commit, so that a steady
// trickle cannot keep one commit republishing the store round after round.
func TestCommitRoundsOnlyForJobsLeftBehind(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	lim := s.cfg.Job.Limits()
	enqueue := func(k int) {
		t.Helper()
		job := fmt.Sprintf(`{"ops":[{"op":"kv_put","key":"k%d","value":"v"}]}`, k)
		if _, err := producer.Enqueue(s.store, []byte(job), lim); err != nil {
			t.Fatal(err)
		}
	}
	for k := 0; k < 5; k++ {
		enqueue(k)
	}
	sum, err := s.w.Commit(ctx, writer.CommitOptions{MaxJobs: 2})
	if err != nil || sum.Batches != 3 || sum.Applied != 5 {
		t.Fatalf("5 jobs, batches of 2: %+v %v; want 3 batches applying all 5", sum, err)
	}
	enqueue(5)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // a producer that keeps queueing while the commit runs
		k := 6
		for {
			select {
			case <-stop:
				close(done)
				return
			default:
			}
			job := fmt.Sprintf(`{"ops":[{"op":"kv_put","key":"k%d","value":"v"}]}`, k)
			if _, err := producer.Enqueue(s.store, []byte(job), lim); err != nil {
				t.Error(err)
			}
			k++
		}
	}()
	sum, err = s.w.Commit(ctx, writer.CommitOptions{})
	close(stop)
	<-done
	if err != nil || sum.Batches != 1 {
		t.Fatalf("commit beside a producer: %+v %v; want exactly one batch", sum, err)
	}
}

// A batch whose jobs are stamped on a whole second and off it writes in one
// transaction: every time is bound with one Kuzu type (go-kuzu binds a time
// without a sub-second part as TIMESTAMP, any other as TIMESTAMP_NS, and a
// list mixing them was refused, sending the batch down the one-job-at-a-time
// fallback).
func TestWholeSecondJobTimes(t *testing.T) {
	s := newTestStore(t)
	var logs bytes.Buffer
	s.w = writer.New(s.store, s.cfg.WriterOptions(), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	entropy := rand.New(rand.NewPCG(1, 2))
	for i, job := range []string{
		`{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":["x"]}]}]}`,
		`{"ops":[{"op":"create_entities","entities":[{"name":"b","entityType":"t","observations":[]}]},` +
			`{"op":"create_relations","relations":[{"from":"a","to":"b","relationType":"r"}]}]}`,
		`{"ops":[{"op":"add_observations","observations":[{"entityName":"a","contents":["y"]}]}]}`,
		`{"ops":[{"op":"create_relations","relations":[{"from":"b","to":"a","relationType":"r"}]}]}`,
	} {
		// Job times 1_700_000_000.000 s, .001, .000 of the next second, .002.
		ms := []uint64{1_700_000_000_000, 1_700_000_000_001, 1_700_000_001_000, 1_700_000_001_002}[i]
		s.put(t, ulid.MustNew(ms, ulidEntropy{entropy}).String(), []byte(job))
	}
	if sum := s.commit(t, writer.CommitOptions{}); sum.Applied != 4 || sum.Batches != 1 {
		t.Fatalf("commit: %+v", sum)
	}
	if strings.Contains(logs.String(), "one at a time") {
		t.Errorf("the batch fell back to one job at a time:\n%s", logs.String())
	}
	r := openReader(t, s)
	res, err := r.Query(context.Background(), "MATCH (e:Entity) RETURN e.name, e.created_at, e.updated_at ORDER BY e.name", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(res.Rows)
	for _, want := range []string{"2023-11-14 22:13:20 +0000 UTC", "2023-11-14 22:13:20.001 +0000 UTC", "2023-11-14 22:13:21 +0000 UTC"} {
		if !strings.Contains(got, want) {
			t.Errorf("entity times %s: want %s among them", got, want)
		}
	}
}

// A batch whose one transaction fails after the overlay ran its jobs (and
// dropped their decoded form) is applied one job at a time, each job read
// and decoded again: the store ends as the reference model says, with every
// job's outcome.
func TestBatchRetryDecodesJobsAgain(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 42))
	entropy := rand.New(rand.NewPCG(5, 7))
	const jobs = 30
	ids, data := make([]string, jobs), make([][]byte, jobs)
	s := newTestStore(t)
	for i := range ids {
		ids[i] = ulid.MustNew(uint64(1_700_000_000_000+i*1000), ulidEntropy{entropy}).String()
		data[i], _ = json.Marshal(genJob(rng))
		s.put(t, ids[i], data[i])
	}
	var logs bytes.Buffer
	s.w = writer.New(s.store, s.cfg.WriterOptions(), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	failed := 0
	defer writer.SetBatchWriteHook(func() bool { failed++; return failed == 1 })()
	if sum := s.commit(t, writer.CommitOptions{MaxRounds: 1}); sum.Batches != 1 || sum.Applied+sum.Rejected != jobs {
		t.Fatalf("commit: %+v", sum)
	}
	if failed == 0 || !strings.Contains(logs.String(), "one at a time") {
		t.Fatalf("the batch write did not fail and fall back (hook called %d times):\n%s", failed, logs.String())
	}
	if got, want := s.dump(t, ids), modelDump(ids, data); got != want {
		t.Fatalf("retried one at a time differs from the reference model:\nretried: %s\nmodel:   %s", got, want)
	}
}
