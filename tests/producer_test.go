package tests

import "encoding/json"
import "os"
import "path/filepath"
import "testing"
import "time"

import "github.com/oklog/ulid/v2"

import "github.com/memsnap/memsnap/internal/filelock"
import "github.com/memsnap/memsnap/internal/queue"

// A writer removes the temp job files of dead producers from queue/tmp but
// never a live one's: a producer holds an exclusive flock on its temp file
// until it has renamed it into queue/new. Here the test process is that
// producer, its file old enough to be judged, half-written and locked
// while a commit runs; beside it lies an unlocked file of a dead producer.
// The commit removes the dead one and leaves the live one, whose producer
// then finishes (writes, renames, unlocks); the next commit applies its job.
func TestWriterLeavesLiveProducersTemp(t *testing.T) {
	store := newStore(t)
	tmpDir := filepath.Join(store, "queue", "tmp")
	old := time.Now().Add(-time.Hour) // far older than any age a writer waits for
	body, err := json.Marshal(ops(entities(entity("live-producer", "test", "written while a commit ran"))))
	if err != nil {
		t.Fatal(err)
	}

	liveID := ulid.Make().String()
	live := filepath.Join(tmpDir, liveID+queue.Ext)
	f, err := os.OpenFile(live, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := filelock.Lock(f, filelock.Exclusive); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(tmpDir, ulid.Make().String()+queue.Ext)
	if err := os.WriteFile(dead, body[:len(body)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{live, dead} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}

	enqueue(t, store, ops(entities(entity("other", "test"))))
	commit(t, store)
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("the writer removed a live producer's temp file (its lock held): %v", err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("the writer left a dead producer's temp file: %v", err)
	}

	// The producer finishes as Spool does, and its job applies.
	if _, err := f.Write(body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(live, filepath.Join(store, "queue", "new", liveID+queue.Ext)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	commit(t, store)
	if o := jobOutcome(t, store, liveID); o.Status != "applied" {
		t.Fatalf("the live producer's job: %+v", o)
	}
	if q := query(t, store, "MATCH (e:Entity {name: 'live-producer'}) RETURN e.name"); len(q.Rows) != 1 {
		t.Fatalf("the live producer's entity: %v", q.Rows)
	}
}
