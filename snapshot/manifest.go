package snapshot

import (
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/memsnap/memsnap/internal/buildinfo"
)

// FormatVersion is the on-disk format this build writes and reads.
const FormatVersion = 1

// Version is memsnap's version, recorded in every manifest.
var Version = buildinfo.Version

// Manifest describes one published snapshot. It is written last, inside the
// staging directory, before the snapshot is renamed into place.
type Manifest struct {
	FormatVersion  int       `json:"format_version"`
	MemsnapVersion string    `json:"memsnap_version"`
	Seq            uint64    `json:"seq"`
	Parent         uint64    `json:"parent"`
	CreatedAt      time.Time `json:"created_at"`
	// Watermark is the highest queue claim seq applied in this snapshot or an
	// ancestor. Claimed jobs at or below it are already applied.
	Watermark uint64 `json:"watermark"`
	// Applied and Rejected count the jobs of the batch that built this
	// snapshot; RejectedJobs lists the rejected ones so the writer can
	// dead-letter them after publish (or after a crash).
	Applied      int           `json:"applied"`
	Rejected     int           `json:"rejected"`
	RejectedJobs []RejectedJob `json:"rejected_jobs,omitempty"`
	Entities     int64         `json:"entities"`
	Relations    int64         `json:"relations"`
	KVKeys       int64         `json:"kv_keys"`
	Files        []FileSum     `json:"files"`
	// Checksum is the manifest's own CRC-32C ("crc32c:" and 8 hex digits),
	// taken over its canonical encoding without this field.
	Checksum string `json:"checksum,omitempty"`
}

// RejectedJob is a job of the batch that could not be applied.
type RejectedJob struct {
	ID     string `json:"id"`
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// FileSum is one file of a snapshot with its size and CRC-32C.
type FileSum struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Manifest reads and parses snapshot seq's manifest.
func (s *Store) Manifest(seq uint64) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(s.SnapshotDir(seq), ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("read manifest of snapshot %d: %w", seq, err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", seq, err)
	}
	if m.Seq != seq {
		return nil, fmt.Errorf("snapshot %d: manifest names seq %d", seq, m.Seq)
	}
	return m, nil
}

func checksumFile(path string) (size int64, sum uint32, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, 0, fmt.Errorf("checksum %s: %w", path, err)
	}
	return n, h.Sum32(), nil
}

// walkFiles lists regular files under dir as slash paths relative to dir,
// skipping the manifest and the pin file.
func walkFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ManifestFile || rel == PinFile {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", rel)
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out, err
}
