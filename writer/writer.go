package writer

import "context"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "path/filepath"
import "runtime"
import "strings"
import "sync"
import "sync/atomic"
import "time"

import "github.com/memsnap/memsnap/internal/failpoint"
import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/kvstore"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/internal/steptimer"
import "github.com/memsnap/memsnap/internal/sysinfo"
import "github.com/memsnap/memsnap/snapshot"

// Writer runs commit cycles on one store. A Writer holds no resources between
// calls; each Commit takes the writer lock for its own duration only.
type Writer struct {
	store *snapshot.Store
	opts  Options
	log   *slog.Logger
	space *spaceProbe
}

// repairAdvice tells a user how to get past a corrupt CURRENT or a CURRENT
// snapshot that does not verify: Repair mends both.
const repairAdvice = "Run '" + snapshot.RepairCommand + "' to point CURRENT at the newest snapshot that verifies " +
	"(if that is an older one, the jobs applied after it are queued again; 'memsnap snapshots verify' lists every problem)"

// RefusedError is a commit the writer refused to start because CURRENT, or
// the snapshot it names, cannot be built on: Err says why (errors.Is(err,
// snapshot.ErrCorrupt) holds for damage), Refusal what was refused
// ("refusing to write", "refusing to build on it") and Hint what to do,
// which the message ends with. Nothing was changed.
type RefusedError struct {
	Err     error
	Refusal string
	Hint    string
}

func (e *RefusedError) Error() string {
	msg := e.Err.Error() + "; " + e.Refusal
	if e.Hint != "" {
		msg += ". " + e.Hint
	}
	return msg
}

func (e *RefusedError) Unwrap() error { return e.Err }

// ErrorHint returns Hint (Error says it too).
func (e *RefusedError) ErrorHint() string { return e.Hint }

// refuse is a *RefusedError with the repair advice as its hint. A
// *snapshot.CurrentError it wraps loses its own hint, which says the same:
// the message gives the repair once.
func refuse(err error, refusal string) error {
	if ce, ok := err.(*snapshot.CurrentError); ok && ce.Hint != "" {
		bare := *ce
		bare.Hint = ""
		err = &bare
	}
	return &RefusedError{Err: err, Refusal: refusal, Hint: repairAdvice}
}

// New returns a writer for store.
func New(store *snapshot.Store, opts Options, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer{store: store, opts: opts, log: log.With("component", "writer"), space: &spaceProbe{store: store, opts: opts}}
}

// CommitOptions adjusts one Commit call.
type CommitOptions struct {
	// MaxJobs caps the jobs of each batch below Options.MaxBatchJobs (0 = no cap).
	MaxJobs int
	// MaxRounds overrides Options.MaxRounds (0 = keep it).
	MaxRounds int
	// LockTimeout overrides Options.LockTimeout when non-nil.
	LockTimeout *time.Duration
}

// Summary reports what a Commit did.
type Summary struct {
	Batches    int      `json:"batches"`
	Applied    int      `json:"applied"`
	Rejected   int      `json:"rejected"`
	Recovered  int      `json:"recovered"`
	Duplicates int      `json:"duplicates"`
	Snapshots  []uint64 `json:"snapshots"`
	Current    uint64   `json:"current"`
	QueueLeft  int      `json:"queue_left"`
	DurationMS float64  `json:"duration_ms"`
	// Phases splits DurationMS: where the time of every batch went.
	Phases Phases `json:"phases_ms"`
	// Stages says how each batch's stage was made, in batch order.
	Stages []StageReport `json:"stages,omitempty"`
	// Collected lists the snapshots the commit's closing GC removed (see
	// Commit); GCError is why that GC failed, if it did (the batches stand).
	Collected []uint64 `json:"collected,omitempty"`
	GCError   string   `json:"gc_error,omitempty"`
	// NoSpace, when set, says why jobs were left queued: the batches
	// published, then not even the next job fitted in the free space.
	NoSpace *NoSpaceError `json:"no_space,omitempty"`
}

// StageReport says how one batch's stage was made.
type StageReport struct {
	// Snapshot is the snapshot the stage became.
	Snapshot uint64 `json:"snapshot"`
	// Method is how its graph was made: "empty" (the first snapshot),
	// "copy" (every byte of CURRENT's graph copied), "reflink" (cloned, no
	// data written) or "recycled" (an unneeded older snapshot's graph, with
	// the Replayed jobs it missed applied again).
	Method   string `json:"method"`
	Recycled uint64 `json:"recycled,omitempty"`
	Replayed int    `json:"replayed,omitempty"`
	// Fallback says why the graph was copied although a cheaper way was
	// looked for (nothing recyclable, or a replay that failed).
	Fallback string `json:"fallback,omitempty"`
}

