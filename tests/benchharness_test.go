package tests

import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"

// TestBenchHarness runs 'memsnap bench' at its smallest size and checks the
// JSON it prints: every benchmark and figure the harness promises, figures
// that must hold whatever the machine's speed (no failed reader queries, every
// direct Kuzu open beside a read-write holder refused), the mcp scenario's
// write tools, reads right after them on the same server and reads on a
// second server through a real MCP client (no reference server needed), the
// serve scenario's HTTP clients with no failed call, and --only.
func TestBenchHarness(t *testing.T) {
	args := []string{"bench", "--smoke", "--json", "--dir", t.TempDir()}
	// The replicate scenario needs versitygw (make versitygw); without it
	// the others run.
	gw := testutil.VersitygwBinary()
	if gw != "" {
		args = append(args, "--versitygw", gw)
	} else {
		args = append(args, "--only", "readers_under_write,apply,publish,enqueue,visibility,swap,rss,scaling,query,mcp,serve,footprint")
	}
	rep := decodeAnswer[map[string]any](t, "bench --json printed", mustMemsnap(t, t.TempDir(), nil, args...))
	want := map[string][]string{
		"readers_under_write": {"readers", "queries", "errors", "p50_ms", "p99_ms", "idle_p99_ms", "direct_kuzu_attempts", "direct_kuzu_errors"},
		"apply":               {"rows", "memsnap_rows_per_s", "per_statement_rows_per_s", "copy_from_rows_per_s"},
		"publish":             {"db_mb", "publish_ms", "copy_ms"},
		"enqueue":             {"producers", "jobs_per_s", "bare_fsync_per_s"},
		"visibility":          {"commit_interval_ms", "p50_ms", "p99_ms", "wait_p50_ms"},
		"swap":                {"refreshes", "p50_ms", "p99_ms", "failed_queries"},
		"rss":                 {"idle_reader_mb", "busy_reader_mb"},
		"scaling":             {"readers", "qps"},
		"query":               {"queries", "in_process_p50_ms", "worker_p50_ms", "worker_p99_ms", "overhead_p50_ms"},
		"mcp":                 {"calls", "warmup", "visible_writes"},
		"serve":               {"clients", "calls", "failed", "calls_per_second", "snapshots"},
		"footprint": {"entities", "jsonl_bytes", "writes", "total_bytes", "apparent_bytes", "snapshots", "current_bytes",
			"current_graph_bytes", "current_kv_bytes", "graph_bytes", "kv_bytes", "jobs_bytes", "queue_bytes", "other_bytes"},
	}
	if gw != "" {
		want["replicate"] = []string{"entities", "store_bytes", "initial_bytes", "commit_bytes", "commit_pct", "lag_p50_ms"}
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
				reportNum(t, o, k)
			}
		}
	}
	rw := rep["readers_under_write"].(map[string]any)
	if reportNum(t, rw, "queries") == 0 || reportNum(t, rw, "errors") != 0 || reportNum(t, rw, "idle_p99_ms") <= 0 {
		t.Errorf("readers under write: %v", rw)
	}
	if a := reportNum(t, rw, "direct_kuzu_attempts"); a == 0 || reportNum(t, rw, "direct_kuzu_errors") != a {
		t.Errorf("direct Kuzu opens beside a read-write holder should all fail: %v", rw)
	}
	if sw := rep["swap"].(map[string]any); reportNum(t, sw, "failed_queries") != 0 || reportNum(t, sw, "refreshes") == 0 {
		t.Errorf("swap: %v", sw)
	}
	for _, k := range []string{"memsnap_rows_per_s", "per_statement_rows_per_s", "copy_from_rows_per_s"} {
		if reportNum(t, rep["apply"].(map[string]any), k) <= 0 {
			t.Errorf("apply %s: %v", k, rep["apply"])
		}
	}
	checkMCPReport(t, rep["mcp"].(map[string]any))
	checkFootprintAndServe(t, rep)
	var readers []float64
	for _, s := range rep["scaling"].([]any) {
		readers = append(readers, reportNum(t, s.(map[string]any), "readers"))
	}
	if len(readers) < 2 || readers[0] != 1 || readers[1] != 2 {
		t.Errorf("scaling reader counts %v, want 1, 2, ...", readers)
	}
	if goals, ok := rep["goals"].([]any); !ok || len(goals) < 10 {
		t.Errorf("goals: %v", rep["goals"])
	}

	checkBenchOnly(t)
}

