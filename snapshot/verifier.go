package snapshot

import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "sync"

// A Verifier checks snapshots against their manifests as Store.VerifyFiles
// does, but reads only what it has not read before: it remembers, per
// file, the chunk checksums it has verified, and trusts them again only
// while the bytes are provably the ones it read — the same file (device,
// inode and birth time: a hard link, or a graph the writer recycled) not
// changed since (the same size, mtime and ctime; ctime cannot be set from
// user space, so no write to the file hides from it) — and the manifest
// gives the chunk the checksum it verified. Everything else is read and
// checked: a file changed in place, by whatever process, is read in full,
// so damage written into a snapshot after a check (dd conv=notrunc) is
// found by the next one. A writer trusts what it checksummed itself at
// publish (Trust), so its next check of CURRENT reads nothing unless
// CURRENT changed; a copied graph is a new file and is read in full.
// Scrub re-reads everything, for damage the file system does not show
// (bit rot after a chunk was verified).
//
// Without birth times (statx STATX_BTIME; older kernels and some
// filesystems) a Verifier trusts nothing and reads every file, as
// VerifyFiles does. Safe for concurrent use.
type Verifier struct {
	mu   sync.Mutex // guards gen, seen (and the entries in it) and read
	gen  uint64
	seen map[fileID]*verifiedFile
	read int64 // bytes read by checks, for tests and stats
}

// fileID names one file for as long as it exists: an inode number is
// reused after a file is deleted, its birth time is not.
type fileID struct {
	dev, ino   uint64
	bsec, bnse int64
}

// fileStamp is what changes whenever a file's bytes do: its size, mtime
// and ctime (statx; ctime is set by the kernel on every write and on any
// change of the times, so it cannot be put back).
type fileStamp struct {
	size       int64
	msec, mnse int64
	csec, cnse int64
}

type verifiedFile struct {
	stamp  fileStamp // the file when its checksums were verified
	size   int64
	crc    uint32   // whole-file CRC-32C, for a file without chunks
	chunk  int64    // the chunk size of chunks, in bytes
	chunks []uint32 // verified chunk checksums
	gen    uint64   // last Files call that saw the file
}

// verifierKeep is how many Files calls a file may go unseen before a
// Verifier forgets it: enough for a writer to recycle the graph of a
// snapshot a few commits old.
const verifierKeep = 32

// NewVerifier returns an empty Verifier.
func NewVerifier() *Verifier { return &Verifier{seen: map[fileID]*verifiedFile{}} }

// BytesRead is how many bytes the Verifier's checks have read.
func (v *Verifier) BytesRead() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.read
}

// Files checks the files of m's snapshot in s as s.VerifyFiles(m,
// checksums) does, reading only the chunks it cannot trust (see Verifier).
// It returns every problem found.
func (v *Verifier) Files(s *Store, m *Manifest, checksums bool) []error {
	// The listing checks (unexpected files, PIN) without the checksums,
	// which this Verifier takes over.
	problems := s.VerifyFiles(m, false)
	if !checksums || len(problems) > 0 {
		return problems
	}
	problems = v.listed(s, m, func(string) bool { return true })
	v.forget()
	return problems
}

// KV checks the key-value store's files of m's snapshot as Store.VerifyKV
// does, reading only what it cannot trust (a job's outcome polled every
// 20 ms reads the store's checksummed files once, not once per poll).
func (v *Verifier) KV(s *Store, m *Manifest, checksums bool) []error {
	problems := s.VerifyKV(m, false)
	if !checksums || len(problems) > 0 {
		return problems
	}
	problems = v.listed(s, m, func(p string) bool { return strings.HasPrefix(p, KVDir+"/") })
	v.forget()
	return problems
}

// listed checks the files of m's snapshot in s for which want is true, as
// verifyListed does with checksums, reading only what it cannot trust.
func (v *Verifier) listed(s *Store, m *Manifest, want func(string) bool) []error {
	return v.listedIn(s.SnapshotDir(m.Seq), m, want)
}

// listedIn is listed on the snapshot's files in dir.
func (v *Verifier) listedIn(dir string, m *Manifest, want func(string) bool) []error {
	v.mu.Lock()
	v.gen++
	gen := v.gen
	v.mu.Unlock()
	var problems []error
	for _, f := range m.Files {
		if !want(f.Path) {
			continue
		}
		if err := v.check(filepath.Join(dir, filepath.FromSlash(f.Path)), f, gen); err != nil {
			problems = append(problems, fmt.Errorf("snapshot %d: %s: %w", m.Seq, f.Path, err))
		}
	}
	return problems
}