// Phases is the time, in milliseconds summed over a Commit's batches, spent
// in each step of the writer cycle.
type Phases struct {
	// Stage: making staging/ from CURRENT (reflink, recycling an older
	// snapshot's graph, or a full copy) and hard-linking its kv.
	Stage float64 `json:"stage"`
	// Replay: bringing a recycled graph up to CURRENT (opening it, applying
	// the batches it missed, checkpointing, checking its counts), and the
	// copy that replaces it if that fails.
	Replay float64 `json:"replay"`
	// Apply: opening the staged graph and kv, writing the batch,
	// checkpointing and closing both.
	Apply float64 `json:"apply"`
	// Publish: archiving job files, fsyncing and checksumming the new files,
	// writing the manifest and swapping CURRENT.
	Publish float64 `json:"publish"`
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// Commit takes the writer lock (waiting up to the lock timeout), recovers
// from any crashed writer, then applies queued jobs in batches, publishing one
// snapshot per batch. It runs another batch only while the batch limits
// leave behind jobs that were queued when it looked, up to the round limit;
// jobs queued during a batch wait for the next Commit.
// With nothing to do it publishes nothing. Either way it ends, still
// under the lock, with what GC does (see collect), so that disk stays
// bounded without a daemon.
func (w *Writer) Commit(ctx context.Context, opts CommitOptions) (sum Summary, err error) {
	start := time.Now()
	timeout := w.opts.LockTimeout
	if opts.LockTimeout != nil {
		timeout = *opts.LockTimeout
	}
	lock, err := AcquireLock(ctx, w.store, timeout)
	if err != nil {
		return sum, err
	}
	defer lock.Release()
	if lock.Waited > 0 {
		w.log.Info("waited for the writer lock", "waited_ms", lock.Waited.Milliseconds(), "holder_pid", lock.WaitedFor.PID)
	}
	defer func() { sum.DurationMS = float64(time.Since(start).Microseconds()) / 1000 }()

	if _, err := w.store.Current(); err != nil {
		return sum, refuse(err, "refusing to write")
	}
	if err := w.removeLeftovers("commit"); err != nil {
		return sum, err
	}
	if err := w.store.WipeStaging(); err != nil {
		return sum, fmt.Errorf("recover: %w", err)
	}
	if err := w.store.EmptyTrash(); err != nil {
		// Nothing in trash/ is served or needed: the commit goes on.
		w.log.Warn("could not empty trash/; the next commit or gc tries again", "error", err)
	}
	if n, err := w.store.Queue().RemoveDeadTemps(); err != nil {
		return sum, fmt.Errorf("recover: %w", err)
	} else if n > 0 {
		w.log.Info("removed job files of producers that died before queueing them", "files", n)
	}
	rounds := w.opts.MaxRounds
	if opts.MaxRounds > 0 {
		rounds = opts.MaxRounds
	}
	maxJobs := w.opts.MaxBatchJobs
	if opts.MaxJobs > 0 && opts.MaxJobs < maxJobs {
		maxJobs = opts.MaxJobs
	}
	var verified uint64 // the snapshot this commit last checked or published
	for round := 0; round < rounds; round++ {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		published, full, err := w.cycle(ctx, maxJobs, &verified, &sum)
		var nospace *NoSpaceError
		if errors.As(err, &nospace) && sum.Batches > 0 {
			// An earlier round published: the commit stands, and the jobs
			// that do not fit stay queued for when there is room.
			sum.NoSpace = nospace
			break
		}
		if err != nil {
			return sum, err
		}
		// Another round only for jobs the batch limits left behind: jobs
		// queued meanwhile wait for the next commit, so that a steady
		// trickle of jobs cannot keep one commit republishing the store
		// round after round.
		if !published || !full {
			break
		}
	}
	w.collect(&sum)
	sum.Current, _ = w.store.Current()
	q, _ := w.store.Queue().Counts()
	sum.QueueLeft = q.New
	return sum, nil
}

// removeLeftovers is the first step of recovery: it refuses (a
// *snapshot.CurrentError naming the repair command, nothing deleted) when
// CURRENT names a missing snapshot or one older than a published one, and
// otherwise removes the snapshots a crashed writer left newer than CURRENT
// (see snapshot.Survey for how they are told apart). op names what is
// refused. Caller holds the writer lock.
func (w *Writer) removeLeftovers(op string) error {
	sv, err := w.store.CheckCurrent(op)
	if err != nil {
		return err
	}
	removed, err := w.store.RemoveLeftovers(sv)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if len(removed) > 0 {
		w.log.Warn("removed snapshots a crashed writer left unpublished (their jobs are still claimed and are applied again)", "seqs", removed)
	}
	return nil
}

// PublishEmpty publishes an empty first snapshot (an empty graph with its
// schema, an empty key-value store) when the store has none yet, so that
// readers opened on a new store answer (empty) at once instead of failing
// with snapshot.ErrNoSnapshot; 'memsnap init' calls it. On a store with a
// snapshot it does nothing and returns published false, unless CURRENT is
// corrupt, names a missing snapshot or one older than a published one: then
// it returns the *snapshot.CurrentError (snapshot.CheckCurrent) naming the
// repair. It takes the writer lock, waiting up to the lock timeout.
func (w *Writer) PublishEmpty(ctx context.Context) (seq uint64, published bool, err error) {
	lock, err := AcquireLock(ctx, w.store, w.opts.LockTimeout)
	if err != nil {
		return 0, false, err
	}
	defer lock.Release()
	if cur, err := w.store.Current(); err != nil {
		return 0, false, err
	} else if cur > 0 {
		// A store that has snapshots is checked as a commit would check it:
		// CURRENT naming a missing snapshot or one older than a published
		// one is refused, naming the repair.
		if _, err := w.store.CheckCurrent("check CURRENT"); err != nil {
			return cur, false, err
		}
		return cur, false, nil
	}
	if err := w.removeLeftovers("publish the empty first snapshot"); err != nil {
		return 0, false, err
	}
	if err := w.store.WipeStaging(); err != nil {
		return 0, false, fmt.Errorf("recover: %w", err)
	}
	var sum Summary
	m, err := w.build(ctx, nil, &sum, steptimer.New())
	if err != nil {
		return 0, false, fmt.Errorf("publish the empty first snapshot: %w", err)
	}
	return m.Seq, true, nil
}

// cycle runs one batch. It returns published false when there was nothing
// to apply, and full when the batch limits left queued jobs behind.
func (w *Writer) cycle(ctx context.Context, maxJobs int, verified *uint64, sum *Summary) (published, full bool, err error) {
	steps := steptimer.New()
	defer func() {
		if published {
			w.log.Debug("commit steps (ms)", steps.Attrs()...)
		}
	}()
	cur, err := w.store.Current()
	var ce *snapshot.CurrentError
	if errors.As(err, &ce) { // corrupt: the error names the repair
		refused := *ce
		refused.Op, refused.Reading = "commit", false
		return false, false, &refused
	}
	if err != nil {
		return false, false, refuse(err, "refusing to write")
	}
	var watermark uint64
	if cur > 0 {
		m, err := w.store.Manifest(cur)
		if errors.Is(err, snapshot.ErrNewerFormat) {
			return false, false, fmt.Errorf("refusing to build on CURRENT: %w", err) // rolling back would drop its work
		}
		if err != nil {
			return false, false, refuse(fmt.Errorf("CURRENT snapshot %d is unreadable: %w", cur, err), "refusing to build on it")
		}
		if *verified != cur {
			check := w.store.VerifyFiles
			if w.opts.Verifier != nil {
				check = func(m *snapshot.Manifest, sums bool) []error { return w.opts.Verifier.Files(w.store, m, sums) }
			}
			if err := snapshot.VerifyError(cur, check(m, true)); err != nil {
				return false, false, refuse(fmt.Errorf("CURRENT %w", err), "refusing to build on it")
			}
			*verified = cur
		}
		steps.Mark("check_current")
		watermark = m.Watermark
		if err := w.finishCleanup(m); err != nil {
			return false, false, err
		}
	}
	pending, err := w.store.Queue().Claimed()
	if err != nil {
		return false, false, err
	}
	next := watermark + 1
	if n := len(pending); n > 0 {
		next = max(next, pending[n-1].Seq+1)
		sum.Recovered += n
		w.log.Info("applying claimed jobs first (left by a writer that did not finish, or by a batch split for lack of space)", "jobs", n)
	}
	var bytes int64
	for _, c := range pending {
		bytes += c.Bytes(w.opts.Limits.MaxBytes)
	}
	fresh, badNames, full, err := w.store.Queue().Claim(next, maxJobs-len(pending), w.opts.MaxBatchBytes-bytes, w.opts.Limits.MaxBytes)
	for _, b := range badNames {
		w.log.Warn("job file in queue/new is not named <job id>.job; dead-lettered", "name", fmt.Sprintf("%q", b.Name), "dead_job", b.ID)
	}
	sum.Rejected += len(badNames) // rejected unread, so counted here and not by build
	if err != nil {
		return false, false, err
	}
	batch := append(pending, fresh...)
	if len(batch) == 0 {
		return false, false, nil
	}
	if n, err := w.fitting(batch); n == 0 {
		return false, false, err
	} else if n < len(batch) {
		// The largest prefix that fits is applied: claim order is apply
		// order, and the rest stays in queue/cur with seqs above the
		// watermark this snapshot publishes, so that the next round (or
		// the next writer's recovery) applies it first, exactly once.
		w.log.Warn("the claimed batch does not fit in the free space; applying the part that does",
			"jobs", n, "of", len(batch), "cause", err)
		batch, full = batch[:n], true
	}
	failpoint.Hit("after-claim")
	steps.Mark("claim")
	m, err := w.build(ctx, batch, sum, steps)
	if err != nil {
		return false, false, err
	}
	sum.Batches++
	sum.Snapshots = append(sum.Snapshots, m.Seq)
	*verified = m.Seq // checksummed as it was published
	if err := w.finishCleanup(m); err != nil {
		return false, false, err
	}
	steps.Mark("cleanup")
	return true, full, nil
}

// finishCleanup removes claimed jobs that snapshot m already covers, moving
// the ones it rejected to queue/dead.
func (w *Writer) finishCleanup(m *snapshot.Manifest) error {
	q := w.store.Queue()
	cur, err := q.Claimed()
	if err != nil {
		return err
	}
	rejected := make(map[string]string, len(m.RejectedJobs))
	for _, r := range m.RejectedJobs {
		rejected[r.ID] = r.Reason
	}
	changed := false
	for _, c := range cur {
		if c.Seq > m.Watermark {
			continue
		}
		changed = true
		if reason, ok := rejected[c.ID]; ok {
			if err := q.DeadLetter(c, reason); err != nil {
				return err
			}
			continue
		}
		if err := q.RemoveClaimed(c); err != nil {
			return fmt.Errorf("remove applied job: %w", err)
		}
	}
	if changed {
		return q.SyncClaimedAndDead()
	}
	return nil
}

// batchJob is one claimed job with its decoded form or its rejection.
type batchJob struct {
	c    queue.Claimed
	path string // the job file, to decode it again (see decode)
	// job is the decoded job; applyTx drops it once the overlay has run it
	// (a bulk import's 400 jobs held 57 MB through Kuzu's COPY), and decode
	// reads it again for a retry.
	job    *model.Job
	at     time.Time
	reason string           // non-empty: rejected
	rej    *model.Rejection // the memory rules' rejection, when that is the reason
	dup    bool             // already applied by an earlier snapshot: skip, keep its outcome
	// What an applied job did: each op's result, its KV changes and its
	// change of the content digest (fsm.Result).
	results []model.OpResult
	kv      []fsm.KVChange
	delta   fsm.Digest
}

// readJobs reads and decodes the batch's job files, on every core: a
// bulk import's 400 jobs of 34 MB took 1.2 s to decode on one. A job that
// cannot be decoded gets its reason set (a *queue.DamagedError's for a
// file that is not well-formed JSON); an error reading is returned.
func (w *Writer) readJobs(batch []queue.Claimed) ([]*batchJob, error) {
	lim := w.opts.Limits
	jobs := make([]*batchJob, len(batch))
	errs := make([]error, len(batch))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(batch); i = int(next.Add(1) - 1) {
				c := batch[i]
				bj := &batchJob{c: c, path: w.store.Queue().Path(c), at: queue.JobTime(c.ID)}
				data, err := queue.ReadJobFile(bj.path, lim.MaxBytes)
				if err == nil {
					if bj.job, err = model.DecodeJob(data, lim); err != nil {
						if derr := queue.Damaged(bj.path, data); derr != nil {
							err = fmt.Errorf("%w; its job is lost, enqueue it again", derr) // damage, not the user's bad input
						}
					}
				}
				if err != nil {
					if !errors.Is(err, model.ErrInvalidJob) && !errors.Is(err, queue.ErrDamaged) {
						errs[i] = err
					}
					bj.reason = err.Error()
				}
				jobs[i] = bj
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return jobs, nil
}

// decode reads bj's job again if applyTx dropped it.
func (w *Writer) decode(bj *batchJob) error {
	if bj.job != nil {
		return nil
	}
	data, err := queue.ReadJobFile(bj.path, w.opts.Limits.MaxBytes)
	if err == nil {
		bj.job, err = model.DecodeJob(data, w.opts.Limits)
	}
	if err != nil {
		return fmt.Errorf("decode job %s again: %w", bj.c.ID, err)
	}
	return nil
}

// build stages, applies and publishes one batch.
func (w *Writer) build(ctx context.Context, batch []queue.Claimed, sum *Summary, steps *steptimer.Timer) (m *snapshot.Manifest, err error) {
	jobs, err := w.readJobs(batch)
	if err != nil {
		return nil, err
	}
	if err := w.checkSpace(jobs); err != nil {
		return nil, err
	}
	steps.Mark("read_jobs")
	t := time.Now()
	stage, err := w.store.NewStageWith(ctx, snapshot.StageOptions{Keep: w.opts.Keep, MinAge: w.opts.MinAge, History: w.opts.History, NoRecycle: w.opts.NoRecycle,
		RecycleMinBytes: int64(w.opts.RecycleMinMB) << 20, Verifier: w.opts.Verifier})
	if err != nil {
		return nil, err
	}
	sum.Phases.Stage += msSince(t)
	steps.Mark("stage")
	defer func() {
		if err != nil {
			stage.Abort()
		}
	}()
	t = time.Now()
	g, replay, err := w.replay(ctx, stage, jobs)
	if err != nil {
		return nil, err
	}
	sum.Phases.Replay += msSince(t)
	steps.Mark("replay")
	t = time.Now()
	counts, err := w.applyOrCopy(ctx, stage, jobs, sum, g, replay)
	if err != nil {
		return nil, err
	}
	sum.Phases.Apply += msSince(t)
	steps.Mark("apply")
	src := stage.Source()
	sum.Stages = append(sum.Stages, StageReport{Snapshot: stage.Seq(), Method: src.Method,
		Recycled: src.Recycled, Replayed: src.Replayed, Fallback: src.Fallback})
	t = time.Now()
	man := snapshot.Manifest{Entities: counts.entities, Relations: counts.relations, KVKeys: counts.kvKeys,
		Digest: counts.digest.String()}
	if len(batch) > 0 {
		man.Watermark = batch[len(batch)-1].Seq
	}
	if p := stage.Parent(); p != nil && p.Watermark > man.Watermark {
		man.Watermark = p.Watermark
	}
	for _, bj := range jobs {
		if bj.dup {
			continue
		}
		if bj.reason == "" {
			if err := stage.ArchiveJob(w.store.Queue().Path(bj.c), bj.c.Name); err != nil {
				return nil, err
			}
		}
		if bj.reason != "" {
			man.Rejected++
			man.RejectedJobs = append(man.RejectedJobs, snapshot.RejectedJob{ID: bj.c.ID, File: bj.c.Name,
				// An engine's message may quote bytes that are not UTF-8;
				// the manifest refuses those (it must read back as written).
				Reason: strings.ToValidUTF8(bj.reason, "\uFFFD")})
		} else {
			man.Applied++
		}
	}
	if err := stage.Publish(man); err != nil {
		return nil, err
	}
	sum.Phases.Publish += msSince(t)
	steps.Mark("publish")
	sum.Applied += man.Applied
	sum.Rejected += man.Rejected
	w.log.Info("published snapshot", "seq", stage.Seq(), "applied", man.Applied, "rejected", man.Rejected,
		"entities", man.Entities, "relations", man.Relations)
	for _, r := range man.RejectedJobs {
		w.log.Warn("job rejected", "job_id", r.ID, "reason", r.Reason)
	}
	pub, err := w.store.Manifest(stage.Seq())
	if err == nil && w.opts.Verifier != nil {
		// Publish checksummed these very files: the next commit's check of
		// CURRENT need not read them again.
		for _, f := range pub.Files {
			w.opts.Verifier.Trust(filepath.Join(w.store.SnapshotDir(pub.Seq), filepath.FromSlash(f.Path)), f)
		}
	}
	return pub, err
}

// applyOrCopy applies jobs after the replay of a recycled graph (see
// apply). When the replay does not give CURRENT's graph (errReplayDiffers,
// found after it committed with the batch), it stages a copy of CURRENT's
// graph instead and applies the jobs again from scratch.
func (w *Writer) applyOrCopy(ctx context.Context, stage *snapshot.Stage, jobs []*batchJob, sum *Summary, g *openGraph, replay []*batchJob) (storeCounts, error) {
	dups, invalid := sum.Duplicates, make([]string, len(jobs))
	for i, bj := range jobs {
		invalid[i] = bj.reason
	}
	counts, err := w.apply(ctx, stage, jobs, sum, g, replay)
	if !errors.Is(err, errReplayDiffers) || ctx.Err() != nil {
		return counts, err
	}
	if err := w.replayFailed(stage, err); err != nil {
		return counts, err
	}
	for i, bj := range jobs {
		bj.reason, bj.dup = invalid[i], false
		bj.rej, bj.results, bj.kv, bj.delta = nil, nil, nil, fsm.Digest{}
	}
	sum.Duplicates = dups
	return w.apply(ctx, stage, jobs, sum, nil, nil)
}

// bufferPool sizes Kuzu's page cache for applying jobs to stage: at least
// writer.buffer_pool_mb, and twice what the graph will hold (its size now
// plus ten times the batch's job bytes), capped at half the machine's
// memory. Kuzu fails a write ("the buffer pool is full") rather than spill,
// so a fixed pool would leave a growing store unable to commit. The pool
// is reserved address space: only the pages Kuzu uses take memory.
func (w *Writer) bufferPool(stage *snapshot.Stage, jobs []*batchJob) uint64 {
	pool := uint64(w.opts.BufferPoolMB) << 20
	want := 2 * w.graphNeed(stage, jobs)
	if ram := sysinfo.TotalRAM(); ram > 0 {
		want = min(want, ram/2)
	}
	return max(pool, want)
}

// graphNeed is what the stage's graph will hold, in bytes, once jobs are
// applied: its size now plus ten times the batch's job bytes.
func (w *Writer) graphNeed(stage *snapshot.Stage, jobs []*batchJob) uint64 {
	need := int64(0)
	if info, err := os.Stat(stage.GraphPath()); err == nil {
		need = info.Size()
	}
	for _, bj := range jobs {
		need += 10 * bj.c.Bytes(w.opts.Limits.MaxBytes) // a job's JSON grows up to tenfold in the graph while it is written
	}
	return uint64(need)
}

// maxDB is the maximum database size the stage's graph opens with:
// graphdb.MaxDBSize of writer.max_db_mb and graphNeed. A recycled stage
// also replays the batches it misses; the fourfold margin covers them
// unless the graph quadrupled since the recycled snapshot (a young store
// is under the 1 GiB floor).
func (w *Writer) maxDB(stage *snapshot.Stage, jobs []*batchJob) uint64 {
	return graphdb.MaxDBSize(uint64(w.opts.MaxDBMB)<<20, w.graphNeed(stage, jobs))
}

type storeCounts struct {
	entities, relations, kvKeys int64
	digest                      fsm.Digest // of the graph's content
}

// openGraph is a staged graph open read-write: replay hands the graph it
// brought up to CURRENT to apply this way, uncheckpointed, so that the
// batch's checkpoint is the only one.
type openGraph struct {
	db   *graphdb.DB
	conn *graphdb.Conn
}

func (g *openGraph) close() {
	g.conn.Close()
	g.db.Close()
}

// openStageGraph opens the stage's graph read-write with its schema
// current, with a buffer pool and a maximum size sized for jobs (see
// bufferPool and maxDB).
func (w *Writer) openStageGraph(ctx context.Context, stage *snapshot.Stage, jobs []*batchJob) (*openGraph, error) {
	steps := steptimer.New()
	defer func() { w.log.Debug("open graph steps (ms)", steps.Attrs()...) }()
	gdb, conn, err := graphdb.OpenConn(stage.GraphPath(), graphdb.Options{BufferPoolBytes: w.bufferPool(stage, jobs), Threads: 2,
		MaxDBBytes: w.maxDB(stage, jobs)})
	if err != nil {
		return nil, err
	}
	steps.Mark("open")
	g := &openGraph{db: gdb, conn: conn}
	if err := graphdb.EnsureSchema(ctx, conn); err != nil {
		g.close()
		return nil, err
	}
	steps.Mark("schema")
	return g, nil
}

// apply applies the jobs to the stage's graph (g if open, else opened
// here), after the jobs a recycled graph replays (replay), and kv, and
// closes both, leaving them checkpointed and ready to publish. A replay
// whose jobs do not do what CURRENT records is errReplayDiffers.
func (w *Writer) apply(ctx context.Context, stage *snapshot.Stage, jobs []*batchJob, sum *Summary, g *openGraph, replay []*batchJob) (counts storeCounts, err error) {
	steps := steptimer.New()
	defer func() { w.log.Debug("apply steps (ms)", steps.Attrs()...) }()
	if g == nil {
		if g, err = w.openStageGraph(ctx, stage, jobs); err != nil {
			return counts, err
		}
	}
	defer g.close()
	gdb, conn := g.db, g.conn
	steps.Mark("open_graph")
	kv, err := kvstore.OpenRW(stage.KVPath(), w.log)
	if err != nil {
		return counts, err
	}
	steps.Mark("open_kv")
	defer func() {
		if kv != nil {
			kv.Close()
		}
	}()

	// Exactly-once backstop: a job that already has an outcome was applied by
	// an earlier snapshot and must not run again, and a job whose id comes
	// twice in one batch runs once (a rollback killed after it queued its
	// claimed jobs again, before it dropped their claimed copies, leaves one
	// copy in queue/cur and one in queue/new: recovery claims both).
	inBatch := make(map[string]bool, len(jobs))
	for _, bj := range jobs {
		if inBatch[bj.c.ID] {
			w.log.Error("job claimed twice in one batch; applying it once to keep exactly-once", "job_id", bj.c.ID)
			sum.Duplicates++
			bj.dup = true
			continue
		}
		inBatch[bj.c.ID] = true
		if _, found, err := kv.GetJob(bj.c.ID); err != nil {
			return counts, err
		} else if found {
			w.log.Error("job already has an outcome in CURRENT; skipping it to keep exactly-once", "job_id", bj.c.ID)
			sum.Duplicates++
			bj.dup = true
		}
	}

	steps.Mark("exactly_once")
	if err := w.applyGraph(ctx, conn, stage, kv, jobs, replay, sum); err != nil {
		return counts, err
	}
	steps.Mark("write_graph")
	if err := conn.Exec(ctx, "CHECKPOINT", nil); err != nil {
		return counts, fmt.Errorf("checkpoint graph: %w", err)
	}
	steps.Mark("checkpoint")
	counts.entities, err = count(ctx, conn, "MATCH (e:Entity) RETURN count(*)")
	if err != nil {
		return counts, err
	}
	counts.relations, err = count(ctx, conn, "MATCH ()-[r:Relation]->() RETURN count(*)")
	if err != nil {
		return counts, err
	}
	if counts.digest, err = batchDigest(ctx, conn, stage, jobs); err != nil {
		return counts, err
	}
	steps.Mark("count")
	conn.Close()
	gdb.Close()
	steps.Mark("close_graph")

	keys, err := w.applyKV(kv, jobs, stage)
	if err != nil {
		return counts, err
	}
	counts.kvKeys = keys
	if err := kv.Flush(); err != nil {
		return counts, err
	}
	err = kv.Close()
	kv = nil
	if err != nil {
		return counts, fmt.Errorf("close kv: %w", err)
	}
	steps.Mark("write_kv")
	return counts, nil
}

// applyGraph runs the batch through the overlay and writes it in one
// transaction, after the jobs a recycled graph replays (replay, see
// applyWithReplay). If that write fails for a reason the overlay could not
// foresee, it falls back to one transaction per job so that only the
// failing job is rejected.
func (w *Writer) applyGraph(ctx context.Context, conn *graphdb.Conn, stage *snapshot.Stage, kv *kvstore.DB,
	jobs, replay []*batchJob, sum *Summary) error {
	var ok []*batchJob
	for _, bj := range jobs {
		if bj.reason == "" && !bj.dup {
			ok = append(ok, bj)
		}
	}
	if len(replay) > 0 {
		merged, err := w.applyWithReplay(ctx, conn, stage, kv, replay, ok, sum)
		if err != nil || merged {
			return err
		}
	}
	if len(ok) == 0 {
		return nil
	}
	err := w.applyTx(ctx, conn, ok, sum)
	if err == nil || ctx.Err() != nil {
		return err
	}
	w.log.Warn("batch write failed; applying its jobs one at a time", "jobs", len(ok), "error", err)
	for _, bj := range ok {
		bj.reason, bj.rej, bj.results, bj.kv, bj.delta = "", nil, nil, nil, fsm.Digest{}
		if err := w.applyTx(ctx, conn, []*batchJob{bj}, sum); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if bj.reason == "" {
				bj.reason = "apply failed: " + err.Error()
			}
			continue
		}
		// The next job's transaction scans what this one committed: Kuzu
		// 0.11.3 needs that checkpointed first (see applyReplay).
		if err := conn.Exec(ctx, "CHECKPOINT", nil); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil
}

// applyTx simulates jobs on a fresh overlay and writes the result in one
// transaction. Jobs the overlay rejects get their reason set.
func (w *Writer) applyTx(ctx context.Context, conn *graphdb.Conn, jobs []*batchJob, sum *Summary) (err error) {
	list := make([]*model.Job, len(jobs))
	for i, bj := range jobs {
		if err := w.decode(bj); err != nil {
			return err
		}
		list[i] = bj.job
	}
	reads := fsm.Reads(list)
	wo := writeOptions{copyThreshold: w.opts.CopyThreshold, scratch: w.store.Path("staging")}
	if err := conn.Exec(ctx, "BEGIN TRANSACTION", nil); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			if rbErr := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK", nil); rbErr != nil {
				err = fmt.Errorf("%w (rollback: %v)", err, rbErr)
			}
		}
	}()
	st, touching, err := loadState(ctx, conn, reads)
	if err != nil {
		return err
	}
	o := newOverlay()
	o.fill(st)
	o.loadedTouching(reads.Touching, touching)
	for i, bj := range jobs {
		res, err := o.run(bj.job, bj.at)
		// The overlay holds what the job does; the decoded job is not
		// needed again unless this transaction is retried.
		bj.job, list[i] = nil, nil
		if err != nil {
			bj.reason = err.Error()
			errors.As(err, &bj.rej)
			continue
		}
		bj.results, bj.kv, bj.delta = res.Ops, res.KV, res.Delta
	}
	if hookBatchWriteFails != nil && len(jobs) > 1 && hookBatchWriteFails() {
		return errors.New("test hook: the batch write fails")
	}
	if _, err := o.write(ctx, conn, wo); err != nil {
		return err
	}
	if err := conn.Exec(ctx, "COMMIT", nil); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// hookBatchWriteFails, set through export_test.go, fails a transaction of
