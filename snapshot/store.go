package snapshot

import "errors"
import "fmt"
import "os"
import "path/filepath"
import "sort"
import "strconv"
import "strings"
import "sync/atomic"

import "github.com/memsnap/memsnap/internal/failpoint"
import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/queue"

// File and directory names inside a store and a snapshot.
const (
	LockFile     = "LOCK"
	CurrentFile  = "CURRENT"
	GraphFile    = "graph.kuzu"
	KVDir        = "kv"
	ManifestFile = "MANIFEST.json"
	PinFile      = "PIN"
	// JobsDir holds the job files of the batch that built a snapshot.
	JobsDir = "jobs"
)

// ErrNoStore is returned when the store directory has not been initialised.
var ErrNoStore = errors.New("snapshot: store not initialised (run 'memsnap init')")

// ErrNoSnapshot is returned when the store has no published snapshot yet.
var ErrNoSnapshot = errors.New("snapshot: nothing published yet (enqueue a job and run 'memsnap commit')")

// Store is a store directory. It holds no open files and is safe for
// concurrent use.
type Store struct {
	dir string
	// pinsRefused counts Pin calls that found the PIN locked exclusively
	// (see PinsRefused).
	pinsRefused atomic.Int64
}

// QueueDir is the job spool's directory; package queue owns what is inside.
const QueueDir = "queue"

// layout is every directory of a store.
var layout = func() []string {
	var dirs []string
	for _, d := range queue.Subdirs {
		dirs = append(dirs, QueueDir+"/"+d)
	}
	return append(dirs, "snapshots", "staging", "trash")
}()

// InitOptions adjusts Init.
type InitOptions struct {
	// Force makes a store in a directory that holds other files (Init
	// refuses one with a *NotStoreError otherwise).
	Force bool
}

// Init creates the store layout under dir. It is idempotent and never touches
// existing data. It refuses, creating nothing, a directory another user
// could tamper with (see checkAccess), one that is neither empty nor a
// store (a *NotStoreError) and a path that is not a directory (a
// *NotDirError).
func Init(dir string) (*Store, error) { return InitWith(dir, InitOptions{}) }

// InitWith is Init with options.
func InitWith(dir string, opts InitOptions) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("init store: %w", err)
	}
	// Before anything is created: 'memsnap --store /tmp init' must leave
	// /tmp as it was.
	if err := checkRoot(abs); err != nil {
		return nil, err
	}
	if !opts.Force {
		if err := checkEmptyOrStore(abs); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(abs, fsutil.DirPerm); err != nil {
		return nil, fmt.Errorf("init store %s: %w", abs, err)
	}
	for _, d := range layout {
		if err := os.MkdirAll(filepath.Join(abs, d), fsutil.DirPerm); err != nil {
			return nil, fmt.Errorf("init store %s: %w", abs, err)
		}
	}
	lock := filepath.Join(abs, LockFile)
	f, err := os.OpenFile(lock, os.O_CREATE|os.O_RDWR, fsutil.FilePerm)
	if err != nil {
		return nil, fmt.Errorf("init store %s: %w", abs, err)
	}
	f.Close()
	for _, d := range []string{abs, filepath.Join(abs, QueueDir)} {
		if err := fsutil.SyncDir(d); err != nil {
			return nil, fmt.Errorf("init store: %w", err)
		}
	}
	if err := checkAccess(abs); err != nil {
		return nil, err
	}
	return &Store{dir: abs}, nil
}

// Open opens an initialised store. It fails with ErrNoStore if the layout is
// missing (the directory is missing, empty or a store's beginnings), with a
// *NotStoreError (ErrNotAStore) if the directory holds other files, with a
// *NotDirError (ErrNotDir) if the path is not a directory, and
// refuses a file and a store that another user could tamper with (see
// checkAccess).
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if info, err := os.Stat(abs); err == nil && !info.IsDir() {
		return nil, &NotDirError{Dir: abs, Kind: kind(info.Mode())}
	} else if err != nil {
		if nd := notDirAncestor(abs); nd != nil {
			return nil, nd
		}
	}
	for _, d := range layout {
		if _, err := os.Stat(filepath.Join(abs, d)); err != nil {
			// 'memsnap init' would refuse a directory holding other
			// files: say it is not a store rather than advise init.
			var ns *NotStoreError
			if errors.As(checkEmptyOrStore(abs), &ns) {
				ns.Open = true
				return nil, ns
			}
			return nil, fmt.Errorf("open store %s: %w", abs, ErrNoStore)
		}
	}
	if err := checkAccess(abs); err != nil {
		return nil, err
	}
	return &Store{dir: abs}, nil
}

