package writer

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "math/rand/v2"
import "os"
import "time"

import "github.com/memsnap/memsnap/internal/filelock"
import "github.com/memsnap/memsnap/internal/sysinfo"
import "github.com/memsnap/memsnap/snapshot"

// ErrLocked is returned (as a *LockedError) when another writer holds the
// store lock past the caller's timeout.
var ErrLocked = errors.New("writer: store is locked by another writer")

// Holder identifies the process holding the writer lock. It is written into
// LOCK for diagnostics only; the flock itself is the lock.
type Holder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host,omitempty"` // "" when the holder has not named itself
	Since time.Time `json:"since,omitzero"` // zero then too
}

// LockedError says who holds the writer lock. errors.Is(err, ErrLocked) holds.
type LockedError struct {
	Holder Holder // when not Known, only the PID the system names, if any
	Known  bool   // false if the holder had not written its identity yet
}

// Error names the holder: pid, host, start time and how long ago.
func (e *LockedError) Error() string {
	if !e.Known && e.Holder.PID != 0 {
		return fmt.Sprintf("store is locked by pid %d, which has not named itself (a writer starting, or no memsnap process)", e.Holder.PID)
	}
	if !e.Known {
		return "store is locked by another writer (holder not yet identified)"
	}
	return fmt.Sprintf("store is locked by writer pid %d on %s since %s (%s ago)",
		e.Holder.PID, e.Holder.Host, e.Holder.Since.Format(time.RFC3339), time.Since(e.Holder.Since).Round(time.Millisecond))
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is the held writer lock: an exclusive filelock on the store's LOCK
// file (flock(LOCK_EX) on Unix, LockFileEx on Windows). The
// kernel releases it when the holder dies, so a crashed writer never leaves a
// stale lock.
type Lock struct {
	f *os.File
	// Waited is how long AcquireLock waited for another holder, and
	// WaitedFor who that was; zero when the lock was free.
	Waited    time.Duration
	WaitedFor Holder
}

// TryLock takes the writer lock or fails at once with a *LockedError.
func TryLock(s *snapshot.Store) (*Lock, error) {
	f, err := os.OpenFile(s.Path(snapshot.LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open writer lock: %w", err)
	}
	if err := filelock.TryLock(f, filelock.Exclusive); err != nil {
		f.Close()
		if errors.Is(err, filelock.ErrWouldBlock) {
			h, ok := ReadHolder(s)
			if !ok {
				// The system may still name the process (Linux: /proc/locks).
				if lh, held, err := locked(s); err == nil && held {
					h = Holder{PID: lh.PID}
				}
			}
			return nil, &LockedError{Holder: h, Known: ok}
		}
		return nil, fmt.Errorf("take writer lock: %w", err)
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Since: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
	}
	return &Lock{f: f}, nil
}

// AcquireLock takes the writer lock, retrying with a bounded, jittered
// backoff until timeout (0 = one try) or ctx ends. On timeout it returns the
// holder's identity in a *LockedError.
func AcquireLock(ctx context.Context, s *snapshot.Store, timeout time.Duration) (*Lock, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	backoff := 5 * time.Millisecond
	var first *LockedError
	for {
		l, err := TryLock(s)
		var le *LockedError
		if err == nil && first != nil {
			l.Waited, l.WaitedFor = time.Since(start), first.Holder
		}
		if err == nil || !errors.As(err, &le) {
			return l, err
		}
		if first == nil {
			first = le
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, err
		}
		wait := min(backoff/2+rand.N(backoff/2+1), left)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for writer lock: %w (%v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 250*time.Millisecond)
	}
}

// Release clears the holder identity and drops the lock. It is idempotent.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	l.f.Close()
	l.f = nil
}

// ReadHolder returns the identity the current (or last crashed) holder wrote.
func ReadHolder(s *snapshot.Store) (Holder, bool) {
	b, err := os.ReadFile(s.Path(snapshot.LockFile))
	if err != nil || len(b) == 0 {
		return Holder{}, false
	}
	var h Holder
	if json.Unmarshal(b, &h) != nil || h.PID == 0 {
		return Holder{}, false
	}
	return h, true
}

// lockedByContent is Locked where the system keeps no table of locks
// (macOS, Windows): it tells from LOCK's content. A holder writes its pid,
// host and start time there once it holds the lock and truncates the file
// when it releases it, so an empty LOCK means free. A holder that died left
// its identity behind: when that host is this machine and its pid no
// longer runs, the lock is free (the system dropped it with the process).
// A holder on another host (a shared store directory) is reported as
// holding. A reused pid makes a dead holder look alive: the answer is
// advice for status and /healthz; taking the lock (TryLock) is what
// decides.
func lockedByContent(s *snapshot.Store) (Holder, bool, error) {
	h, ok := ReadHolder(s)
	if !ok {
		return Holder{}, false, nil
	}
	if host, _ := os.Hostname(); h.Host != "" && h.Host != host {
		return h, true, nil
	}
	if alive, known := sysinfo.ProcessAlive(h.PID); known && !alive {
		return Holder{}, false, nil
	}
	return h, true, nil
}

// Locked reports whether some process holds the writer lock right now,
// without taking it, and who that is (see locked in lock_linux.go and
// lock_other.go for how each system tells).
func Locked(s *snapshot.Store) (Holder, bool, error) { return locked(s) }
