package bench

import "context"
import "fmt"
import "os"
import "path/filepath"
import "runtime"
import "slices"
import "time"

import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// workerLead is how far ahead workers are told to start measuring, so that
// every one of them has started and opened its store by then.
const workerLead = 3 * time.Second

// ReadersUnderWrite compares reader latency while the writer commits with
// the same readers idle, and counts what opening the Kuzu file directly
// beside a read-write holder gives.
type ReadersUnderWrite struct {
	Readers            int     `json:"readers"`
	Entities           int     `json:"entities"`
	Queries            int     `json:"queries"`
	Errors             int     `json:"errors"`
	P50MS              float64 `json:"p50_ms"`
	P99MS              float64 `json:"p99_ms"`
	IdleQueries        int     `json:"idle_queries"`
	IdleErrors         int     `json:"idle_errors"`
	IdleP50MS          float64 `json:"idle_p50_ms"`
	IdleP99MS          float64 `json:"idle_p99_ms"`
	CommitEveryMS      int64   `json:"commit_every_ms"`
	JobsWritten        int     `json:"jobs_written"`
	SnapshotsPublished uint64  `json:"snapshots_published"`
	ReaderSwaps        int64   `json:"reader_swaps"`
	DirectKuzuAttempts int     `json:"direct_kuzu_attempts"`
	DirectKuzuErrors   int     `json:"direct_kuzu_errors"`
	DirectKuzuError    string  `json:"direct_kuzu_error,omitempty"`
	// ByKind breaks the p99s down by the mix's kinds of query, and by a
	// process's first query on a snapshot it has just swapped to.
	ByKind []MixKind `json:"by_kind"`
}

// MixKind is the p99 of one kind of query in the read mix, idle and under
// write.
type MixKind struct {
	Kind        string  `json:"kind"`
	IdleQueries int     `json:"idle_queries"`
	IdleP99MS   float64 `json:"idle_p99_ms"`
	Queries     int     `json:"queries"`
	P99MS       float64 `json:"p99_ms"`
}

// byKind is the per-kind breakdown of an idle and a busy phase.
func byKind(idle, busy []mixResult) []MixKind {
	split := func(rs []mixResult, want func(tag uint8) bool) (lat []float64) {
		for _, m := range rs {
			for i, us := range m.LatencyUS {
				if i < len(m.Tags) && want(m.Tags[i]) {
					lat = append(lat, float64(us)/1000)
				}
			}
		}
		return lat
	}
	var out []MixKind
	add := func(kind string, want func(uint8) bool) {
		il, bl := split(idle, want), split(busy, want)
		out = append(out, MixKind{Kind: kind, IdleQueries: len(il), IdleP99MS: percentile(il, 99), Queries: len(bl), P99MS: percentile(bl, 99)})
	}
	for k, name := range mixKinds {
		add(name, func(t uint8) bool { return int(t&^mixFirst) == k && t&mixFirst == 0 })
	}
	add("first on a new snapshot", func(t uint8) bool { return t&mixFirst != 0 })
	return out
}

// mixPhase runs readers mix workers together and gathers their results.
func (r *runner) mixPhase(ctx context.Context, store string, readers int, every time.Duration, d time.Duration, at int64) ([]mixResult, error) {
	var ps []*proc
	for i := 0; i < readers; i++ {
		p, err := r.worker(ctx, "mix", mixSpec{Store: store, Entities: r.sc.entities, window: window{at, d},
			Every: every, Refresh: "@every 1s", Seed: uint64(i + 1)})
		if err != nil {
			killAll(ps)
			return nil, err
		}
		ps = append(ps, p)
	}
	return waitAll[mixResult](ps)
}

func mixStats(rs []mixResult) (queries, errors int, lat []float64, swaps int64, firstErr string) {
	var f failures
	for _, m := range rs {
		queries += m.Queries
		swaps += m.Refreshes
		for _, us := range m.LatencyUS {
			lat = append(lat, float64(us)/1000)
		}
		f.merge(m.failures)
	}
	return queries, f.Errors, lat, swaps, f.FirstError
}

