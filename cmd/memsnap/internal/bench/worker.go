package bench

import "context"
import "encoding/json"
import "fmt"
import "io"
import "math/rand/v2"
import "os"
import "path/filepath"
import "strings"
import "sync"
import "sync/atomic"
import "time"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer/producer"

// workers maps each role to its function: it gets the spec's JSON and
// returns the result to print.
var workers = map[string]func(ctx context.Context, spec []byte) (any, error){
	"mix":          role(runMix),
	"direct":       role(runDirect),
	"hold":         role(runHold),
	"produce":      role(runProduce),
	"enqueue":      role(runEnqueueAB),
	"perstatement": role(runPerStatement),
	"copyfrom":     role(runCopyFrom),
	"visibility":   role(runVisibility),
	"swap":         role(runSwapper),
	"rss":          role(runRSS),
}

// RunWorker runs one worker role of the harness in this process: it reads
// the role's spec as JSON from in, does the work, and writes its result as
// one JSON object to out. Workers are started by Run, never by users.
func RunWorker(ctx context.Context, role string, in io.Reader, out io.Writer) error {
	f, ok := workers[role]
	if !ok {
		return fmt.Errorf("unknown bench worker role %q", role)
	}
	spec, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read worker spec: %w", err)
	}
	res, err := f(ctx, spec)
	if err != nil {
		return fmt.Errorf("bench worker %s: %w", role, err)
	}
	return json.NewEncoder(out).Encode(res)
}

// role is a worker that takes its spec as a T, for the workers table: it
// decodes the spec's JSON first.
func role[T any](run func(ctx context.Context, spec T) (any, error)) func(ctx context.Context, spec []byte) (any, error) {
	return func(ctx context.Context, b []byte) (any, error) {
		var spec T
		if err := json.Unmarshal(b, &spec); err != nil {
			return nil, fmt.Errorf("bad worker spec: %w", err)
		}
		return run(ctx, spec)
	}
}

// readerConfig is the default configuration with the given refresh spec.
func readerConfig(store, refresh string) config.Config {
	cfg := config.Default()
	cfg.Store = store
	cfg.Reader.Refresh = refresh
	return cfg
}

