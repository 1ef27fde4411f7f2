package tests

import "encoding/json"
import "fmt"
import "strings"
import "testing"

// mergeSummary is import's summary with the merge counts.
type mergeSummary struct {
	importSummary
	Merged            int `json:"merged"`
	ObservationsAdded int `json:"observations_added"`
}

func importWait(t *testing.T, store, file string) (mergeSummary, string) {
	t.Helper()
	r := memsnap(t, store, nil, nil, "import", "--wait", file)
	if r.code != 0 {
		t.Fatalf("import %s: exit %d: %s", file, r.code, r.stderr)
	}
	var s mergeSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("import summary %q: %v", r.stdout, err)
	}
	return s, r.stderr
}

// Issue 28, point 6: importing a file again merges it: new observations and
// relations are added and counted as merged; a changed entityType is
// reported and the store's kept (create_entities never changes an existing
// entity); an observation over job.max_string_bytes is dropped and reported
// with the key that raises the limit, its entity and relations kept.
func TestImportAgainMerges(t *testing.T) {
	store := newStore(t)
	v1 := writeLines(t,
		`{"type":"entity","name":"Ada","entityType":"person","observations":["one"]}`,
		`{"type":"entity","name":"Bob","entityType":"person","observations":["b1"]}`,
		`{"type":"relation","from":"Ada","to":"Bob","relationType":"knows"}`)
	long := strings.Repeat("x", 70_000) // over the default job.max_string_bytes, 65536
	v2 := writeLines(t,
		`{"type":"entity","name":"Ada","entityType":"robot","observations":["one","two"]}`,
		`{"type":"entity","name":"Bob","entityType":"person","observations":["b1"]}`,
		`{"type":"entity","name":"Cy","entityType":"thing","observations":["c1","`+long+`","c2"]}`,
		`{"type":"relation","from":"Ada","to":"Bob","relationType":"knows"}`,
		`{"type":"relation","from":"Ada","to":"Cy","relationType":"made"}`,
		`{"type":"relation","from":"Bob","to":"Cy","relationType":"uses"}`)
	if s, _ := importWait(t, store, v1); s.Merged != 0 || s.Entities != 2 || s.Relations != 1 {
		t.Fatalf("first import: %+v", s)
	}
	s, stderr := importWait(t, store, v2)
	if s.Merged != 2 || s.ObservationsAdded != 1 || s.Repaired != 1 || s.Skipped != 0 || s.Rejected != 0 || s.Relations != 3 {
		t.Fatalf("second import: %+v\n%s", s, stderr)
	}
	for _, want := range []string{
		`line 1: merged: entity "Ada" has entityType "person" in the store and "robot" in the file: the store's is kept`,
		`line 3: repaired: entity "Cy": observation 2 (`,
		`it is 70000 bytes, over the limit of 65536 (job.max_string_bytes; raise job.max_string_bytes in the config to keep it)`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("report lacks %q:\n%s", want, stderr)
		}
	}
	g := parseGraph(t, mustMemsnap(t, store, nil, "open", "--json", "Ada", "Bob", "Cy"))
	if got := fmt.Sprint(g.Entities); got != "[{Ada person [one two]} {Bob person [b1]} {Cy thing [c1 c2]}]" {
		t.Errorf("after the merge: %s", got)
	}
	if len(g.Relations) != 3 {
		t.Errorf("relations after the merge: %+v", g.Relations)
	}
	// A third time: everything is there already.
	s, _ = importWait(t, store, v2)
	if s.Merged != 3 || s.ObservationsAdded != 0 || s.Rejected != 0 {
		t.Fatalf("third import: %+v", s)
	}
	if again := parseGraph(t, mustMemsnap(t, store, nil, "open", "--json", "Ada", "Bob", "Cy")); fmt.Sprint(again) != fmt.Sprint(g) {
		t.Errorf("the third import changed the memory: %+v", again)
	}
}

