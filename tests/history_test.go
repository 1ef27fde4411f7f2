package tests

import "context"
import "encoding/json"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/snapshot"

// historyEnv turns the history window on (TestMain turns it off for the
// other tests) with tiers that thin every snapshot but the day's first and
// the newest, so that each point read or restored is rebuilt from a kept
// snapshot plus the jobs after it (history/), not read from a snapshot
// kept whole.
var historyEnv = []string{"MEMSNAP_HISTORY_KEEP_FOR=168h", "MEMSNAP_HISTORY_KEEP_ALL_FOR=0", "MEMSNAP_HISTORY_HOURLY_FOR=0", "MEMSNAP_GC_KEEP=1"}

// historyRun runs memsnap on store with historyEnv and fails the test
// unless it exits 0.
func historyRun(t *testing.T, store string, stdin []byte, args ...string) string {
	t.Helper()
	r := memsnap(t, store, stdin, historyEnv, args...)
	if r.code != 0 || r.signal != 0 {
		t.Fatalf("memsnap %v: exit %d signal %v: %s", args, r.code, r.signal, r.stderr)
	}
	return r.stdout
}

// historyWrite enqueues job and waits until it is applied (its own commit),
// returning the snapshot that applied it.
func historyWrite(t *testing.T, store string, job string) uint64 {
	t.Helper()
	var out struct {
		Status   string `json:"status"`
		Snapshot uint64 `json:"snapshot"`
	}
	if err := json.Unmarshal([]byte(historyRun(t, store, []byte(job), "enqueue", "--wait")), &out); err != nil || out.Status != "applied" {
		t.Fatalf("job %s: %+v %v", job, out, err)
	}
	return out.Snapshot
}

// restoreAnswer is what 'snapshots restore' prints.
type restoreAnswer struct {
	From, To, Snapshot uint64
	Undone, Redone     []struct {
		ID  string   `json:"id"`
		Ops []string `json:"ops"`
	}
}

