package tests

import (
	"encoding/json"
	"testing"
)

// TestBenchHarness runs 'memsnap bench' at its smallest size and checks the
// JSON it prints: every benchmark and figure the harness promises, figures
// that must hold whatever the machine's speed (no failed reader queries, every
// direct Kuzu open beside a read-write holder refused), and --only.
func TestBenchHarness(t *testing.T) {
	out := mustMemsnap(t, t.TempDir(), nil, "bench", "--smoke", "--json", "--dir", t.TempDir())
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	want := map[string][]string{
		"readers_under_write": {"readers", "queries", "errors", "p50_ms", "p99_ms", "idle_p99_ms", "direct_kuzu_attempts", "direct_kuzu_errors"},
		"apply":               {"rows", "memsnap_rows_per_s", "per_statement_rows_per_s", "copy_from_rows_per_s"},
		"publish":             {"db_mb", "publish_ms", "copy_ms"},
		"enqueue":             {"producers", "jobs_per_s", "bare_fsync_per_s"},
		"visibility":          {"commit_interval_ms", "p50_ms", "p99_ms", "wait_p50_ms"},
		"swap":                {"refreshes", "p50_ms", "p99_ms", "failed_queries"},
		"rss":                 {"idle_reader_mb", "busy_reader_mb"},
		"scaling":             {"readers", "qps"},
	}
	num := func(obj map[string]any, k string) float64 {
		t.Helper()
		v, ok := obj[k].(float64)
		if !ok {
			t.Fatalf("%v: %q is %v, not a number", obj, k, obj[k])
		}
		return v
	}
	for bench, keys := range want {
		var objs []map[string]any
		switch v := rep[bench].(type) {
		case map[string]any:
			objs = []map[string]any{v}
		case []any:
			for _, e := range v {
				objs = append(objs, e.(map[string]any))
			}
		default:
			t.Fatalf("%s: missing or not an object: %v", bench, rep[bench])
		}
		for _, o := range objs {
			for _, k := range keys {
				num(o, k)
			}
		}
	}
	rw := rep["readers_under_write"].(map[string]any)
	if num(rw, "queries") == 0 || num(rw, "errors") != 0 || num(rw, "idle_p99_ms") <= 0 {
		t.Errorf("readers under write: %v", rw)
	}
	if a := num(rw, "direct_kuzu_attempts"); a == 0 || num(rw, "direct_kuzu_errors") != a {
		t.Errorf("direct Kuzu opens beside a read-write holder should all fail: %v", rw)
	}
	if sw := rep["swap"].(map[string]any); num(sw, "failed_queries") != 0 || num(sw, "refreshes") == 0 {
		t.Errorf("swap: %v", sw)
	}
	for _, k := range []string{"memsnap_rows_per_s", "per_statement_rows_per_s", "copy_from_rows_per_s"} {
		if num(rep["apply"].(map[string]any), k) <= 0 {
			t.Errorf("apply %s: %v", k, rep["apply"])
		}
	}
	var readers []float64
	for _, s := range rep["scaling"].([]any) {
		readers = append(readers, num(s.(map[string]any), "readers"))
	}
	if len(readers) < 2 || readers[0] != 1 || readers[1] != 2 {
		t.Errorf("scaling reader counts %v, want 1, 2, ...", readers)
	}
	if goals, ok := rep["goals"].([]any); !ok || len(goals) < 10 {
		t.Errorf("goals: %v", rep["goals"])
	}

	out = mustMemsnap(t, t.TempDir(), nil, "bench", "--smoke", "--json", "--only", "rss", "--dir", t.TempDir())
	rep = nil
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if _, ok := rep["rss"]; !ok || rep["apply"] != nil || rep["scaling"] != nil {
		t.Errorf("--only rss ran %v", rep)
	}
	if r := memsnap(t, t.TempDir(), nil, nil, "bench", "--only", "nosuch"); r.code != 2 || !contains(r.stderr, "unknown benchmark") {
		t.Errorf("--only nosuch: exit %d: %s", r.code, r.stderr)
	}
}