// Trust records that the file at path holds the bytes f describes, as its
// caller has just computed them from the file itself (the writer, at
// publish): a later check reads none of it.
func (v *Verifier) Trust(path string, f FileSum) {
	id, stamp, ok := idOf(path)
	if !ok {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen[id] = &verifiedFile{stamp: stamp, size: f.Size, crc: f.CRC32C, chunk: f.chunkSize(), chunks: slices.Clone(f.Chunks), gen: v.gen}
}

// Rewrite tells the Verifier that its caller is about to change the file
// at path itself (move it, cut it, write some of its chunks: a replica
// assembling a snapshot in the graph of an older one). The caller calls
// done with the file's path once its writes are closed: what the Verifier
// had verified of the file stays trusted for every chunk whose checksum
// the next manifest gives unchanged (a chunk the caller wrote has a new
// checksum, so the next check reads it). Nothing stays trusted if the file
// had changed before Rewrite since it was verified, or is another file at
// done; a write by another process while the caller writes goes unseen
// until a Scrub, as it would between the caller's own write and check.
func (v *Verifier) Rewrite(path string) (done func(path string)) {
	id, before, ok := idOf(path)
	return func(path string) {
		now, after, same := idOf(path)
		if !ok || !same || now != id {
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		if known := v.seen[id]; known != nil && known.stamp == before {
			known.stamp = after
		}
	}
}

// Forget drops what the Verifier knows of every file: the next checks read
// everything. A scrub that finds damage calls it.
func (v *Verifier) Forget() {
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.seen)
}

// check verifies one file against f.
func (v *Verifier) check(path string, f FileSum, gen uint64) error {
	id, stamp, ok := idOf(path) // before the read: a change during it shows next time
	v.mu.Lock()
	known := v.seen[id]
	if known != nil {
		known.gen = gen
	}
	v.mu.Unlock()
	if !ok || (known != nil && (known.chunk != f.chunkSize() || known.stamp != stamp)) {
		known = nil // changed since it was verified: nothing of it is trusted
	}
	if known != nil && known.size == f.Size && len(f.Chunks) == 0 && known.crc == f.CRC32C && len(known.chunks) == 0 {
		return nil
	}
	// By chunks when both it and the check it knows had them: a chunk is
	// trusted when it verified the same checksum at the same index over
	// the same bytes (the sizes agree, or the chunk was whole in both: a
	// graph that grew or shrank keeps its other chunks where they were).
	byChunks := known != nil && len(f.Chunks) > 0 && len(known.chunks) > 0
	var idx []int
	if byChunks {
		whole := min(known.size, f.Size) / f.chunkSize()
		for i, c := range f.Chunks {
			if i >= len(known.chunks) || known.chunks[i] != c || (known.size != f.Size && int64(i) >= whole) {
				idx = append(idx, i)
			}
		}
	}
	if !byChunks {
		got, err := checksumFile(path, f.chunkSize())
		v.addRead(got.Size)
		switch {
		case err != nil:
			return err
		case got.Size != f.Size:
			return fmt.Errorf("size %d, manifest says %d", got.Size, f.Size)
		case got.CRC32C != f.CRC32C || (len(f.Chunks) > 0 && !slices.Equal(got.Chunks, f.Chunks)):
			return fmt.Errorf("checksum mismatch (file is corrupt)")
		}
	} else if len(idx) > 0 {
		if info, err := os.Stat(path); err != nil {
			return err
		} else if info.Size() != f.Size {
			return fmt.Errorf("size %d, manifest says %d", info.Size(), f.Size)
		}
		if err := checkChunks(path, f, idx, nil); err != nil {
			return err
		}
		v.addRead(min(int64(len(idx))*f.chunkSize(), f.Size))
	}
	if ok {
		v.mu.Lock()
		v.seen[id] = &verifiedFile{stamp: stamp, size: f.Size, crc: f.CRC32C, chunk: f.chunkSize(), chunks: slices.Clone(f.Chunks), gen: gen}
		v.mu.Unlock()
	}
	return nil
}

func (v *Verifier) addRead(n int64) {
	v.mu.Lock()
	v.read += n
	v.mu.Unlock()
}

// forget drops the files not seen in the last verifierKeep checks.
func (v *Verifier) forget() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, f := range v.seen {
		if f.gen+verifierKeep < v.gen {
			delete(v.seen, id)
		}
	}
}

// Scrub re-reads every file of m's snapshot in s, whatever the Verifier
// trusts, calling pause between chunks and files (a background scrub
// sleeps there to stay out of the way; a non-nil return stops the scrub and
// is returned as err). When it finds damage it forgets everything it
// trusted, so that the next Files call reads every file in full. It returns
// every problem found.
func (v *Verifier) Scrub(s *Store, m *Manifest, pause func() error) (problems []error, err error) {
	var stopped error
	wait := func() error {
		if pause != nil {
			stopped = pause()
		}
		return stopped
	}
	dir := s.SnapshotDir(m.Seq)
	for _, f := range m.Files {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		var ferr error
		if len(f.Chunks) == 0 {
			var got FileSum
			got, ferr = checksumFile(path, f.chunkSize())
			if ferr == nil && (got.Size != f.Size || got.CRC32C != f.CRC32C) {
				ferr = fmt.Errorf("checksum mismatch (file is corrupt)")
			}
		} else if info, serr := os.Stat(path); serr != nil {
			ferr = serr
		} else if info.Size() != f.Size {
			ferr = fmt.Errorf("size %d, manifest says %d", info.Size(), f.Size)
		} else {
			all := make([]int, len(f.Chunks))
			for i := range all {
				all[i] = i
			}
			ferr = checkChunks(path, f, all, wait)
		}
		if stopped != nil {
			break
		}
		v.addRead(f.Size)
		if ferr != nil {
			problems = append(problems, fmt.Errorf("snapshot %d: %s: %w", m.Seq, f.Path, ferr))
		}
		if wait() != nil {
			break
		}
	}
	if len(problems) > 0 {
		v.Forget()
	}
	return problems, stopped
}
