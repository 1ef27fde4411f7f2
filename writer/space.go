package writer

import "errors"
import "fmt"
import "sync"
import "syscall"

import "github.com/memsnap/memsnap/internal/sysinfo"
import "github.com/memsnap/memsnap/snapshot"

// ErrNoSpace is what errors.Is finds in a commit that did not start because
// the store's filesystem lacks the room the next snapshot needs (see
// SpaceNeeded). It always comes as a *NoSpaceError with the figures; that
// error also matches syscall.ENOSPC.
var ErrNoSpace = errors.New("writer: not enough free space for the next snapshot")

// NoSpaceError says why the writer cannot commit for lack of space: what the
// next snapshot needs against what the store's filesystem has free. The
// writer returns it from Commit when not even the first queued job fits (a
// batch of which only a prefix fits is split, see Writer.Commit), and
// SpaceChecker.Check computes the same from any process. Sizes are in bytes.
type NoSpaceError struct {
	// Path is the store directory whose filesystem is full.
	Path string `json:"path"`
	// Needed is the estimate of the free space the smallest batch the
	// writer could take next needs (SpaceNeeded), Free what the filesystem
	// has free for an unprivileged user (statfs f_bavail; on Windows GetDiskFreeSpaceEx).
	Needed int64 `json:"needed"`
	Free   int64 `json:"free"`
	// Staged is the part of Needed that is the staging copy of CURRENT.
	Staged int64 `json:"staged"`
	// Jobs and JobBytes are the batch that does not fit (one job when the
	// writer is blocked).
	Jobs     int   `json:"jobs"`
	JobBytes int64 `json:"job_bytes"`
	// MinFreeMB is writer.min_free_mb, the margin counted in Needed.
	MinFreeMB int `json:"min_free_mb"`
}

