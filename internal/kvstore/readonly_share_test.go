package kvstore

import "context"
import "io"
import "log/slog"
import "reflect"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"

// publish writes a small store into a fresh directory the way the writer
// stages one (WAL off, flushed, closed) and returns the directory.
func publish(t *testing.T) string {
	t.Helper()
	dir := testutil.TempDir(t)
	commitAndClose(t, dir, slog.New(slog.NewTextHandler(io.Discard, nil)), func(b *Batch) error {
		for _, kv := range [][2]string{{"a/1", "x"}, {"a/2", "y"}, {"b/1", "z"}} {
			if err := b.SetUser(kv[0], []byte(kv[1])); err != nil {
				return err
			}
		}
		return b.SetJob("01J", []byte("applied"))
	})
	return dir
}

// commitAndClose opens the KV store in dir read-write, commits one batch
// that fill fills, flushes and closes it: what a commit does to a
// snapshot's KV store.
func commitAndClose(t *testing.T, dir string, log *slog.Logger, fill func(b *Batch) error) {
	t.Helper()
	db, err := OpenRW(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	if err := fill(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyOpensShareASnapshot opens one published store read-only twice
// at once, as two reader processes do (on Windows Pebble's own lock file is
// opened with share mode 0, so the second open works only because OpenRO
// takes no lock), and reads it through both.
func TestReadOnlyOpensShareASnapshot(t *testing.T) {
	dir := publish(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var dbs []*DB
	for range 2 {
		db, err := OpenRO(dir, log)
		if err != nil {
			t.Fatalf("read-only open %d: %v", len(dbs)+1, err)
		}
		dbs = append(dbs, db)
	}
	for i, db := range dbs {
		if v, found, err := db.GetUser("a/2"); err != nil || !found || string(v) != "y" {
			t.Errorf("reader %d: GetUser(a/2) = %q, %v, %v; want \"y\", true, nil", i, v, found, err)
		}
		if v, found, err := db.GetJob("01J"); err != nil || !found || string(v) != "applied" {
			t.Errorf("reader %d: GetJob = %q, %v, %v; want \"applied\", true, nil", i, v, found, err)
		}
		got, err := db.ScanUser(context.Background(), "a/", 0)
		want := []Pair{{"a/1", "x"}, {"a/2", "y"}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("reader %d: ScanUser(a/) = %v, %v; want %v", i, got, err, want)
		}
	}
	for _, db := range dbs {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
