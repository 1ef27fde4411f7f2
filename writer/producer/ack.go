package producer

import "context"
import "errors"
import "fmt"
import "slices"
import "sync"
import "time"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"

// Acknowledging writes on durability
//
// An Acker answers a write as soon as its job is durable in the queue, with
// the answer the writer will give when it applies the job. It predicts that
// answer by running the memory state machine the writer runs (Predict,
// fsm.Apply) on the newest snapshot the process reads plus the jobs this
// Acker acknowledged that the snapshot does not hold yet, in the order they
// were queued (which is the order the writer claims them: job ids are
// ULIDs, monotonic within a process). The prediction holds unless another process changes the same
// entities first; the writer then rejects the job ("late rejection"): it is
// dead-lettered with its reason as any rejected job, and the Acker reports it
// to its caller once the snapshot that rejected it is read.

// StateFunc reads the newest snapshot a process serves: the rows the named
// entities and relation sources have there, and the outcomes it records
// for jobIDs (see model.SnapshotState). With nothing published it returns an
// empty state with Snapshot 0.
type StateFunc func(ctx context.Context, names, relSources, jobIDs []string) (*model.SnapshotState, error)

// QueueFunc returns the acknowledged jobs waiting in the queue that the
// newest snapshot the process reads does not hold, in any order; an error
// when the queue cannot be read.
type QueueFunc func(ctx context.Context) ([]model.QueuedJob, error)

// ErrUncertain is returned by Acker.Submit when only the writer can answer
// for the job: the prediction rejects it but jobs of other processes wait
// in the queue ahead of it, which may make it valid; or (FollowQueue) a
// job another process queued names an entity it names, so the writer may
// apply it on a state the snapshot does not show (an entity created there
// first makes this job's create a no-op, one deleted there makes its
// add_observations a rejection). The caller should queue the job and wait
// for it to be applied (Enqueue, then reader.WaitForJob).
var ErrUncertain = errors.New("the outcome depends on jobs of other processes still queued")

// RejectedError is a write refused before it was queued: the writer would
// reject it for Reason (worded as the writer words it). Nothing was queued.
type RejectedError struct {
	Reason string
	// Rejection is the memory rules' rejection (nil for any other reason).
	Rejection *model.Rejection
}

func (e *RejectedError) Error() string { return e.Reason }

// Unwrap gives the *model.Rejection, if any, to errors.As.
func (e *RejectedError) Unwrap() error {
	if e.Rejection == nil {
		return nil
	}
	return e.Rejection
}

// LateRejection is an acknowledged job that the writer rejected when it
// applied it, because another process changed what it named in between.
type LateRejection struct {
	JobID string `json:"jobId"`
	// Summary says what the job did, e.g. "add_observations to Kuzu".
	Summary string `json:"summary"`
	Reason  string `json:"reason"`
	// Rejection is the memory rules' rejection, when that is the reason
	// and the outcome recorded it.
	Rejection *model.Rejection `json:"-"`
	// Snapshot is the snapshot that recorded the rejection.
	Snapshot uint64    `json:"snapshot"`
	At       time.Time `json:"at"`
}

// Ack is a write acknowledged on durability.
type Ack struct {
	JobID string
	// Results is what each op of the job will do (model.OpResult), as the
	// writer will record it.
	Results []model.OpResult
	// Snapshot is the snapshot the prediction started from.
	Snapshot uint64
}

// maxLateKept is how many late rejections an Acker remembers for status.
const maxLateKept = 20

type pendingJob struct {
	id  string
	job *model.Job
}

// Acker acknowledges the writes of one process on durability. It is safe
// for concurrent use; submissions are serialised so that the queue order is
// the order the predictions assumed.
type Acker struct {
	store  *snapshot.Store
	limits model.Limits
	state  StateFunc
	queued QueueFunc // nil: other processes' queued jobs are not looked at

	mu       sync.Mutex      // guards the fields below, and serialises submissions
	cache    stateCache      // rows already read from the snapshot the last prediction used
	pending  []pendingJob    // acknowledged, not yet seen in a snapshot, in queue order
	late     []LateRejection // the newest maxLateKept, oldest first
	reported int             // how many of all late rejections were handed out by TakeLate
	lateSeen int             // how many late rejections were ever recorded
}

