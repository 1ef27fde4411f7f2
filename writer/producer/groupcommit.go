package producer

import "context"
import "errors"
import "log/slog"
import "sync"
import "time"

import "github.com/fsnotify/fsnotify"

import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// Group commit
//
// A GroupCommitter commits queued jobs without anyone asking: it watches
// queue/new (inotify through fsnotify; a poll where watching is not
// available), waits the group commit window after the first new job so that
// the jobs arriving meanwhile go into the same snapshot, then commits
// everything queued. Any number of processes may run one on a store: one
// writer at a time holds the lock, and a process that finds it taken waits
// for the holder and then looks again: whatever the holder left queued, it
// commits. A commit is what GroupCommitOptions.Commit does (in memsnap's
// long-lived processes, a short-lived 'memsnap commit' child).

// GroupCommitOptions configures a GroupCommitter.
type GroupCommitOptions struct {
	// Delay is the group commit window (writer.commit_delay).
	Delay time.Duration
	// Commit runs the writer once without waiting for the lock; skipped
	// reports that another writer held it.
	Commit func(ctx context.Context) (sum writer.Summary, skipped bool, err error)
	// Committed, when set, is called after every commit that ran.
	Committed func(writer.Summary)
	// Log receives failures (commit errors are retried with backoff).
	Log *slog.Logger
	// Space, when set, tells whether the writer is blocked for lack of
	// space (writer.SpaceChecker.Check). After a commit failed with
	// writer.ErrNoSpace the committer asks it every spacePoll instead of
	// committing again, and commits as soon as it says the next job fits:
	// no retry is wasted on a full disk, and none waits out a long backoff
	// once space is freed.
	Space func() error
}

// Polling intervals of a GroupCommitter.
const (
	lockPoll    = 20 * time.Millisecond // while another writer holds the lock
	queuePoll   = time.Second           // when the queue cannot be watched
	retryFirst  = 100 * time.Millisecond
	retryLatest = 10 * time.Second
	spacePoll   = 500 * time.Millisecond // while the disk is too full to commit
)

// GroupCommitStats counts what a GroupCommitter did.
type GroupCommitStats struct {
	Commits   int `json:"commits"`   // commits that published at least one snapshot
	Snapshots int `json:"snapshots"` // snapshots they published
	Jobs      int `json:"jobs"`      // jobs they applied or rejected
	Failures  int `json:"failures"`  // commits that failed (and were retried)
}

// GroupCommitter commits a store's queue as jobs arrive. Create it with
// NewGroupCommitter, start Run, and call Notify after queueing a job.
type GroupCommitter struct {
	store *snapshot.Store
	o     GroupCommitOptions
	wake  chan struct{}

	mu      sync.Mutex // guards stats, lastErr
	stats   GroupCommitStats
	lastErr error // the last commit's failure, or why it left jobs queued (writer.Summary.NoSpace); nil after one that did neither
}

// NewGroupCommitter returns a committer for store.
func NewGroupCommitter(store *snapshot.Store, o GroupCommitOptions) *GroupCommitter {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &GroupCommitter{store: store, o: o, wake: make(chan struct{}, 1)}
}

// Notify tells the committer a job was queued; it never blocks.
func (g *GroupCommitter) Notify() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// LastFailure returns why the last commit failed, or why it left jobs
// queued for lack of space (a *writer.NoSpaceError); nil when it did neither.
func (g *GroupCommitter) LastFailure() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastErr
}

