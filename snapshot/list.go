package snapshot

import "errors"
import "fmt"
import "hash/crc32"
import "os"
import "path/filepath"
import "slices"
import "sort"
import "strings"
import "time"

// Info summarises one snapshot for listing.
type Info struct {
	Seq     uint64 `json:"seq"`
	Current bool   `json:"current"`
	// Pinned is true when listing saw a reader pin the snapshot. Pins is
	// how many pins it saw, or PinsUnknown (-1) when it could not tell;
	// Pinned is false then. See probePins for how it looks without
	// disturbing the readers.
	Pinned    bool      `json:"pinned"`
	Pins      int       `json:"pins"`
	CreatedAt time.Time `json:"created_at"`
	Watermark uint64    `json:"watermark"`
	Entities  int64     `json:"entities"`
	Relations int64     `json:"relations"`
	KVKeys    int64     `json:"kv_keys"`
	// Applied and Rejected count the jobs the commit that published the
	// snapshot applied and rejected.
	Applied  int `json:"applied"`
	Rejected int `json:"rejected"`
	// RollbackOf is the snapshot whose content a rollback published this
	// one with; 0 for a commit.
	RollbackOf uint64 `json:"rollback_of,omitempty"`
	// RestoreOf is the point of history whose content a restore published
	// this one with; 0 otherwise.
	RestoreOf uint64 `json:"restore_of,omitempty"`
	Bytes     int64  `json:"bytes"`
	Error     string `json:"error,omitempty"`
}

// List describes every snapshot, oldest first. It takes no lock that a
// reader's pin could conflict with (see probePins), so it can run as often
// as anyone likes beside readers. With CURRENT unreadable it still lists
// every snapshot, none marked current: picking one to roll back to is what
// a damaged CURRENT calls for (Current says what is wrong with it).
func (s *Store) List() ([]Info, error) {
	cur, _ := s.Current()
	seqs, err := s.Seqs()
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(seqs))
	probes := s.probePins(seqs)
	for i, seq := range seqs {
		in := Info{Seq: seq, Current: seq == cur, Pins: probes[i].pins, Pinned: probes[i].pins > 0}
		m, err := s.Manifest(seq)
		switch {
		case probes[i].collecting:
			in.Error = "being collected by GC"
		case err != nil:
			in.Error = err.Error()
		default:
			in.CreatedAt, in.Watermark = m.CreatedAt, m.Watermark
			in.Entities, in.Relations, in.KVKeys = m.Entities, m.Relations, m.KVKeys
			in.RollbackOf, in.RestoreOf, in.Applied, in.Rejected = m.RollbackOf, m.RestoreOf, m.Applied, m.Rejected
			for _, f := range m.Files {
				in.Bytes += f.Size
			}
		}
		out = append(out, in)
	}
	return out, nil
}

// Verify checks snapshot seq against its manifest: every listed file exists
// with its size and CRC-32C, no unlisted file is present, and the graph has
// no WAL. It returns every problem found; nil means the snapshot is intact.
func (s *Store) Verify(seq uint64) []error {
	m, err := s.Manifest(seq)
	if err != nil {
		return []error{err}
	}
	return s.VerifyFiles(m, true)
}

// VerifyFiles checks the files of the snapshot m describes: each listed one
// exists with its size (and, if checksums is set, its CRC-32C), nothing else
// is there, and the PIN exists. It returns every problem found.
func (s *Store) VerifyFiles(m *Manifest, checksums bool) []error {
	seq := m.Seq
	dir := s.SnapshotDir(seq)
	problems := s.verifyListed(m, checksums, func(string) bool { return true })
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Path] = true
	}
	files, err := walkFiles(dir)
	if err != nil {
		problems = append(problems, fmt.Errorf("snapshot %d: %w", seq, err))
	}
	var extra []string
	for _, f := range files {
		if !listed[f] {
			extra = append(extra, f)
		}
	}
	sort.Strings(extra)
	for _, f := range extra {
		problems = append(problems, WithHint(fmt.Errorf("snapshot %d: unexpected file %s", seq, f),
			fmt.Sprintf("memsnap never writes it: move it out of %s; the snapshot verifies again without it", dir)))
	}
	if !listed[GraphFile] {
		problems = append(problems, fmt.Errorf("snapshot %d: manifest lists no %s", seq, GraphFile))
	}
	if _, err := os.Stat(filepath.Join(dir, PinFile)); err != nil {
		problems = append(problems, &PinMissingError{Seq: seq, Path: filepath.Join(dir, PinFile), Hint: pinHint})
	}
	return problems
}

