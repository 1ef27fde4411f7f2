// Package queue owns the job spool on disk, maildir-style: producers write
// tmp/<id>.job, fsync it, rename it into new/ and fsync new/ (the job is
// durable, and acknowledged, once that returns). The writer claims jobs by
// renaming them to cur/<claim seq>-<id>.job; claim order is apply order.
// Rejected jobs end in dead/ beside a <id>.job.err file with the reason.
//
// Every other package goes through this one for the spool's paths and file
// names. It takes no lock of its own: any number of producers may spool at
// once; claiming, dead-lettering and cleaning up are the writer's, under
// the writer lock.
package queue

import "errors"
import "fmt"
import "io"
import "os"
import "path/filepath"
import "sort"
import "strconv"
import "strings"
import "time"

import "github.com/oklog/ulid/v2"

import "github.com/memsnap/memsnap/internal/failpoint"
import "github.com/memsnap/memsnap/internal/filelock"
import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/model"

// Ext is the extension of every job file.
const Ext = ".job"

// Subdirs are the spool's directories, in the order a job moves through them.
var Subdirs = []string{"tmp", "new", "cur", "dead"}

// Queue is the spool under one directory (a store's queue/). It holds no
// open files and is safe for concurrent use.
type Queue struct {
	dir string
}

// New returns the spool under dir.
func New(dir string) *Queue { return &Queue{dir: dir} }

func (q *Queue) path(sub, name string) string { return filepath.Join(q.dir, sub, name) }

// NewID returns a fresh job id: a ULID, so that ids sort by enqueue time.
func NewID() string { return ulid.Make().String() }

// ValidID reports whether id is a job id: a ULID in the form NewID writes
// (26 characters of Crockford base32, upper case). Every job memsnap queues
// gets its id from NewID, and a rollback queues jobs again under the ids
// they were claimed with, so this is the only shape a job id ever has. The
// rule keeps what else a file name in new/ can be (empty, dotted, too long
// for a claim name, not UTF-8, a lower-case ULID) out of claim names,
// manifests and job outcomes.
func ValidID(id string) bool {
	u, err := ulid.ParseStrict(id)
	return err == nil && u.String() == id
}

// Enqueue makes data durable as job id in new/. The job is acknowledged
// only once its rename into new/ and the directory fsync have returned; an
// error means it was not queued, or says plainly when a writer had already
// taken it (and it may still be applied).
func (q *Queue) Enqueue(id string, data []byte) error {
	queued, err := q.Spool(id, data)
	if err != nil {
		return err
	}
	if err := q.SyncNew(); err != nil {
		// The job is visible but not durable. Take it back so that the
		// caller's retry cannot apply it twice, unless a writer has already
		// claimed it.
		if rmErr := os.Remove(queued); rmErr == nil || !errors.Is(rmErr, os.ErrNotExist) {
			return fmt.Errorf("fsync queue/new (job not queued): %w", err)
		}
		return fmt.Errorf("fsync queue/new failed after a writer took job %s, which may still be applied (check 'memsnap job %s' before retrying): %w", id, id, err)
	}
	return nil
}

