package reader

import "errors"
import "fmt"
import "log/slog"
import "os"
import "slices"
import "sync"
import "time"

import "github.com/fsnotify/fsnotify"

import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"

// The queue is the store's write-ahead log: a job is acknowledged once it
// is durable in queue/new, and a read answers from the snapshot it serves
// plus every acknowledged job that snapshot does not hold (see
// Options.QueuedWrites and overlay.go). queueWatch keeps the list of those
// jobs, decoded, current: fsnotify events on queue/new and queue/cur (and
// queue/fwd, in a replica's cache) start a scan of the directories (only
// jobs not seen before are read); a read first compares the directories'
// modification times with those of the last scan and scans itself when
// they differ, so that
// a job acknowledged a moment ago is never missed because its event is
// still on its way; and a scan every queueRescan catches a change whose
// event was lost and whose modification time did not move (a coarse
// clock).
const queueRescan = 2 * time.Second

// maxQueuedJobBytes is the largest job file the overlay reads when the
// job limits set none (job.max_bytes 0); a bigger one is left to the
// writer.
const maxQueuedJobBytes = 64 << 20

// queuedJob is one acknowledged job in queue/new, queue/fwd or queue/cur.
type queuedJob struct {
	id    string
	claim uint64 // its claim seq once in queue/cur; 0 while in queue/new or queue/fwd
	// fwd: a replica sent the job on to the remote queue (queue/fwd); it
	// stays there until a snapshot that holds it comes down, and reads
	// apply it over the snapshots that do not hold it.
	fwd bool
	job *model.Job // nil when it cannot be read or decoded: the writer dead-letters it
}

// queueWatch is the list of the jobs in queue/new and queue/cur. Safe for
// concurrent use.
type queueWatch struct {
	q      *queue.Queue
	limits model.Limits
	log    *slog.Logger

	scanMu sync.Mutex // serialises scans
	// mu guards jobs, gen, newMT, curMT, fwdMT, scanned and racy. fsw,
	// stop and done take no lock: start sets them once (from Open,
	// before the Reader is shared) and close reads them (from Close).
	mu   sync.Mutex
	jobs map[string]*queuedJob
	// gen counts the changes of jobs.
	gen                 uint64
	newMT, curMT, fwdMT time.Time // modification times at the last scan's start
	scanned             bool
	// racy says one of those times was within racyWindow of the last
	// scan's start: a job renamed in after its listing, in the same tick
	// of the file system's clock, leaves the directory's time as it was,
	// so the next read scans again rather than trust it (git's "racy
	// clean" rule, for the same reason).
	racy bool

	fsw  *fsnotify.Watcher // nil unless watching
	stop chan struct{}
	done chan struct{}
}

func newQueueWatch(q *queue.Queue, limits model.Limits, log *slog.Logger) *queueWatch {
	return &queueWatch{q: q, limits: limits, log: log, jobs: map[string]*queuedJob{}}
}

// racyWindow is how recent a directory's modification time may be at a
// scan's start before the scan cannot vouch for it (see queueWatch.racy):
// more than one tick of the kernel's coarse clock that stamps it (1-10 ms).
const racyWindow = 50 * time.Millisecond

// queueState is what a read sees of the queue.
type queueState struct {
	jobs []*queuedJob // claimed jobs by claim seq, then queue/new's by id
	gen  uint64
}

// current returns the jobs, scanning first when the directories changed
// since the last scan (or none ran).
func (w *queueWatch) current() (queueState, error) {
	newMT, curMT, fwdMT := w.mtimes()
	w.mu.Lock()
	stale := !w.scanned || w.racy || !newMT.Equal(w.newMT) || !curMT.Equal(w.curMT) || !fwdMT.Equal(w.fwdMT)
	w.mu.Unlock()
	if stale {
		if err := w.scan(); err != nil {
			return queueState{}, err
		}
	}
	return w.state(), nil
}

// state returns the jobs as the last scan left them.
func (w *queueWatch) state() queueState {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := queueState{gen: w.gen, jobs: make([]*queuedJob, 0, len(w.jobs))}
	for _, j := range w.jobs {
		st.jobs = append(st.jobs, j)
	}
	slices.SortFunc(st.jobs, func(a, b *queuedJob) int {
		// Claimed jobs are applied first, in claim order; then queue/new's
		// in id (time) order, as the writer claims them.
		switch {
		case (a.claim == 0) != (b.claim == 0):
			if a.claim != 0 {
				return -1
			}
			return 1
		case a.claim != b.claim:
			if a.claim < b.claim {
				return -1
			}
			return 1
		}
		if a.id < b.id {
			return -1
		}
		if a.id > b.id {
			return 1
		}
		return 0
	})
	return st
}

// mtimes returns the modification times of queue/new, queue/cur and
// queue/fwd (zero when one cannot be read or does not exist).
func (w *queueWatch) mtimes() (newMT, curMT, fwdMT time.Time) {
	if fi, err := os.Stat(w.q.NewDir()); err == nil {
		newMT = fi.ModTime()
	}
	if fi, err := os.Stat(w.q.CurDir()); err == nil {
		curMT = fi.ModTime()
	}
	if fi, err := os.Stat(w.q.FwdDir()); err == nil {
		fwdMT = fi.ModTime()
	}
	return newMT, curMT, fwdMT
}