// reportNum is the number obj holds under k; it fails the test when there
// is none.
func reportNum(t *testing.T, obj map[string]any, k string) float64 {
	t.Helper()
	v, ok := obj[k].(float64)
	if !ok {
		t.Fatalf("%v: %q is %v, not a number", obj, k, obj[k])
	}
	return v
}

// checkFootprintAndServe checks the footprint and serve figures of the
// bench report rep.
func checkFootprintAndServe(t *testing.T, rep map[string]any) {
	t.Helper()
	// The footprint's parts add up to its total, CURRENT is part of it, and
	// the default retention (gc.keep 3) holds after the import and the writes.
	for _, f := range rep["footprint"].([]any) {
		fp := f.(map[string]any)
		parts := reportNum(t, fp, "graph_bytes") + reportNum(t, fp, "kv_bytes") + reportNum(t, fp, "jobs_bytes") + reportNum(t, fp, "queue_bytes") + reportNum(t, fp, "other_bytes")
		if total := reportNum(t, fp, "total_bytes"); parts != total || reportNum(t, fp, "current_graph_bytes") <= 0 || reportNum(t, fp, "current_bytes") > total ||
			reportNum(t, fp, "snapshots") != 3 || reportNum(t, fp, "jsonl_bytes") <= 0 {
			t.Errorf("footprint: %v; want parts adding up to the total, CURRENT within it, 3 snapshots kept", fp)
		}
	}
	// The short form of issue 15's load (done-when 5): several HTTP MCP
	// clients on one serve with the daemon committing, no call failing.
	sv := rep["serve"].(map[string]any)
	if reportNum(t, sv, "calls") == 0 || reportNum(t, sv, "failed") != 0 || reportNum(t, sv, "snapshots") == 0 {
		t.Errorf("serve: %d of %v calls failed (%v), %v snapshots published; want none failed and the writes committed",
			int(reportNum(t, sv, "failed")), sv["calls"], sv["first_error"], sv["snapshots"])
	}
	tools := map[string]bool{}
	for _, tl := range sv["tools"].([]any) {
		if m := tl.(map[string]any); reportNum(t, m, "calls") > 0 {
			tools[m["tool"].(string)] = true
		}
	}
	for _, tool := range []string{"search_nodes", "open_nodes", "create_entities"} {
		if !tools[tool] {
			t.Errorf("serve: no %s calls under load: %v", tool, sv["tools"])
		}
	}
}

// checkBenchOnly checks that --only runs just the benchmark named, and
// that an unknown name and a size --mcp-sizes does not allow are refused.
func checkBenchOnly(t *testing.T) {
	t.Helper()
	rep := decodeAnswer[map[string]any](t, "bench --only rss --json printed", mustMemsnap(t, t.TempDir(), nil, "bench", "--smoke", "--json", "--only", "rss", "--dir", t.TempDir()))
	if _, ok := rep["rss"]; !ok || rep["apply"] != nil || rep["scaling"] != nil {
		t.Errorf("--only rss ran %v", rep)
	}
	if r := memsnap(t, t.TempDir(), nil, nil, "bench", "--only", "nosuch"); r.code != 2 || !contains(r.stderr, "unknown benchmark") {
		t.Errorf("--only nosuch: exit %d: %s", r.code, r.stderr)
	}
	if r := memsnap(t, t.TempDir(), nil, nil, "bench", "--only", "mcp", "--mcp-sizes", "10"); r.code != 2 || !contains(r.stderr, "--mcp-sizes") {
		t.Errorf("--mcp-sizes 10: exit %d: %s", r.code, r.stderr)
	}
}

