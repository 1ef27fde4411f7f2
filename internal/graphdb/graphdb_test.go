package graphdb

import (
	"context"
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
