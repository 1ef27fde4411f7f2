package writer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/sys/unix"

	"github.com/memsnap/memsnap/internal/failpoint"
	"github.com/memsnap/memsnap/internal/fsutil"
	"github.com/memsnap/memsnap/snapshot"
)

// The job spool is maildir-style: producers write queue/tmp/<id>.job, fsync
// it, rename it into queue/new/ and fsync queue/new. The writer claims jobs by
// renaming them to queue/cur/<claim seq>-<id>.job; claim order is apply
// order. Rejected jobs end in queue/dead/ beside a .err file with the reason.
const jobExt = ".job"

// Enqueue validates a job and makes it durable in the store's queue. It takes
// no lock: any number of producer processes may enqueue at once. The job is
// acknowledged (and its id returned) only after its rename into queue/new and
// the directory fsync have returned; an error means it was not queued, or
// says plainly when a writer had already taken it.
func Enqueue(s *snapshot.Store, data []byte, lim Limits) (id string, err error) {
	if _, err := DecodeJob(data, lim); err != nil {
		return "", err
	}
	id = ulid.Make().String()
	queued, err := spoolJob(s, id, data)
	if err != nil {
		return "", fmt.Errorf("enqueue: %w", err)
	}
	if err = fsutil.SyncDir(s.Path("queue", "new")); err != nil {
		// The job is visible but not durable. Take it back so that the
		// caller's retry cannot apply it twice, unless a writer has already
		// claimed it.
		if rmErr := os.Remove(queued); rmErr == nil || !errors.Is(rmErr, os.ErrNotExist) {
			return "", fmt.Errorf("enqueue: fsync queue/new (job not queued): %w", err)
		}
		return "", fmt.Errorf("enqueue: fsync queue/new failed after a writer took job %s, which may still be applied (check 'memsnap job %s' before retrying): %w", id, id, err)
	}
	return id, nil
}

