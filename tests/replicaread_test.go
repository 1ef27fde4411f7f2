package tests

import "context"
import "fmt"
import "path/filepath"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/testutil"

// Every read command takes --from (issue 29): against a real versitygw, each
// answers from the replica location as it answers on the writer's store;
// with --at too, for a point of the remote history (the snapshots the
// tiers thinned come back from their job files); restore --from --at
// rebuilds that point. An explicit --store beside --from, and --from on a
// command that works on a local store, are refused in one sentence.
func TestReadCommandsFrom(t *testing.T) {
	srv := testutil.StartS3(t)
	url := srv.URL("reads")
	store := newStore(t)
	env := append(slices.Clone(historyEnv), "MEMSNAP_REPLICA_KEEP=1")
	cache := filepath.Join(t.TempDir(), "cache")
	fromEnv := append(replicaEnv(srv, cache), env...)
	reads := [][]string{
		{"graph", "--json"},
		{"search", "--json", "rust"},
		{"open", "--json", "Ada", "Grace"},
		{"neighbors", "--json", "Grace"},
		{"query", "--json", "MATCH (e:Entity) RETURN e.name, e.observations ORDER BY e.name"},
		{"export"},
		{"kv", "scan", "", "--json"},
		{"kv", "get", "a", "--json"},
	}
	jobs := []string{
		`{"ops":[{"op":"create_entities","entities":[{"name":"Ada","entityType":"person","observations":["writes rust"]},{"name":"Grace","entityType":"person"}]},{"op":"kv_put","key":"a","value":"1"}]}`,
		`{"ops":[{"op":"create_relations","relations":[{"from":"Ada","to":"Grace","relationType":"knows"}]},{"op":"add_observations","observations":[{"entityName":"Grace","contents":["rust too"]}]}]}`,
		`{"ops":[{"op":"delete_entities","entityNames":["Ada"]},{"op":"kv_put","key":"a","value":"2"}]}`,
		`{"ops":[{"op":"create_entities","entities":[{"name":"Linus","entityType":"person","observations":["c"]}]},{"op":"kv_put","key":"a","value":"3"}]}`,
	}
	type point struct {
		seq     uint64
		after   time.Time
		answers []string
	}
	var points []point
	for _, j := range jobs {
		p := point{seq: historyWrite(t, store, j)}
		for _, r := range reads {
			p.answers = append(p.answers, historyRun(t, store, nil, r...))
		}
		p.after = time.Now()
		points = append(points, p)
		// Each point goes up before the next commit.
		if r := memsnap(t, store, nil, append(srv.Env(), env...), "replicate", "--to", url); r.code != 0 {
			t.Fatalf("replicate: exit %d: %s", r.code, r.stderr)
		}
	}
	if n := len(remoteFiles(t, srv, "reads", "snapshots")); n > 2 {
		t.Errorf("%d remote snapshots kept in full: remote retention should have thinned all but the day's first and CURRENT", n)
	}
	if n := len(remoteFiles(t, srv, "reads", "history")); n < 2 {
		t.Errorf("%d remote history entries, want the thinned points", n)
	}
	last := points[len(points)-1]
	for i, r := range reads {
		got := memsnap(t, "", nil, fromEnv, append(slices.Clone(r), "--from", url)...)
		if got.code != 0 || got.stdout != last.answers[i] {
			t.Errorf("%v --from: exit %d %s\n got %s\nwant %s", r, got.code, got.stderr, got.stdout, last.answers[i])
		}
	}
	// --at with --from: the points the remote thinned, by seq and by time.
	for _, p := range points[:3] {
		for i, r := range reads {
			args := append(slices.Clone(r), "--from", url, "--at", fmt.Sprint(p.seq))
			if got := memsnap(t, "", nil, fromEnv, args...); got.code != 0 || got.stdout != p.answers[i] {
				t.Errorf("%v: exit %d %s\n got %s\nwant %s", args, got.code, got.stderr, got.stdout, p.answers[i])
			}
		}
	}
	at := points[1].after.UTC().Format(time.RFC3339Nano)
	if got := memsnap(t, "", nil, fromEnv, "graph", "--json", "--from", url, "--at", at); got.stdout != points[1].answers[0] {
		t.Errorf("--from --at %s: exit %d %s\n got %s\nwant point %d's %s", at, got.code, got.stderr, got.stdout, points[1].seq, points[1].answers[0])
	}
	// So does the MCP tools' at on 'memsnap mcp --from', for points the
	// cache does not hold (it holds CURRENT only).
	ctx := context.Background()
	cs := replicaSession(t, ctx, url, fromEnv)
	for _, p := range points[:3] {
		at := fmt.Sprint(p.seq)
		if got, want := names(t, mustCall(t, ctx, cs, "read_graph", map[string]any{"at": at})), names(t, p.answers[0]); !slices.Equal(got, want) {
			t.Errorf("mcp --from: read_graph at %s: %v, want %v", at, got, want)
		}
	}
	if got := mustCall(t, ctx, cs, "kv_get", map[string]any{"key": "a", "at": fmt.Sprint(points[0].seq)}); !strings.Contains(got, `"value": "1"`) {
		t.Errorf("mcp --from: kv_get a at %d: %s, want 1", points[0].seq, got)
	}
	wantToolError(t, ctx, cs, "read_graph", map[string]any{"at": "2000-01-01T00:00:00Z"}, "no snapshot at")
	if left, _ := filepath.Glob(filepath.Join(cache, "at-*")); len(left) > 0 {
		t.Errorf("mcp --from: at left %v behind", left)
	}
	// restore --from --at rebuilds a point as a store of its own.
	dir := filepath.Join(t.TempDir(), "restored")
	if r := memsnap(t, dir, nil, srv.Env(), "restore", "--from", url, "--at", fmt.Sprint(points[1].seq), dir); r.code != 0 {
		t.Fatalf("restore --at: exit %d: %s", r.code, r.stderr)
	}
	checkStore(t, dir)
	if got := mustMemsnap(t, dir, nil, "graph", "--json"); got != points[1].answers[0] {
		t.Errorf("restored point %d:\n got %s\nwant %s", points[1].seq, got, points[1].answers[0])
	}

	// Refusals, each in one sentence, exit 2.
	for _, c := range []struct {
		store string
		args  []string
		want  string
	}{
		{store, []string{"graph", "--from", url}, "--store and --from name two different memories"},
		{"", []string{"enqueue", "--from", url}, "does not read or write a replica location"},
		{"", []string{"entities", "create", "Bob", "--from", url}, "does not read or write a replica location"},
		{"", []string{"graph", "--from", url, "--at", "yesterday"}, "is not a snapshot number"},
	} {
		r := memsnap(t, c.store, []byte(`{"ops":[]}`), fromEnv, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line saying %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// remoteFiles lists the files under sub of prefix in versitygw's backend
// directory.
func remoteFiles(t *testing.T, srv *testutil.S3Server, prefix, sub string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(srv.Dir, testutil.S3Bucket, prefix, sub, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}