func restore(t *testing.T, store string, point string) restoreAnswer {
	t.Helper()
	var a restoreAnswer
	if err := json.Unmarshal([]byte(historyRun(t, store, nil, "snapshots", "restore", point)), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// names lists the entity names 'graph --json' prints, sorted.
func names(t *testing.T, graphJSON string) []string {
	t.Helper()
	var g struct {
		Entities []struct {
			Name string `json:"name"`
		} `json:"entities"`
	}
	if err := json.Unmarshal([]byte(graphJSON), &g); err != nil {
		t.Fatalf("graph %q: %v", graphJSON, err)
	}
	var out []string
	for _, e := range g.Entities {
		out = append(out, e.Name)
	}
	slices.Sort(out)
	return out
}

// Done-when 1: an accidental delete of two people undone by 'snapshots
// restore': the people are back, the delete is listed and stays in
// history (the point after it still reads as it was), and restoring the
// point just before the restore brings the delete back.
func TestRestoreUndoesDelete(t *testing.T) {
	store := newStore(t)
	historyWrite(t, store, `{"ops":[{"op":"create_entities","entities":[{"name":"Ada","entityType":"person","observations":["engineer"]},`+
		`{"name":"Grace","entityType":"person","observations":["admiral"]},{"name":"Linus","entityType":"person"}]},`+
		`{"op":"create_relations","relations":[{"from":"Ada","to":"Grace","relationType":"knows"}]}]}`)
	historyWrite(t, store, `{"ops":[{"op":"add_observations","observations":[{"entityName":"Ada","contents":["wrote the first program"]}]},{"op":"kv_put","key":"team","value":"three"}]}`)
	before := historyRun(t, store, nil, "graph", "--json")
	var del struct {
		JobID string `json:"job_id"`
	}
	out := historyRun(t, store, []byte(`{"ops":[{"op":"delete_entities","entityNames":["Ada","Grace"]}]}`), "enqueue", "--wait")
	if err := json.Unmarshal([]byte(out), &del); err != nil {
		t.Fatal(err)
	}
	deleted := historyRun(t, store, nil, "graph", "--json")
	if got := names(t, deleted); !slices.Equal(got, []string{"Linus"}) {
		t.Fatalf("after the delete: %v", got)
	}
	var last struct {
		Snapshot uint64 `json:"snapshot"`
	}
	if err := json.Unmarshal([]byte(out), &last); err != nil {
		t.Fatal(err)
	}
	cur := last.Snapshot
	if seqs := snapshotSeqs(t, store); len(seqs) > 2 {
		t.Fatalf("snapshots %v kept in full: the tiers should have thinned all but the first and CURRENT", seqs)
	}

	// Undo.
	a := restore(t, store, fmt.Sprint(cur-1))
	if a.From != cur || a.To != cur-1 || a.Snapshot <= cur {
		t.Fatalf("restore answered %+v", a)
	}
	if len(a.Undone) != 1 || a.Undone[0].ID != del.JobID || !slices.Equal(a.Undone[0].Ops, []string{"delete_entities Ada, Grace"}) {
		t.Fatalf("restore lists undone %+v, want the delete %s", a.Undone, del.JobID)
	}
	if got := historyRun(t, store, nil, "graph", "--json"); !sameGraph(t, got, before) {
		t.Fatalf("after the restore:\n%s\nwant\n%s", got, before)
	}
	if v := strings.TrimSpace(historyRun(t, store, nil, "kv", "get", "team")); v != "three" {
		t.Fatalf("kv after the restore: %q", v)
	}
	// The delete stays in history: listed at its point, which still reads
	// as it was.
	type historyPoint struct {
		Seq  uint64 `json:"seq"`
		Jobs []struct {
			ID string `json:"id"`
		} `json:"jobs"`
	}
	var points []historyPoint
	if err := json.Unmarshal([]byte(historyRun(t, store, nil, "snapshots", "history", "--json")), &points); err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(points, func(p historyPoint) bool {
		return p.Seq == cur
	}); i < 0 || len(points[i].Jobs) != 1 || points[i].Jobs[0].ID != del.JobID {
		t.Fatalf("snapshots history after the restore: %+v, want point %d with the delete %s", points, cur, del.JobID)
	}
	if got := historyRun(t, store, nil, "graph", "--json", "--at", fmt.Sprint(cur)); !sameGraph(t, got, deleted) {
		t.Fatalf("point %d after the restore:\n%s\nwant\n%s", cur, got, deleted)
	}

	// Undo the undo: the point just before the restore is the delete's.
	b := restore(t, store, fmt.Sprint(a.Snapshot-1))
	if b.To != cur || len(b.Redone) != 1 || b.Redone[0].ID != del.JobID || len(b.Undone) != 0 {
		t.Fatalf("restoring the restore answered %+v, want the delete %s redone", b, del.JobID)
	}
	if got := names(t, historyRun(t, store, nil, "graph", "--json")); !slices.Equal(got, []string{"Linus"}) {
		t.Fatalf("after restoring the restore: %v, want the delete back", got)
	}
	// A later write builds on the restored content.
	historyWrite(t, store, `{"ops":[{"op":"create_entities","entities":[{"name":"Barbara","entityType":"person"}]}]}`)
	if got := names(t, historyRun(t, store, nil, "graph", "--json")); !slices.Equal(got, []string{"Barbara", "Linus"}) {
		t.Fatalf("after a write on the restored content: %v", got)
	}
}

// sameGraph compares two 'graph --json' answers but for the snapshot
// number.
func sameGraph(t *testing.T, a, b string) bool {
	t.Helper()
	strip := func(s string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("graph %q: %v", s, err)
		}
		delete(m, "snapshot")
		out, _ := json.Marshal(m)
		return string(out)
	}
	return strip(a) == strip(b)
}

func snapshotSeqs(t *testing.T, store string) []uint64 {
	t.Helper()
	var list []snapshot.Info
	if err := json.Unmarshal([]byte(historyRun(t, store, nil, "snapshots", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	return testutil.Map(list, func(in snapshot.Info) uint64 { return in.Seq })
}

// Done-when 1: '--at' reads at three points of a history give what was
// served then. Each read command's answer is recorded right after each
// write, then read again with --at SEQ (and --at TIME for one point) once
// the history has been thinned.
func TestAtReadsMatchWhatWasServed(t *testing.T) {
	store := newStore(t)
	reads := [][]string{
		{"graph", "--json"},
		{"search", "--json", "rust"},
		{"open", "--json", "Ada", "Grace"},
		{"query", "--json", "MATCH (e:Entity) RETURN e.name, e.observations ORDER BY e.name"},
		{"export"},
		{"kv", "scan", "", "--json"},
	}
	jobs := []string{
		`{"ops":[{"op":"create_entities","entities":[{"name":"Ada","entityType":"person","observations":["writes rust"]},{"name":"Grace","entityType":"person"}]},{"op":"kv_put","key":"a","value":"1"}]}`,
		`{"ops":[{"op":"create_relations","relations":[{"from":"Ada","to":"Grace","relationType":"knows"}]},{"op":"add_observations","observations":[{"entityName":"Grace","contents":["rust too"]}]}]}`,
		`{"ops":[{"op":"delete_entities","entityNames":["Ada"]},{"op":"kv_put","key":"a","value":"2"},{"op":"kv_put","key":"b","value":"3"}]}`,
		`{"ops":[{"op":"create_entities","entities":[{"name":"Linus","entityType":"person","observations":["c"]}]},{"op":"kv_delete","key":"b"}]}`,
	}
	type point struct {
		seq     uint64
		after   time.Time // a moment after it was published, before the next
		answers []string
	}
	var points []point
	for _, j := range jobs {
		seq := historyWrite(t, store, j)
		p := point{seq: seq}
		for _, r := range reads {
			p.answers = append(p.answers, historyRun(t, store, nil, r...))
		}
		p.after = time.Now()
		points = append(points, p)
	}
	if seqs := snapshotSeqs(t, store); len(seqs) > 2 {
		t.Fatalf("snapshots %v kept in full: the tiers should have thinned all but the first and CURRENT", seqs)
	}
	for _, p := range points[:3] { // three points of the history, none CURRENT
		for i, r := range reads {
			args := append(slices.Clone(r), "--at", fmt.Sprint(p.seq))
			if got := historyRun(t, store, nil, args...); got != p.answers[i] {
				t.Errorf("%v:\n got %s\nwant %s", args, got, p.answers[i])
			}
		}
	}
	// --at TIME: a moment after the second point was published and before
	// the third is the second point.
	at := points[1].after.UTC().Format(time.RFC3339Nano)
	if got := historyRun(t, store, nil, "graph", "--json", "--at", at); got != points[1].answers[0] {
		t.Errorf("--at %s gives %s, want point %d's %s", at, got, points[1].seq, points[1].answers[0])
	}
	if r := memsnap(t, store, nil, historyEnv, "graph", "--at", "-1h"); r.code == 0 || !strings.Contains(r.stderr, "no snapshot at") {
		t.Errorf("--at -1h, before the store's first snapshot: exit %d, %q", r.code, r.stderr)
	}
}

// The MCP reads take at: read_graph, search_nodes, open_nodes, neighbors,
// query, kv_get, kv_scan and recent_changes at a point of history answer
// as the command line's --at reads do, an at before the history is a tool
// error, and memsnap's own tools refuse an argument they do not know.
func TestMCPReadsAt(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	first := historyWrite(t, store, `{"ops":[{"op":"create_entities","entities":[{"name":"Ada","entityType":"person","observations":["writes rust"]},{"name":"Grace","entityType":"person"}]},`+
		`{"op":"create_relations","relations":[{"from":"Ada","to":"Grace","relationType":"knows"}]},{"op":"kv_put","key":"k1","value":"v1"}]}`)
	historyWrite(t, store, `{"ops":[{"op":"delete_entities","entityNames":["Ada"]},{"op":"kv_delete","key":"k1"}]}`)
	historyWrite(t, store, `{"ops":[{"op":"create_entities","entities":[{"name":"Linus","entityType":"person"}]}]}`)
	at := fmt.Sprint(first)
	cs := mcpSession(t, ctx, store, historyEnv...)
	for _, c := range []struct {
		tool string
		args map[string]any
		cli  []string
	}{
		{"read_graph", map[string]any{"at": at}, []string{"graph", "--json", "--at", at}},
		{"search_nodes", map[string]any{"query": "rust", "at": at}, []string{"search", "--json", "rust", "--at", at}},
		{"open_nodes", map[string]any{"names": []string{"Ada", "Linus"}, "at": at}, []string{"open", "--json", "Ada", "Linus", "--at", at}},
	} {
		got := names(t, mustCall(t, ctx, cs, c.tool, c.args))
		want := names(t, historyRun(t, store, nil, c.cli...))
		if !slices.Equal(got, want) || !slices.Contains(got, "Ada") {
			t.Errorf("%s at %s: %v, want %v (with Ada)", c.tool, at, got, want)
		}
	}
	if got := names(t, mustCall(t, ctx, cs, "read_graph", map[string]any{})); !slices.Equal(got, []string{"Grace", "Linus"}) {
		t.Errorf("read_graph without at: %v", got)
	}
	wantToolError(t, ctx, cs, "read_graph", map[string]any{"at": "2000-01-01T00:00:00Z"}, "no snapshot at")
	mcpOwnToolsAt(t, ctx, cs, store, at)
}

// mcpOwnToolsAt checks memsnap's own read tools at point at of store,
// where Ada knows Grace and k1 is v1 (both gone from CURRENT), against the
// command line's --at reads, and that those tools refuse an unknown
// argument.
func mcpOwnToolsAt(t *testing.T, ctx context.Context, cs *mcp.ClientSession, store, at string) {
	t.Helper()
	got := names(t, mustCall(t, ctx, cs, "neighbors", map[string]any{"name": "Grace", "at": at}))
	if want := names(t, historyRun(t, store, nil, "neighbors", "--json", "Grace", "--at", at)); !slices.Equal(got, want) || !slices.Contains(got, "Ada") {
		t.Errorf("neighbors at %s: %v, want %v (with Ada)", at, got, want)
	}
	cypher := "MATCH (e:Entity) RETURN e.name ORDER BY e.name"
	var q struct {
		Rows [][]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "query", map[string]any{"cypher": cypher, "at": at})), &q); err != nil ||
		fmt.Sprint(q.Rows) != "[[Ada] [Grace]]" {
		t.Errorf("query at %s: %v %v, want Ada and Grace", at, q.Rows, err)
	}
	var kv struct {
		Value string `json:"value"`
		Found bool   `json:"found"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "kv_get", map[string]any{"key": "k1", "at": at})), &kv); err != nil || !kv.Found || kv.Value != "v1" {
		t.Errorf("kv_get k1 at %s: %+v %v, want v1", at, kv, err)
	}
	if got := mustCall(t, ctx, cs, "kv_scan", map[string]any{"prefix": "k", "at": at}); !strings.Contains(got, `"v1"`) {
		t.Errorf("kv_scan at %s: %s, want k1", at, got)
	}
	if got := mustCall(t, ctx, cs, "recent_changes", map[string]any{"at": at}); !strings.Contains(got, `"Ada"`) || strings.Contains(got, "Linus") {
		t.Errorf("recent_changes at %s: %s, want Ada and not Linus", at, got)
	}
	if got := mustCall(t, ctx, cs, "kv_get", map[string]any{"key": "k1"}); strings.Contains(got, "v1") {
		t.Errorf("kv_get k1 without at: %s, want it deleted", got)
	}
	for _, tool := range []string{"neighbors", "kv_get", "memory_status"} {
		wantToolError(t, ctx, cs, tool, map[string]any{"name": "Grace", "key": "k1", "name2": "x"}, "")
	}
	wantToolError(t, ctx, cs, "kv_get", map[string]any{"key": "k1", "a": at}, "unexpected additional properties")
}

// 'snapshots verify' checks the history log too: an intact history passes;
// a job file of a thinned snapshot's history entry changed on disk fails
// verify (exit 1), naming the file.
func TestVerifyChecksHistory(t *testing.T) {
	store := newStore(t)
	for _, name := range []string{"Ada", "Grace", "Linus"} {
		historyWrite(t, store, `{"ops":[{"op":"create_entities","entities":[{"name":"`+name+`","entityType":"person"}]}]}`)
	}
	historyRun(t, store, nil, "snapshots", "verify")
	jobs, err := filepath.Glob(filepath.Join(store, snapshot.HistoryDir, "*", snapshot.JobsDir, "*"))
	if err != nil || len(jobs) == 0 {
		t.Fatalf("no history job files in %s (%v): the tiers should have thinned the middle snapshots", store, err)
	}
	// A new file in place of the hard link: the snapshot's own copy is
	// gone with the thinned snapshot anyway.
	if err := os.Remove(jobs[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jobs[0], []byte(`{"ops":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	skipStoreCheck(store, "a history job file is damaged on purpose")
	r := memsnap(t, store, nil, historyEnv, "snapshots", "verify")
	if r.code != 1 || !strings.Contains(r.stderr, jobs[0]) || !strings.Contains(r.stderr, "does not match the manifest") {
		t.Fatalf("verify with a damaged history job file: exit %d, %q; want exit 1 naming %s", r.code, r.stderr, jobs[0])
	}
}