// spoolJob writes data as job id into queue/tmp, fsyncs it and renames it
// into queue/new, returning its path there. The caller fsyncs queue/new.
// While the file is in queue/tmp its writer holds an exclusive flock on it,
// which tells a writer cleaning up after dead producers to leave it alone.
func spoolJob(s *snapshot.Store, id string, data []byte) (queued string, err error) {
	name := id + jobExt
	tmp := s.Path("queue", "tmp", name)
	f, err := fsutil.CreateExcl(tmp)
	if err != nil {
		return "", fmt.Errorf("create job file: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("lock job file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	failpoint.Hit("enqueue-after-create")
	if err = fsutil.Write(f, data); err != nil {
		return "", fmt.Errorf("write job file: %w", err)
	}
	failpoint.Hit("enqueue-after-write")
	if err = fsutil.Sync(f); err != nil {
		return "", fmt.Errorf("fsync job file: %w", err)
	}
	queued = s.Path("queue", "new", name)
	if err = fsutil.Rename(tmp, queued); err != nil {
		return "", fmt.Errorf("move job into queue/new: %w", err)
	}
	failpoint.Hit("enqueue-after-rename")
	return queued, nil
}

// claimed is one job file in queue/cur.
type claimed struct {
	seq  uint64 // claim seq: apply order and watermark unit
	id   string
	name string // file name in queue/cur
	size int64
}

func parseCurName(name string) (claimed, bool) {
	if !strings.HasSuffix(name, jobExt) {
		return claimed{}, false
	}
	seqStr, rest, ok := strings.Cut(strings.TrimSuffix(name, jobExt), "-")
	if !ok {
		return claimed{}, false
	}
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if err != nil {
		return claimed{}, false
	}
	return claimed{seq: seq, id: rest, name: name}, true
}

func curName(seq uint64, id string) string { return fmt.Sprintf("%016d-%s%s", seq, id, jobExt) }

// listCur returns the jobs in queue/cur in claim order.
func listCur(s *snapshot.Store) ([]claimed, error) {
	ents, err := os.ReadDir(s.Path("queue", "cur"))
	if err != nil {
		return nil, fmt.Errorf("list claimed jobs: %w", err)
	}
	var out []claimed
	for _, e := range ents {
		if c, ok := parseCurName(e.Name()); ok {
			if info, err := e.Info(); err == nil {
				c.size = info.Size()
			}
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out, nil
}

// listNew returns the names in queue/new, oldest first (ULIDs sort by time).
func listNew(s *snapshot.Store) ([]string, error) {
	ents, err := os.ReadDir(s.Path("queue", "new"))
	if err != nil {
		return nil, fmt.Errorf("list queued jobs: %w", err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), jobExt) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// claim moves up to maxJobs / maxBytes jobs (at least one) from queue/new to
// queue/cur, numbering them from next on. full reports that the limits
// left jobs behind that were already queued when it looked.
func claim(s *snapshot.Store, next uint64, maxJobs int, maxBytes int64) (out []claimed, full bool, err error) {
	names, err := listNew(s)
	if err != nil || len(names) == 0 {
		return nil, false, err
	}
	if maxJobs <= 0 {
		return nil, true, nil
	}
	var bytes int64
	for _, name := range names {
		if len(out) >= maxJobs {
			full = true
			break
		}
		info, err := os.Lstat(s.Path("queue", "new", name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, full, fmt.Errorf("claim %s: %w", name, err)
		}
		if len(out) > 0 && bytes+info.Size() > maxBytes {
			full = true
			break
		}
		c := claimed{seq: next, id: strings.TrimSuffix(name, jobExt), size: info.Size()}
		c.name = curName(c.seq, c.id)
		if err := fsutil.Rename(s.Path("queue", "new", name), s.Path("queue", "cur", c.name)); err != nil {
			return out, full, fmt.Errorf("claim %s: %w", name, err)
		}
		out = append(out, c)
		bytes += info.Size()
		next++
	}
	for _, d := range []string{"cur", "new"} {
		if err := fsutil.SyncDir(s.Path("queue", d)); err != nil {
			return out, full, fmt.Errorf("claim: %w", err)
		}
	}
	return out, full, nil
}

// readJobFile reads a claimed job, refusing anything that is not a regular
// file (a symlink could point anywhere) or that is over the size limit.
func readJobFile(path string, maxBytes int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, invalid("job file is a symlink")
		}
		return nil, fmt.Errorf("read job: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, invalid("job file is not a regular file (%s)", info.Mode().Type())
	}
	if maxBytes > 0 && info.Size() > maxBytes {
		return nil, invalid("job is %d bytes, over the limit of %d (job.max_bytes)", info.Size(), maxBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	return b, nil
}

// jobTime is the job's creation time from its ULID, or now for a foreign name.
func jobTime(id string) time.Time {
	if u, err := ulid.ParseStrict(id); err == nil {
		return ulid.Time(u.Time()).UTC()
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

// deadLetter moves a claimed job to queue/dead with a .err file saying why.
func deadLetter(s *snapshot.Store, c claimed, reason string) error {
	base := c.id + jobExt
	if err := fsutil.WriteFileAtomic(s.Path("queue", "dead", base+".err"), []byte(reason+"\n")); err != nil {
		return fmt.Errorf("dead-letter %s: %w", c.id, err)
	}
	if err := fsutil.Rename(s.Path("queue", "cur", c.name), s.Path("queue", "dead", base)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dead-letter %s: %w", c.id, err)
	}
	return nil
}

// QueueState counts the jobs waiting in each part of the spool.
type QueueState struct {
	New  int `json:"new"`
	Cur  int `json:"claimed"`
	Dead int `json:"dead"`
}

// Queue counts the spool's jobs.
func Queue(s *snapshot.Store) (QueueState, error) {
	var q QueueState
	for _, d := range []struct {
		name string
		n    *int
	}{{"new", &q.New}, {"cur", &q.Cur}, {"dead", &q.Dead}} {
		ents, err := os.ReadDir(s.Path("queue", d.name))
		if err != nil {
			return q, fmt.Errorf("read queue: %w", err)
		}
		for _, e := range ents {
			if filepath.Ext(e.Name()) == jobExt {
				*d.n++
			}
		}
	}
	return q, nil
}

// deadTempAge is how old an unlocked temp job file must be before a writer
// removes it. A producer locks its file right after creating it; the age
// keeps a writer from taking that lock in the instant between the two.
const deadTempAge = 2 * time.Second

// removeDeadTemps deletes job files in queue/tmp whose producer died before
// renaming them into queue/new. A live producer holds an exclusive flock on
// its file until the rename, so a file older than deadTempAge whose lock can
// be taken is garbage: it was never acknowledged. Caller holds the writer
// lock.
func removeDeadTemps(s *snapshot.Store) (int, error) {
	ents, err := os.ReadDir(s.Path("queue", "tmp"))
	if err != nil {
		return 0, fmt.Errorf("clean queue/tmp: %w", err)
	}
	removed := 0
	for _, e := range ents {
		path := s.Path("queue", "tmp", e.Name())
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < deadTempAge {
			continue // gone meanwhile, or too fresh to judge
		}
		f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // renamed by its producer meanwhile
			}
			if !errors.Is(err, unix.ELOOP) {
				return removed, fmt.Errorf("clean queue/tmp: %w", err)
			}
			// A symlink: nobody's job file. Remove the link itself.
		} else {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				continue // its producer is still writing it
			}
		}
		if err := fsutil.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("clean queue/tmp: %w", err)
		}
		removed++
	}
	return removed, nil
}
