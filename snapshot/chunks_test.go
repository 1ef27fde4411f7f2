package snapshot

import "bytes"
import "context"
import "os"
import "path/filepath"
import "strings"
import "testing"

// A manifest lists a CRC-32C per ChunkSize chunk for a file
// larger than ChunkSize (the last chunk short), and none for a small one;
// Verify finds a damaged byte in any chunk and names it.
func TestChunkSums(t *testing.T) {
	s := newTestStore(t, "a graph is damaged on purpose")
	big := strings.Repeat("x", 2*ChunkSize+123)
	seq := publishFake(t, s, big)
	m, err := s.Manifest(seq)
	if err != nil {
		t.Fatal(err)
	}
	if m.FormatVersion != FormatVersion || m.ChunkSize != ChunkSize {
		t.Fatalf("format %d, chunk size %d", m.FormatVersion, m.ChunkSize)
	}
	for _, f := range m.Files {
		switch {
		case f.Path == GraphFile && len(f.Chunks) != 3:
			t.Fatalf("graph of %d bytes has %d chunk sums, want 3", f.Size, len(f.Chunks))
		case f.Size <= ChunkSize && len(f.Chunks) != 0:
			t.Fatalf("%s of %d bytes has chunk sums", f.Path, f.Size)
		}
	}
	if p := s.Verify(seq); p != nil {
		t.Fatal(p)
	}
	path := filepath.Join(s.SnapshotDir(seq), GraphFile)
	b := []byte(big)
	b[ChunkSize+7] = 'y'
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p := s.Verify(seq)
	if len(p) != 1 || !strings.Contains(p[0].Error(), "checksum mismatch") {
		t.Fatalf("damaged chunk: %v", p)
	}
	f := m.Files[slicesIndex(m.Files, GraphFile)]
	if err := checkChunks(path, f, []int{0, 2}, nil); err != nil {
		t.Fatalf("undamaged chunks 0 and 2: %v", err)
	}
	if err := checkChunks(path, f, []int{1}, nil); err == nil || !strings.Contains(err.Error(), "chunk 1") {
		t.Fatalf("damaged chunk 1: %v", err)
	}
}

func slicesIndex(fs []FileSum, path string) int {
	for i, f := range fs {
		if f.Path == path {
			return i
		}
	}
	return -1
}