// An entity skipped on its line is named as such in the report of the
// relations that name it (not "in neither the file nor the store").
func TestImportNamesSkippedEntities(t *testing.T) {
	store := newStore(t)
	file := writeLines(t,
		`{"type":"entity","name":"A","entityType":"`+strings.Repeat("t", 70_000)+`","observations":[]}`,
		`{"type":"entity","name":"B","entityType":"t","observations":[]}`,
		`{"type":"relation","from":"B","to":"A","relationType":"r"}`)
	r := memsnap(t, store, nil, nil, "import", file)
	if r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		`line 1: skipped: entity "A": entityType is 70000 bytes, over the limit of 65536 (job.max_string_bytes); raise job.max_string_bytes in the config to import it`,
		`line 3: skipped: relation "B" -> "A": entity "A" was skipped on line 1`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stderr)
		}
	}
}

// deadJob is `memsnap jobs --json`'s item.
type deadJob struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func deadJobs(t *testing.T, store string) []deadJob {
	t.Helper()
	var out []deadJob
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "jobs", "--json")), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// jobsAnswer is what jobs retry and jobs purge print.
type jobsAnswer struct {
	Retried []struct {
		ID    string `json:"id"`
		NewID string `json:"new_id"`
	} `json:"retried"`
	Purged []string  `json:"purged"`
	Left   []deadJob `json:"left"`
}

func jobsCmd(t *testing.T, store string, env []string, wantCode int, args ...string) jobsAnswer {
	t.Helper()
	r := memsnap(t, store, nil, env, append([]string{"jobs"}, args...)...)
	if r.code != wantCode {
		t.Fatalf("jobs %v: exit %d, want %d: %s %s", args, r.code, wantCode, r.stdout, r.stderr)
	}
	var a jobsAnswer
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil {
		t.Fatalf("jobs %v: %q: %v", args, r.stdout, err)
	}
	return a
}

