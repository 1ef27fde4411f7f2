package snapshot

import "bytes"
import "encoding/json"
import "errors"
import "fmt"
import "hash/crc32"
import "unicode/utf8"

import "github.com/memsnap/memsnap/internal/fsm"

// A manifest carries its own checksum: "crc32c:<8 hex digits>" over the
// canonical encoding of the manifest with the checksum field left out. A
// manifest must also be byte-for-byte in canonical form, so that any changed
// byte — inside a value, in a key, or in the white space between them — is
// caught, not just the ones that change a parsed value.
const checksumPrefix = "crc32c:"

// encodeManifest renders m canonically, with its checksum filled in. It
// refuses a manifest holding a string that is not valid UTF-8: JSON would
// write it with U+FFFD in place of the bad bytes, so the manifest would not
// read back as written (its checksum is over the original bytes).
func encodeManifest(m *Manifest) ([]byte, error) {
	if err := checkUTF8(m); err != nil {
		return nil, err
	}
	c := *m
	c.Checksum = ""
	body, err := marshalManifest(&c)
	if err != nil {
		return nil, err
	}
	c.Checksum = fmt.Sprintf("%s%08x", checksumPrefix, crc32.Checksum(body, castagnoli))
	return marshalManifest(&c)
}

// checkUTF8 returns an error naming the first string of m that is not valid
// UTF-8.
func checkUTF8(m *Manifest) error {
	bad := func(what, v string) error {
		if utf8.ValidString(v) {
			return nil
		}
		return fmt.Errorf("encode manifest of snapshot %d: %s %q is not valid UTF-8 and would not read back from JSON", m.Seq, what, v)
	}
	errs := []error{bad("memsnap_version", m.MemsnapVersion)}
	for _, r := range m.RejectedJobs {
		errs = append(errs, bad("rejected job id", r.ID), bad("rejected job file", r.File), bad("rejected job reason", r.Reason))
	}
	for _, f := range m.Files {
		errs = append(errs, bad("file path", f.Path))
	}
	return errors.Join(errs...)
}

func marshalManifest(m *Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseManifest decodes a manifest and checks it: known fields only, a
// format version this build reads (MinFormatVersion to FormatVersion), a
// non-zero seq, its own checksum, and canonical form. Manifests written
// before checksums existed (no checksum field) are accepted when they are
// in canonical form; their files are still checked by Verify. A manifest
// of a newer format gives a *NewerFormatError.
func ParseManifest(b []byte) (*Manifest, error) {
	var head struct {
		FormatVersion int    `json:"format_version"`
		Seq           uint64 `json:"seq"`
	}
	if err := json.Unmarshal(b, &head); err == nil && head.FormatVersion > FormatVersion {
		// A newer memsnap wrote it, with fields and rules this build may not
		// know, so none of the checks below apply. It is damage instead only
		// if it holds nothing but fields this build knows and its own
		// checksum disagrees with them (say a flipped digit in format_version).
		var bad *checksumError
		if _, err := parseManifest(b); errors.As(err, &bad) {
			return nil, err
		}
		return nil, &NewerFormatError{Seq: head.Seq, Format: head.FormatVersion, Supported: FormatVersion}
	}
	m, err := parseManifest(b)
	if err != nil {
		return nil, err
	}
	if m.FormatVersion < MinFormatVersion {
		return nil, fmt.Errorf("manifest is corrupt: format_version %d is not a memsnap format", m.FormatVersion)
	}
	return m, nil
}

// parseManifest is ParseManifest without the format version check.
func parseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest is corrupt: %w", err)
	}
	if dec.More() {
		return nil, errors.New("manifest is corrupt: data after the manifest object")
	}
	if m.Seq == 0 {
		return nil, errors.New("manifest is corrupt: seq is 0")
	}
	chunk := m.ChunkSize
	switch {
	case m.FormatVersion < 5 && chunk != 0:
		return nil, fmt.Errorf("manifest is corrupt: chunk_size in a format-%d manifest", m.FormatVersion)
	case m.FormatVersion >= 5 && chunk == 0:
		return nil, fmt.Errorf("manifest is corrupt: chunk_size is missing (format %d names it)", m.FormatVersion)
	case m.FormatVersion >= 5 && (chunk < 4096 || chunk > 1<<30 || chunk&(chunk-1) != 0):
		return nil, fmt.Errorf("manifest is corrupt: chunk_size %d is not a power of two from 4 KiB to 1 GiB", chunk)
	case chunk == 0:
		chunk = format4ChunkSize
	}
	if m.Digest != "" {
		if _, err := fsm.ParseDigest(m.Digest); err != nil {
			return nil, fmt.Errorf("manifest is corrupt: %w", err)
		}
	}
	for i, f := range m.Files {
		if len(f.Chunks) > 0 && (f.Size <= chunk || len(f.Chunks) != chunkCount(f.Size, chunk)) {
			return nil, fmt.Errorf("manifest is corrupt: %s lists %d chunk checksums for %d bytes", f.Path, len(f.Chunks), f.Size)
		}
		m.Files[i].chunk = chunk
	}
	want := m.Checksum
	if want != "" {
		c := m
		c.Checksum = ""
		body, err := marshalManifest(&c)
		if err != nil {
			return nil, err
		}
		if got := fmt.Sprintf("%s%08x", checksumPrefix, crc32.Checksum(body, castagnoli)); got != want {
			return nil, &checksumError{want: want, got: got}
		}
	}
	canon, err := marshalManifest(&m)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, b) {
		return nil, errors.New("manifest is corrupt: its bytes differ from what memsnap writes for the same content")
	}
	return &m, nil
}

// checksumError is a manifest whose own checksum does not match its content.
type checksumError struct{ want, got string }

func (e *checksumError) Error() string {
	return fmt.Sprintf("manifest is corrupt: checksum %s, content sums to %s", e.want, e.got)
}