// VerifyKV checks only the key-value store's files of m's snapshot, as
// VerifyFiles does: for a lookup that opens nothing else.
func (s *Store) VerifyKV(m *Manifest, checksums bool) []error {
	return s.verifyListed(m, checksums, func(p string) bool { return strings.HasPrefix(p, KVDir+"/") })
}

// verifyListed checks the size (and with checksums, the CRC-32C) of every
// file m lists for which want is true.
func (s *Store) verifyListed(m *Manifest, checksums bool, want func(string) bool) []error {
	return verifyListedIn(s.SnapshotDir(m.Seq), m, checksums, want)
}

// verifyListedIn is verifyListed on the snapshot's files in dir.
func verifyListedIn(dir string, m *Manifest, checksums bool, want func(string) bool) []error {
	seq := m.Seq
	var problems []error
	for _, f := range m.Files {
		if !want(f.Path) {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if !checksums {
			info, err := os.Stat(path)
			if err != nil {
				problems = append(problems, fmt.Errorf("snapshot %d: %s: %w", seq, f.Path, err))
			} else if info.Size() != f.Size {
				problems = append(problems, fmt.Errorf("snapshot %d: %s: size %d, manifest says %d", seq, f.Path, info.Size(), f.Size))
			}
			continue
		}
		got, err := checksumFile(path, f.chunkSize())
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("snapshot %d: %s: %w", seq, f.Path, err))
		case got.Size != f.Size:
			problems = append(problems, fmt.Errorf("snapshot %d: %s: size %d, manifest says %d", seq, f.Path, got.Size, f.Size))
		case got.CRC32C != f.CRC32C || (len(f.Chunks) > 0 && !slices.Equal(got.Chunks, f.Chunks)):
			problems = append(problems, fmt.Errorf("snapshot %d: %s: checksum mismatch (file is corrupt)", seq, f.Path))
		}
	}
	return problems
}

// VerifyError summarises Verify's problems as one error, a
// *VerificationError: the first problem and how many more there are. It
// returns nil for no problems. A snapshot of a newer format is not damaged:
// that problem is returned as it is (a *NewerFormatError).
func VerifyError(seq uint64, problems []error) error {
	if len(problems) == 0 {
		return nil
	}
	if errors.Is(problems[0], ErrNewerFormat) {
		return problems[0]
	}
	return &VerificationError{Seq: seq, Problems: problems}
}

// VerificationError is a snapshot that failed verification: Problems are
// what Verify (or VerifyFiles, VerifyKV) found, at least one. It is damage:
// errors.Is(err, ErrCorrupt) holds, and errors.Is and errors.As also see
// each problem.
type VerificationError struct {
	Seq      uint64
	Problems []error
}

func (e *VerificationError) Error() string {
	first := strings.TrimPrefix(e.Problems[0].Error(), fmt.Sprintf("snapshot %d: ", e.Seq))
	if len(e.Problems) == 1 {
		return fmt.Sprintf("snapshot %d failed verification: %s", e.Seq, first)
	}
	return fmt.Sprintf("snapshot %d failed verification: %s (and %d more problems)", e.Seq, first, len(e.Problems)-1)
}

// Unwrap returns the problems.
func (e *VerificationError) Unwrap() []error { return e.Problems }

// Is reports ErrCorrupt: a snapshot that fails verification is damaged.
func (e *VerificationError) Is(target error) bool { return target == ErrCorrupt }

// Matches reports whether data is the file f describes: same size and CRC-32C.
func (f FileSum) Matches(data []byte) bool {
	return int64(len(data)) == f.Size && crc32.Checksum(data, castagnoli) == f.CRC32C
}