// Issue 28, point 6: dead jobs are listed with their reasons, retried (a
// job that now decodes, or that the memory now allows, is applied under a
// new id; one that still does not decode stays, saying why) and purged.
func TestDeadJobsRetriedAndPurged(t *testing.T) {
	store := newStore(t)
	raised := []string{"MEMSNAP_JOB_MAX_STRING_BYTES=100000"}
	long := strings.Repeat("y", 70_000)
	ghost := enqueue(t, store, map[string]any{"ops": []any{map[string]any{"op": "add_observations",
		"observations": []any{map[string]any{"entityName": "Ghost", "contents": []string{"boo"}}}}}})
	// Queued under a raised limit, applied under the default: dead.
	r := memsnap(t, store, []byte(`{"ops":[{"op":"create_entities","entities":[{"name":"Long","entityType":"t","observations":["`+long+`"]}]}]}`), raised, "enqueue")
	if r.code != 0 {
		t.Fatalf("enqueue: %d %s", r.code, r.stderr)
	}
	other := enqueue(t, store, ops(entities(entity("Ghost", "t")), map[string]any{"op": "add_observations",
		"observations": []any{map[string]any{"entityName": "Nobody", "contents": []string{"x"}}}}))
	commit(t, store)
	dead := deadJobs(t, store)
	if len(dead) != 3 {
		t.Fatalf("dead jobs: %+v", dead)
	}
	reasons := map[string]string{}
	for _, d := range dead {
		reasons[d.ID] = d.Reason
	}
	if !strings.Contains(reasons[ghost], "Ghost") {
		t.Errorf("reason of the add_observations to Ghost: %q", reasons[ghost])
	}
	var longID string
	for id, reason := range reasons {
		if strings.Contains(reason, "job.max_string_bytes") {
			longID = id
		}
	}
	if longID == "" {
		t.Fatalf("no dead job names job.max_string_bytes: %+v", dead)
	}
	if out := mustMemsnap(t, store, nil, "jobs"); !strings.Contains(out, ghost) || !strings.Contains(out, "REASON") {
		t.Errorf("jobs:\n%s", out)
	}
	if out := mustMemsnap(t, store, nil, "status"); !strings.Contains(out, "3 dead (memsnap jobs lists them") {
		t.Errorf("status:\n%s", out)
	}

	// Under the default limit the long job still does not decode: it stays.
	a := jobsCmd(t, store, nil, 1, "retry", longID, longID) // named twice: retried once
	if len(a.Retried) != 0 || len(a.Left) != 1 || !strings.Contains(a.Left[0].Reason, "job.max_string_bytes") {
		t.Fatalf("retry under the default limit: %+v", a)
	}
	// The third job would have created Ghost, but it was rejected whole:
	// purge it, create Ghost, then retry every dead job with the raised
	// limit.
	jobsCmd(t, store, nil, 0, "purge", other)
	enqueue(t, store, ops(entities(entity("Ghost", "t"))))
	a = jobsCmd(t, store, raised, 0, "retry", "--all")
	if len(a.Retried) != 2 || len(a.Left) != 0 {
		t.Fatalf("retry --all: %+v", a)
	}
	r = memsnap(t, store, nil, raised, "commit") // Ghost's create first, then the retried jobs
	if r.code != 0 {
		t.Fatalf("commit: %d %s", r.code, r.stderr)
	}
	for _, rt := range a.Retried {
		if o := jobOutcome(t, store, rt.NewID); o.Status != "applied" {
			t.Errorf("retried %s as %s: %+v", rt.ID, rt.NewID, o)
		}
	}
	g := parseGraph(t, mustMemsnap(t, store, nil, "open", "--json", "Ghost", "Long"))
	if len(g.Entities) != 2 || fmt.Sprint(g.Entities[0].Observations) != "[boo]" {
		t.Errorf("after the retries: %+v", g.Entities)
	}
	if d := deadJobs(t, store); len(d) != 0 {
		t.Errorf("dead jobs left: %+v", d)
	}

	// Purge: by id, unknown ids refused, --all.
	bad := enqueue(t, store, ops(map[string]any{"op": "delete_entities", "entityNames": []string{"Nobody"}}, map[string]any{"op": "add_observations",
		"observations": []any{map[string]any{"entityName": "Nobody", "contents": []string{"x"}}}}))
	commit(t, store)
	if d := deadJobs(t, store); len(d) != 1 || d[0].ID != bad {
		t.Fatalf("dead: %+v", d)
	}
	if a := jobsCmd(t, store, nil, 1, "purge", ghost); len(a.Left) != 1 {
		t.Errorf("purge of a job no longer dead: %+v", a)
	}
	if a := jobsCmd(t, store, nil, 0, "purge", "--all"); len(a.Purged) != 1 || a.Purged[0] != bad {
		t.Errorf("purge --all: %+v", a)
	}
	if out := mustMemsnap(t, store, nil, "jobs"); !strings.Contains(out, "no dead jobs") {
		t.Errorf("jobs after purge: %s", out)
	}
	// An id that is no dead job is named, with why, in the one line.
	for _, verb := range []string{"retry", "purge"} {
		r := memsnap(t, store, nil, nil, "jobs", verb, "NOPE")
		if r.code != 1 || !strings.Contains(r.stderr, "1 of 1 jobs not") || !strings.Contains(r.stderr, "NOPE: not a dead job") {
			t.Errorf("jobs %s NOPE: exit %d: %s", verb, r.code, r.stderr)
		}
	}
	// Every id left is named with why (up to three); an empty id is a
	// usage error.
	if r := memsnap(t, store, nil, nil, "jobs", "purge", "NOPE", "NOPE2", "NOPE"); r.code != 1 || !strings.Contains(r.stderr, "2 of 2 jobs not purged: NOPE: not a dead job") ||
		!strings.Contains(r.stderr, "; NOPE2: not a dead job") {
		t.Errorf("jobs purge NOPE NOPE2 NOPE: exit %d: %s", r.code, r.stderr)
	}
	if r := memsnap(t, store, nil, nil, "jobs", "purge", ""); r.code != 2 || !strings.Contains(r.stderr, "an empty job id") {
		t.Errorf(`jobs purge "": exit %d: %s`, r.code, r.stderr)
	}
	if r := memsnap(t, store, nil, nil, "jobs", "retry"); r.code != 2 {
		t.Errorf("jobs retry without ids: exit %d: %s", r.code, r.stderr)
	}
}