// more than one job after the overlay ran its jobs (and dropped their
// decoded form), before it writes.
var hookBatchWriteFails func() bool

// applyKV writes the accepted jobs' KV changes and every job's outcome in one
// Pebble batch, and returns the resulting number of user keys.
func (w *Writer) applyKV(kv *kvstore.DB, jobs []*batchJob, stage *snapshot.Stage) (int64, error) {
	var keys int64
	if p := stage.Parent(); p != nil {
		keys = p.KVKeys
	}
	b := kv.NewBatch()
	defer b.Close()
	live := map[string]bool{} // key state within this batch
	exists := func(k string) (bool, error) {
		if v, ok := live[k]; ok {
			return v, nil
		}
		_, found, err := kv.GetUser(k)
		return found, err
	}
	now := time.Now().UTC()
	for _, bj := range jobs {
		if bj.dup {
			continue // its outcome stands as the earlier snapshot recorded it
		}
		out := model.Outcome{JobID: bj.c.ID, Status: model.StatusApplied, Snapshot: stage.Seq(), At: now}
		if bj.reason != "" {
			out.Status, out.Reason, out.Rejection = model.StatusRejected, bj.reason, bj.rej
		} else {
			out.Results = bj.results
			for _, op := range bj.kv {
				had, err := exists(op.Key)
				if err != nil {
					return 0, err
				}
				if op.Delete {
					if had {
						keys--
					}
					live[op.Key] = false
					if err := b.DeleteUser(op.Key); err != nil {
						return 0, err
					}
					continue
				}
				if !had {
					keys++
				}
				live[op.Key] = true
				if err := b.SetUser(op.Key, []byte(op.Value)); err != nil {
					return 0, err
				}
			}
		}
		if err := b.SetJob(bj.c.ID, model.EncodeOutcome(out)); err != nil {
			return 0, err
		}
	}
	if err := b.Commit(); err != nil {
		return 0, err
	}
	return keys, nil
}

