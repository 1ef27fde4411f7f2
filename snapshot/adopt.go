package snapshot

import "fmt"
import "hash/crc32"
import "os"
import "path/filepath"

import "github.com/memsnap/memsnap/internal/fsutil"

// Snapshots built elsewhere: a replica assembles a snapshot another store
// published (its files and its manifest's bytes, fetched from object
// storage) and adopts it here, through the same checks and the same
// publish as a commit.

// ChunkBytes is the size, in bytes, of the chunks f.Chunks checksums.
func (f FileSum) ChunkBytes() int64 { return f.chunkSize() }

// ChunkMatches reports whether data is chunk i of the file f describes:
// its length and its CRC-32C as the manifest lists them. A file without
// chunks (no larger than one) has only chunk 0, the whole file.
func (f FileSum) ChunkMatches(i int, data []byte) bool {
	if len(f.Chunks) == 0 {
		return i == 0 && f.Matches(data)
	}
	if i < 0 || i >= len(f.Chunks) {
		return false
	}
	off := int64(i) * f.chunkSize()
	if int64(len(data)) != min(f.chunkSize(), f.Size-off) {
		return false
	}
	return crc32.Checksum(data, castagnoli) == f.Chunks[i]
}

// StagingPath is a directory under staging/ named name, where a snapshot
// may be assembled before Adopt publishes it. Anything left there is
// garbage (the next writer wipes staging/).
func (s *Store) StagingPath(name string) string { return s.Path("staging", name) }

// Adopt publishes as snapshot m.Seq the files assembled in dir (a
// directory under staging/, see StagingPath) with manifest, the exact
// bytes of the manifest that describes them (m is manifest parsed). It
// checks every file's size and CRC-32C (and chunk checksums) against the
// manifest and refuses, publishing nothing, a directory that differs
// (an error matching ErrCorrupt); then it writes the manifest and the
// PIN, fsyncs, renames dir to snapshots/<seq> and points CURRENT at it,
// as Stage.Publish does. With v, the check reads only what v cannot trust
// from an earlier check (see Verifier: a file unchanged since it verified
// it; a graph RecycleGraph moved here and rewritten is read in full); nil
// reads every file in full. A seq at or below CURRENT is refused: numbers only
// grow. Caller holds the writer lock.
func (s *Store) Adopt(dir string, manifest []byte, m *Manifest, v *Verifier) error {
	cur, err := s.Current()
	if err != nil {
		return fmt.Errorf("adopt snapshot %d: %w", m.Seq, err)
	}
	if m.Seq <= cur {
		return fmt.Errorf("adopt snapshot %d: CURRENT is already %d", m.Seq, cur)
	}
	if fsutil.Exists(s.SnapshotDir(m.Seq)) {
		return fmt.Errorf("adopt snapshot %d: %s already exists", m.Seq, s.SnapshotDir(m.Seq))
	}
	parsed, err := ParseManifest(manifest)
	if err != nil || parsed.Seq != m.Seq {
		return fmt.Errorf("adopt snapshot %d: the manifest's bytes do not parse to it: %v", m.Seq, err)
	}
	all := func(string) bool { return true }
	var problems []error
	if v != nil {
		problems = v.listedIn(dir, parsed, all)
		v.forget()
	} else {
		problems = verifyListedIn(dir, parsed, true, all)
	}
	if err := VerifyError(m.Seq, problems); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, ManifestFile), manifest); err != nil {
		return fmt.Errorf("adopt snapshot %d: write manifest: %w", m.Seq, err)
	}
	pin, err := fsutil.CreateExcl(filepath.Join(dir, PinFile))
	if err != nil {
		return fmt.Errorf("adopt snapshot %d: create pin: %w", m.Seq, err)
	}
	pin.Close()
	for _, d := range []string{filepath.Join(dir, KVDir), filepath.Join(dir, JobsDir), dir} {
		if !fsutil.Exists(d) {
			continue
		}
		if err := fsutil.SyncDir(d); err != nil {
			return fmt.Errorf("adopt snapshot %d: %w", m.Seq, err)
		}
	}
	if err := fsutil.Rename(dir, s.SnapshotDir(m.Seq)); err != nil {
		return fmt.Errorf("adopt snapshot %d: %w", m.Seq, err)
	}
	if err := fsutil.SyncDir(s.Path("snapshots")); err != nil {
		return fmt.Errorf("adopt snapshot %d: %w", m.Seq, err)
	}
	return s.writeCurrent(m.Seq)
}

// RecycleGraph moves the graph of snapshot seq to dst (a path in a
// directory StagingPath gave), so that a replica can rewrite only the
// chunks that differ in the snapshot it assembles there instead of writing
// the whole graph: the snapshot is unpublished first, as the writer's
// recycling does (see recycle.go), and the rest of it removed. It reports
// false, having changed nothing, when seq is CURRENT (never taken), does
// not exist, is pinned by a reader, or its files are still open in
// another process (Windows). Caller holds the writer lock.
func (s *Store) RecycleGraph(seq uint64, dst string) (bool, error) {
	if cur, err := s.Current(); err != nil || cur == seq {
		return false, err
	}
	if !fsutil.Exists(s.SnapshotDir(seq)) {
		return false, nil
	}
	release, pinned, err := s.lockUnpinned(seq)
	if err != nil || pinned {
		return false, err
	}
	busy, err := s.takeGraph(seq, release, dst)
	return !busy && err == nil, err
}

// SnapshotFile is the path of file rel (a manifest's slash path) of
// snapshot seq.
func (s *Store) SnapshotFile(seq uint64, rel string) string {
	return filepath.Join(s.SnapshotDir(seq), filepath.FromSlash(rel))
}

// RemoveStaging removes a directory StagingPath gave.
func (s *Store) RemoveStaging(name string) error {
	if err := os.RemoveAll(s.StagingPath(name)); err != nil {
		return fmt.Errorf("remove staging %s: %w", name, err)
	}
	return nil
}
