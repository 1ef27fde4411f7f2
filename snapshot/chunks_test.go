package snapshot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A format-4 manifest lists a CRC-32C per ChunkSize chunk for a file
// larger than ChunkSize (the last chunk short), and none for a small one;
// Verify finds a damaged byte in any chunk and names it.
func TestChunkSums(t *testing.T) {
	s, err := Init(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 2*ChunkSize+123)
	seq := publishFake(t, s, big)
	m, err := s.Manifest(seq)
	if err != nil {
		t.Fatal(err)
	}
	if m.FormatVersion != 4 {
		t.Fatalf("format %d", m.FormatVersion)
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
	st, err := s.NewStageWith(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(st.GraphPath()); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.GraphPath(), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(t.TempDir(), "job")
	if err := os.WriteFile(job, []byte(`{"ops":[]}`+content), 0o600); err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("0", 15) + string(rune('0'+st.Seq())) + "-ID.job"
	if err := st.ArchiveJob(job, name); err != nil {
		t.Fatal(err)
	}
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
	s, err := Init(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
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