func count(ctx context.Context, conn *graphdb.Conn, q string) (int64, error) {
	res, err := conn.Query(ctx, q, nil)
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return res.Int(), nil
}

// collect is the GC that ends every Commit, under its lock: with
// Options.Keep of at least 1 it removes what GC would (Keep, MinAge,
// pins). Its failure is logged and reported in the summary, not returned:
// the batches published stand, and the next commit or GC tries again.
func (w *Writer) collect(sum *Summary) {
	if w.opts.Keep < 1 {
		return
	}
	res, err := w.store.GC(w.opts.gcOptions())
	sum.Collected = res.Removed
	if err != nil {
		sum.GCError = err.Error()
		w.log.Warn("the commit stands; collecting old snapshots after it failed, the next commit or gc tries again", "error", err)
		return
	}
	if res.TrashLeft != "" {
		w.log.Warn("the commit stands; some of trash/ could not be deleted, the next commit or gc tries again", "error", res.TrashLeft)
	}
	if len(res.Removed) > 0 {
		w.log.Info("gc", "removed", res.Removed, "pinned", res.Pinned)
	}
}

// GC takes the writer lock and removes old snapshots per the gc config,
// never CURRENT, the newest gc.keep, or any snapshot a reader pins.
func GC(ctx context.Context, store *snapshot.Store, opts Options, log *slog.Logger) (snapshot.GCResult, error) {
	lock, err := AcquireLock(ctx, store, opts.LockTimeout)
	if err != nil {
		return snapshot.GCResult{}, err
	}
	defer lock.Release()
	res, err := store.GC(opts.gcOptions())
	if err == nil && log != nil && (len(res.Removed) > 0 || len(res.Pinned) > 0) {
		log.Info("gc", "removed", res.Removed, "pinned", res.Pinned)
	}
	return res, err
}