func (r *runner) readersUnderWrite(ctx context.Context) (*ReadersUnderWrite, error) {
	store, err := r.store(ctx, r.sc.entities)
	if err != nil {
		return nil, err
	}
	out := &ReadersUnderWrite{Readers: r.sc.readers, Entities: r.sc.entities, CommitEveryMS: r.sc.commitEvery.Milliseconds()}
	idle, err := r.idleReaders(ctx, store, out)
	if err != nil {
		return nil, err
	}
	s, err := snapshot.Open(store)
	if err != nil {
		return nil, err
	}
	busy, err := r.readersUnderDaemon(ctx, s, out)
	if err != nil {
		return nil, err
	}
	out.ByKind = byKind(idle, busy)
	if err := r.directReaders(ctx, s, out); err != nil {
		return nil, err
	}
	return out, nil
}

// idleReaders runs the readers alone.
func (r *runner) idleReaders(ctx context.Context, store string, out *ReadersUnderWrite) ([]mixResult, error) {
	idle, err := r.mixPhase(ctx, store, r.sc.readers, r.sc.queryEvery, r.sc.phase, startAt(workerLead))
	if err != nil {
		return nil, err
	}
	var lat []float64
	var first string
	out.IdleQueries, out.IdleErrors, lat, _, first = mixStats(idle)
	out.IdleP50MS, out.IdleP99MS = percentile(lat, 50), percentile(lat, 99)
	if out.IdleErrors > 0 {
		return nil, fmt.Errorf("idle readers failed %d queries: %s", out.IdleErrors, first)
	}
	return idle, nil
}

// readersUnderDaemon runs the readers while a producer queues a memory
// tool's writes ten times a second and the daemon commits them on its
// schedule.
func (r *runner) readersUnderDaemon(ctx context.Context, s *snapshot.Store, out *ReadersUnderWrite) ([]mixResult, error) {
	store := s.Dir()
	cfgFile := r.path("rw-daemon.json")
	if err := writeConfigFile(cfgFile, map[string]any{"writer": map[string]any{"commit": fmt.Sprintf("@every %v", r.sc.commitEvery)}}); err != nil {
		return nil, err
	}
	seq0, _ := s.Current()
	daemon, err := r.cli(ctx, store, cfgFile, "daemon")
	if err != nil {
		return nil, err
	}
	at := startAt(workerLead)
	prod, err := r.worker(ctx, "produce", produceSpec{Store: store, window: window{at, r.sc.phase}, Every: 100 * time.Millisecond,
		Kind: "flow", Prefix: "rw", Entities: r.sc.entities})
	if err != nil {
		_ = daemon.stop()
		return nil, err
	}
	busy, err := r.mixPhase(ctx, store, r.sc.readers, r.sc.queryEvery, r.sc.phase, at)
	var pr produceResult
	if perr := prod.wait(&pr); err == nil {
		err = perr
	}
	if derr := daemon.stop(); err == nil {
		err = derr
	}
	if err != nil {
		return nil, err
	}
	seq1, _ := s.Current()
	out.JobsWritten, out.SnapshotsPublished = pr.Jobs, seq1-seq0
	var lat []float64
	var first string
	out.Queries, out.Errors, lat, out.ReaderSwaps, first = mixStats(busy)
	out.P50MS, out.P99MS = percentile(lat, 50), percentile(lat, 99)
	if out.Errors > 0 {
		r.log.Warn("readers failed queries under write", "errors", out.Errors, "first", first)
	}
	return busy, nil
}

// directReaders is today's way: the same readers open a copy of CURRENT's
// Kuzu file directly while one process holds it read-write.
func (r *runner) directReaders(ctx context.Context, s *snapshot.Store, out *ReadersUnderWrite) error {
	path := r.path("direct", "graph.kuzu")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	cur, _ := s.Current()
	if err := fsutil.CopyFile(path, filepath.Join(s.SnapshotDir(cur), snapshot.GraphFile)); err != nil {
		return err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return err
	}
	directFor := max(r.sc.phase/3, time.Second)
	ready := path + ".ready"
	holder, err := r.worker(ctx, "hold", holdSpec{Path: path, Ready: ready, For: directFor + workerLead + 2*time.Second})
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); !fileExists(ready); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			killAll([]*proc{holder})
			return fmt.Errorf("the read-write holder did not open %s", path)
		}
	}
	var ps []*proc
	at := startAt(workerLead)
	for i := 0; i < r.sc.readers; i++ {
		p, err := r.worker(ctx, "direct", directSpec{Path: path, window: window{at, directFor}, Every: 100 * time.Millisecond})
		if err != nil {
			killAll(append(ps, holder))
			return err
		}
		ps = append(ps, p)
	}
	direct, err := waitAll[directResult](ps)
	if herr := holder.wait(nil); err == nil {
		err = herr
	}
	if err != nil {
		return err
	}
	var f failures
	for _, d := range direct {
		out.DirectKuzuAttempts += d.Attempts
		f.merge(d.failures)
	}
	out.DirectKuzuErrors, out.DirectKuzuError = f.Errors, f.FirstError
	return nil
}

