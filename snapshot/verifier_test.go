package snapshot

import "os"
import "path/filepath"
import "strings"
import "testing"

// A Verifier reads a file in full the first time, then nothing while the
// file stays the same and unchanged; a file changed in place is read in
// full again, whether the change is described by the manifest (a graph
// recycled in place) or not (damage written behind the manifest's back,
// which it then reports); a new file (a copy) is read in full. Damage that
// does not change the file's stamp (bit rot) is seen by Scrub, after which
// Files reads everything again.
func TestVerifierReadsOnlyWhatChanged(t *testing.T) {
	s := newTestStore(t)
	const size = 4*ChunkSize + 100
	m, path, v, files := verifierGraph(t, s, size)
	if n, p := files(m); p != nil || n < size {
		t.Fatalf("first check: read %d bytes, problems %v; want the whole graph (%d) and none", n, p, size)
	}
	if n, p := files(m); p != nil || n != 0 {
		t.Fatalf("second check of the same files: read %d bytes, problems %v; want 0 and none", n, p)
	}

	// Rewrite chunk 1 in place, as a writer recycling the file does, and
	// describe the new bytes in the manifest: the file changed, so it is
	// read in full (its other chunks may have changed too).
	rewriteGraph(t, m, path, ChunkSize+10, "b")
	if n, p := files(m); p != nil || n < size {
		t.Fatalf("one chunk rewritten in place: read %d bytes, problems %v; want the whole graph (%d) and none", n, p, size)
	}
	if n, p := files(m); p != nil || n != 0 {
		t.Fatalf("unchanged since: read %d bytes, problems %v; want 0 and none", n, p)
	}

	// Damage chunk 3 in place behind the manifest's back (dd
	// conv=notrunc): the file changed, so Files reads it and reports it,
	// however long it trusted it before.
	writeAt(t, path, 3*ChunkSize+5, "z")
	if n, p := files(m); len(p) != 1 || !strings.Contains(p[0].Error(), "checksum mismatch") || n < size {
		t.Fatalf("trusted file damaged in place: read %d bytes, problems %v; want the whole graph and a checksum mismatch", n, p)
	}
	writeAt(t, path, 3*ChunkSize+5, "a") // mended
	if n, p := files(m); p != nil || n < size {
		t.Fatalf("mended: read %d bytes, problems %v; want the whole graph and none", n, p)
	}

	// Damage that leaves the file's stamp as it was (bit rot; here the
	// Verifier is told the damaged bytes were verified) is seen by Scrub,
	// after which Files reads everything and reports it.
	writeAt(t, path, 3*ChunkSize+5, "z")
	v.Trust(path, m.Files[slicesIndex(m.Files, GraphFile)])
	if n, p := files(m); p != nil || n != 0 {
		t.Fatalf("trusted chunk damaged under the same stamp: read %d bytes, problems %v; want 0 and none (only a scrub reads it)", n, p)
	}
	p, err := v.Scrub(s, m, func() error { return nil })
	if err != nil || len(p) != 1 || !strings.Contains(p[0].Error(), "chunk 3") {
		t.Fatalf("scrub: %v, %v; want one problem in chunk 3", p, err)
	}
	if n, p := files(m); len(p) != 1 || n < size {
		t.Fatalf("after the scrub: read %d bytes, problems %v; want the whole graph and one problem", n, p)
	}

	// A copy is another file, however equal its bytes: read in full.
	good := strings.Repeat("c", size)
	seq2 := publishFake(t, s, good)
	m2, err := s.Manifest(seq2)
	if err != nil {
		t.Fatal(err)
	}
	if n, p := files(m2); p != nil || n < size {
		t.Fatalf("new snapshot: read %d bytes, problems %v", n, p)
	}
	if n, p := files(m2); p != nil || n != 0 {
		t.Fatalf("new snapshot again: read %d bytes, problems %v", n, p)
	}

	// Trust: what a writer computed at publish is not read again.
	v2 := NewVerifier()
	for _, f := range m2.Files {
		v2.Trust(filepath.Join(s.SnapshotDir(seq2), filepath.FromSlash(f.Path)), f)
	}
	if p := v2.Files(s, m2, true); p != nil || v2.BytesRead() != 0 {
		t.Fatalf("trusted files: read %d bytes, problems %v", v2.BytesRead(), p)
	}
	// A scrub stopped by its pause returns the pause's error.
	stop := os.ErrDeadlineExceeded
	if _, err := v2.Scrub(s, m2, func() error { return stop }); err != stop {
		t.Fatalf("stopped scrub: %v", err)
	}
}

func writeAt(t *testing.T, path string, off int64, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(s), off); err != nil {
		t.Fatal(err)
	}
}

// TestVerifierRewrite: a file its caller rewrites itself, told with
// Rewrite (a replica assembling a snapshot in an older one's graph), keeps
// the trust of the chunks it did not write: the next check reads the
// written chunk only. A file changed by anyone before Rewrite keeps none.
func TestVerifierRewrite(t *testing.T) {
	s := newTestStore(t, "the graph is damaged in place on purpose")
	const size = 4*ChunkSize + 100
	m, path, v, check := verifierGraph(t, s, size)
	files := func() (int64, []error) { return check(m) }
	if n, p := files(); p != nil || n < size {
		t.Fatalf("first check: read %d bytes, problems %v; want the whole graph", n, p)
	}

	done := v.Rewrite(path)
	rewriteGraph(t, m, path, ChunkSize+10, "b")
	done(path)
	if n, p := files(); p != nil || n != ChunkSize {
		t.Fatalf("one chunk rewritten by the caller: read %d bytes, problems %v; want that chunk (%d) and none", n, p, ChunkSize)
	}

	// Damaged in place before the caller's rewrite: nothing is trusted,
	// and the damage is found.
	writeAt(t, path, 3*ChunkSize+5, "z")
	done = v.Rewrite(path)
	writeAt(t, path, ChunkSize+10, "b") // the same bytes again
	done(path)
	if n, p := files(); len(p) != 1 || !strings.Contains(p[0].Error(), "checksum mismatch") || n < size {
		t.Fatalf("damaged before the rewrite: read %d bytes, problems %v; want the whole graph and a checksum mismatch", n, p)
	}
}

// verifierGraph publishes in s a snapshot whose graph is size bytes, and
// returns its manifest, the graph's path, a new Verifier and files, which
// checks a manifest's files with it and says how many bytes it read. It
// skips the test where the filesystem gives no birth times.
func verifierGraph(t *testing.T, s *Store, size int) (m *Manifest, path string, v *Verifier, files func(*Manifest) (int64, []error)) {
	t.Helper()
	seq := publishFake(t, s, strings.Repeat("a", size))
	m, err := s.Manifest(seq)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(s.SnapshotDir(seq), GraphFile)
	if _, _, ok := idOf(path); !ok {
		t.Skip("this filesystem gives no birth times: a Verifier trusts nothing here")
	}
	v = NewVerifier()
	files = func(m *Manifest) (read int64, problems []error) {
		before := v.BytesRead()
		problems = v.Files(s, m, true)
		return v.BytesRead() - before, problems
	}
	return m, path, v, files
}

// rewriteGraph writes b at offset at of the graph at path and gives m the
// graph's new checksums, as a writer recycling the file does.
func rewriteGraph(t *testing.T, m *Manifest, path string, at int64, b string) {
	t.Helper()
	writeAt(t, path, at, b)
	sum, err := checksumFile(path, ChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	sum.Path = GraphFile
	m.Files[slicesIndex(m.Files, GraphFile)] = sum
}