// checkMCPReport checks the mcp scenario's smoke figures: one size of 200
// entities, every write and read tool timed on memsnap, the second
// process's view timed, and the reference either measured beside it or
// noted as skipped.
func checkMCPReport(t *testing.T, m map[string]any) {
	t.Helper()
	sizes, _ := m["sizes"].([]any)
	if len(sizes) != 1 {
		t.Fatalf("mcp sizes: %v", m)
	}
	sz := sizes[0].(map[string]any)
	if sz["entities"] != 200.0 || sz["build_seconds"].(float64) <= 0 || sz["second_visible_p50_ms"].(float64) <= 0 {
		t.Errorf("mcp size: %v", sz)
	}
	_, withRef := m["reference"]
	if _, noted := m["reference_note"]; withRef == noted {
		t.Errorf("mcp: want either the reference or a note why not: %v", m)
	}
	var tools []string
	for _, x := range sz["tools"].([]any) {
		tool := x.(map[string]any)
		tools = append(tools, tool["tool"].(string))
		if tool["p50_ms"].(float64) <= 0 || tool["p95_ms"].(float64) < tool["p50_ms"].(float64) {
			t.Errorf("mcp %v", tool)
		}
		if _, ok := tool["reference_p50_ms"]; ok != withRef {
			t.Errorf("mcp %v: reference figures present %v, reference ran %v", tool, ok, withRef)
		}
	}
	if want := "create_entities add_observations create_relations delete_observations"; strings.Join(tools, " ") != want {
		t.Errorf("mcp tools %v, want %s", tools, want)
	}
	// The read tools: every one timed on memsnap; the reference's figures
	// for all but neighbors, which it does not have.
	var reads []string
	for _, x := range sz["reads"].([]any) {
		tool := x.(map[string]any)
		name := tool["tool"].(string)
		reads = append(reads, strings.SplitN(name, ":", 2)[0])
		if tool["p50_ms"].(float64) <= 0 || tool["p99_ms"].(float64) < tool["p95_ms"].(float64) || tool["p95_ms"].(float64) < tool["p50_ms"].(float64) {
			t.Errorf("mcp read %v", tool)
		}
		if _, ok := tool["reference_p50_ms"]; ok != (withRef && !strings.HasPrefix(name, "neighbors")) {
			t.Errorf("mcp read %v: reference figures present %v, reference ran %v", tool, ok, withRef)
		}
	}
	if want := "search_nodes search_nodes search_nodes search_nodes open_nodes neighbors read_graph"; strings.Join(reads, " ") != want {
		t.Errorf("mcp reads %v, want %s", reads, want)
	}
	checkMCPAfterWrite(t, sz, withRef)
}

// checkMCPAfterWrite checks the read-after-write rounds of one mcp size: the
// two writes and four reads timed on memsnap with no failed call and every
// read holding the write just made, the answers' sizes counted, and the
// reference's figures beside them exactly when it ran.
func checkMCPAfterWrite(t *testing.T, sz map[string]any, withRef bool) {
	t.Helper()
	var steps []string
	for _, x := range sz["after_write"].([]any) {
		step := x.(map[string]any)
		name := step["tool"].(string)
		steps = append(steps, strings.SplitN(name, ":", 2)[0])
		m := step["memsnap"].(map[string]any)
		if m["p50_ms"].(float64) <= 0 || m["p95_ms"].(float64) < m["p50_ms"].(float64) || m["calls"].(float64) == 0 ||
			m["failed"].(float64) != 0 || m["missing"].(float64) != 0 || m["max_answer_bytes"].(float64) <= 0 {
			t.Errorf("mcp right after own write: %s: %v", name, m)
		}
		if strings.HasPrefix(name, "search_nodes") || strings.HasPrefix(name, "open_nodes") {
			if m["max_entities"].(float64) == 0 {
				t.Errorf("mcp right after own write: %s found nothing: %v", name, m)
			}
		}
		if _, ok := step["reference"]; ok != withRef {
			t.Errorf("mcp right after own write %v: reference figures present %v, reference ran %v", step, ok, withRef)
		}
	}
	if want := "create_entities add_observations search_nodes search_nodes search_nodes open_nodes"; strings.Join(steps, " ") != want {
		t.Errorf("mcp right after own write %v, want %s", steps, want)
	}
}