// Apply compares loading the same create_entities rows three ways.
type Apply struct {
	Rows                 int     `json:"rows"`
	MemsnapRowsPerS      float64 `json:"memsnap_rows_per_s"`
	PerStatementRowsPerS float64 `json:"per_statement_rows_per_s"`
	CopyFromRowsPerS     float64 `json:"copy_from_rows_per_s"`
	// MemsnapCommitRowsPerS counts the whole commit: staging, apply, publish.
	MemsnapCommitRowsPerS float64 `json:"memsnap_commit_rows_per_s"`
	PerStatementRows      int     `json:"per_statement_rows"`
}

func (r *runner) apply(ctx context.Context) (*Apply, error) {
	rows := r.sc.applyRows
	out := &Apply{Rows: rows, PerStatementRows: r.sc.perStatementRows}

	dir := r.path("apply", "store")
	s, err := snapshot.Init(dir)
	if err != nil {
		return nil, err
	}
	if err := enqueueCreates(s, 0, rows); err != nil {
		return nil, err
	}
	sum, err := r.commit(ctx, dir)
	if err != nil {
		return nil, err
	}
	if sum.Applied != (rows+999)/1000 {
		return nil, fmt.Errorf("memsnap applied %d jobs, expected %d", sum.Applied, (rows+999)/1000)
	}
	out.MemsnapRowsPerS = float64(rows) / (sum.Phases.Apply / 1000)
	out.MemsnapCommitRowsPerS = float64(rows) / (sum.DurationMS / 1000)

	p, err := r.worker(ctx, "perstatement", rowsSpec{Dir: r.path("apply", "perstatement"), Rows: r.sc.perStatementRows})
	if err != nil {
		return nil, err
	}
	var ps rowsResult
	if err := p.wait(&ps); err != nil {
		return nil, err
	}
	out.PerStatementRowsPerS = float64(ps.Rows) / ps.Seconds

	p, err = r.worker(ctx, "copyfrom", rowsSpec{Dir: r.path("apply", "copyfrom"), Rows: rows})
	if err != nil {
		return nil, err
	}
	var cf rowsResult
	if err := p.wait(&cf); err != nil {
		return nil, err
	}
	out.CopyFromRowsPerS = float64(cf.Rows) / cf.Seconds
	return out, nil
}

// commit runs "memsnap commit" on store with every queued job in one batch
// and returns its summary.
func (r *runner) commit(ctx context.Context, store string) (writer.Summary, error) {
	var sum writer.Summary
	cfgFile := r.path("bulk-commit.json")
	if !fileExists(cfgFile) {
		if err := writeConfigFile(cfgFile, map[string]any{"writer": map[string]any{
			"max_batch_jobs": 1 << 20, "max_batch_bytes": int64(1) << 40, "buffer_pool_mb": 1024}}); err != nil {
			return sum, err
		}
	}
	p, err := r.cli(ctx, store, cfgFile, "commit")
	if err != nil {
		return sum, err
	}
	return sum, p.wait(&sum)
}

// Publish compares publishing a small batch onto a store of DBMB with a
// plain copy of the same files.
type Publish struct {
	DBMB float64 `json:"db_mb"`
	// PublishMS is the whole commit of the batch: stage the copy, apply,
	// fsync and checksum, rename, swap CURRENT (median of the runs).
	PublishMS float64 `json:"publish_ms"`
	// CopyMS is copying every file of the snapshot and fsyncing them.
	CopyMS float64 `json:"copy_ms"`
	// ApplyMS is the batch's apply time within PublishMS.
	ApplyMS float64 `json:"apply_ms"`
	// StageMS and PublishStepMS split PublishMS further.
	StageMS       float64 `json:"stage_ms"`
	PublishStepMS float64 `json:"publish_step_ms"`
	Entities      int     `json:"entities"`
}

// entitiesFor is about how many generated entities (with their relations)
// make a snapshot of mb megabytes; targets under about 16 MB get 1000
// entities.
func entitiesFor(mb int) int { return max(1000, (mb-15)*600) }