// Spool writes data as job id into tmp/, fsyncs it and renames it into new/,
// returning its path there. The caller fsyncs new/ (SyncNew). While the file
// is in tmp/ its writer holds an exclusive flock on it, which tells a writer
// cleaning up after dead producers (RemoveDeadTemps) to leave it alone.
func (q *Queue) Spool(id string, data []byte) (queued string, err error) {
	name := id + Ext
	tmp := q.path("tmp", name)
	f, err := fsutil.CreateExcl(tmp)
	if err != nil {
		return "", fmt.Errorf("create job file: %w", err)
	}
	defer f.Close()
	// On failure the file is closed before it is removed: Windows refuses
	// to delete a file that is still open (closing twice is harmless).
	if err := filelock.Lock(f, filelock.Exclusive); err != nil {
		f.Close()
		_ = os.Remove(tmp)
		return "", fmt.Errorf("lock job file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
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
	queued = q.path("new", name)
	if closeBeforeRename {
		f.Close() // drops the lock: see closeBeforeRename
	}
	if err = fsutil.Rename(tmp, queued); err != nil {
		return "", fmt.Errorf("move job into queue/new: %w", err)
	}
	failpoint.Hit("enqueue-after-rename")
	return queued, nil
}

// SyncNew fsyncs new/, making the jobs renamed into it durable.
func (q *Queue) SyncNew() error { return q.sync("new") }

// sync fsyncs the spool directory sub; its error names the directory.
func (q *Queue) sync(sub string) error { return fsutil.SyncDir(filepath.Join(q.dir, sub)) }

// Queued reports whether job id waits in new/.
func (q *Queue) Queued(id string) bool { return fsutil.Exists(q.path("new", id+Ext)) }

// RemoveTemp removes job id's file from tmp/, left by an interrupted Spool.
func (q *Queue) RemoveTemp(id string) error {
	if err := os.Remove(q.path("tmp", id+Ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove queue/tmp/%s%s: %w", id, Ext, err)
	}
	return nil
}

// Claimed is one job file in cur/.
type Claimed struct {
	Seq  uint64 // claim seq: apply order and the unit of a snapshot's watermark
	ID   string
	Name string // file name in cur/ (and in a snapshot's jobs/)
	Size int64  // bytes, by lstat (a sparse file's apparent size)
	// Irregular: the file is not a regular file (a symlink, a FIFO, a
	// directory); the writer rejects it unread.
	Irregular bool
}

// ParseClaimedName parses a cur/ file name, <claim seq>-<id>.job.
func ParseClaimedName(name string) (Claimed, bool) {
	if !strings.HasSuffix(name, Ext) {
		return Claimed{}, false
	}
	seqStr, rest, ok := strings.Cut(strings.TrimSuffix(name, Ext), "-")
	if !ok {
		return Claimed{}, false
	}
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if err != nil {
		return Claimed{}, false
	}
	return Claimed{Seq: seq, ID: rest, Name: name}, true
}

func claimedName(seq uint64, id string) string { return fmt.Sprintf("%016d-%s%s", seq, id, Ext) }

// NewDir is the directory queued jobs appear in (by rename), for watching.
func (q *Queue) NewDir() string { return filepath.Join(q.dir, "new") }

// Path is the claimed job's file in cur/.
func (q *Queue) Path(c Claimed) string { return q.path("cur", c.Name) }

// Claimed returns the jobs in cur/ in claim order.
func (q *Queue) Claimed() ([]Claimed, error) {
	out, err := list(q, "cur", "list claimed jobs", func(e os.DirEntry) (Claimed, bool) {
		c, ok := ParseClaimedName(e.Name())
		if ok {
			if info, err := e.Info(); err == nil {
				c.Size, c.Irregular = info.Size(), !info.Mode().IsRegular()
			}
		}
		return c, ok
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, err
}

// CurDir is the directory claimed jobs are moved to, for watching.
func (q *Queue) CurDir() string { return filepath.Join(q.dir, "cur") }

// NewPath is job id's file in new/.
func (q *Queue) NewPath(id string) string { return q.path("new", id+Ext) }

// Holds reports whether job id waits in new/ or is claimed in cur/.
func (q *Queue) Holds(id string) (bool, error) {
	if q.Queued(id) {
		return true, nil
	}
	claimed, err := q.Claimed()
	for _, c := range claimed {
		if c.ID == id {
			return true, nil
		}
	}
	return false, err
}

// QueuedIDs returns the ids of the jobs in new/, in the order the writer
// claims them (ULIDs sort by time); names that are not <job id>.job are
// left out.
func (q *Queue) QueuedIDs() ([]string, error) {
	names, err := q.listNew()
	ids := make([]string, 0, len(names))
	for _, n := range names {
		if JobFileName(n) {
			ids = append(ids, strings.TrimSuffix(n, Ext))
		}
	}
	return ids, err
}

// listNew returns every name in new/, sorted (ULIDs sort by time). Names
// that are not <job id>.job are listed too: Claim dead-letters them.
func (q *Queue) listNew() ([]string, error) {
	out, err := list(q, "new", "list queued jobs", func(e os.DirEntry) (string, bool) {
		return e.Name(), true
	})
	sort.Strings(out)
	return out, err
}

// list reads the spool directory sub and returns what keep makes of the
// entries it keeps; what names the listing in an error.
func list[T any](q *Queue, sub, what string, keep func(e os.DirEntry) (T, bool)) ([]T, error) {
	ents, err := os.ReadDir(filepath.Join(q.dir, sub))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var out []T
	for _, e := range ents {
		if v, ok := keep(e); ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// Bytes is what the claimed job counts for in a batch's byte limit and
// free-space estimate: its size, or 0 for a file over maxJobBytes
// (job.max_bytes; 0: no limit) or one that is not a regular file. Such a
// file is never read: the writer rejects it by stat (ReadJobFile) and
// dead-letters it, so a 100 GB sparse file dropped into new/ costs nothing
// and cannot hold back the jobs claimed with it.
func (c Claimed) Bytes(maxJobBytes int64) int64 {
	if c.Irregular || (maxJobBytes > 0 && c.Size > maxJobBytes) {
		return 0
	}
	return c.Size
}

// Claim moves up to maxJobs jobs and maxBytes bytes (at least one job) from
// new/ to cur/, numbering them from next on, and fsyncs both directories.
// Each file's size is taken by stat (lstat) before it is claimed; a file over
// maxJobBytes (job.max_bytes; 0: no limit) or not a regular file counts for
// no bytes (see Claimed.Bytes): the writer rejects it unread, so it never
// holds back the jobs behind it. A file whose name is not <job id>.job
// (ValidID), whatever it ends in ("X.JOB", "X", "X.job.tmp"), is never
// claimed: it goes to dead/ under a fresh id, its .err quoting the name, and
// counts for nothing; badNames lists each such file moved (its name and the
// id it is dead under), once per file. full reports that the limits left
// behind jobs that were already queued when it looked. Caller holds the
// writer lock.
func (q *Queue) Claim(next uint64, maxJobs int, maxBytes, maxJobBytes int64) (out []Claimed, badNames []BadName, full bool, err error) {
	names, err := q.listNew()
	if err != nil || len(names) == 0 {
		return nil, nil, false, err
	}
	if maxJobs <= 0 {
		return nil, nil, true, nil
	}
	var bytes int64
	for _, name := range names {
		if len(out) >= maxJobs {
			full = true
			break
		}
		if !JobFileName(name) {
			id, err := q.deadLetterBadName(name)
			if err != nil {
				return out, badNames, full, err
			}
			if id != "" {
				badNames = append(badNames, BadName{Name: name, ID: id})
			}
			continue
		}
		info, err := os.Lstat(q.path("new", name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, badNames, full, fmt.Errorf("claim %s: %w", name, err)
		}
		c := Claimed{Seq: next, ID: strings.TrimSuffix(name, Ext), Size: info.Size(), Irregular: !info.Mode().IsRegular()}
		n := c.Bytes(maxJobBytes)
		if len(out) > 0 && bytes+n > maxBytes {
			full = true
			break
		}
		c.Name = claimedName(c.Seq, c.ID)
		if err := fsutil.Rename(q.path("new", name), q.Path(c)); err != nil {
			return out, badNames, full, fmt.Errorf("claim %s: %w", name, err)
		}
		out = append(out, c)
		bytes += n
		next++
	}
	dirs := []string{"cur", "new"}
	if len(badNames) > 0 {
		dirs = append(dirs, "dead")
	}
	for _, d := range dirs {
		if err := q.sync(d); err != nil {
			return out, badNames, full, fmt.Errorf("claim: %w", err)
		}
	}
	return out, badNames, full, nil
}

// BadName is a file Claim found in new/ under a name that is not
// <job id>.job and moved to dead/: Name is the name it had (any bytes), ID
// the fresh job id it is dead under.
type BadName struct {
	Name string
	ID   string
}

// JobFileName reports whether name, an entry of new/, is <job id>.job: a
// job Claim would claim, not a file it dead-letters unread.
func JobFileName(name string) bool {
	id, ok := strings.CutSuffix(name, Ext)
	return ok && ValidID(id)
}

// maxQuotedName is how many bytes of a bad file name a dead letter quotes.
const maxQuotedName = 80

// deadLetterBadName moves new/name, whose name is not <job id>.job, to dead/
// under a fresh id with a .err file quoting the name, so that it can be
// looked up and never blocks the jobs behind it, and returns that id ("" if
// the file was gone before it could be moved). The caller fsyncs dead/.
func (q *Queue) deadLetterBadName(name string) (string, error) {
	quoted := name
	if len(quoted) > maxQuotedName {
		quoted = quoted[:maxQuotedName]
	}
	quoted = fmt.Sprintf("%q", quoted)
	if len(name) > maxQuotedName {
		quoted += fmt.Sprintf(" (cut; %d bytes in all)", len(name))
	}
	id := NewID()
	reason := fmt.Sprintf("job file name %s in queue/new is not <job id>%s (a job id is a ULID as memsnap enqueue makes); moved here as %s%s", quoted, Ext, id, Ext)
	if err := fsutil.WriteFileAtomic(q.path("dead", id+Ext+".err"), []byte(reason+"\n")); err != nil {
		return "", fmt.Errorf("dead-letter job file %s: %w", quoted, err)
	}
	if err := fsutil.Rename(q.path("new", name), q.path("dead", id+Ext)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			_ = os.Remove(q.path("dead", id+Ext+".err"))
			return "", nil
		}
		return "", fmt.Errorf("dead-letter job file %s: %w", quoted, err)
	}
	return id, nil
}

// errSymlink is openJobFile's answer for a symlink (on Windows, also for
// another reparse point, such as a junction).
var errSymlink = errors.New("queue: job file is a symlink")

// ReadJobFile reads a job file, refusing anything that is not a regular
// file (a symlink could point anywhere), that is writable by group or
// others or owned by another user (memsnap writes job files 0600), or that
// is over maxBytes; those refusals wrap model.ErrInvalidJob.
func ReadJobFile(path string, maxBytes int64) ([]byte, error) {
	f, err := openJobFile(path)
	if err != nil {
		if errors.Is(err, errSymlink) {
			return nil, model.Invalidf("job file is a symlink")
		}
		return nil, fmt.Errorf("read job: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, model.Invalidf("job file is not a regular file (%s)", info.Mode().Type())
	}
	if err := checkOwner(path, info); err != nil {
		return nil, err
	}
	if maxBytes > 0 && info.Size() > maxBytes {
		return nil, model.Invalidf("job is %d bytes, over the limit of %d (job.max_bytes)", info.Size(), maxBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	return b, nil
}

// JobTime is the job's creation time from its ULID id, or now for an id
// that is not a ULID.
func JobTime(id string) time.Time {
	if u, err := ulid.ParseStrict(id); err == nil {
		return ulid.Time(u.Time()).UTC()
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

// DeadLetter moves a claimed job to dead/ with a .err file saying why. The
// caller fsyncs (SyncClaimedAndDead).
func (q *Queue) DeadLetter(c Claimed, reason string) error {
	base := c.ID + Ext
	if err := fsutil.WriteFileAtomic(q.path("dead", base+".err"), []byte(reason+"\n")); err != nil {
		return fmt.Errorf("dead-letter %s: %w", c.ID, err)
	}
	if err := fsutil.Rename(q.Path(c), q.path("dead", base)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dead-letter %s: %w", c.ID, err)
	}
	return nil
}

// RemoveClaimed deletes a claimed job's file (applied, or queued again).
// The caller fsyncs (SyncClaimedAndDead).
func (q *Queue) RemoveClaimed(c Claimed) error {
	if err := fsutil.Remove(q.Path(c)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err // names the file
	}
	return nil
}

// SyncClaimedAndDead fsyncs cur/ and dead/ after RemoveClaimed or DeadLetter.
func (q *Queue) SyncClaimedAndDead() error {
	for _, d := range []string{"cur", "dead"} {
		if err := q.sync(d); err != nil {
			return err
		}
	}
	return nil
}

// Counts is how many jobs each part of the spool holds.
type Counts struct {
	New  int `json:"new"`
	Cur  int `json:"claimed"`
	Dead int `json:"dead"`
}

// Waiting is the jobs not yet in a snapshot: queued plus claimed.
func (c Counts) Waiting() int { return c.New + c.Cur }

// Counts counts the spool's jobs.
func (q *Queue) Counts() (Counts, error) {
	var c Counts
	for _, d := range []struct {
		name string
		n    *int
	}{{"new", &c.New}, {"cur", &c.Cur}, {"dead", &c.Dead}} {
		jobs, err := list(q, d.name, "read queue", func(e os.DirEntry) (string, bool) {
			// Every entry of new/ counts: one not named <job id>.job is
			// waiting to be dead-lettered by the next claim.
			return e.Name(), d.name == "new" || filepath.Ext(e.Name()) == Ext
		})
		if err != nil {
			return c, err
		}
		*d.n = len(jobs)
	}
	return c, nil
}

// Place is where in the spool a job is.
type Place int

// Places of a job, as Lookup reports them.
const (
	// Nowhere: no file of the job is in the spool (unknown, or applied and
	// cleaned up).
	Nowhere Place = iota
	// Waiting: in tmp/ (being spooled), new/ (queued) or cur/ (claimed).
	Waiting
	// Dead: rejected; the reason is in its .err file.
	Dead
)

// Lookup says where job id is in the spool and, for a dead job, why it was
// rejected.
func (q *Queue) Lookup(id string) (place Place, reason string) {
	name := id + Ext
	for _, p := range []string{q.path("new", name), q.path("tmp", name), q.path(fwdDir, name)} {
		if _, err := os.Lstat(p); err == nil {
			return Waiting, ""
		}
	}
	if m, _ := filepath.Glob(q.path("cur", "*-"+name)); len(m) > 0 {
		return Waiting, ""
	}
	if b, err := os.ReadFile(q.path("dead", name+".err")); err == nil {
		return Dead, strings.TrimSpace(string(b))
	}
	if _, err := os.Lstat(q.path("dead", name)); err == nil {
		return Dead, MissingReason
	}
	return Nowhere, ""
}

// deadTempAge is how old an unlocked temp job file must be before a writer
// removes it. A producer locks its file right after creating it; the age
// keeps a writer from taking that lock in the instant between the two.
const deadTempAge = 2 * time.Second

// RemoveDeadTemps deletes job files in tmp/ whose producer died before
// renaming them into new/, and returns how many. A live producer holds an
// exclusive flock on its file until the rename, so a file older than
// deadTempAge whose lock can be taken is garbage: it was never
// acknowledged. Caller holds the writer lock.
func (q *Queue) RemoveDeadTemps() (int, error) {
	ents, err := os.ReadDir(filepath.Join(q.dir, "tmp"))
	if err != nil {
		return 0, fmt.Errorf("clean queue/tmp: %w", err)
	}
	removed := 0
	for _, e := range ents {
		path := q.path("tmp", e.Name())
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < deadTempAge {
			continue // gone meanwhile, or too fresh to judge
		}
		f, err := openJobFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // renamed by its producer meanwhile
			}
			if !errors.Is(err, errSymlink) {
				return removed, fmt.Errorf("clean queue/tmp: %w", err)
			}
			// A symlink: nobody's job file. Remove the link itself.
		} else {
			err = filelock.TryLock(f, filelock.Exclusive)
			f.Close()
			if errors.Is(err, filelock.ErrWouldBlock) {
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

// DeadJob is a rejected job in dead/: its id, when it was rejected (the time
// of its .err file) and why.
type DeadJob struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
}

// MissingReason is a DeadJob's Reason when dead/ holds its job file but
// not its .err file (removed by hand, or lost).
const MissingReason = "unknown (its .err file is missing)"

// DeadJobs lists the newest limit rejected jobs (every one for limit <= 0),
// newest first, with their reasons. A dead job is its job file in dead/ or
// its .err file (written first when a job is dead-lettered: a crash before
// the job file's rename leaves it alone); one with only its job file has
// Reason MissingReason and the time of its job file.
func (q *Queue) DeadJobs(limit int) ([]DeadJob, error) {
	type found struct {
		job       DeadJob
		err, file bool // its .err, its job file
	}
	entries, err := list(q, "dead", "read dead jobs", func(e os.DirEntry) (found, bool) {
		id, errFile := strings.CutSuffix(e.Name(), Ext+".err")
		if !errFile {
			var ok bool
			if id, ok = strings.CutSuffix(e.Name(), Ext); !ok {
				return found{}, false
			}
		}
		info, err := e.Info()
		if err != nil {
			return found{}, false // removed since the listing
		}
		return found{job: DeadJob{ID: id, Time: info.ModTime()}, err: errFile, file: !errFile}, true
	})
	if err != nil {
		return nil, err
	}
	byID := map[string]*found{}
	for i := range entries {
		f := &entries[i]
		if seen, ok := byID[f.job.ID]; !ok {
			byID[f.job.ID] = f
		} else if f.err { // the .err's time is the time of the rejection
			seen.job.Time, seen.err = f.job.Time, true
		}
	}
	jobs := make([]DeadJob, 0, len(byID))
	for _, f := range byID {
		if !f.err {
			f.job.Reason = MissingReason
		}
		jobs = append(jobs, f.job)
	}
	sort.Slice(jobs, func(i, j int) bool {
		if !jobs[i].Time.Equal(jobs[j].Time) {
			return jobs[i].Time.After(jobs[j].Time)
		}
		return jobs[i].ID > jobs[j].ID
	})
	if limit > 0 && len(jobs) > limit {
		jobs = jobs[:limit]
	}
	for i := range jobs {
		if jobs[i].Reason != "" {
			continue
		}
		if b, err := os.ReadFile(q.path("dead", jobs[i].ID+Ext+".err")); err == nil {
			jobs[i].Reason = strings.TrimSpace(string(b))
		}
	}
	return jobs, nil
}

// ErrNotDead is returned (wrapped) by DeadJobFile and RemoveDead for an id
// that is not a job id or names no job in dead/.
var ErrNotDead = errors.New("queue: no such dead job")

// DeadJobFile returns the path of dead job id's file in dead/, or an error
// wrapping ErrNotDead when there is none (its .err alone, written first
// when a job is dead-lettered, does not count).
func (q *Queue) DeadJobFile(id string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("%w: %q is not a job id", ErrNotDead, id)
	}
	p := q.path("dead", id+Ext)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", ErrNotDead, id)
	} else if err != nil {
		return "", fmt.Errorf("read dead job %s: %w", id, err)
	}
	return p, nil
}

// RemoveDead deletes dead job id: its file first, then its .err (a crash
// in between leaves a .err that DeadJobs lists and RemoveDead removes, not
// an unlisted job file), and fsyncs dead/. An id with neither file wraps ErrNotDead. The caller holds the
// writer lock, so that no writer dead-letters the same id meanwhile.
func (q *Queue) RemoveDead(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%w: %q is not a job id", ErrNotDead, id)
	}
	found := false
	for _, name := range []string{id + Ext, id + Ext + ".err"} {
		err := fsutil.Remove(q.path("dead", name))
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("remove dead job %s: %w", id, err)
		}
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrNotDead, id)
	}
	if err := q.sync("dead"); err != nil {
		return fmt.Errorf("remove dead job %s: %w", id, err)
	}
	return nil
}

// Next returns the bytes the job a writer applies first counts for
// (Claimed.Bytes with maxJobBytes: 0 for a file the writer rejects unread):
// the first one in cur/ in claim order, else the oldest in new/; ok is false
// when the spool holds neither. It takes no lock (a writer may be moving
// that very job): a job that vanishes meanwhile is skipped.
func (q *Queue) Next(maxJobBytes int64) (size int64, ok bool, err error) {
	cur, err := q.Claimed()
	if err != nil {
		return 0, false, err
	}
	if len(cur) > 0 {
		return cur[0].Bytes(maxJobBytes), true, nil
	}
	names, err := q.listNew()
	if err != nil {
		return 0, false, err
	}
	for _, name := range names {
		if !JobFileName(name) {
			continue // Claim dead-letters it unread
		}
		info, err := os.Lstat(q.path("new", name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("read queue: %w", err)
		}
		return Claimed{Size: info.Size(), Irregular: !info.Mode().IsRegular()}.Bytes(maxJobBytes), true, nil
	}
	return 0, false, nil
}
