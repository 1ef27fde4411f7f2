package graphdb

import "context"
import "errors"
import "fmt"
import "io/fs"
import "os"
import "path/filepath"
import "runtime"
import "strings"
import "testing"
import "time"

func TestOpenErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.kuzu"), Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
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

// TestCopyFromQuotesThePath: COPY FROM a file whose path has a backslash (on
// Windows, every path) and a quote.
func TestCopyFromQuotesThePath(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), `it's a\b`)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(dir, "rows.csv")
	if err := os.WriteFile(csv, []byte("x\ny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, c, err := OpenConn(filepath.Join(t.TempDir(), "g.kuzu"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer c.Close()
	if err := c.Exec(ctx, "CREATE NODE TABLE T(name STRING, PRIMARY KEY(name))", nil); err != nil {
		t.Fatal(err)
	}
	if n, err := CopyFrom(ctx, c, "T", csv, "header=false"); err != nil || n != 2 {
		t.Fatalf("COPY FROM %s: %d rows, %v", csv, n, err)
	}
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

// TestEnsureSchemaUpgradesOldGraphs opens graphs in the layouts of earlier
// memsnap versions (formats 1-2: full-text index on Entity; 3-5:
// search_text, doc, TextDoc and the index on it) and checks that
// EnsureSchema drops what they kept for search and keeps every entity and
// relation; a second run finds nothing to do.
func TestEnsureSchemaUpgradesOldGraphs(t *testing.T) {
	ctx := context.Background()
	base := []string{
		"CREATE (:Entity {name: 'kettle', entityType: 'device', observations: ['boils Water', 'in the kitchen']})",
		"CREATE (:Entity {name: 'lamp', entityType: 'device', observations: []})",
		"MATCH (a:Entity {name: 'kettle'}), (b:Entity {name: 'lamp'}) CREATE (a)-[:Relation {relationType: 'near'}]->(b)",
	}
	layouts := map[string][]string{
		"format 1-2": append([]string{
			"CREATE NODE TABLE Entity(name STRING PRIMARY KEY, entityType STRING, observations STRING[], created_at TIMESTAMP, updated_at TIMESTAMP)",
			"CREATE REL TABLE Relation(FROM Entity TO Entity, relationType STRING, created_at TIMESTAMP)",
		}, append(base, "CALL CREATE_FTS_INDEX('Entity', 'entity_fts', ['name', 'entityType'])")...),
		"format 3-5": append([]string{
			"CREATE NODE TABLE Entity(name STRING PRIMARY KEY, entityType STRING, observations STRING[], created_at TIMESTAMP, updated_at TIMESTAMP, search_text STRING, doc INT64)",
			"CREATE REL TABLE Relation(FROM Entity TO Entity, relationType STRING, created_at TIMESTAMP)",
			"CREATE NODE TABLE TextDoc(id SERIAL PRIMARY KEY, name STRING, entityType STRING, search_text STRING)",
		}, append(base,
			"MATCH (e:Entity) CREATE (d:TextDoc {name: e.name, entityType: e.entityType, search_text: ''}) SET e.doc = d.id",
			"CALL CREATE_FTS_INDEX('TextDoc', 'entity_fts', ['name', 'entityType', 'search_text'], stemmer := 'porter')")...),
	}
	for name, stmts := range layouts {
		t.Run(name, func(t *testing.T) {
			c := newTestConn(t)
			for _, q := range stmts {
				if err := c.Exec(ctx, q, nil); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for i := 0; i < 2; i++ {
				if err := EnsureSchema(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			cols, err := columns(ctx, c, "Entity")
			if err != nil || strings.Join(cols, ",") != "name,entityType,observations,created_at,updated_at" {
				t.Fatalf("Entity columns after the upgrade: %v %v", cols, err)
			}
			for _, q := range []string{"CALL SHOW_INDEXES() RETURN count(*)", "CALL show_tables() WITH name WHERE name = 'TextDoc' RETURN count(*)"} {
				if res, err := c.Query(ctx, q, nil); err != nil || res.Int() != 0 {
					t.Fatalf("%s after the upgrade: %v %v", q, res, err)
				}
			}
			res, err := c.Query(ctx, "MATCH (a:Entity)-[r:Relation]->(b:Entity) RETURN a.name, a.observations, b.name", nil)
			if err != nil || len(res.Rows) != 1 || fmt.Sprint(res.Rows[0]) != "[kettle [boils Water in the kitchen] lamp]" {
				t.Fatalf("graph after the upgrade: %v %v", res, err)
			}
		})
	}
}

// newTestConn is a connection to a new empty graph, closed when the test
// ends.
func newTestConn(t *testing.T) *Conn {
	t.Helper()
	return openTestConn(t, filepath.Join(t.TempDir(), "g.kuzu"), Options{})
}

// openTestConn opens the graph at path with o (OpenConn); the connection
// and the database are closed when the test ends.
func openTestConn(t *testing.T, path string, o Options) *Conn {
	t.Helper()
	db, c, err := OpenConn(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		db.Close()
	})
	return c
}

// TestPreparedStatementsKept: a read-only connection keeps what it
// prepared, and a kept statement answers each call with that call's
// parameters, whatever their type, and after a failed call.
func TestPreparedStatementsKept(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.kuzu")
	db, c, err := OpenConn(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureSchema(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if err := c.Exec(ctx, "CREATE (:Entity {name: $n, entityType: 't', observations: [$n]})", map[string]any{"n": n}); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.prepared) != 0 {
		t.Fatalf("a read-write connection kept %d statements", len(c.prepared))
	}
	c.Close()
	db.Close()

	db, c, err = OpenConn(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer c.Close()
	const q = "MATCH (e:Entity {name: $n}) RETURN e.observations"
	for _, n := range []string{"a", "b", "zz", "c", "a"} {
		res, err := c.Query(ctx, q, map[string]any{"n": n})
		if err != nil {
			t.Fatal(err)
		}
		want := "[]"
		if n != "zz" {
			want = "[[[" + n + "]]]"
		}
		if got := fmt.Sprint(res.Rows); got != want {
			t.Fatalf("%s: %s, want %s", n, got, want)
		}
	}
	if len(c.prepared) != 1 {
		t.Fatalf("kept %d statements for one query", len(c.prepared))
	}
	// The same text with a value of another type, and with a missing one.
	res, err := c.Query(ctx, "RETURN $x", map[string]any{"x": "one"})
	if err != nil || fmt.Sprint(res.Rows) != "[[one]]" {
		t.Fatalf("RETURN $x (string): %v %v", res, err)
	}
	if res, err = c.Query(ctx, "RETURN $x", map[string]any{"x": int64(2)}); err != nil || fmt.Sprint(res.Rows) != "[[2]]" {
		t.Fatalf("RETURN $x (int) after a string: %v %v", res, err)
	}
	// Without its parameter a statement matches nothing (Kuzu binds a
	// missing one as NULL), never the earlier call's value.
	if res, err := c.Query(ctx, q, nil); err == nil && len(res.Rows) > 0 {
		t.Fatalf("a kept statement ran with the earlier call's parameter: %v", res)
	}
	if res, err := c.Query(ctx, q, map[string]any{"n": "b"}); err != nil || fmt.Sprint(res.Rows) != "[[[b]]]" {
		t.Fatalf("after a failed call: %v %v", res, err)
	}
	for i := 0; i < preparedAtMost+5; i++ {
		if _, err := c.Query(ctx, fmt.Sprintf("RETURN %d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.prepared) > preparedAtMost {
		t.Fatalf("kept %d statements, at most %d", len(c.prepared), preparedAtMost)
	}
}

func TestRowLoopStopsOnCancelAndOnRequest(t *testing.T) {
	c := newTestConn(t)
	const q = "UNWIND range(1, 100000) AS x RETURN x"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	read := 0
	_, err := c.QueryEach(ctx, q, nil, func([]any) bool {
		if read++; read == 10 {
			cancel() // the client went away while its rows were being read
		}
		return true
	})
	if !errors.Is(err, context.Canceled) || read > 10+ctxEveryRows {
		t.Fatalf("cancelled after 10 rows: read %d rows, error %v", read, err)
	}
	read = 0
	cols, err := c.QueryEach(context.Background(), q, nil, func([]any) bool { read++; return read < 5 })
	if err != nil || read != 5 || len(cols) != 1 {
		t.Fatalf("stopped at 5 rows: read %d, columns %v, error %v", read, cols, err)
	}
}

// Kuzu's message comes through as Kuzu wrote it, '%' and all: go-kuzu
// uses it as a format string, which turned "% -1 is" into "%! (MISSING)is".
func TestKuzuMessageWithPercent(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("on Windows the message is not read again (no dlsym): see kuzumsg_windows.go")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.kuzu")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn()
	if err != nil {
		t.Fatal(err)
	}
	const want = "-9223372036854775808 % -1 is not within INT64 range"
	check := func(how string, c *Conn, q string, params map[string]any) {
		t.Helper()
		_, err := c.Query(ctx, q, params)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "MISSING") {
			t.Errorf("%s: %v, want an error holding %q", how, err, want)
		}
	}
	check("query", c, "RETURN -9223372036854775808 % -1", nil)
	check("prepared", c, "RETURN -9223372036854775808 % -1 AS v, $x AS x", map[string]any{"x": 1})
	check("executed", c, "RETURN $x % -1", map[string]any{"x": int64(-9223372036854775808)})
	db.Close()
	rc := openTestConn(t, path, Options{ReadOnly: true})
	check("read-only", rc, "RETURN -9223372036854775808 % -1", nil)
	// The parser's message quotes the query's text, '%' included.
	if _, err := rc.Query(ctx, "RETURN 1 % ", nil); err == nil || strings.Contains(err.Error(), "MISSING") {
		t.Errorf("syntax error: %v", err)
	}
}
