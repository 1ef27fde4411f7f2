package snapshot

import "bytes"
import "context"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "strings"
import "testing"

// rewriteManifest replaces snapshot seq's manifest with edit's version of
// it, re-encoded with a fresh checksum, as a different memsnap build would
// have written it.
func rewriteManifest(t *testing.T, s *Store, seq uint64, edit func(*Manifest)) []byte {
	t.Helper()
	m, err := s.Manifest(seq)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := encodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	writeManifest(t, s, seq, b)
	return b
}

func writeManifest(t *testing.T, s *Store, seq uint64, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.SnapshotDir(seq), ManifestFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPublishWritesCurrentFormat(t *testing.T) {
	s := newTestStore(t)
	seq := publishFake(t, s, "one")
	m, err := s.Manifest(seq)
	if err != nil {
		t.Fatal(err)
	}
	if m.FormatVersion != FormatVersion || FormatVersion != 9 || m.ChunkSize != ChunkSize {
		t.Fatalf("published format %d, FormatVersion %d", m.FormatVersion, FormatVersion)
	}
}

// A snapshot a newer memsnap wrote is refused with a typed error that says
// so, by Manifest, Verify and staging alike; it is not called damage.
func TestNewerFormatRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, s *Store, seq uint64)
	}{
		{"newer version, same fields", func(t *testing.T, s *Store, seq uint64) {
			rewriteManifest(t, s, seq, func(m *Manifest) { m.FormatVersion = FormatVersion + 1 })
		}},
		{"newer version with a field this build does not know", func(t *testing.T, s *Store, seq uint64) {
			b := rewriteManifest(t, s, seq, func(m *Manifest) { m.FormatVersion = FormatVersion + 1 })
			b = bytes.Replace(b, []byte("{\n"), []byte("{\n  \"page_size\": 4096,\n"), 1)
			writeManifest(t, s, seq, b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, "a manifest of a newer format on purpose")
			publishFake(t, s, "one")
			seq := publishFake(t, s, "two")
			tc.edit(t, s, seq)
			want := fmt.Sprintf("snapshot 2 was written by a newer memsnap (format %d, this build reads up to %d): upgrade memsnap", FormatVersion+1, FormatVersion)
			_, err := s.Manifest(seq)
			var newer *NewerFormatError
			if !errors.Is(err, ErrNewerFormat) || !errors.As(err, &newer) || err.Error() != want {
				t.Fatalf("Manifest: %v; want %q", err, want)
			}
			if newer.Seq != seq || newer.Format != FormatVersion+1 || newer.Supported != FormatVersion {
				t.Errorf("error fields %+v", newer)
			}
			if err := VerifyError(seq, s.Verify(seq)); !errors.Is(err, ErrNewerFormat) || err.Error() != want {
				t.Errorf("Verify: %v", err)
			}
			if _, err := s.NewStage(context.Background()); !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), want) {
				t.Errorf("NewStage: %v", err)
			}
		})
	}
}

// A damaged format_version that reads as a newer one, in a manifest whose
// checksum says otherwise, is damage, not a newer memsnap.
func TestFlippedFormatIsCorrupt(t *testing.T) {
	s := newTestStore(t, "a manifest is damaged on purpose")
	seq := publishFake(t, s, "one")
	b, err := os.ReadFile(filepath.Join(s.SnapshotDir(seq), ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(fmt.Sprintf(`"format_version": %d`, FormatVersion)), []byte(fmt.Sprintf(`"format_version": %d`, FormatVersion+1)), 1)
	writeManifest(t, s, seq, b)
	_, err = s.Manifest(seq)
	if err == nil || errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), "manifest is corrupt: checksum") {
		t.Fatalf("Manifest: %v; want a checksum mismatch", err)
	}
}

// Older formats this build reads are accepted, with or without a checksum;
// a format_version below 1 is damage.
func TestOlderFormatsAccepted(t *testing.T) {
	s := newTestStore(t, "ends with a manifest of format 0 on purpose")
	seq := publishFake(t, s, "one")
	for v := MinFormatVersion; v <= FormatVersion; v++ {
		rewriteManifest(t, s, seq, func(m *Manifest) {
			m.FormatVersion = v
			if v < 5 {
				m.ChunkSize = 0 // format 5 named it first
			} else {
				m.ChunkSize = ChunkSize
			}
		})
		if m, err := s.Manifest(seq); err != nil || m.FormatVersion != v {
			t.Fatalf("format %d: %v", v, err)
		}
		if p := s.Verify(seq); p != nil {
			t.Fatalf("format %d: verify: %v", v, p)
		}
	}
	// Format 1 manifests from before checksums existed.
	m, err := s.Manifest(seq)
	if err != nil {
		t.Fatal(err)
	}
	m.FormatVersion, m.ChunkSize, m.Checksum = 1, 0, ""
	b, err := marshalManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	writeManifest(t, s, seq, b)
	if _, err := s.Manifest(seq); err != nil {
		t.Fatalf("format 1 without checksum: %v", err)
	}
	rewriteManifest(t, s, seq, func(m *Manifest) { m.FormatVersion = 0 })
	if _, err := s.Manifest(seq); err == nil || errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), "not a memsnap format") {
		t.Fatalf("format 0: %v", err)
	}
}