// openReader opens a reader on cfg.Store; the caller closes it.
func openReader(ctx context.Context, cfg config.Config) (*snapshot.Store, *reader.Reader, error) {
	s, err := snapshot.Open(cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	rd, err := reader.Open(ctx, s, cfg.ReaderOptions(), nil)
	if err != nil {
		return nil, nil, err
	}
	return s, rd, nil
}

// The read mix: a point lookup, a 2-hop traversal and a search of two
// words (search_nodes, the first 20).
const (
	qPoint = "MATCH (e:Entity {name: $n}) RETURN e.name, e.entityType, e.observations"
	qHops  = "MATCH (a:Entity {name: $n})-[:Relation]->(:Entity)-[:Relation]->(c:Entity) RETURN DISTINCT c.name"
)

// The kinds of query in the mix (query k is of kind k%3), and the tag bit
// of a process's first query on a snapshot it has just swapped to.
const (
	mixPoint = iota
	mixHops
	mixSearch
	mixFirst = 4
)

// mixKinds names the kinds for the report.
var mixKinds = [...]string{mixPoint: "point lookup", mixHops: "2-hop", mixSearch: "search"}

// mixQuery runs query k of the mix on a store of n generated entities.
func mixQuery(ctx context.Context, rd *reader.Reader, rng *rand.Rand, k, n int) error {
	var err error
	switch k % 3 {
	case mixPoint:
		_, err = rd.Query(ctx, qPoint, map[string]any{"n": entityName(rng.IntN(n))})
	case mixHops:
		_, err = rd.Query(ctx, qHops, map[string]any{"n": entityName(rng.IntN(n))})
	case mixSearch:
		_, err = rd.SearchNodes(ctx, sentence(rng, 2), reader.SearchOptions{Limit: 20})
	}
	return err
}

// window is when a timed worker runs: from StartAt (Unix nanoseconds, the
// same instant for every worker of a phase, see startAt) for For.
type window struct {
	StartAt int64         `json:"start_at"`
	For     time.Duration `json:"for"`
}

type mixSpec struct {
	Store    string `json:"store"`
	Entities int    `json:"entities"`
	window
	Every   time.Duration `json:"every"` // pacing; 0 runs flat out
	Refresh string        `json:"refresh"`
	Seed    uint64        `json:"seed"`
}

type mixResult struct {
	Queries int `json:"queries"`
	failures
	LatencyUS []int64 `json:"latency_us"`
	// Tags holds, for each query in LatencyUS, its kind (mixPoint, mixHops,
	// mixSearch) plus mixFirst when it was the process's first query on a
	// snapshot it had just swapped to.
	Tags      []uint8 `json:"tags"`
	Refreshes int64   `json:"refreshes"`
	FirstSeq  uint64  `json:"first_seq"`
	LastSeq   uint64  `json:"last_seq"`
}

// runMix opens the store as a long-lived reader (refreshing on spec.Refresh)
// and runs the read mix from StartAt for For, paced at one query per Every.
func runMix(ctx context.Context, spec mixSpec) (any, error) {
	_, rd, err := openReader(ctx, readerConfig(spec.Store, spec.Refresh))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	rng := rand.New(rand.NewPCG(spec.Seed, 11))
	for k := 0; k < 3; k++ { // warm up each kind once
		if err := mixQuery(ctx, rd, rng, k, spec.Entities); err != nil {
			return nil, fmt.Errorf("warm-up query: %w", err)
		}
	}
	if err := rd.StartRefresh(); err != nil {
		return nil, err
	}
	if err := sleepUntil(ctx, spec.StartAt); err != nil {
		return nil, err
	}
	res := mixResult{FirstSeq: rd.Seq(), LatencyUS: make([]int64, 0, 1024)}
	start := time.Now()
	end := start.Add(spec.For)
	next := start
	seq := rd.Seq()
	for k := 0; time.Now().Before(end); k++ {
		tag := uint8(k % 3)
		if s := rd.Seq(); s != seq {
			tag, seq = tag|mixFirst, s
		}
		t := time.Now()
		err := mixQuery(ctx, rd, rng, k, spec.Entities)
		res.LatencyUS = append(res.LatencyUS, time.Since(t).Microseconds())
		res.Tags = append(res.Tags, tag)
		res.Queries++
		res.add(err)
		next = pace(next, spec.Every)
	}
	res.Refreshes, res.LastSeq = rd.Refreshes(), rd.Seq()
	return res, nil
}

type directSpec struct {
	Path string `json:"path"`
	window
	Every time.Duration `json:"every"`
}

type directResult struct {
	Attempts int `json:"attempts"`
	failures
}

// runDirect is today's way: open the Kuzu file itself read-only and run a
// point lookup, every Every, while another process may hold it read-write.
func runDirect(ctx context.Context, spec directSpec) (any, error) {
	if err := sleepUntil(ctx, spec.StartAt); err != nil {
		return nil, err
	}
	var res directResult
	attempt := func() error {
		db, c, err := graphdb.OpenConn(spec.Path, graphdb.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer db.Close()
		defer c.Close()
		return c.Exec(ctx, qPoint, map[string]any{"n": entityName(0)})
	}
	for end := time.Now().Add(spec.For); time.Now().Before(end); time.Sleep(spec.Every) {
		res.Attempts++
		res.add(attempt())
	}
	return res, nil
}

type holdSpec struct {
	Path  string        `json:"path"`
	Ready string        `json:"ready"`
	For   time.Duration `json:"for"`
}

// runHold is the process that owns a Kuzu file today: it opens it
// read-write, says so by creating Ready, and writes a row every 500ms for
// For.
func runHold(ctx context.Context, spec holdSpec) (any, error) {
	db, c, err := graphdb.OpenConn(spec.Path, graphdb.Options{BufferPoolBytes: 256 << 20})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	defer c.Close()
	if err := os.WriteFile(spec.Ready, nil, 0o600); err != nil {
		return nil, err
	}
	writes := 0
	for end := time.Now().Add(spec.For); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if err := c.Exec(ctx, "CREATE (:Entity {name: $n, entityType: 'held', observations: []})",
			map[string]any{"n": fmt.Sprintf("held-%d", writes)}); err != nil {
			return nil, fmt.Errorf("write while holding: %w", err)
		}
		writes++
	}
	return map[string]int{"writes": writes}, nil
}

type produceSpec struct {
	Store string `json:"store"`
	window
	Every    time.Duration `json:"every"` // 0: flat out
	Kind     string        `json:"kind"`  // "tiny" or "flow"
	Prefix   string        `json:"prefix"`
	Entities int           `json:"entities"`
}

type produceResult struct {
	Jobs int `json:"jobs"`
	failures
	Seconds float64 `json:"seconds"`
}

// tinyJob is the enqueue benchmark's job: one entity with one observation
// of typical length.
func tinyJob(name string) []byte {
	b, _ := json.Marshal(model.Job{Ops: []model.Op{{Op: model.OpCreateEntities, Entities: []model.Entity{
		{Name: name, EntityType: "note", Observations: []string{"an observation of typical length for a memory"}}}}}})
	return b
}

// flowJob is what a memory tool writes in one call: two new entities
// related to each other and to an existing one, an observation added to
// an existing entity, and a key-value.
func flowJob(name string, k, n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(k), 13))
	a, c := name+"-a", name+"-b"
	old := entityName((k * 131) % n)
	val := fmt.Sprint(k)
	job := model.Job{Ops: []model.Op{
		{Op: model.OpCreateEntities, Entities: []model.Entity{
			{Name: a, EntityType: "note", Observations: []string{sentence(rng, 8)}},
			{Name: c, EntityType: "note", Observations: []string{sentence(rng, 8)}}}},
		{Op: model.OpCreateRelations, Relations: []model.Relation{
			{From: a, To: c, RelationType: "next"}, {From: a, To: old, RelationType: "mentions"}}},
		{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: old, Contents: []string{sentence(rng, 6)}}}},
		{Op: model.OpKVPut, Key: "bench/" + name, Value: &val},
	}}
	b, _ := json.Marshal(job)
	return b
}