// Stats returns what the committer has done so far.
func (g *GroupCommitter) Stats() GroupCommitStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// Run commits queued jobs as they arrive until ctx ends. It commits what is
// queued when it starts, too.
func (g *GroupCommitter) Run(ctx context.Context) {
	log := g.o.Log.With("component", "group-commit")
	var events <-chan fsnotify.Event
	var poll <-chan time.Time
	w, err := fsnotify.NewWatcher()
	if err == nil {
		if err = w.Add(g.store.Queue().NewDir()); err != nil {
			w.Close()
		}
	}
	if err == nil {
		defer w.Close()
		events = w.Events
		go func() { // watcher errors (an event queue overflow) only mean: look
			for range w.Errors {
				g.Notify()
			}
		}()
	} else {
		log.Warn("cannot watch the queue; polling it instead", "every", queuePoll, "error", err)
		t := time.NewTicker(queuePoll)
		defer t.Stop()
		poll = t.C
	}
	g.Notify()
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.wake:
		case ev := <-events:
			if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Rename) {
				continue
			}
		case <-poll:
		}
		if !sleep(ctx, g.o.Delay) {
			return
		}
		g.drainWakes(events)
		g.commitQueued(ctx, log)
	}
}

// Drain commits until the queue is empty or ctx ends, as Run does after a
// wake-up. A process that stops running the committer calls it to leave
// none of its own jobs behind.
func (g *GroupCommitter) Drain(ctx context.Context) {
	g.commitQueued(ctx, g.o.Log.With("component", "group-commit"))
}

// drainWakes forgets the wake-ups that arrived during the window: the commit
// that follows takes their jobs.
func (g *GroupCommitter) drainWakes(events <-chan fsnotify.Event) {
	for {
		select {
		case <-g.wake:
		case <-events:
		default:
			return
		}
	}
}

// commitQueued commits until the queue is empty, waiting for any other
// writer to finish first and retrying failed commits with backoff.
func (g *GroupCommitter) commitQueued(ctx context.Context, log *slog.Logger) {
	retry := retryFirst
	for ctx.Err() == nil {
		q, err := g.store.Queue().Counts()
		if err != nil {
			log.Error("read queue", "error", err)
			return
		}
		if q.Waiting() == 0 {
			return
		}
		if _, locked, err := writer.Locked(g.store); err == nil && locked {
			sleep(ctx, lockPoll)
			continue
		}
		sum, skipped, err := g.o.Commit(ctx)
		switch {
		case skipped:
			sleep(ctx, lockPoll)
		case err != nil && ctx.Err() == nil:
			g.count(func(s *GroupCommitStats) { s.Failures++ })
			g.setLast(err)
			if errors.Is(err, writer.ErrNoSpace) && g.o.Space != nil {
				log.Warn("commit blocked for lack of space; committing again once there is room", "error", err)
				if g.awaitSpace(ctx) {
					retry = retryFirst
					continue
				}
				// Space says it fits where the writer found it did not:
				// back off as after any failure rather than spin.
			}
			log.Warn("commit failed; retrying", "in", retry, "error", err)
			sleep(ctx, retry)
			retry = min(2*retry, retryLatest)
		case err == nil:
			retry = retryFirst
			if sum.NoSpace != nil {
				g.setLast(sum.NoSpace)
				log.Warn("commit left jobs queued for lack of space; committing again once there is room", "error", sum.NoSpace)
			} else {
				g.setLast(nil)
			}
			g.count(func(s *GroupCommitStats) {
				if sum.Batches > 0 {
					s.Commits++
					s.Snapshots += sum.Batches
					s.Jobs += sum.Applied + sum.Rejected
				}
			})
			if g.o.Committed != nil {
				g.o.Committed(sum)
			}
			if sum.NoSpace != nil {
				g.awaitSpace(ctx) // after Committed: the part published is served meanwhile
			}
		}
	}
}

// awaitSpace waits until Space says the next job fits (or fails to tell),
// looking every spacePoll, or until ctx ends. It reports whether it waited
// at all.
func (g *GroupCommitter) awaitSpace(ctx context.Context) (waited bool) {
	for g.o.Space != nil && errors.Is(g.o.Space(), writer.ErrNoSpace) && sleep(ctx, spacePoll) {
		waited = true
	}
	return waited
}

func (g *GroupCommitter) setLast(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastErr = err
}

func (g *GroupCommitter) count(f func(*GroupCommitStats)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(&g.stats)
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