// Queue is the store's job spool.
func (s *Store) Queue() *queue.Queue { return queue.New(s.Path(QueueDir)) }

// Dir is the store's absolute directory.
func (s *Store) Dir() string { return s.dir }

// Path joins elem onto the store directory.
func (s *Store) Path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// SnapshotDir is the directory of snapshot seq.
func (s *Store) SnapshotDir(seq uint64) string {
	return s.Path("snapshots", FormatSeq(seq))
}

// FormatSeq renders a seq as a fixed-width decimal so names sort by seq.
func FormatSeq(seq uint64) string { return fmt.Sprintf("%012d", seq) }

// Current returns the seq named by CURRENT, or 0 when nothing is published.
func (s *Store) Current() (uint64, error) {
	b, err := fsutil.ReadFile(s.Path(CurrentFile)) // retries while a publish replaces it on Windows
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read CURRENT: %w", err)
	}
	return ParseCurrent(b)
}

// NoCurrentError is the error of a read that finds no CURRENT file: with
// no snapshot on disk, ErrNoSnapshot (nothing is published yet); beside
// snapshots, a *CurrentError (ErrCurrentMissing, Reading) naming them and
// the repair. op names what was refused ("read").
func (s *Store) NoCurrentError(op string) error {
	seqs, err := s.Seqs()
	if err != nil || len(seqs) == 0 {
		return ErrNoSnapshot
	}
	return &CurrentError{Op: op, Path: s.Path(CurrentFile), Newer: seqs, Err: ErrCurrentMissing, Hint: repairHint, Reading: true}
}

// ParseCurrent parses the content of a CURRENT file: one non-zero decimal
// seq as memsnap writes it (no sign, no leading zeros) and an optional
// trailing newline. Anything else is reported as corrupt: a *CurrentError
// (errors.Is ErrCurrentCorrupt) whose Hint is the repair command.
func ParseCurrent(b []byte) (uint64, error) {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return 0, corruptCurrent("the file is empty")
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil || seq == 0 || s != strconv.FormatUint(seq, 10) {
		return 0, corruptCurrent(fmt.Sprintf("%q is not a snapshot seq", truncate(s, 40)))
	}
	return seq, nil
}

// Seqs lists the seqs of every directory under snapshots/, ascending.
func (s *Store) Seqs() ([]uint64, error) {
	ents, err := os.ReadDir(s.Path("snapshots"))
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return seqDirs(ents), nil
}

// seqDirs is the seqs that name directories among ents, ascending.
func seqDirs(ents []os.DirEntry) []uint64 {
	var out []uint64
	for _, e := range ents {
		if seq, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && e.IsDir() {
			out = append(out, seq)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// nextSeq is the seq the next snapshot gets: above CURRENT and above every
// snapshot still on disk (a rollback leaves newer ones behind while readers
// pin them), so a seq never names two different snapshots at once.
func (s *Store) nextSeq(cur uint64) (uint64, error) {
	seqs, err := s.Seqs()
	if err != nil {
		return 0, err
	}
	next := cur + 1
	if n := len(seqs); n > 0 && seqs[n-1] >= next {
		next = seqs[n-1] + 1
	}
	return next, nil
}

// writeCurrent atomically points CURRENT at seq.
func (s *Store) writeCurrent(seq uint64) error {
	failpoint.Hit("before-current")
	if err := fsutil.WriteFileAtomic(s.Path(CurrentFile), []byte(strconv.FormatUint(seq, 10)+"\n")); err != nil {
		return fmt.Errorf("swap CURRENT to %d: %w", seq, err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// corruptCurrent is ParseCurrent's error for a CURRENT that holds no seq.
func corruptCurrent(detail string) error {
	return &CurrentError{Detail: detail, Err: ErrCurrentCorrupt, Hint: repairHint, Reading: true}
}
