package reader

import "context"
import "os"
import "path/filepath"
import "strings"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/graphdb"

// FuzzCheckReadOnly checks the guard against Kuzu itself. Every query the
// guard accepts is run on a read-only database whose working directory is an
// empty scratch directory; afterwards no file may exist there or beside the
// database (COPY TO, EXPORT DATABASE and friends write relative paths there).
// Also, appending "; COPY ..." to an accepted query must be refused.
func FuzzCheckReadOnly(f *testing.F) {
	for _, s := range []string{
		"MATCH (e:Entity) RETURN e.name",
		"MATCH (e:Entity) WHERE e.name = 'COPY TO x' RETURN e",
		"COPY (RETURN 1) TO 'x.csv'",
		"copy (return 1) to 'x.csv'",
		"EXPORT DATABASE 'dbx'",
		"ATTACH 'o.kuzu' AS o (dbtype kuzu)",
		"LOAD FROM 'x.csv' RETURN *",
		"RETURN 1 --1; COPY (RETURN 1) TO 'dash.csv'",
		"COPY\u00a0(RETURN 1) TO 'nbsp.csv'",
		"\ufeffCOPY (RETURN 1) TO 'bom.csv'",
		"COPY\x1c(RETURN 1) TO 'fs.csv'",
		"/* c */ COPY (RETURN 1) TO 'c.csv'",
		"// c\nCOPY (RETURN 1) TO 'c.csv'",
		"RETURN 'a\\'b'; COPY (RETURN 1) TO 'esc.csv'",
		"RETURN `a``b`",
		"CALL show_tables() RETURN *",
		"CALL QUERY_FTS_INDEX('Entity', 'entity_fts', 'x') RETURN node.name",
		"UNWIND [1,2,3] AS x RETURN x",
		"RETURN " + strings.Repeat("CASE WHEN true THEN ", MaxCaseNesting) + "1" + strings.Repeat(" END", MaxCaseNesting),
		"RETURN " + strings.Repeat("case when true then ", MaxCaseNesting+1) + "1" + strings.Repeat(" end", MaxCaseNesting+1),
		"RETURN " + strings.Repeat("(", MaxNesting-MaxCaseNesting) + strings.Repeat("CASE 1 WHEN 1 THEN ", MaxCaseNesting) + "1" + strings.Repeat(" END", MaxCaseNesting) + strings.Repeat(")", MaxNesting-MaxCaseNesting),
		"RETURN 'CASE CASE' + `CASE` /* CASE */ // CASE",
		"MATCH (a)-[r:Relation]->(b) RETURN a.name, b.name LIMIT 3",
		"RETURN read_csv('x.csv')",
		"RETURN " + strings.Repeat("(", 32) + "1" + strings.Repeat(")", 32),
		"RETURN " + strings.Repeat("[", 33) + "1" + strings.Repeat("]", 33),
		"RETURN ')' + " + strings.Repeat("(", 33) + "1" + strings.Repeat(")", 33),
		"RETURN {a: {b: [({c: 1})]}}",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	dbPath := filepath.Join(dir, "db", "graph.kuzu")
	if err := os.Mkdir(filepath.Dir(dbPath), 0o700); err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	rw, err := graphdb.Open(dbPath, graphdb.Options{})
	if err != nil {
		f.Fatal(err)
	}
	c, err := rw.Conn()
	if err != nil {
		f.Fatal(err)
	}
	if err := graphdb.EnsureSchema(ctx, c); err != nil {
		f.Fatal(err)
	}
	if err := c.Exec(ctx, "CREATE (:Entity {name: 'a', entityType: 't', observations: ['x']})", nil); err != nil {
		f.Fatal(err)
	}
	c.Close()
	rw.Close()
	ro, err := graphdb.Open(dbPath, graphdb.Options{ReadOnly: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(ro.Close)
	conn, err := ro.Conn()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(conn.Close)
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		f.Fatal(err)
	}
	f.Chdir(work)
	dbFiles := func() int {
		ents, _ := os.ReadDir(filepath.Dir(dbPath))
		return len(ents)
	}
	before := dbFiles()

	f.Fuzz(func(t *testing.T, q string) {
		if CheckReadOnly(q) != nil {
			return
		}
		if CheckReadOnly(q+"\n;COPY (RETURN 1) TO 'appended.csv'") == nil {
			t.Fatalf("a second statement after an accepted query was accepted: %q", q)
		}
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _ = conn.Query(qctx, q, nil)
		cancel()
		if ents, _ := os.ReadDir(work); len(ents) > 0 {
			t.Fatalf("accepted query %q created %s", q, ents[0].Name())
		}
		if dbFiles() != before {
			t.Fatalf("accepted query %q created a file beside the database", q)
		}
	})
}
