package snapshot

import "bytes"
import "strconv"
import "strings"
import "testing"
import "time"

func sampleManifest() []byte {
	m := Manifest{FormatVersion: FormatVersion, MemsnapVersion: Version, Seq: 7, Parent: 6,
		CreatedAt: time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC), Watermark: 42,
		Applied: 3, Rejected: 1, RejectedJobs: []RejectedJob{{ID: "01J", File: "0000000000000042-01J.job", Reason: "bad"}},
		Entities: 10, Relations: 4, KVKeys: 2,
		Files: []FileSum{{Path: "graph.kuzu", Size: 4096, CRC32C: 0xdeadbeef}, {Path: "kv/000001.sst", Size: 10, CRC32C: 1}}}
	b, err := encodeManifest(&m)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzParseManifest: parsing never panics; an accepted manifest re-encodes
// to exactly its own bytes; and when it carries a checksum, changing any one
// of its bytes to anything else is detected.
func FuzzParseManifest(f *testing.F) {
	good := sampleManifest()
	f.Add(good, uint(0), byte(1))
	f.Add(good, uint(len(good)/2), byte(0x20))
	f.Add(good, uint(len(good)-2), byte(0xff))
	f.Add([]byte(`{"format_version":1,"seq":1}`), uint(3), byte(1))
	f.Add([]byte(`{}`), uint(0), byte(0))
	f.Add([]byte(`null`), uint(0), byte(0))
	f.Fuzz(func(t *testing.T, b []byte, pos uint, x byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		if m.Seq == 0 || m.FormatVersion < MinFormatVersion || m.FormatVersion > FormatVersion {
			t.Fatalf("accepted seq %d format %d", m.Seq, m.FormatVersion)
		}
		if m.Checksum == "" || x == 0 || len(b) == 0 {
			return
		}
		again, err := encodeManifest(m)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted manifest does not re-encode to itself: %v", err)
		}
		flipped := bytes.Clone(b)
		flipped[pos%uint(len(b))] ^= x
		if _, err := ParseManifest(flipped); err == nil {
			t.Fatalf("byte %d changed (xor %#x) and the manifest still parses", pos%uint(len(b)), x)
		}
	})
}

// FuzzParseCurrent: parsing never panics, and accepts exactly the canonical
// form: a non-zero decimal seq without leading zeros, with or without one
// trailing newline.
func FuzzParseCurrent(f *testing.F) {
	for _, s := range []string{"7\n", "7", "0\n", "007\n", "+7", "7\n\n", " 7", "18446744073709551615\n", "18446744073709551616", "", "\n", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, err := ParseCurrent(b)
		if err != nil {
			return
		}
		canon := strconv.FormatUint(seq, 10)
		if string(b) != canon && string(b) != canon+"\n" {
			t.Fatalf("accepted %q as %d", b, seq)
		}
	})
}

// A manifest holding a string that is not valid UTF-8 is refused at encode:
// JSON would write U+FFFD for the bad bytes, and the published manifest
// would fail its own checksum.
func TestEncodeManifestRefusesInvalidUTF8(t *testing.T) {
	m := &Manifest{FormatVersion: FormatVersion, Seq: 2, Rejected: 1,
		RejectedJobs: []RejectedJob{{ID: "x\xff", File: "0000000000000001-x\xff.job", Reason: "bad"}}}
	if _, err := encodeManifest(m); err == nil || !strings.Contains(err.Error(), `rejected job id "x\xff" is not valid UTF-8`) {
		t.Fatalf("encode with a job id that is not UTF-8: %v", err)
	}
}