func (s produceSpec) job(k int) []byte {
	name := fmt.Sprintf("%s-%d", s.Prefix, k)
	if s.Kind == "flow" {
		return flowJob(name, k, s.Entities)
	}
	return tinyJob(name)
}

// runProduce enqueues jobs from StartAt for For, one per Every or flat out.
func runProduce(ctx context.Context, spec produceSpec) (any, error) {
	s, err := snapshot.Open(spec.Store)
	if err != nil {
		return nil, err
	}
	lim := config.Default().Job.Limits()
	if err := sleepUntil(ctx, spec.StartAt); err != nil {
		return nil, err
	}
	var res produceResult
	start := time.Now()
	end := start.Add(spec.For)
	next := start
	for k := 0; time.Now().Before(end); k++ {
		if _, err := producer.Enqueue(s, spec.job(k), lim); err != nil {
			res.add(err)
		} else {
			res.Jobs++
		}
		next = pace(next, spec.Every)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

type enqueueABSpec struct {
	Store  string `json:"store"`
	Bare   string `json:"bare"` // directory for the bare loop
	Prefix string `json:"prefix"`
	window
	Slot time.Duration `json:"slot"`
}

type enqueueABResult struct {
	Jobs        int     `json:"jobs"`
	JobSeconds  float64 `json:"job_seconds"`
	Bare        int     `json:"bare"`
	BareSeconds float64 `json:"bare_seconds"`
	failures
}

// runEnqueueAB alternates, in slots of Slot aligned on StartAt (so every
// producer process is in the same phase at once), durable enqueues of the
// tiny job and the bare loop they are built on: create a file in tmp/,
// write the same bytes, fsync, rename into new/, fsync new/. Alternating
// keeps the disk's drift from landing on one side of the ratio.
func runEnqueueAB(ctx context.Context, spec enqueueABSpec) (any, error) {
	s, err := snapshot.Open(spec.Store)
	if err != nil {
		return nil, err
	}
	tmp, dst := filepath.Join(spec.Bare, "tmp"), filepath.Join(spec.Bare, "new")
	for _, d := range []string{tmp, dst} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	lim := config.Default().Job.Limits()
	bare := func(k int) error {
		name := fmt.Sprintf("%s-%d", spec.Prefix, k)
		f, err := os.OpenFile(filepath.Join(tmp, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := f.Write(tinyJob(name)); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dst, name)); err != nil {
			return err
		}
		return fsutil.SyncDir(dst)
	}
	if err := sleepUntil(ctx, spec.StartAt); err != nil {
		return nil, err
	}
	var res enqueueABResult
	start := time.Unix(0, spec.StartAt)
	for k := 0; time.Since(start) < spec.For; k++ {
		t := time.Now()
		if (t.Sub(start)/spec.Slot)%2 == 1 {
			if err := bare(k); err != nil {
				return nil, fmt.Errorf("bare loop: %w", err)
			}
			res.Bare++
			res.BareSeconds += time.Since(t).Seconds()
			continue
		}
		if _, err := producer.Enqueue(s, tinyJob(fmt.Sprintf("%s-%d", spec.Prefix, k)), lim); err != nil {
			res.add(err)
			continue
		}
		res.Jobs++
		res.JobSeconds += time.Since(t).Seconds()
	}
	return res, nil
}

type rowsSpec struct {
	Dir  string `json:"dir"`
	Rows int    `json:"rows"`
}

type rowsResult struct {
	Rows    int     `json:"rows"`
	Seconds float64 `json:"seconds"`
}

// openFresh creates a new Kuzu database in dir with memsnap's tables, sized
// like the writer's, and returns a connection to it and what closes both.
func openFresh(ctx context.Context, dir string) (*graphdb.Conn, func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	db, c, err := graphdb.OpenConn(filepath.Join(dir, "graph.kuzu"), graphdb.Options{BufferPoolBytes: 1 << 30, Threads: 2})
	if err != nil {
		return nil, nil, err
	}
	closeBoth := func() {
		c.Close()
		db.Close()
	}
	if err = graphdb.EnsureSchema(ctx, c); err != nil {
		closeBoth()
		return nil, nil, err
	}
	return c, closeBoth, nil
}

// runPerStatement is today's way of writing: one statement per row doing
// what memsnap's apply does for it (MERGE the entity), all in one
// transaction (the kindest case for it), then a checkpoint.
func runPerStatement(ctx context.Context, spec rowsSpec) (any, error) {
	c, closeBoth, err := openFresh(ctx, spec.Dir)
	if err != nil {
		return nil, err
	}
	defer closeBoth()
	now := time.Now().UTC().Truncate(time.Millisecond)
	start := time.Now()
	if err := c.Exec(ctx, "BEGIN TRANSACTION", nil); err != nil {
		return nil, err
	}
	for i := 0; i < spec.Rows; i++ {
		e := genEntity(i)
		obs := make([]any, len(e.Observations))
		for j, o := range e.Observations {
			obs[j] = o
		}
		if err := c.Exec(ctx, "MERGE (x:Entity {name: $n}) ON CREATE SET x.entityType = $t, x.observations = $o, "+
			"x.created_at = $c, x.updated_at = $c",
			map[string]any{"n": e.Name, "t": e.EntityType, "o": obs, "c": now}); err != nil {
			return nil, err
		}
	}
	for _, q := range []string{"COMMIT", "CHECKPOINT"} {
		if err := c.Exec(ctx, q, nil); err != nil {
			return nil, err
		}
	}
	return rowsResult{Rows: spec.Rows, Seconds: time.Since(start).Seconds()}, nil
}

// runCopyFrom is Kuzu's bulk limit: COPY FROM a CSV of the same rows into
// the entity table, then a checkpoint.
func runCopyFrom(ctx context.Context, spec rowsSpec) (any, error) {
	c, closeBoth, err := openFresh(ctx, spec.Dir)
	if err != nil {
		return nil, err
	}
	defer closeBoth()
	csv := filepath.Join(spec.Dir, "entities.csv")
	f, err := os.Create(csv)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05")
	var sb strings.Builder
	for i := 0; i < spec.Rows; i++ {
		e := genEntity(i) // generated text has no commas, quotes or brackets
		sb.Reset()
		fmt.Fprintf(&sb, "%s,%s,\"[%s]\",%s,%s\n", e.Name, e.EntityType, strings.Join(e.Observations, ","), now, now)
		if _, err := f.WriteString(sb.String()); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	start := time.Now()
	loaded, err := graphdb.CopyFrom(ctx, c, "Entity", csv, "header=false")
	if err != nil {
		return nil, fmt.Errorf("COPY FROM: %w", err)
	}
	if err := c.Exec(ctx, "CHECKPOINT", nil); err != nil {
		return nil, err
	}
	out := rowsResult{Rows: spec.Rows, Seconds: time.Since(start).Seconds()}
	if loaded != int64(spec.Rows) {
		return nil, fmt.Errorf("COPY FROM loaded %d rows, expected %d", loaded, spec.Rows)
	}
	return out, nil
}

type visSpec struct {
	Store    string        `json:"store"`
	Jobs     int           `json:"jobs"`
	Spread   time.Duration `json:"spread"`
	Entities int           `json:"entities"`
}

type visResult struct {
	LatencyMS []float64 `json:"latency_ms"`
}

// runVisibility enqueues jobs one at a time, each at a random moment within
// Spread of the last one becoming visible, and times each from its
// acknowledgement until this process's long-lived reader sees its outcome.
func runVisibility(ctx context.Context, spec visSpec) (any, error) {
	s, rd, err := openReader(ctx, readerConfig(spec.Store, ""))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	lim := config.Default().Job.Limits()
	rng := rand.New(rand.NewPCG(5, 5))
	var res visResult
	for k := 0; k < spec.Jobs; k++ {
		time.Sleep(time.Duration(rng.Int64N(int64(spec.Spread))))
		id, err := producer.Enqueue(s, flowJob(fmt.Sprintf("vis-%d", k), k, spec.Entities), lim)
		if err != nil {
			return nil, err
		}
		t := time.Now()
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		o, err := rd.WaitFor(wctx, id)
		cancel()
		if err != nil {
			return nil, err
		}
		if o.Status != model.StatusApplied {
			return nil, fmt.Errorf("job %s: %s %s", id, o.Status, o.Reason)
		}
		res.LatencyMS = append(res.LatencyMS, float64(time.Since(t).Microseconds())/1000)
	}
	return res, nil
}

type swapSpec struct {
	Store    string        `json:"store"`
	Verify   string        `json:"verify"`
	Entities int           `json:"entities"`
	Swaps    int           `json:"swaps"`
	Timeout  time.Duration `json:"timeout"`
}

type swapResult struct {
	SwapMS     []float64 `json:"swap_ms"`
	Queries    int64     `json:"queries"`
	Failed     int64     `json:"failed"`
	FirstError string    `json:"first_error,omitempty"`
}

func swapConfig(spec swapSpec) config.Config {
	cfg := readerConfig(spec.Store, "")
	cfg.Reader.Verify = spec.Verify
	return cfg
}

// runSwapper keeps two goroutines querying a long-lived reader (each one
// query, then 10ms of rest) while it refreshes onto each snapshot the writer
// publishes, timing each swap.
func runSwapper(ctx context.Context, spec swapSpec) (any, error) {
	_, rd, err := openReader(ctx, swapConfig(spec))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var res swapResult
	var queries, failed atomic.Int64
	var firstErr sync.Once
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 3))
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := mixQuery(ctx, rd, rng, k, spec.Entities); err != nil {
					failed.Add(1)
					firstErr.Do(func() { res.FirstError = err.Error() })
				}
				queries.Add(1)
				time.Sleep(10 * time.Millisecond)
			}
		}(uint64(g))
	}
	deadline := time.Now().Add(spec.Timeout)
	for len(res.SwapMS) < spec.Swaps && time.Now().Before(deadline) {
		t := time.Now()
		swapped, err := rd.Refresh(ctx)
		if err != nil {
			close(stop)
			wg.Wait()
			return nil, err
		}
		if swapped {
			res.SwapMS = append(res.SwapMS, float64(time.Since(t).Microseconds())/1000)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	res.Queries, res.Failed = queries.Load(), failed.Load()
	// A writer starved by the readers (it runs niced) may publish fewer
	// snapshots than asked for within the timeout; the swaps seen still
	// measure the refresh, but a handful is the least that means anything.
	if len(res.SwapMS) < min(3, spec.Swaps) {
		return nil, fmt.Errorf("saw %d of %d snapshots within %v", len(res.SwapMS), spec.Swaps, spec.Timeout)
	}
	return res, nil
}

type rssSpec struct {
	Store    string `json:"store"`
	Entities int    `json:"entities"`
}

type rssResult struct {
	IdleMB     float64 `json:"idle_mb"`
	IdleAnonMB float64 `json:"idle_anon_mb"`
	BusyMB     float64 `json:"busy_mb"`
}

// runRSS opens a reader with the default configuration, answers one query
// and reads its resident memory; then scans every entity, every 2-hop path
// and a broad search, and reads it again.
func runRSS(ctx context.Context, spec rssSpec) (any, error) {
	_, rd, err := openReader(ctx, readerConfig(spec.Store, ""))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	if _, err := rd.Query(ctx, qPoint, map[string]any{"n": entityName(1)}); err != nil {
		return nil, err
	}
	var res rssResult
	if res.IdleMB, err = rssMB(); err != nil {
		return nil, err
	}
	if res.IdleAnonMB, err = procKB("/proc/self/smaps_rollup", "Anonymous:"); err != nil {
		return nil, err
	}
	for _, q := range []string{
		"MATCH (e:Entity) RETURN e.name, e.entityType, e.observations",
		"MATCH (a:Entity)-[:Relation]->(:Entity)-[:Relation]->(c:Entity) RETURN a.name, c.name",
	} {
		if _, err := rd.Query(ctx, q, nil); err != nil {
			return nil, err
		}
	}
	if _, err := rd.SearchNodes(ctx, "memory graph", reader.SearchOptions{Limit: 100}); err != nil {
		return nil, err
	}
	if res.BusyMB, err = rssMB(); err != nil {
		return nil, err
	}
	return res, nil
}

// rssMB is this process's resident memory in MiB, from /proc/self/status.
func rssMB() (float64, error) { return procKB("/proc/self/status", "VmRSS:") }

// procKB reads the "field: N kB" line of a /proc file, in MiB.
func procKB(path, field string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read memory use: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err != nil {
				return 0, fmt.Errorf("read memory use: %q: %w", line, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("read memory use: no %s in %s", field, path)
}

// failures counts a worker's failed operations and keeps the first error.
// Embedded in a result, its fields appear as the result's own in JSON.
type failures struct {
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
}

// add counts err if it is not nil.
func (f *failures) add(err error) {
	if err == nil {
		return
	}
	f.Errors++
	if f.FirstError == "" {
		f.FirstError = err.Error()
	}
}

// merge adds another worker's failures to f.
func (f *failures) merge(o failures) {
	f.Errors += o.Errors
	if f.FirstError == "" {
		f.FirstError = o.FirstError
	}
}

// pace sleeps until next + every and returns that time: a loop that calls it
// once an iteration runs every every (flat out for every == 0), catching up
// after a slow iteration instead of drifting.
func pace(next time.Time, every time.Duration) time.Time {
	if every <= 0 {
		return next
	}
	next = next.Add(every)
	if d := time.Until(next); d > 0 {
		time.Sleep(d)
	}
	return next
}
