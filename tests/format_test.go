package tests

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "hash/crc32"
import "os"
import "path/filepath"
import "strconv"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/snapshot"

// rewriteFormat rewrites snapshot seq's manifest as if a memsnap of format
// version v had written it: format_version v and the manifest's own
// checksum recomputed (CRC-32C of its canonical encoding without the
// checksum field, see snapshot/encode.go), so that nothing but the format
// tells it apart. Below format 5 it drops the chunk size and the chunk
// sums, which such a manifest lists in 1 MiB chunks or not at all.
func rewriteFormat(t *testing.T, store string, seq uint64, v int) {
	t.Helper()
	path := filepath.Join(snapDir(store, strconv.FormatUint(seq, 10)), "MANIFEST.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any // every field, known to this build or not
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["format_version"] = v
	delete(m, "checksum")
	if v < 5 { // format 5 named the chunk size; drop the chunks rather than resum them in 1 MiB
		delete(m, "chunk_size")
		for _, f := range m["files"].([]any) {
			delete(f.(map[string]any), "chunks")
		}
	} else if _, ok := m["chunk_size"]; !ok {
		m["chunk_size"] = snapshot.ChunkSize
	}
	var typed snapshot.Manifest // canonical field order is the struct's
	mb, _ := json.Marshal(m)
	if err := json.Unmarshal(mb, &typed); err != nil {
		t.Fatal(err)
	}
	encode := func() []byte {
		out, err := json.MarshalIndent(&typed, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return append(out, '\n')
	}
	typed.Checksum = fmt.Sprintf("crc32c:%08x", crc32.Checksum(encode(), crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(path, encode(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Issue 11, item 3: a snapshot whose manifest format is newer than this
// build reads is refused, with one clear message and a typed error, by a
// long-lived reader (which keeps serving what it has), by every CLI read
// and by the writer; older formats this build reads are accepted.
func TestNewerFormatRefused(t *testing.T) {
	store := newStore(t)
	for i := 0; i < 2; i++ {
		enqueue(t, store, ops(entities(entity(fmt.Sprintf("e%d", i), "t")), map[string]any{"op": "kv_put", "key": "k", "value": strconv.Itoa(i)}))
		commit(t, store)
	}
	good := mustUint(t, currentSeq(t, store))
	_, r := openReader(t, store)

	id := enqueue(t, store, ops(entities(entity("e2", "t"))))
	commit(t, store)
	newer := mustUint(t, currentSeq(t, store))
	rewriteFormat(t, store, newer, snapshot.FormatVersion+1)
	want := fmt.Sprintf("snapshot %d was written by a newer memsnap (format %d, this build reads up to %d): upgrade memsnap",
		newer, snapshot.FormatVersion+1, snapshot.FormatVersion)

	// The long-lived reader refuses it with the typed error and keeps serving.
	_, err := r.Refresh(context.Background())
	var nf *snapshot.NewerFormatError
	if !errors.Is(err, snapshot.ErrNewerFormat) || !errors.As(err, &nf) || !strings.Contains(err.Error(), want) {
		t.Fatalf("refresh onto a newer format: %v", err)
	}
	if nf.Seq != newer || nf.Format != snapshot.FormatVersion+1 || nf.Supported != snapshot.FormatVersion {
		t.Errorf("error fields %+v", nf)
	}
	if res, err := r.Query(context.Background(), "MATCH (e:Entity) RETURN count(e)", nil); err != nil || res.Snapshot != good {
		t.Fatalf("reader stopped serving snapshot %d: %v %+v", good, err, res)
	}

	// Every CLI read says the same in one line (verify lists each problem
	// first, then the error).
	for _, args := range [][]string{
		{"query", "MATCH (e:Entity) RETURN count(e)"},
		{"kv", "get", "k"},
		{"job", id},
		{"snapshots", "verify"},
	} {
		res := memsnap(t, store, nil, nil, args...)
		t.Logf("memsnap %s: %s", args[0], strings.TrimSpace(res.stderr))
		if args[0] == "snapshots" {
			oneLineErrorLast(t, res, want)
		} else {
			oneLineError(t, res, want)
		}
		if last := strings.TrimSpace(res.stderr); !strings.HasSuffix(last, want) || strings.Contains(last, "failed verification") {
			t.Errorf("memsnap %v: %q; want it to end with %q and not call the snapshot damaged", args, last, want)
		}
	}
	// The writer refuses to build on it and changes nothing.
	enqueue(t, store, ops(entities(entity("e3", "t"))))
	before := stateOf(t, store)
	w := memsnap(t, store, nil, nil, "commit")
	t.Logf("memsnap commit: %s", strings.TrimSpace(w.stderr))
	oneLineError(t, w, want)
	if contains(w.stderr, "rollback") {
		t.Errorf("commit on a newer format advises a rollback, which would drop its work: %q", w.stderr)
	}
	if after := stateOf(t, store); after != before {
		t.Fatalf("refused commit changed the store: %+v -> %+v", before, after)
	}

	// Formats this build reads are accepted.
	for v := snapshot.MinFormatVersion; v <= snapshot.FormatVersion; v++ {
		rewriteFormat(t, store, newer, v)
		if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 3 {
			t.Fatalf("format %d: %d entities, want 3", v, n)
		}
	}
	if _, err := r.Refresh(context.Background()); err != nil || r.Seq() != newer {
		t.Fatalf("refresh onto format %d: %v (serving %d)", snapshot.FormatVersion, err, r.Seq())
	}
}