// Manifests of formats 1 to 3 carry no chunk sums and still parse and
// verify whole; a manifest whose chunk list does not fit its file's size
// is corrupt.
func TestChunkSumsInManifests(t *testing.T) {
	old := &Manifest{FormatVersion: 3, Seq: 1, Files: []FileSum{{Path: GraphFile, Size: 3 * ChunkSize, CRC32C: 1}}}
	b, err := encodeManifest(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseManifest(b); err != nil {
		t.Fatalf("format 3 manifest without chunks: %v", err)
	}
	bad := &Manifest{FormatVersion: 4, Seq: 1, Files: []FileSum{{Path: GraphFile, Size: 3 * ChunkSize, CRC32C: 1, Chunks: []uint32{1, 2}}}}
	if b, err = encodeManifest(bad); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseManifest(b); err == nil || !strings.Contains(err.Error(), "chunk checksums") {
		t.Fatalf("2 chunk sums for 3 chunks: %v", err)
	}
}

// recycleFake publishes a snapshot as a writer would with one archived job.
func recycleFake(t *testing.T, s *Store, opts StageOptions, content string) *Stage {
	t.Helper()
	st := stageFake(t, s, opts, content)
	archiveFake(t, st, strings.Repeat("0", 15)+string(rune('0'+st.Seq()))+"-ID"+string(rune('0'+st.Seq()))+".job", `{"ops":[]}`+content)
	if err := st.Publish(Manifest{Watermark: st.Seq(), Applied: 1}); err != nil {
		t.Fatal(err)
	}
	return st
}

// Recycling takes the newest snapshot GC would collect after the publish
// (keep counts the stage), never one a reader pins; it moves it out of
// snapshots/ and lists the later snapshots' archived jobs, oldest first.
// With keep 1, or a snapshot in between that archived no jobs, it copies.
func TestRecycleCandidate(t *testing.T) {
	s := newTestStore(t)
	opts := StageOptions{Keep: 3}
	for _, c := range []string{"one", "two", "three"} {
		recycleFake(t, s, opts, c)
	}
	pin, err := s.Pin(1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.NewStageWith(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if src := st.Source(); src.Method != StagedCopy || !strings.Contains(src.Fallback, "pinned") {
		t.Fatalf("with 1 pinned: %+v", src)
	}
	st.Abort()
	pin.Release()
	st, err = s.NewStageWith(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	src := st.Source()
	if src.Method != StagedRecycled || src.Recycled != 1 || src.Replayed != 2 || len(src.Replay) != 2 ||
		src.Replay[0][0].Snapshot != 2 || src.Replay[1][0].Snapshot != 3 {
		t.Fatalf("recycled: %+v", src)
	}
	got, _ := os.ReadFile(st.GraphPath())
	if !bytes.Equal(got, []byte("one")) {
		t.Fatalf("staged graph %q, want snapshot 1's", got)
	}
	if seqs, _ := s.Seqs(); len(seqs) != 2 || seqs[0] != 2 {
		t.Fatalf("snapshots after recycling 1: %v", seqs)
	}
	for _, seq := range []uint64{2, 3} {
		if p := s.Verify(seq); p != nil {
			t.Fatal(p)
		}
	}
	st.Abort()
	st, err = s.NewStageWith(context.Background(), StageOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if src := st.Source(); src.Method != StagedCopy {
		t.Fatalf("keep 1: %+v", src)
	}
	st.Abort()
}

// A format-4 manifest's chunks are 1 MiB and it names no chunk size; a
// format-5 one must name a power of two from 4 KiB to 1 GiB.
func TestChunkSizeInManifests(t *testing.T) {
	for _, tc := range []struct {
		format int
		chunk  int64
		ok     bool
	}{
		{4, 0, true}, {4, ChunkSize, false}, {5, ChunkSize, true}, {5, 0, false}, {5, 1000, false}, {5, 2048, false},
	} {
		m := &Manifest{FormatVersion: tc.format, Seq: 1, ChunkSize: tc.chunk}
		b, err := encodeManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseManifest(b); (err == nil) != tc.ok {
			t.Errorf("format %d, chunk_size %d: %v", tc.format, tc.chunk, err)
		}
	}
}

// A store written by the previous build keeps verifying: its format-4
// manifests list 1 MiB chunks, which Verify and a Verifier check as such and
// in which they find damage. A Verifier that trusted a file under 1 MiB
// chunks reads it whole when a format-5 manifest describes it with 64 KiB
// ones (a format-4 graph recycled by this build), then trusts it again.
func TestFormat4ChunksStillVerify(t *testing.T) {
	s := newTestStore(t, "a graph is damaged on purpose")
	const size = 2*format4ChunkSize + 321
	seq := publishFake(t, s, strings.Repeat("q", size))
	path := filepath.Join(s.SnapshotDir(seq), GraphFile)
	// as rewrites the manifest as the given format with every file's sums
	// in chunks of chunk bytes (named in the manifest from format 5 on).
	as := func(format int, chunk int64) *Manifest {
		rewriteManifest(t, s, seq, func(m *Manifest) {
			m.FormatVersion, m.ChunkSize = format, 0
			if format >= 5 {
				m.ChunkSize = chunk
			}
			for i, f := range m.Files {
				sum, err := checksumFile(filepath.Join(s.SnapshotDir(seq), filepath.FromSlash(f.Path)), chunk)
				if err != nil {
					t.Fatal(err)
				}
				sum.Path = f.Path
				m.Files[i] = sum
			}
		})
		m, err := s.Manifest(seq)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m4 := as(4, format4ChunkSize)
	if n := len(m4.Files[slicesIndex(m4.Files, GraphFile)].Chunks); n != 3 {
		t.Fatalf("format 4: %d chunks of 1 MiB, want 3", n)
	}
	if p := s.Verify(seq); p != nil {
		t.Fatalf("format 4: %v", p)
	}
	v := NewVerifier()
	if p := v.Files(s, m4, true); p != nil {
		t.Fatalf("Verifier, format 4: %v", p)
	}
	if _, _, ok := idOf(path); ok {
		before := v.BytesRead()
		if p := v.Files(s, as(5, ChunkSize), true); p != nil || v.BytesRead()-before < size {
			t.Fatalf("format 5 over a file trusted in 1 MiB chunks: read %d, %v; want all %d and no problem", v.BytesRead()-before, p, size)
		}
		before = v.BytesRead()
		if p := v.Files(s, as(5, ChunkSize), true); p != nil || v.BytesRead() != before {
			t.Fatalf("format 5 again: read %d, %v; want 0", v.BytesRead()-before, p)
		}
	}
	m4 = as(4, format4ChunkSize)
	writeAt(t, path, format4ChunkSize+9, "!")
	if p := s.Verify(seq); len(p) != 1 || !strings.Contains(p[0].Error(), "checksum mismatch") {
		t.Fatalf("format 4, damaged: %v", p)
	}
	if err := checkChunks(path, m4.Files[slicesIndex(m4.Files, GraphFile)], []int{1}, nil); err == nil || !strings.Contains(err.Error(), "chunk 1 (bytes 1048576-2097152)") {
		t.Fatalf("format 4, damaged chunk 1: %v", err)
	}
}