func (r *runner) publish(ctx context.Context) ([]Publish, error) {
	var out []Publish
	for _, mb := range r.sc.publishMB {
		n := entitiesFor(mb)
		dir := r.path(fmt.Sprintf("publish-%d", mb), "store")
		if err := buildStore(ctx, dir, n); err != nil {
			return nil, fmt.Errorf("build a %d MB store: %w", mb, err)
		}
		s, err := snapshot.Open(dir)
		if err != nil {
			return nil, err
		}
		row := Publish{Entities: n}
		var pubs, copies, applies, stages, steps []float64
		for run := 0; run < r.sc.publishRuns; run++ {
			cur, _ := s.Current()
			row.DBMB = float64(fsutil.TreeSize(s.SnapshotDir(cur))) / (1 << 20)
			t := time.Now()
			if err := plainCopy(s.SnapshotDir(cur), r.path(fmt.Sprintf("publish-%d", mb), fmt.Sprintf("copy-%d", run))); err != nil {
				return nil, err
			}
			copies = append(copies, float64(time.Since(t).Microseconds())/1000)
			if err := os.RemoveAll(r.path(fmt.Sprintf("publish-%d", mb), fmt.Sprintf("copy-%d", run))); err != nil {
				return nil, err
			}
			lim := bulkConfig(dir).Job.Limits()
			for k := 0; k < 10; k++ {
				if _, err := producer.Enqueue(s, tinyJob(fmt.Sprintf("pub-%d-%d", run, k)), lim); err != nil {
					return nil, err
				}
			}
			sum, err := r.commit(ctx, dir)
			if err != nil {
				return nil, err
			}
			pubs = append(pubs, sum.DurationMS)
			applies = append(applies, sum.Phases.Apply)
			stages = append(stages, sum.Phases.Stage)
			steps = append(steps, sum.Phases.Publish)
		}
		row.PublishMS, row.CopyMS, row.ApplyMS = median(pubs), median(copies), median(applies)
		row.StageMS, row.PublishStepMS = median(stages), median(steps)
		out = append(out, row)
		if err := os.RemoveAll(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// plainCopy copies every regular file under src to dst the way any backup
// would, and fsyncs the files and directories.
func plainCopy(src, dst string) error {
	return mirror(src, dst, func(_, to string, _ os.DirEntry) error {
		if err := os.MkdirAll(to, 0o700); err != nil {
			return err
		}
		return fsutil.SyncDir(filepath.Dir(to))
	}, func(from, to string, _ os.DirEntry) error {
		if err := fsutil.CopyFile(to, from); err != nil {
			return err
		}
		return fsutil.SyncFile(to)
	})
}

// Enqueue compares durable enqueues from several processes with the bare
// write+fsync+rename+dir-fsync loop they are built on.
type Enqueue struct {
	Producers     int     `json:"producers"`
	JobsPerS      float64 `json:"jobs_per_s"`
	BareFsyncPerS float64 `json:"bare_fsync_per_s"`
	Errors        int     `json:"errors"`
	JobBytes      int     `json:"job_bytes"`
}

func (r *runner) enqueue(ctx context.Context) (*Enqueue, error) {
	dir := r.path("enqueue", "store")
	if _, err := snapshot.Init(dir); err != nil {
		return nil, err
	}
	out := &Enqueue{Producers: r.sc.producers, JobBytes: len(tinyJob("p-0-0000"))}
	at := startAt(workerLead)
	var ps []*proc
	for i := 0; i < r.sc.producers; i++ {
		p, err := r.worker(ctx, "enqueue", enqueueABSpec{Store: dir, Bare: r.path("enqueue", "bare"), Prefix: fmt.Sprintf("p-%d", i),
			window: window{at, r.sc.enqueueFor}, Slot: 250 * time.Millisecond})
		if err != nil {
			killAll(ps)
			return nil, err
		}
		ps = append(ps, p)
	}
	res, err := waitAll[enqueueABResult](ps)
	if err != nil {
		return nil, err
	}
	var f failures
	for _, p := range res {
		out.JobsPerS += float64(p.Jobs) / p.JobSeconds
		out.BareFsyncPerS += float64(p.Bare) / p.BareSeconds
		f.merge(p.failures)
	}
	if out.Errors = f.Errors; out.Errors > 0 {
		return out, fmt.Errorf("%d enqueues failed: %s", out.Errors, f.FirstError)
	}
	return out, nil
}

// Visibility is enqueue-to-visible latency through the daemon, and of
// "memsnap enqueue --wait" with no daemon.
type Visibility struct {
	CommitIntervalMS int64   `json:"commit_interval_ms"`
	Jobs             int     `json:"jobs"`
	P50MS            float64 `json:"p50_ms"`
	P99MS            float64 `json:"p99_ms"`
	WaitJobs         int     `json:"wait_jobs"`
	WaitP50MS        float64 `json:"wait_p50_ms"`
	WaitP99MS        float64 `json:"wait_p99_ms"`
	StoreMB          float64 `json:"store_mb"`
}

func (r *runner) visibility(ctx context.Context) (*Visibility, error) {
	n := r.sc.visibilityStore
	store, err := r.store(ctx, n)
	if err != nil {
		return nil, err
	}
	s, err := snapshot.Open(store)
	if err != nil {
		return nil, err
	}
	cur, _ := s.Current()
	out := &Visibility{CommitIntervalMS: 1000, Jobs: r.sc.visibilityJobs, WaitJobs: r.sc.waitJobs,
		StoreMB: float64(fsutil.TreeSize(s.SnapshotDir(cur))) / (1 << 20)}
	cfgFile := r.path("vis-daemon.json")
	if err := writeConfigFile(cfgFile, map[string]any{"writer": map[string]any{"commit": "@every 1s"}}); err != nil {
		return nil, err
	}
	daemon, err := r.cli(ctx, store, cfgFile, "daemon")
	if err != nil {
		return nil, err
	}
	p, err := r.worker(ctx, "visibility", visSpec{Store: store, Jobs: r.sc.visibilityJobs, Spread: time.Second, Entities: n})
	if err != nil {
		_ = daemon.stop()
		return nil, err
	}
	var vr visResult
	err = p.wait(&vr)
	if derr := daemon.stop(); err == nil {
		err = derr
	}
	if err != nil {
		return nil, err
	}
	out.P50MS, out.P99MS = percentile(vr.LatencyMS, 50), percentile(vr.LatencyMS, 99)

	// --wait, no daemon: the enqueuing process commits itself.
	var waits []float64
	for k := 0; k < r.sc.waitJobs; k++ {
		job := r.path(fmt.Sprintf("wait-%d.json", k))
		if err := os.WriteFile(job, flowJob(fmt.Sprintf("wait-%d", k), k, n), 0o600); err != nil {
			return nil, err
		}
		t := time.Now()
		p, err := r.cli(ctx, store, "", "enqueue", "-f", job, "--wait=1m")
		if err != nil {
			return nil, err
		}
		if err := p.wait(nil); err != nil {
			return nil, err
		}
		waits = append(waits, float64(time.Since(t).Microseconds())/1000)
	}
	out.WaitP50MS, out.WaitP99MS = percentile(waits, 50), percentile(waits, 99)
	return out, nil
}

// Swap is the refresh time of a long-lived, busy reader onto each new
// snapshot, and the queries that failed meanwhile.
type Swap struct {
	Refreshes     int     `json:"refreshes"`
	P50MS         float64 `json:"p50_ms"`
	P99MS         float64 `json:"p99_ms"`
	Queries       int64   `json:"queries"`
	FailedQueries int64   `json:"failed_queries"`
	FirstError    string  `json:"first_error,omitempty"`
	// VerifySize* are the same run with reader.verify = size (sizes and the
	// manifest's checksum, not every file's): what full verification costs.
	VerifySizeP50MS float64 `json:"verify_size_p50_ms"`
	VerifySizeP99MS float64 `json:"verify_size_p99_ms"`
}

func (r *runner) swap(ctx context.Context) (*Swap, error) {
	full, err := r.swapRound(ctx, "full")
	if err != nil {
		return nil, err
	}
	size, err := r.swapRound(ctx, "size")
	if err != nil {
		return nil, err
	}
	return &Swap{Refreshes: len(full.SwapMS), P50MS: percentile(full.SwapMS, 50), P99MS: percentile(full.SwapMS, 99),
		Queries: full.Queries + size.Queries, FailedQueries: full.Failed + size.Failed, FirstError: full.FirstError + size.FirstError,
		VerifySizeP50MS: percentile(size.SwapMS, 50), VerifySizeP99MS: percentile(size.SwapMS, 99)}, nil
}

// swapRound runs the swap benchmark with the reader verifying new snapshots
// as reader.verify = verify says.
func (r *runner) swapRound(ctx context.Context, verify string) (*swapResult, error) {
	store, err := r.store(ctx, r.sc.entities)
	if err != nil {
		return nil, err
	}
	cfgFile := r.path("swap-daemon.json")
	if err := writeConfigFile(cfgFile, map[string]any{"writer": map[string]any{"commit": "@every 300ms"}}); err != nil {
		return nil, err
	}
	daemon, err := r.cli(ctx, store, cfgFile, "daemon")
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(r.sc.swaps)*2*time.Second + 30*time.Second
	if r.opts.Smoke {
		// The smoke run (make test) checks that the harness works, not how
		// fast the machine is: a writer starved on a loaded machine must not
		// fail it. The worker stops as soon as it has seen its swaps.
		timeout = 20 * time.Minute
	}
	prod, err := r.worker(ctx, "produce", produceSpec{Store: store, window: window{startAt(0), timeout}, Every: 100 * time.Millisecond,
		Kind: "flow", Prefix: "swap", Entities: r.sc.entities})
	if err != nil {
		_ = daemon.stop()
		return nil, err
	}
	p, err := r.worker(ctx, "swap", swapSpec{Store: store, Entities: r.sc.entities, Swaps: r.sc.swaps, Timeout: timeout, Verify: verify})
	if err != nil {
		killAll([]*proc{prod})
		_ = daemon.stop()
		return nil, err
	}
	var sr swapResult
	err = p.wait(&sr)
	killAll([]*proc{prod}) // it runs until the timeout otherwise
	_ = prod.cmd.Wait()
	if derr := daemon.stop(); err == nil {
		err = derr
	}
	if err != nil {
		return nil, err
	}
	return &sr, nil
}

// RSS is a reader process's resident memory idle and after large reads.
type RSS struct {
	IdleReaderMB float64 `json:"idle_reader_mb"`
	BusyReaderMB float64 `json:"busy_reader_mb"`
	// IdleReaderAnonMB is the part of IdleReaderMB that is the process's
	// own (anonymous) memory: the rest is program text and libkuzu pages,
	// shared by every reader process.
	IdleReaderAnonMB float64 `json:"idle_reader_anon_mb"`
	Entities         int     `json:"entities"`
}

func (r *runner) rss(ctx context.Context) (*RSS, error) {
	store, err := r.store(ctx, r.sc.entities)
	if err != nil {
		return nil, err
	}
	p, err := r.worker(ctx, "rss", rssSpec{Store: store, Entities: r.sc.entities})
	if err != nil {
		return nil, err
	}
	var res rssResult
	if err := p.wait(&res); err != nil {
		return nil, err
	}
	return &RSS{IdleReaderMB: res.IdleMB, BusyReaderMB: res.BusyMB, IdleReaderAnonMB: res.IdleAnonMB, Entities: r.sc.entities}, nil
}

// Scaling is the read throughput of n reader processes running the mix flat
// out.
type Scaling struct {
	Readers int     `json:"readers"`
	QPS     float64 `json:"qps"`
	P50MS   float64 `json:"p50_ms"`
}

// readerCounts is 1, 2, 4 ... up to the number of cores (and at least 2).
func readerCounts() []int {
	var out []int
	for n := 1; n <= max(runtime.NumCPU(), 2); n *= 2 {
		out = append(out, n)
	}
	return out
}

func (r *runner) scaling(ctx context.Context) ([]Scaling, error) {
	store, err := r.store(ctx, r.sc.entities)
	if err != nil {
		return nil, err
	}
	var out []Scaling
	for _, n := range readerCounts() {
		res, err := r.mixPhase(ctx, store, n, 0, r.sc.scalingFor, startAt(workerLead))
		if err != nil {
			return nil, err
		}
		q, errs, lat, _, first := mixStats(res)
		if errs > 0 {
			return nil, fmt.Errorf("%d readers failed %d queries: %s", n, errs, first)
		}
		out = append(out, Scaling{Readers: n, QPS: float64(q) / r.sc.scalingFor.Seconds(), P50MS: percentile(lat, 50)})
	}
	return out, nil
}

// percentile is the nearest-rank p-th percentile of xs (0 for none).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(k, 0), len(s)-1)]
}

func median(xs []float64) float64 { return percentile(xs, 50) }
