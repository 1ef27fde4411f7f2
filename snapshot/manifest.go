package snapshot

import "errors"
import "fmt"
import "hash/crc32"
import "io"
import "os"
import "path/filepath"
import "time"

import "github.com/memsnap/memsnap/internal/buildinfo"
import "github.com/memsnap/memsnap/internal/fsm"

// FormatVersion is the on-disk snapshot format this build writes; it reads
// MinFormatVersion up to FormatVersion and refuses a newer one with a
// *NewerFormatError. The versions:
//
//  1. Everything written before the version moved off 1 (builds up to
//     commit a0993aa). Its shape depends on the build that wrote it: the
//     constant stayed 1 while Entity gained search_text and a full-text
//     index, manifests gained their own checksum, and the two changes
//     below landed. This build reads every such shape: ParseManifest
//     accepts a manifest without a checksum, the writer upgrades the graph
//     as it stages (graphdb.EnsureSchema), and a snapshot without jobs/
//     just gives a rollback past it no jobs to queue again.
//  2. Snapshots keep their batch's job files under jobs/ (commit 119d45c,
//     for rollback). No build wrote 2: it names that change.
//  3. The full-text index is on the insert-only TextDoc table and
//     Entity.doc names each entity's document (commit 9505b5b).
//  4. A file larger than ChunkSize also lists the CRC-32C of each of its
//     ChunkSize chunks (FileSum.Chunks) beside the whole-file CRC-32C, so
//     that a reader moving from a verified parent checks the chunks that
//     changed before it serves and the rest in the background. A snapshot's
//     graph may have been made from an older snapshot's graph by replaying
//     the later batches (recycling), not only by copying CURRENT's. The
//     Older manifests have no chunks and are verified whole.
//  5. The manifest names its chunk size (Manifest.ChunkSize), now 64 KiB:
//     a one-job commit at 10k entities changes 36 pages of the graph spread
//     over 11-12 of its 1 MiB chunks, so a reader re-read 10-12 MiB to
//     check 144 KiB of change; with 64 KiB chunks it reads ~1.3 MiB. A
//     format-4 manifest's chunks are 1 MiB.
//  6. The graph keeps nothing for search: Entity.search_text, Entity.doc,
//     the TextDoc table and Kuzu's full-text index are gone (the writer
//     drops them as it stages an older graph, graphdb.EnsureSchema).
//     Readers search an index of their own in memory (internal/graphindex),
//     so a format-5 build would find no substring text in a format-6
//     graph.
//  7. A rollback publishes a new snapshot holding an older one's content,
//     numbered after every snapshot there is (numbers only grow), and its
//     manifest names that snapshot (rollback_of). A format-6 build would
//     refuse such a manifest as corrupt.
//  8. The manifest records the digest of the memory's content
//     (Manifest.Digest, internal/fsm.Digest), which a reader's search index
//     must reach when it follows the snapshot's jobs. A format-7 build
//     would refuse the field as corrupt.
//  9. A restore publishes a snapshot holding the content of an earlier
//     point of history (restore_of), rebuilt from an older snapshot (its
//     parent) plus the jobs after it, which it archives in its jobs/. A
//     format-8 build would refuse the field as corrupt. The current
//     format.
//
// Bump it when a snapshot this build writes could be misread by an older
// build, and say here what changed.
const FormatVersion = 9

// ChunkSize is the size, in bytes, of the chunks whose CRC-32C this build
// lists for each file larger than it (FileSum.Chunks) in the manifests it
// writes (Manifest.ChunkSize).
const ChunkSize = 64 << 10

// format4ChunkSize is the chunk size of format-4 manifests, which do not
// name theirs.
const format4ChunkSize = 1 << 20

// MinFormatVersion is the oldest snapshot format this build reads.
const MinFormatVersion = 1

// ErrNewerFormat is matched (errors.Is) by every *NewerFormatError: the
// snapshot was written by a newer memsnap than this build.
var ErrNewerFormat = errors.New("snapshot: written by a newer memsnap")

// NewerFormatError is returned for a snapshot whose manifest format is newer
// than this build reads. Readers refuse to serve such a snapshot and the
// writer refuses to build on it: the way out is a newer memsnap, not a
// rollback.
type NewerFormatError struct {
	Seq       uint64 // the snapshot
	Format    int    // its manifest's format_version
	Supported int    // the newest format this build reads (FormatVersion)
}

func (e *NewerFormatError) Error() string {
	return fmt.Sprintf("snapshot %d was written by a newer memsnap (format %d, this build reads up to %d): upgrade memsnap",
		e.Seq, e.Format, e.Supported)
}

// Is makes errors.Is(err, ErrNewerFormat) hold.
func (e *NewerFormatError) Is(target error) bool { return target == ErrNewerFormat }

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
	// Digest is the digest of the graph's content (fsm.Digest's String:
	// entities and relations, not their times), format 8 on. Empty when
	// unknown (older manifests): nothing is checked against it then.
	Digest string `json:"digest,omitempty"`
	// RollbackOf is the snapshot whose content this one holds when a
	// rollback published it (its Parent too); 0 otherwise (format 7 on).
	RollbackOf uint64 `json:"rollback_of,omitempty"`
	// RestoreOf is the point of history whose content this one holds when
	// 'snapshots restore' published it; 0 otherwise (format 9 on). Its
	// Parent is the snapshot kept in full it was rebuilt from, and its
	// jobs/ the jobs applied on top (see PlanPoint).
	RestoreOf uint64 `json:"restore_of,omitempty"`
	// ChunkSize is the size, in bytes, of the chunks FileSum.Chunks
	// checksums (format 5 on; absent in format 4, whose chunks are 1 MiB).
	ChunkSize int64     `json:"chunk_size,omitempty"`
	Files     []FileSum `json:"files"`
	// Checksum is the manifest's own CRC-32C ("crc32c:" and 8 hex digits),
	// taken over its canonical encoding without this field.
	Checksum string `json:"checksum,omitempty"`
}

