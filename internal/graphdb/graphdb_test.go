package graphdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestOpenErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.kuzu"), Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("read-only open of a missing file: %v", err)
	}
	junk := filepath.Join(dir, "junk.kuzu")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(junk, Options{ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), "kuzu refused it") {
		t.Fatalf("open of a junk file: %v", err)
	}
	runtime.GC() // finalizers of the failed open must not crash
	time.Sleep(50 * time.Millisecond)
}

func TestQueryErrorPathsAndValues(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "g.kuzu"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn()
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureSchema(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(ctx, "MATCH (e:Entity {name: $n}) RETURN e", map[string]any{"n": struct{}{}}); err == nil {
		t.Fatal("unbindable parameter accepted")
	}
	if _, err := c.Query(ctx, "MATCH (e:Nope) RETURN e", nil); err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("binder error should be one line: %v", err)
	}
	if _, err := c.Query(ctx, "RETURN $x", map[string]any{"x": 1, "unused": 2}); err == nil {
		t.Fatal("unused parameter accepted")
	}
	if err := c.Exec(ctx, "CREATE (:Entity {name: 'a', entityType: 't', observations: ['x'], created_at: timestamp('2024-01-02 03:04:05.678')})", nil); err != nil {
		t.Fatal(err)
	}
	res, err := c.Query(ctx, "MATCH (e:Entity) RETURN e, e.observations, e.created_at", nil)
	if err != nil {
		t.Fatal(err)
	}
	node := res.Rows[0][0].(map[string]any)
	if node["name"] != "a" || node["_label"] != "Entity" {
		t.Fatalf("node: %v", node)
	}
	if ts := res.Rows[0][2].(time.Time); ts.Location() != time.UTC || ts.Format(time.RFC3339Nano) != "2024-01-02T03:04:05.678Z" {
		t.Fatalf("timestamp: %v", ts)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Query(cctx, "RETURN 1", nil); err == nil {
		t.Fatal("query ran on a cancelled context")
	}
	c.Close()
	db.Close()
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
}

// TestEnsureSchemaUpgradesOldGraphs opens a graph in the layout of earlier
// memsnap versions (no search_text, full-text index on Entity) and checks
// that EnsureSchema moves it to the document table with a current document
// per entity, searchable through FTSQuery.
func TestEnsureSchemaUpgradesOldGraphs(t *testing.T) {
	ctx := context.Background()
	c := newTestConn(t)
	for _, q := range []string{
		"CREATE NODE TABLE Entity(name STRING PRIMARY KEY, entityType STRING, observations STRING[], created_at TIMESTAMP, updated_at TIMESTAMP)",
		"CREATE REL TABLE Relation(FROM Entity TO Entity, relationType STRING, created_at TIMESTAMP)",
		"CREATE (:Entity {name: 'kettle', entityType: 'device', observations: ['boils Water', 'in the kitchen']})",
		"CREATE (:Entity {name: 'lamp', entityType: 'device', observations: []})",
		"CALL CREATE_FTS_INDEX('Entity', 'entity_fts', ['name', 'entityType'])",
	} {
		if err := c.Exec(ctx, q, nil); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := 0; i < 2; i++ { // the second run finds nothing to do
		if err := EnsureSchema(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := HasFTS(ctx, c); err != nil || !ok {
		t.Fatalf("index on %s after the upgrade: %v %v", DocTable, ok, err)
	}
	res, err := c.Query(ctx, FTSQuery("conjunctive := true"), map[string]any{"q": "water kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] != "kettle" {
		t.Fatalf("search after the upgrade: %v", res.Rows)
	}
	docs, ents, err := DocCounts(ctx, c)
	if err != nil || docs != 2 || ents != 2 {
		t.Fatalf("documents %d, entities %d, err %v; want 2, 2", docs, ents, err)
	}
}

// TestAddDocsIndexesEveryRow inserts several documents in one AddDocs call
// with the index in place and checks that each word of each field finds
// exactly its own entity: Kuzu 0.11.3 indexes every row of a multi-row
// insert with the first row's terms when a value comes from a variable.
func TestAddDocsIndexesEveryRow(t *testing.T) {
	ctx := context.Background()
	c := newTestConn(t)
	if err := EnsureSchema(ctx, c); err != nil {
		t.Fatal(err)
	}
	docs := []Doc{
		{"Ada Lovelace", "person", "wrote notes"},
		{"Charles Babbage", "inventor", "designed engines"},
		{"London", "place", "capital city"},
	}
	for _, d := range docs {
		if err := c.Exec(ctx, "CREATE (:Entity {name: $n, entityType: $t})", map[string]any{"n": d.Name, "t": d.EntityType}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := AddDocs(ctx, c, docs); err != nil || n != 3 {
		t.Fatalf("AddDocs: %d, %v", n, err)
	}
	for _, d := range docs {
		for _, word := range strings.Fields(strings.ToLower(d.Name + " " + d.EntityType + " " + d.SearchText)) {
			res, err := c.Query(ctx, FTSQuery(""), map[string]any{"q": word})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != 1 || res.Rows[0][0] != d.Name {
				t.Errorf("search %q: %v, want only %s", word, res.Rows, d.Name)
			}
		}
	}
}

// newTestConn opens a new empty graph in a temporary directory and returns a
// connection to it, both closed when the test ends.
func newTestConn(t *testing.T) *Conn {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "g.kuzu"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn()
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		db.Close()
	})
	return c
}

// TestIndexPendingWaitsForOnePercent creates PendingShare entities with their
// documents, then changes entities one at a time: IndexPending leaves them
// out of the full-text index until 1 in PendingShare of the graph waits,
// then indexes them all; all=true indexes whatever waits.
func TestIndexPendingWaitsForOnePercent(t *testing.T) {
	ctx := context.Background()
	c := newTestConn(t)
	if err := EnsureSchema(ctx, c); err != nil {
		t.Fatal(err)
	}
	create := func(name, text string) {
		t.Helper()
		if err := c.Exec(ctx, "CREATE (:Entity {name: $n, entityType: 'thing', search_text: $x})", map[string]any{"n": name, "x": text}); err != nil {
			t.Fatal(err)
		}
	}
	found := func(word string) int {
		t.Helper()
		res, err := c.Query(ctx, FTSQuery(""), map[string]any{"q": word})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Rows)
	}
	// Below PendingShare entities every change is indexed at once.
	create("first", "zebra")
	if n, err := IndexPending(ctx, c, false); err != nil || n != 1 || found("zebra") != 1 {
		t.Fatalf("small graph: indexed %d (%v), zebra found %d times; want 1, 1", n, err, found("zebra"))
	}
	for i := 1; i < 2*PendingShare; i++ {
		create(fmt.Sprintf("e%03d", i), "plain")
	}
	if n, err := IndexPending(ctx, c, false); err != nil || n != 2*PendingShare-1 {
		t.Fatalf("indexed %d (%v), want %d", n, err, 2*PendingShare-1)
	}
	// 200 entities: one or two pending wait (under 1%), three do not.
	create("late1", "walrus")
	if n, err := IndexPending(ctx, c, false); err != nil || n != 0 || found("walrus") != 0 {
		t.Fatalf("one pending of 201: indexed %d (%v), walrus found %d times; want 0, 0", n, err, found("walrus"))
	}
	create("late2", "walrus")
	create("late3", "walrus")
	if n, err := IndexPending(ctx, c, false); err != nil || n != 3 || found("walrus") != 3 {
		t.Fatalf("three pending of 203: indexed %d (%v), walrus found %d times; want 3, 3", n, err, found("walrus"))
	}
	create("late4", "okapi")
	if n, err := IndexPending(ctx, c, true); err != nil || n != 1 || found("okapi") != 1 {
		t.Fatalf("all: indexed %d (%v), okapi found %d times; want 1, 1", n, err, found("okapi"))
	}
}