// mib rounds a byte count up to whole MiB.
func mib(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// NeededMiB is Needed rounded up to whole MiB; FreeMiB is Free rounded down;
// ShortMiB is how much must be freed, rounded up.
func (e *NoSpaceError) NeededMiB() int64 { return mib(e.Needed) }
func (e *NoSpaceError) FreeMiB() int64   { return e.Free >> 20 }
func (e *NoSpaceError) ShortMiB() int64  { return max(1, mib(e.Needed-e.Free)) }

// Hint says what a user can do about it, in one sentence.
func (e *NoSpaceError) Hint() string {
	return fmt.Sprintf("free at least %d MiB on the filesystem of %s (delete other files there, or run 'memsnap snapshots gc'); "+
		"queued writes then apply by themselves, nothing needs restarting", e.ShortMiB(), e.Path)
}

// Cause is the error without its hint: what is short and by how much.
func (e *NoSpaceError) Cause() string {
	jobs := "1 job"
	if e.Jobs != 1 {
		jobs = fmt.Sprintf("%d jobs", e.Jobs)
	}
	return fmt.Sprintf("no space left on device: the next snapshot needs about %d MiB (staging copy %d MiB, %s of %d KiB, writer.min_free_mb %d) "+
		"and the store's filesystem has %d MiB free", e.NeededMiB(), mib(e.Staged), jobs, (e.JobBytes+1023)>>10, e.MinFreeMB, e.FreeMiB())
}

func (e *NoSpaceError) Error() string { return e.Cause() + "; " + e.Hint() }

// ErrorHint returns Hint, for the edges that render hints (Error says it
// too, after the cause, as the logs and answers that quote it expect).
func (e *NoSpaceError) ErrorHint() string { return e.Hint() }

// Is makes errors.Is match ErrNoSpace and syscall.ENOSPC.
func (e *NoSpaceError) Is(target error) bool {
	return target == ErrNoSpace || target == syscall.ENOSPC
}

// What a commit writes beyond the staging copy of CURRENT, measured on
// tmpfs (go-kuzu v0.11.3, staging by copy, peak of statfs used bytes
// sampled every millisecond through one 'memsnap commit', minus the used
// bytes before it; B is the batch's job bytes, G CURRENT's graph):
//
//	entities (250 per job, 1000-byte observations of random words):
//	  G  3 MiB, B  3.8 MiB: 9.3 MiB beyond the copy (2.4 B)
//	  G 12 MiB, B 16.0 MiB: 33.6 MiB (2.1 B)
//	  G 25 MiB, B  0.8 MiB: 2.6 MiB (3.5 B)
//	  G 25 MiB, B  3.8 MiB: 17.2 MiB (4.5 B)
//	  G 41 MiB, B 16.0 MiB: 35.2 MiB (2.2 B)
//	  G 121 MiB, B 0.8 MiB: 3.7 MiB (4.9 B); B 3.8 MiB: 6.5 MiB (1.7 B)
//	key-value (128 KiB random bytes as hex per job):
//	  G 0, B 0.8 MiB: 0.8 MiB (1.0 B); B 3.8 MiB: 8.0 MiB (2.1 B); B 15.8 MiB: 15.8 MiB (1.0 B)
//	  G 25 MiB, B 0.8 MiB: 0.8 MiB (1.0 B); B 3.8 MiB: 8.3 MiB (2.2 B); B 15.8 MiB: 15.8 MiB (1.0 B)
//
// The graph grows in whole column chunks and full-text index pages, so a
// small batch costs a few MiB whatever its size; Kuzu's WAL is gone after
// the checkpoint and Pebble's WAL and the sstable it flushes to are both on
// disk at the peak; the manifest (KiB) and the hard links of the batch's
// job files into jobs/ add next to nothing. spaceFixed + spacePerByte*B
// covers every figure above (the tightest: 19.4 MiB for 17.2).
const (
	spaceFixed   = 8 << 20
	spacePerByte = 3
	// emptyGraphBytes is about what a new graph with memsnap's schema takes.
	emptyGraphBytes = 4 << 20
	// firstSnapshotBytes bounds what the empty first snapshot ('memsnap
	// init') writes: a graph of memsnap's schema and no rows (16 KiB), an
	// empty Pebble store (five small files), its manifest, PIN and
	// directories; 65 KiB of files, 96 KiB allocated on ext4, measured with
	// go-kuzu v0.11.3 and Pebble v2.1.7. It writes no batch, so neither the
	// staging copy nor spaceFixed applies.
	firstSnapshotBytes = 1 << 20
)

// SpaceNeededFirst is the free space, in bytes, the empty first snapshot
// needs: what it writes (firstSnapshotBytes) and writer.min_free_mb MiB
// kept free. 'memsnap init' on a store that has no snapshot checks it.
func SpaceNeededFirst(minFreeMB int) int64 {
	return firstSnapshotBytes + int64(minFreeMB)<<20
}

// SpaceNeeded is the free space, in bytes, a commit needs to stage a copy
// of staged bytes and apply jobBytes of jobs, keeping minFreeMB MiB free
// (see the measured figures above spaceFixed). A stage made by reflink or
// by recycling an older snapshot's graph writes less than the copy counted
// here; the copy is what a stage falls back to, so it is what is asked for.
func SpaceNeeded(staged, jobBytes int64, minFreeMB int) int64 {
	return staged + spaceFixed + spacePerByte*jobBytes + int64(minFreeMB)<<20
}

// spaceProbe computes what the writer's space check decides. It keeps the
// staged size of the last CURRENT it read (a manifest is read once per
// snapshot), so that a status call or a write answer costs a statfs, a
// read of CURRENT and a listing of the queue.
type spaceProbe struct {
	store *snapshot.Store
	opts  Options

	mu        sync.Mutex // guards seq, staged and stagedSet
	seq       uint64
	staged    int64
	stagedSet bool
}

// stagedBytes is what staging a copy of CURRENT writes: every file of its
// manifest but the sstables, which are hard-linked.
func (p *spaceProbe) stagedBytes() int64 {
	cur, err := p.store.Current()
	if err != nil || cur == 0 {
		return emptyGraphBytes
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stagedSet && p.seq == cur {
		return p.staged
	}
	m, err := p.store.Manifest(cur)
	if err != nil {
		return emptyGraphBytes
	}
	staged := m.StagedBytes()
	p.seq, p.staged, p.stagedSet = cur, staged, true
	return staged
}

// free is the store filesystem's free space for an unprivileged user.
func (p *spaceProbe) free() (int64, error) {
	if hookFreeSpace != nil {
		return hookFreeSpace(), nil
	}
	free, err := sysinfo.FreeBytes(p.store.Path("staging"))
	if err != nil {
		return 0, fmt.Errorf("check free space: %w", err)
	}
	return free, nil
}

// hookFreeSpace, set through export_test.go, stands in for statfs.
var hookFreeSpace func() int64

// jobCost is what a job of size bytes counts for in the estimate: a job
// over job.max_bytes is rejected unread and costs only its outcome.
func (p *spaceProbe) jobCost(size int64) int64 {
	if lim := p.opts.Limits.MaxBytes; lim > 0 && size > lim {
		return 0
	}
	return size
}

// fit returns how many of the jobs (their sizes, in apply order) fit in
// the free space, and, when not all do, a *NoSpaceError for the first
// prefix that does not. With MinFreeMB 0 everything fits.
func (p *spaceProbe) fit(sizes []int64) (int, error) {
	if p.opts.MinFreeMB == 0 {
		return len(sizes), nil
	}
	staged := p.stagedBytes()
	free, err := p.free()
	if err != nil {
		return 0, err
	}
	var bytes int64
	for i, size := range sizes {
		bytes += p.jobCost(size)
		if need := SpaceNeeded(staged, bytes, p.opts.MinFreeMB); need > free {
			return i, &NoSpaceError{Path: p.store.Dir(), Needed: need, Free: free, Staged: staged,
				Jobs: i + 1, JobBytes: bytes, MinFreeMB: p.opts.MinFreeMB}
		}
	}
	if len(sizes) == 0 { // a snapshot of no jobs: the empty first one
		need := SpaceNeeded(staged, 0, p.opts.MinFreeMB)
		if cur, err := p.store.Current(); err == nil && cur == 0 {
			need, staged = SpaceNeededFirst(p.opts.MinFreeMB), 0
		}
		if need > free {
			return 0, &NoSpaceError{Path: p.store.Dir(), Needed: need, Free: free, Staged: staged, MinFreeMB: p.opts.MinFreeMB}
		}
	}
	return len(sizes), nil
}

// SpaceChecker tells any process, writer or not, whether the writer is
// blocked for lack of space, by the very estimate the writer uses: it
// needs no lock and writes nothing, so it works on a full disk and agrees
// with every writer that runs with the same Options. It is safe for
// concurrent use.
type SpaceChecker struct{ p spaceProbe }

// NewSpaceChecker returns a checker of store for writers run with opts.
func NewSpaceChecker(store *snapshot.Store, opts Options) *SpaceChecker {
	return &SpaceChecker{p: spaceProbe{store: store, opts: opts}}
}

// Check returns a *NoSpaceError when the job the writer takes next (the
// first claimed one, else the oldest queued one) does not fit on the
// store's filesystem: the writer can then commit nothing. It returns nil
// when that job fits, when nothing is queued, or when writer.min_free_mb
// is 0 (no check); other errors come from reading the store.
func (c *SpaceChecker) Check() error {
	if c.p.opts.MinFreeMB == 0 {
		return nil
	}
	// With room for the largest job there can be, the queue need not be
	// looked at: the common case costs a statfs and a read of CURRENT.
	if lim := c.p.opts.Limits.MaxBytes; lim > 0 {
		free, err := c.p.free()
		if err != nil {
			return err
		}
		if free >= SpaceNeeded(c.p.stagedBytes(), lim, c.p.opts.MinFreeMB) {
			return nil
		}
	}
	size, ok, err := c.p.store.Queue().Next(c.p.opts.Limits.MaxBytes)
	if err != nil || !ok {
		return err
	}
	_, err = c.p.fit([]int64{size})
	return err
}

// Writer states, as Health reports them.
const (
	// HealthOK: the writer can commit what is queued (or nothing is).
	HealthOK = "ok"
	// HealthBlocked: not even the next queued job fits in the free space;
	// nothing applies until space is freed, then it all does by itself.
	HealthBlocked = "blocked"
	// HealthFailing: the last commit this process ran failed for another
	// reason (it is retried with backoff).
	HealthFailing = "failing"
)

// Health is whether the writer can commit, for status answers: State is
// HealthOK, HealthBlocked or HealthFailing; Cause is one line saying why
// not and Hint what to do; NeededMiB and FreeMiB are set when blocked.
type Health struct {
	State     string `json:"state"`
	Cause     string `json:"cause,omitempty"`
	Hint      string `json:"hint,omitempty"`
	NeededMiB int64  `json:"neededMiB,omitempty"`
	FreeMiB   int64  `json:"freeMiB,omitempty"`
}

// Health checks the space (Check) and adds lastFailure, the error of the
// last commit this process ran, if any (nil: none failed). A
// *snapshot.CurrentError (a CURRENT moved back, also as a reader's refresh
// error) is failing with its repair command as the Hint. A failure for
// lack of space that Check no longer sees is stale: space was freed and
// the retry is on its way.
func (c *SpaceChecker) Health(lastFailure error) Health {
	err := c.Check()
	var ns *NoSpaceError
	var ce *snapshot.CurrentError
	switch {
	case errors.As(err, &ns):
		return Health{State: HealthBlocked, Cause: ns.Cause(), Hint: ns.Hint(), NeededMiB: ns.NeededMiB(), FreeMiB: ns.FreeMiB()}
	case err != nil:
		return Health{State: HealthFailing, Cause: "cannot check the free space: " + err.Error()}
	case errors.As(lastFailure, &ce):
		cause := *ce
		cause.Hint = ""
		return Health{State: HealthFailing, Cause: cause.Error(), Hint: ce.Hint}
	case lastFailure != nil && !errors.Is(lastFailure, ErrNoSpace):
		return Health{State: HealthFailing, Cause: lastFailure.Error(), Hint: "the commit is retried with backoff; see the log"}
	}
	return Health{State: HealthOK}
}