// NewAcker returns an Acker queueing into store, validating jobs with lim
// and reading snapshots through state.
func NewAcker(store *snapshot.Store, lim model.Limits, state StateFunc) *Acker {
	return &Acker{store: store, limits: lim, state: state}
}

// FollowQueue makes the Acker look at the jobs other processes queued
// (queued): a job naming an entity one of them names is ErrUncertain
// rather than predicted on a state the writer will not apply it on. It
// returns a, and is called before the Acker is shared.
func (a *Acker) FollowQueue(queued QueueFunc) *Acker {
	a.queued = queued
	return a
}

// Submit validates the job in data (model.DecodeJob: a bad job is an
// ErrInvalidJob), predicts its outcome, and queues it durably (fsynced)
// unless the prediction rejects it. It returns the acknowledged job with
// its predicted results; a *RejectedError when the writer would reject it
// (nothing is queued); ErrUncertain when only the writer can tell (nothing
// is queued); a *snapshot.CurrentError when CURRENT was moved back
// (snapshot.Store.CurrentForRead; nothing is queued).
func (a *Acker) Submit(ctx context.Context, data []byte) (Ack, error) {
	job, err := model.DecodeJob(data, a.limits)
	if err != nil {
		return Ack{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	results, snap, err := a.predictLocked(ctx, job)
	if err != nil {
		return Ack{}, err
	}
	id := queue.NewID()
	if err := a.store.Queue().Enqueue(id, data); err != nil {
		return Ack{}, fmt.Errorf("enqueue: %w", err)
	}
	a.pending = append(a.pending, pendingJob{id: id, job: job})
	return Ack{JobID: id, Results: results, Snapshot: snap}, nil
}

// Check predicts the job in data as Submit does, without queueing it: nil
// when the writer will apply it, a *RejectedError when it will reject it,
// ErrUncertain when only the writer can tell. A server that acknowledges
// writes only once applied refuses with it what the writer would reject,
// instead of queueing a job bound for the dead letters.
func (a *Acker) Check(ctx context.Context, data []byte) error {
	job, err := model.DecodeJob(data, a.limits)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _, err = a.predictLocked(ctx, job)
	return err
}

// predictLocked predicts job after the pending jobs on the newest snapshot,
// settling the pending jobs that snapshot holds. It returns the snapshot
// the prediction started from.
func (a *Acker) predictLocked(ctx context.Context, job *model.Job) ([]model.OpResult, uint64, error) {
	// A server keeps serving the snapshot it has when CURRENT is moved
	// back; a prediction on either would answer for a state the writer
	// does not build on until CURRENT is repaired.
	if _, err := a.store.CurrentForRead("write"); err != nil {
		return nil, 0, err
	}
	for attempt := 1; ; attempt++ {
		results, snap, stale, err := a.predictOnceLocked(ctx, job)
		if !stale {
			return results, snap, err
		}
		if attempt == maxPredictAttempts {
			return nil, 0, ErrUncertain // CURRENT kept moving: the writer answers
		}
	}
}

// maxPredictAttempts bounds the predictions of one job made again because
// another process published a snapshot meanwhile.
const maxPredictAttempts = 3

// predictOnceLocked is one prediction of job (predictLocked). With
// FollowQueue, stale is true when CURRENT, read after the queue, names a
// newer snapshot than the state came from: a job another process queued
// may have left the queue for it, in neither the state nor the queue seen
// (the rule reads follow, reader's overlayFor). The caller predicts again;
// the StateFunc reads the newer snapshot.
func (a *Acker) predictOnceLocked(ctx context.Context, job *model.Job) (results []model.OpResult, snap uint64, stale bool, err error) {
	jobs := make([]*model.Job, 0, len(a.pending)+1)
	ids := make([]string, 0, len(a.pending))
	for _, p := range a.pending {
		jobs, ids = append(jobs, p.job), append(ids, p.id)
	}
	reads := fsm.Reads(append(jobs, job))
	st, err := a.cachedState(ctx, reads.Names, reads.Sources, ids)
	if err != nil {
		return nil, 0, false, err
	}
	a.reconcileLocked(st)
	if a.queued != nil {
		shared, err := a.sharesWithOthersLocked(ctx, job)
		if err != nil || shared {
			return nil, 0, false, ErrUncertain
		}
		if cur, err := a.store.Current(); err == nil && cur > st.Snapshot {
			return nil, 0, true, nil
		}
	}
	pend := make([]*model.Job, len(a.pending))
	for i, p := range a.pending {
		pend[i] = p.job
	}
	results, perr := Predict(st.Graph, pend, job)
	if perr != nil {
		// With FollowQueue no other process's queued job names what this
		// one names (above): its rejection is certain. Without, any job
		// another process queued might make it valid.
		if a.queued == nil && a.othersQueuedLocked() {
			return nil, 0, false, ErrUncertain
		}
		rej := &RejectedError{Reason: perr.Error()}
		errors.As(perr, &rej.Rejection)
		return nil, 0, false, rej
	}
	return results, st.Snapshot, false, nil
}

// stateCache holds the rows an Acker already read from one snapshot. A
// snapshot never changes, so while the newest snapshot stays the same, a
// prediction reads only the names it has not read yet: the names of the
// pending jobs, which every prediction needs again, are read once per
// snapshot instead of once per write (each is a primary-key query, about
// 0.5 ms, and a burst of writes leaves tens of jobs pending).
type stateCache struct {
	seq  uint64
	ents map[string]*model.EntityRow    // nil: the entity does not exist
	rels map[string][]model.RelationRow // by source
}

// maxCached bounds the names a stateCache holds; past it, it starts over.
const maxCached = 4096

func (c *stateCache) reset(seq uint64) {
	c.seq, c.ents, c.rels = seq, map[string]*model.EntityRow{}, map[string][]model.RelationRow{}
}

// missing returns the names and sources c has not read.
func (c *stateCache) missing(names, sources []string) (mn, ms []string) {
	for _, n := range names {
		if _, ok := c.ents[n]; !ok {
			mn = append(mn, n)
		}
	}
	for _, n := range sources {
		if _, ok := c.rels[n]; !ok {
			ms = append(ms, n)
		}
	}
	return mn, ms
}

// add records what g says about names and sources (read together).
func (c *stateCache) add(g *model.State, names, sources []string) {
	for _, n := range names {
		c.ents[n] = nil
	}
	for i := range g.Entities {
		e := g.Entities[i]
		c.ents[e.Name] = &e
	}
	for _, n := range sources {
		c.rels[n] = nil
	}
	for _, r := range g.Relations {
		c.rels[r.From] = append(c.rels[r.From], r)
	}
}

// state is the State of names and sources, all of which c holds.
func (c *stateCache) state(names, sources []string) *model.State {
	st := &model.State{}
	for _, n := range names {
		if e := c.ents[n]; e != nil {
			st.Entities = append(st.Entities, *e)
		}
	}
	for _, n := range sources {
		st.Relations = append(st.Relations, c.rels[n]...)
	}
	return st
}

// cachedState is a.state for names and sources, reading from the newest
// snapshot only the rows a.cache lacks. When the newest snapshot is not the
// cached one, it starts the cache over and reads them all.
func (a *Acker) cachedState(ctx context.Context, names, sources, ids []string) (*model.SnapshotState, error) {
	if len(a.cache.ents) > maxCached {
		a.cache.reset(a.cache.seq)
	}
	mn, ms := a.cache.missing(names, sources)
	st, err := a.state(ctx, mn, ms, ids)
	if err != nil {
		return nil, err
	}
	if a.cache.ents == nil || st.Snapshot != a.cache.seq {
		a.cache.reset(st.Snapshot)
		if len(mn) < len(names) || len(ms) < len(sources) {
			// Read against an older cache: read everything from one snapshot.
			if st, err = a.state(ctx, names, sources, ids); err != nil {
				return nil, err
			}
			a.cache.reset(st.Snapshot)
		}
		mn, ms = names, sources
	}
	a.cache.add(st.Graph, mn, ms)
	st.Graph = a.cache.state(names, sources)
	return st, nil
}

// sharesWithOthersLocked reports whether a job another process queued
// (a.queued, less this Acker's pending jobs) names an entity that job
// names, as a name, a relation's source or an entity deleted (fsm.Reads).
func (a *Acker) sharesWithOthersLocked(ctx context.Context, job *model.Job) (bool, error) {
	queued, err := a.queued(ctx)
	if err != nil {
		return false, err
	}
	mine := map[string]bool{}
	for _, p := range a.pending {
		mine[p.id] = true
	}
	var others []*model.Job
	for _, q := range queued {
		if !mine[q.ID] && q.Job != nil {
			others = append(others, q.Job)
		}
	}
	if len(others) == 0 {
		return false, nil
	}
	named := func(r fsm.ReadSet) []string { return slices.Concat(r.Names, r.Sources, r.Touching) }
	theirs := map[string]bool{}
	for _, n := range named(fsm.Reads(others)) {
		theirs[n] = true
	}
	return slices.ContainsFunc(named(fsm.Reads([]*model.Job{job})), func(n string) bool { return theirs[n] }), nil
}

// othersQueuedLocked reports whether the queue holds jobs this Acker did not
// queue (or cannot tell).
func (a *Acker) othersQueuedLocked() bool {
	q, err := a.store.Queue().Counts()
	return err != nil || q.Waiting() > len(a.pending)
}

// Reconcile reads the newest snapshot's outcomes of the pending jobs,
// forgetting the applied ones and recording the rejected ones as late
// rejections.
func (a *Acker) Reconcile(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) == 0 {
		return nil
	}
	ids := make([]string, len(a.pending))
	for i, p := range a.pending {
		ids[i] = p.id
	}
	st, err := a.state(ctx, nil, nil, ids)
	if err != nil {
		return err
	}
	a.reconcileLocked(st)
	return nil
}

func (a *Acker) reconcileLocked(st *model.SnapshotState) {
	if len(st.Outcomes) == 0 {
		return
	}
	keep := a.pending[:0]
	for _, p := range a.pending {
		o, seen := st.Outcomes[p.id]
		if !seen {
			keep = append(keep, p)
			continue
		}
		if o.Status == model.StatusRejected {
			a.late = append(a.late, LateRejection{JobID: p.id, Summary: fsm.Describe(p.job), Reason: o.Reason, Rejection: o.Rejection,
				Snapshot: o.Snapshot, At: o.At})
			a.lateSeen++
			if len(a.late) > maxLateKept {
				a.late = a.late[len(a.late)-maxLateKept:]
			}
		}
	}
	clear(a.pending[len(keep):])
	a.pending = keep
}

// Track makes the Acker follow job id (the job in data), queued by its
// caller without a prediction (Enqueue) and answered as queued, like the
// jobs it acknowledged: once a snapshot records it rejected, it is a late
// rejection (Late, TakeLate). A server calls it for a write it waited for
// and left queued. An undecodable job is not followed (the writer
// dead-letters it).
func (a *Acker) Track(id string, data []byte) {
	job, err := model.DecodeJob(data, a.limits)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, pendingJob{id: id, job: job})
}

// Pending returns the ids of the acknowledged jobs no snapshot read so far
// holds, in queue order.
func (a *Acker) Pending() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, len(a.pending))
	for i, p := range a.pending {
		ids[i] = p.id
	}
	return ids
}

// Late returns the most recent late rejections (at most 20), oldest first.
func (a *Acker) Late() []LateRejection {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]LateRejection(nil), a.late...)
}

// TakeLate returns the late rejections not handed out before, oldest first,
// and marks them handed out.
func (a *Acker) TakeLate() []LateRejection {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.lateSeen - a.reported
	if n <= 0 {
		return nil
	}
	a.reported = a.lateSeen
	n = min(n, len(a.late))
	return append([]LateRejection(nil), a.late[len(a.late)-n:]...)
}