// ContentDigest returns the manifest's content digest, ok false when it
// records none (ParseManifest checked its form).
func (m *Manifest) ContentDigest() (d fsm.Digest, ok bool) {
	if m.Digest == "" {
		return d, false
	}
	d, err := fsm.ParseDigest(m.Digest)
	return d, err == nil
}

// StagedBytes is what staging a copy of the snapshot writes, in bytes: the
// size of every file it lists but the KV store's sstables, which a stage
// hard-links (isSSTable).
func (m *Manifest) StagedBytes() int64 {
	var n int64
	for _, f := range m.Files {
		if !isSSTable(f.Path) {
			n += f.Size
		}
	}
	return n
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
	// Chunks is the CRC-32C of each chunk of the file (the manifest's
	// chunk size), the last one short, for a file larger than a chunk
	// (format 4 on); empty otherwise.
	Chunks []uint32 `json:"chunks,omitempty"`
	// chunk is the chunk size of Chunks in bytes, set by ParseManifest and
	// checksumFile; 0 means format 4's 1 MiB.
	chunk int64
}

// chunkSize is the size, in bytes, of the chunks f.Chunks checksums.
func (f FileSum) chunkSize() int64 {
	if f.chunk == 0 {
		return format4ChunkSize
	}
	return f.chunk
}

// chunkCount is how many chunks of chunk bytes a file of size bytes has.
func chunkCount(size, chunk int64) int { return int((size + chunk - 1) / chunk) }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Manifest reads and parses snapshot seq's manifest. A manifest newer than
// this build reads gives a *NewerFormatError.
func (s *Store) Manifest(seq uint64) (*Manifest, error) {
	m, _, err := s.ManifestSum(seq)
	return m, err
}

// ManifestSum is Manifest that also returns the CRC-32C of the manifest's
// bytes as read (0 if they could not be read). The sum names this version
// of the manifest even when it does not parse: a reader remembers a
// snapshot that failed verification by its seq and this sum.
func (s *Store) ManifestSum(seq uint64) (*Manifest, uint32, error) {
	b, err := os.ReadFile(filepath.Join(s.SnapshotDir(seq), ManifestFile))
	if err != nil {
		return nil, 0, fmt.Errorf("read manifest of snapshot %d: %w", seq, err)
	}
	sum := crc32.Checksum(b, castagnoli)
	m, err := ParseManifest(b)
	var newer *NewerFormatError
	if errors.As(err, &newer) {
		newer.Seq = seq // the message names the snapshot itself
		return nil, sum, newer
	}
	if err != nil {
		return nil, sum, fmt.Errorf("snapshot %d: %w", seq, err)
	}
	if m.Seq != seq {
		return nil, sum, fmt.Errorf("snapshot %d: manifest names seq %d", seq, m.Seq)
	}
	return m, sum, nil
}

// checksumFile reads path once and returns its size, its CRC-32C and, for
// a file larger than chunk bytes, the CRC-32C of each chunk of chunk bytes.
func checksumFile(path string, chunk int64) (sum FileSum, err error) {
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	whole := crc32.New(castagnoli)
	sum.chunk = chunk
	// Whole chunks, ~1 MiB a read; no more than the file needs (a job
	// file of a few KiB must not cost a zeroed MiB).
	n := chunk * max(1, (1<<20)/chunk)
	if info, err := f.Stat(); err == nil && info.Size() < n {
		n = max(chunk, (info.Size()/chunk+1)*chunk)
	}
	buf := make([]byte, n)
	var chunks []uint32
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			whole.Write(buf[:n])
			for off := 0; off < n; off += int(chunk) {
				chunks = append(chunks, crc32.Checksum(buf[off:min(n, off+int(chunk))], castagnoli))
			}
			sum.Size += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return sum, fmt.Errorf("checksum %s: %w", path, err)
		}
	}
	sum.CRC32C = whole.Sum32()
	if sum.Size > chunk {
		sum.Chunks = chunks
	}
	return sum, nil
}

// checkChunks reads the chunks idx of the file at path and returns an error
// for the first whose CRC-32C differs from f.Chunks. pause, if set, is
// called between chunks (a background scrub sleeps there); a non-nil
// return from it stops the check with that error.
func checkChunks(path string, f FileSum, idx []int, pause func() error) error {
	fd, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fd.Close()
	chunk := f.chunkSize()
	buf := make([]byte, chunk)
	for i, c := range idx {
		if i > 0 && pause != nil {
			if err := pause(); err != nil {
				return err
			}
		}
		off := int64(c) * chunk
		n := min(chunk, f.Size-off)
		if _, err := fd.ReadAt(buf[:n], off); err != nil {
			return fmt.Errorf("read chunk %d: %w", c, err)
		}
		if crc32.Checksum(buf[:n], castagnoli) != f.Chunks[c] {
			return fmt.Errorf("chunk %d (bytes %d-%d): checksum mismatch (file is corrupt)", c, off, off+n)
		}
	}
	return nil
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
