package snapshot

import "errors"
import "os"
import "path/filepath"
import "strings"
import "testing"

// copySnapshot copies snapshot seq's files (not its manifest or PIN) of
// src into dir, as a replica assembles them.
func copySnapshot(t *testing.T, src *Store, seq uint64, m *Manifest, dir string) {
	t.Helper()
	for _, f := range m.Files {
		b, err := os.ReadFile(src.SnapshotFile(seq, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdopt: a snapshot assembled from another store's files and manifest
// bytes is published as that seq, CURRENT names it and it verifies; a
// damaged file is refused (ErrCorrupt) with nothing published; a seq not
// above CURRENT is refused.
func TestAdopt(t *testing.T) {
	src, err := Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seq := publishFake(t, src, strings.Repeat("graph content ", 20000)) // larger than a chunk
	raw, err := os.ReadFile(src.SnapshotFile(seq, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	bad := dst.StagingPath("bad")
	copySnapshot(t, src, seq, m, bad)
	g := filepath.Join(bad, GraphFile)
	b, _ := os.ReadFile(g)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(g, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dst.Adopt(bad, raw, m, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("adopt of a damaged graph: %v, want ErrCorrupt", err)
	}
	if cur, _ := dst.Current(); cur != 0 {
		t.Fatalf("a refused adopt moved CURRENT to %d", cur)
	}

	good := dst.StagingPath("good")
	copySnapshot(t, src, seq, m, good)
	if err := dst.Adopt(good, raw, m, nil); err != nil {
		t.Fatal(err)
	}
	if cur, _ := dst.Current(); cur != seq {
		t.Fatalf("CURRENT is %d after adopting %d", cur, seq)
	}
	if problems := dst.Verify(seq); len(problems) > 0 {
		t.Fatalf("adopted snapshot: %v", problems)
	}
	again := dst.StagingPath("again")
	copySnapshot(t, src, seq, m, again)
	if err := dst.Adopt(again, raw, m, nil); err == nil {
		t.Fatal("adopting a seq that is already CURRENT succeeded")
	}
}