// fitting returns how many jobs of batch, from its start, fit in the free
// space by the writer's estimate (SpaceNeeded), and the *NoSpaceError of
// the first that does not, if any.
func (w *Writer) fitting(batch []queue.Claimed) (int, error) {
	sizes := make([]int64, len(batch))
	for i, c := range batch {
		sizes[i] = c.Bytes(w.opts.Limits.MaxBytes) // 0 for a file rejected unread (over job.max_bytes)
	}
	return w.space.fit(sizes)
}

// checkSpace refuses to start a batch when the store's filesystem cannot
// hold what it writes (SpaceNeeded: the staging copy of CURRENT, what the
// batch's jobs add, and writer.min_free_mb), returning a *NoSpaceError. A
// job already rejected (bad input, over job.max_bytes) counts for nothing:
// it writes only its outcome. Kuzu aborts the whole process when it runs
// out of space mid-write; this check turns the common case into a clear
// error that leaves everything as it was.
func (w *Writer) checkSpace(jobs []*batchJob) error {
	sizes := make([]int64, len(jobs))
	for i, bj := range jobs {
		if bj.reason == "" {
			sizes[i] = bj.c.Bytes(w.opts.Limits.MaxBytes)
		}
	}
	if n, err := w.space.fit(sizes); n < len(sizes) || err != nil {
		return err
	}
	return nil
}