// scan lists queue/new, then queue/fwd, then queue/cur (a job moved
// between two listings is seen in the later directory), and reads the jobs
// it has not seen before.
func (w *queueWatch) scan() error {
	w.scanMu.Lock()
	defer w.scanMu.Unlock()
	start := time.Now()
	newMT, curMT, fwdMT := w.mtimes()
	racy := start.Sub(newMT) < racyWindow || start.Sub(curMT) < racyWindow || start.Sub(fwdMT) < racyWindow
	ids, err := w.q.QueuedIDs()
	if err != nil {
		return fmt.Errorf("queued writes: %w", err)
	}
	fwd, err := w.q.ForwardedIDs()
	if err != nil {
		return fmt.Errorf("queued writes: %w", err)
	}
	claimed, err := w.q.Claimed()
	if err != nil {
		return fmt.Errorf("queued writes: %w", err)
	}
	w.mu.Lock()
	old := w.jobs
	w.mu.Unlock()
	next := make(map[string]*queuedJob, len(ids)+len(claimed))
	changed := false
	keep := func(id string, claim uint64, forwarded bool, path string) {
		if j, ok := old[id]; ok && j.claim == claim && j.fwd == forwarded {
			next[id] = j
			return
		}
		changed = true
		j := &queuedJob{id: id, claim: claim, fwd: forwarded}
		if prev, ok := old[id]; ok {
			j.job = prev.job // the same job, claimed since
		} else {
			j.job = w.read(path)
		}
		next[id] = j
	}
	for _, id := range ids {
		keep(id, 0, false, w.q.NewPath(id))
	}
	for _, id := range fwd {
		keep(id, 0, true, w.q.ForwardedPath(id))
	}
	for _, c := range claimed {
		if !c.Irregular && queue.ValidID(c.ID) {
			keep(c.ID, c.Seq, false, w.q.Path(c))
		}
	}
	gone := 0
	for id := range old {
		if _, ok := next[id]; !ok {
			gone++
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.newMT, w.curMT, w.fwdMT, w.scanned, w.racy = newMT, curMT, fwdMT, true, racy
	if changed || gone > 0 {
		w.jobs = next
		w.gen++
	}
	return nil
}

// read reads and decodes one job file, nil when it cannot (gone since the
// listing, or a job the writer will dead-letter). A file damaged on disk
// (queue.Damaged) is logged at warn, other undecodable jobs at debug.
func (w *queueWatch) read(path string) *model.Job {
	most := w.limits.MaxBytes
	if most <= 0 {
		most = maxQueuedJobBytes
	}
	data, err := queue.ReadJobFile(path, most)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			w.log.Debug("queued writes: job file unreadable; the writer will dead-letter it", "file", path, "error", err)
		}
		return nil
	}
	job, err := model.DecodeJob(data, w.limits)
	if err == nil {
		return job
	}
	if derr := queue.Damaged(path, data); derr != nil {
		// Once per job: a scan reads only the jobs it has not seen.
		w.log.Warn("queued writes: job file damaged; reads leave it out and the writer will dead-letter it", "file", path, "error", derr)
	} else {
		w.log.Debug("queued writes: job undecodable; the writer will dead-letter it", "file", path, "error", err)
	}
	return nil
}

// start watches queue/new and queue/cur until close, scanning on every
// burst of events and every queueRescan; tick, if not nil, replaces the
// rescan timer (tests). Where watching is not possible the reads'
// modification-time check and the rescan remain.
func (w *queueWatch) start(tick <-chan time.Time) {
	if w.stop != nil {
		return // started already
	}
	fsw, err := fsnotify.NewWatcher()
	if err == nil {
		for _, dir := range []string{w.q.NewDir(), w.q.CurDir(), w.q.FwdDir()} {
			if dir == w.q.FwdDir() && !fsutil.Exists(dir) {
				continue // a store that forwards nothing
			}
			if err = fsw.Add(dir); err != nil {
				fsw.Close()
				break
			}
		}
	}
	if err != nil {
		w.log.Warn("cannot watch the queue; reads look at it themselves", "error", err)
		fsw = nil
	}
	var ticker *time.Ticker
	if tick == nil {
		ticker = time.NewTicker(queueRescan)
		tick = ticker.C
	}
	w.fsw, w.stop, w.done = fsw, make(chan struct{}), make(chan struct{})
	var events <-chan fsnotify.Event
	var errs <-chan error
	if fsw != nil {
		events, errs = fsw.Events, fsw.Errors
	}
	go func() {
		defer close(w.done)
		if ticker != nil {
			defer ticker.Stop()
		}
		for {
			select {
			case <-w.stop:
				return
			case <-events:
			case <-errs: // an overflow: events were lost
			case <-tick:
			}
			if err := w.scan(); err != nil {
				w.log.Debug("queued writes: scan", "error", err)
			}
		}
	}()
}

// close stops the watch started by start.
func (w *queueWatch) close() {
	if w.stop == nil {
		return
	}
	close(w.stop)
	<-w.done
	if w.fsw != nil {
		w.fsw.Close()
	}
}
