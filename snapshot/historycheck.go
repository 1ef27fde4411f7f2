package snapshot

import "bytes"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "strings"

import "github.com/memsnap/memsnap/internal/fsutil"

// The history log's check: what Check finds wrong in history/<seq>/.

// HistoryError is damage found in a history entry (history/<seq>/): its
// manifest does not parse or names another snapshot, a job file it lists
// is missing or does not match its checksum, or the entry disagrees with
// snapshots/. Path is the file concerned. It matches ErrCorrupt, unless
// the manifest was written by a newer memsnap (ErrNewerFormat).
type HistoryError struct {
	Seq  uint64
	Path string
	Err  error
}

func (e *HistoryError) Error() string {
	return fmt.Sprintf("history of snapshot %d: %s: %v", e.Seq, e.Path, e.Err)
}

// Is makes errors.Is(e, ErrCorrupt) hold for damage.
func (e *HistoryError) Is(target error) bool {
	return target == ErrCorrupt && !errors.Is(e.Err, ErrNewerFormat)
}

// Unwrap returns Err.
func (e *HistoryError) Unwrap() error { return e.Err }

// CheckHistoryEntry checks the history entry of manifest m in dir (a
// history/<seq>/ directory, or one being assembled to become one): every
// job file m lists is under dir/jobs/ with the size and CRC-32C m gives.
// It returns every problem found, each a *HistoryError naming the file.
func CheckHistoryEntry(dir string, m *Manifest) []error {
	var problems []error
	for _, f := range m.Files {
		if !strings.HasPrefix(f.Path, JobsDir+"/") {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		b, err := os.ReadFile(path)
		switch {
		case err != nil:
			problems = append(problems, &HistoryError{Seq: m.Seq, Path: path, Err: err})
		case !f.Matches(b):
			problems = append(problems, &HistoryError{Seq: m.Seq, Path: path,
				Err: errors.New("size or CRC-32C does not match the manifest (the file is corrupt)")})
		}
	}
	return problems
}

// checkHistory adds a FindHistory finding for each problem of the history
// log (history/<seq>/, see history.go): each entry's manifest parses and
// names its own seq and a parent older than it, its job files are there
// and match their checksums (CheckHistoryEntry), an entry whose snapshot
// is still kept in full holds the same manifest, and no entry is newer
// than the newest snapshot. An entry GC removes while it is read is not a
// finding.
func (s *Store) checkHistory(r *CheckReport) error {
	seqs, err := s.HistorySeqs()
	if err != nil {
		return fmt.Errorf("store check: %w", err)
	}
	if len(seqs) == 0 {
		return nil
	}
	full, err := s.Seqs()
	if err != nil {
		return fmt.Errorf("store check: %w", err)
	}
	newest := r.Current
	if len(full) > 0 {
		newest = max(newest, full[len(full)-1])
	}
	for _, seq := range seqs {
		dir := s.historyDir(seq)
		problems := s.checkHistoryDir(seq, dir, newest)
		if len(problems) > 0 && !fsutil.Exists(dir) {
			continue // pruned by GC meanwhile
		}
		for _, p := range problems {
			r.Findings = append(r.Findings, &Finding{Kind: FindHistory, Seq: seq, Err: p,
				Hint: historyHint(seq)})
		}
	}
	return nil
}

// historyHint is the Hint of damage to the history entry of seq.
func historyHint(seq uint64) string {
	return fmt.Sprintf("the points of history that need it cannot be read or restored until history/%s is copied back from a backup or a replica location; "+
		"CURRENT and the other points are not affected", FormatSeq(seq))
}

// checkHistoryDir checks the history entry of seq in dir.
func (s *Store) checkHistoryDir(seq uint64, dir string, newest uint64) []error {
	mpath := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(mpath)
	if err != nil {
		return []error{&HistoryError{Seq: seq, Path: mpath, Err: err}}
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return []error{&HistoryError{Seq: seq, Path: mpath, Err: err}}
	}
	var problems []error
	switch { // the job files it lists are checked below, unless it is another's
	case m.Seq != seq:
		return []error{&HistoryError{Seq: seq, Path: mpath, Err: fmt.Errorf("the manifest names snapshot %d", m.Seq)}}
	case m.Parent >= seq:
		problems = append(problems, &HistoryError{Seq: seq, Path: mpath, Err: fmt.Errorf("the manifest names parent %d, which is not older (snapshot numbers only grow)", m.Parent)})
	case seq > newest:
		problems = append(problems, &HistoryError{Seq: seq, Path: mpath, Err: fmt.Errorf("newer than every snapshot (the newest is %d)", newest)})
	}
	if own, err := os.ReadFile(filepath.Join(s.SnapshotDir(seq), ManifestFile)); err == nil && !bytes.Equal(own, raw) {
		problems = append(problems, &HistoryError{Seq: seq, Path: mpath, Err: fmt.Errorf("differs from the manifest of snapshot %d, which is still kept in full", seq)})
	}
	return append(problems, CheckHistoryEntry(dir, m)...)
}
