package tests

import "encoding/json"
import "os"
import "path/filepath"
import "strings"
import "testing"

// Done-when 7: bad input gets a clear error at enqueue where it can be known
// there, otherwise a dead-lettered job with its reason and outcome; nothing
// else is lost or blocked.
func TestBadInputAtEnqueue(t *testing.T) {
	store := newStore(t)
	big := strings.Repeat("x", 2<<20)
	cases := []struct {
		name, job, want string
	}{
		{"malformed JSON", `{"ops": [`, "invalid job: malformed JSON"},
		{"not an object", `[1,2]`, "invalid job: malformed JSON"},
		{"no ops", `{}`, `missing "ops"`},
		{"empty ops", `{"ops": []}`, "job has no ops"},
		{"unknown op", `{"ops":[{"op":"drop_everything"}]}`, `op 0: unknown op "drop_everything"`},
		{"unknown field", `{"ops":[{"op":"create_entities","entities":[],"force":true}]}`, `unknown field "force"`},
		{"field of another op", `{"ops":[{"op":"kv_delete","key":"a","value":"b"}]}`, `unknown field "value"`},
		{"unknown entity field", `{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":[],"color":"red"}]}]}`, `unknown field "color"`},
		{"empty entity name", `{"ops":[{"op":"create_entities","entities":[{"name":"","entityType":"t","observations":[]}]}]}`, "entities[0].name is empty"},
		{"empty relation end", `{"ops":[{"op":"create_relations","relations":[{"from":"a","to":"","relationType":"r"}]}]}`, "relations[0].to is empty"},
		{"missing contents", `{"ops":[{"op":"add_observations","observations":[{"entityName":"a"}]}]}`, "observations[0].contents is required"},
		{"empty kv key", `{"ops":[{"op":"kv_put","key":"","value":"v"}]}`, "key is empty"},
		{"wrong type", `{"ops":[{"op":"delete_entities","entityNames":"a"}]}`, "cannot unmarshal string"},
		{"oversized job", `{"ops":[{"op":"kv_put","key":"k","value":"` + big + `"}]}`, "invalid job: job is more than 1048576 bytes, over the limit (job.max_bytes)"},
		{"oversized string", `{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":["` + strings.Repeat("y", 70000) + `"]}]}]}`, "op 0: create_entities: entities[0].observations[0] is 70000 bytes, over the limit of 65536 (job.max_string_bytes)"},
		{"oversized key", `{"ops":[{"op":"kv_put","key":"` + strings.Repeat("k", 70000) + `","value":"v"}]}`, "op 0: kv_put: key is 70000 bytes, over the limit of 65536 (job.max_string_bytes)"},
		{"oversized value", `{"ops":[{"op":"kv_put","key":"k","value":"` + strings.Repeat("v", 600000) + `"}]}`, "op 0: kv_put: value is 600000 bytes, over the limit of 524288 (job.max_value_bytes)"},
		{"lone high surrogate", `{"ops":[{"op":"kv_put","key":"sur\ud800","value":"x"}]}`, `invalid job: job is not valid Unicode: a string holds an unpaired surrogate escape (not valid Unicode): \ud800 at byte 33`},
		{"lone low surrogate", `{"ops":[{"op":"create_entities","entities":[{"name":"S\uDC00","entityType":"t","observations":[]}]}]}`, `unpaired surrogate escape (not valid Unicode): \uDC00`},
		{"surrogates reversed", `{"ops":[{"op":"kv_put","key":"k","value":"\udc00\ud800"}]}`, `unpaired surrogate escape (not valid Unicode): \udc00`},
		{"upper-case field names", `{"OPS":[{"OP":"kv_put","KEY":"upper","VALUE":"y"}]}`, `invalid job: malformed JSON: json: unknown field "OPS"`},
		{"upper-case op field", `{"ops":[{"op":"kv_put","KEY":"upper","value":"y"}]}`, `op 0: kv_put: malformed JSON: json: unknown field "KEY"`},
		{"entity field in another case", `{"ops":[{"op":"create_entities","entities":[{"name":"dupC","Name":"dupD","entityType":"t","observations":[]}]}]}`, `unknown field "Name"`},
		{"duplicate field", `{"ops":[{"op":"create_entities","entities":[{"name":"dupA","name":"dupB","entityType":"t","observations":[]}]}]}`, `invalid job: malformed JSON: json: duplicate field "name" (a name may appear once in an object)`},
		{"duplicate op", `{"ops":[{"op":"kv_delete","op":"kv_put","key":"k","value":"v"}]}`, `invalid job: malformed JSON: json: duplicate field "op" (a name may appear once in an object)`},
		{"duplicate ops", `{"ops":[{"op":"kv_delete","key":"k"}],"ops":[]}`, `invalid job: malformed JSON: json: duplicate field "ops" (a name may appear once in an object)`},
		{"too many ops", `{"ops":[` + strings.TrimSuffix(strings.Repeat(`{"op":"kv_delete","key":"k"},`, 1001), ",") + `]}`, "job has 1001 ops, over the limit of 1000 (job.max_ops)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := memsnap(t, store, []byte(c.job), nil, "enqueue")
			if r.code != 1 || !contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, c.want)
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "memsnap: ") {
				t.Errorf("error is not one clear line: %q", r.stderr)
			}
		})
	}
	if q := dirNames(t, filepath.Join(store, "queue", "new")); len(q) != 0 {
		t.Fatalf("rejected jobs reached the queue: %v", q)
	}
}

// A job that can only fail at apply time (observations for a missing entity)
// and a malformed file dropped straight into queue/new are dead-lettered with
// their reasons; the rest of the batch applies.
func TestBadInputDeadLetter(t *testing.T) {
	store := newStore(t)
	good1 := enqueue(t, store, ops(entities(entity("alpha", "thing", "first"))))
	missing := enqueue(t, store, ops(
		entities(entity("beta", "thing")), // would apply, but the job is atomic
		map[string]any{"op": "add_observations", "observations": []map[string]any{{"entityName": "ghost", "contents": []string{"boo"}}}},
	))
	badRel := enqueue(t, store, ops(map[string]any{"op": "create_relations", "relations": []map[string]any{{"from": "alpha", "to": "nobody", "relationType": "knows"}}}))
	// A file that bypassed enqueue's validation.
	smuggled := "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	if err := os.WriteFile(filepath.Join(store, "queue", "new", smuggled+".job"), []byte(`{"ops":[{"op":"nuke"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	good2 := enqueue(t, store, ops(map[string]any{"op": "add_observations", "observations": []map[string]any{{"entityName": "alpha", "contents": []string{"second"}}}}))

	s := commit(t, store)
	if s.Applied != 2 || s.Rejected != 3 || s.Batches != 1 {
		t.Fatalf("commit summary %+v, want 2 applied and 3 rejected in one batch", s)
	}
	for id, want := range map[string]string{
		missing:  "Entity with name ghost not found",
		badRel:   "Entity with name nobody not found",
		smuggled: `unknown op "nuke"`,
	} {
		o := jobOutcome(t, store, id)
		if o.Status != "rejected" || !contains(o.Reason, want) {
			t.Errorf("job %s outcome %+v, want rejected with %q", id, o, want)
		}
		errFile, err := os.ReadFile(filepath.Join(store, "queue", "dead", id+".job.err"))
		if err != nil || !contains(string(errFile), want) {
			t.Errorf("dead letter for %s: %q, %v", id, errFile, err)
		}
		if _, err := os.Stat(filepath.Join(store, "queue", "dead", id+".job")); err != nil {
			t.Errorf("dead job file for %s: %v", id, err)
		}
	}
	for _, id := range []string{good1, good2} {
		if o := jobOutcome(t, store, id); o.Status != "applied" {
			t.Errorf("good job %s: %+v", id, o)
		}
	}
	q := query(t, store, "MATCH (e:Entity) RETURN e.name, e.observations ORDER BY e.name")
	b, _ := json.Marshal(q.Rows)
	if string(b) != `[["alpha",["first","second"]]]` {
		t.Fatalf("graph after the batch: %s", b)
	}
	if o := jobOutcome(t, store, "01ARZ3NDEKTSV4RRFFQ69G5FAA"); o.Status != "unknown" {
		t.Errorf("never-seen job: %+v", o)
	}
	st := mustMemsnap(t, store, nil, "status")
	if !contains(st, "3 dead") {
		t.Errorf("status does not count dead jobs: %s", st)
	}
}

// Done-when 8: the read path refuses statements that touch files or other
// databases, with a clear error, and no file appears.
func TestReadPathRefusesFileAccess(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("a", "t"))))
	commit(t, store)
	out := t.TempDir()
	target := func(name string) string { return filepath.Join(out, name) }
	cases := []struct{ q, want string }{
		{"COPY (MATCH (e:Entity) RETURN e.name) TO '" + target("copy.csv") + "'", "COPY"},
		{"copy (match (e:Entity) return e.name) to '" + target("lower.csv") + "'", "COPY"},
		{"EXPORT DATABASE '" + target("export") + "'", "EXPORT"},
		{"ATTACH '" + target("other.kuzu") + "' AS other (dbtype kuzu)", "ATTACH"},
		{"LOAD FROM '" + target("in.csv") + "' RETURN *", "LOAD"},
		{"INSTALL json", "INSTALL"},
		{"LOAD EXTENSION json", "LOAD"},
		{"MATCH (e:Entity) RETURN e.name; COPY (MATCH (e:Entity) RETURN e) TO '" + target("two.csv") + "'", "one statement"},
		{"/* hi */ COPY (RETURN 1) TO '" + target("comment.csv") + "'", "COPY"},
		{"CREATE (:Entity {name: 'x'})", "CREATE"},
		{"MATCH (e:Entity) SET e.entityType = 'y'", "SET"},
		{"CALL some_function()", "CALL is limited"},
		// Unicode and lexer tricks: Kuzu reads these as COPY statements.
		{"COPY\u00a0(RETURN 1) TO '" + target("nbsp.csv") + "'", "COPY"},
		{"\ufeffCOPY (RETURN 1) TO '" + target("bom.csv") + "'", "COPY"},
		{"COPY\u3000(RETURN 1) TO '" + target("ideographic.csv") + "'", "COPY"},
		{"RETURN 1 --1; COPY (RETURN 1) TO '" + target("dashdash.csv") + "'", "one statement"},
		{"RETURN 'x\\\\'; COPY (RETURN 1) TO '" + target("escaped.csv") + "'", "one statement"},
		{"CALL read_text('/etc/passwd') RETURN *", "CALL is limited"},
		{"RETURN read_text('/etc/passwd')", "read_text reads files"},
	}
	for _, c := range cases {
		r := memsnap(t, store, nil, nil, "query", c.q)
		if r.code != 1 || !contains(r.stderr, "query refused") || !contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want refusal naming %q", c.q, r.code, r.stderr, c.want)
		}
	}
	if files := dirNames(t, out); len(files) != 0 {
		t.Fatalf("the read path created files: %v", files)
	}
	// Reads that merely look similar still work.
	q := query(t, store, "MATCH (e:Entity) WHERE e.name <> 'COPY TO' RETURN e.name AS `load`")
	if len(q.Rows) != 1 {
		t.Fatalf("harmless query: %+v", q)
	}
}

// A job file that bypassed enqueue and holds an unpaired surrogate escape,
// or field names in another case, or a field given twice, is dead-lettered
// by the writer with the same reason enqueue gives, not applied.
func TestBadTextDeadLettered(t *testing.T) {
	store := newStore(t)
	jobs := map[string]struct{ job, reason string }{ // job id -> file, reason
		"01ARZ3NDEKTSV4RRFFQ69G5FA1": {`{"ops":[{"op":"kv_put","key":"sur\ud800","value":"x"}]}`, `unpaired surrogate escape (not valid Unicode): \ud800`},
		"01ARZ3NDEKTSV4RRFFQ69G5FA2": {`{"OPS":[{"OP":"kv_put","KEY":"upper","VALUE":"y"}]}`, `unknown field "OPS"`},
		"01ARZ3NDEKTSV4RRFFQ69G5FA3": {`{"ops":[{"op":"create_entities","entities":[{"name":"dupA","name":"dupB","entityType":"t","observations":[]}]}]}`, `duplicate field "name"`},
	}
	for id, j := range jobs {
		if err := os.WriteFile(filepath.Join(store, "queue", "new", id+".job"), []byte(j.job), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if s := commit(t, store); s.Applied != 0 || s.Rejected != len(jobs) {
		t.Fatalf("commit: %+v; want all %d rejected", s, len(jobs))
	}
	for id, j := range jobs {
		if o := jobOutcome(t, store, id); o.Status != "rejected" || !contains(o.Reason, j.reason) {
			t.Errorf("job %s: %+v; want rejected with %q", id, o, j.reason)
		}
	}
}

// A job or memory file saved as UTF-16 (PowerShell 5's > and Out-File) is
// refused in one line that says so and how to save it instead.
func TestUTF16InputSaysSo(t *testing.T) {
	store := newStore(t)
	utf16 := func(s string) []byte {
		b := []byte{0xFF, 0xFE}
		for _, r := range s {
			b = append(b, byte(r), 0)
		}
		return b
	}
	r := memsnap(t, store, utf16(`{"ops":[{"op":"kv_put","key":"k","value":"v"}]}`), nil, "enqueue")
	if r.code == 0 || !strings.Contains(r.stderr, "UTF-16") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("enqueue of a UTF-16 job: exit %d, %q", r.code, r.stderr)
	}
	file := filepath.Join(t.TempDir(), "memory.jsonl")
	if err := os.WriteFile(file, utf16(`{"type":"entity","name":"a","entityType":"t","observations":[]}`+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = memsnap(t, store, nil, nil, "import", file)
	if r.code == 0 || !strings.Contains(r.stderr, "UTF-16") {
		t.Errorf("import of a UTF-16 file: exit %d, %q", r.code, r.stderr)
	}
}

// A dead job whose .err file is missing is still a dead job: 'jobs' lists
// it (the reason unknown, and says why), and 'jobs retry' and 'jobs purge
// --all' act on it. It used to be hidden: 'jobs' said there were none and
// 'purge --all' purged nothing, while status counted it.
func TestDeadJobWithoutErrFile(t *testing.T) {
	store := newStore(t)
	ghost := func(name string) map[string]any {
		return ops(map[string]any{"op": "add_observations", "observations": []map[string]any{{"entityName": name, "contents": []string{"boo"}}}})
	}
	retried, purged := enqueue(t, store, ghost("Ghost1")), enqueue(t, store, ghost("Ghost2"))
	if s := commit(t, store); s.Rejected != 2 {
		t.Fatalf("commit: %+v; want two dead jobs", s)
	}
	for _, id := range []string{retried, purged} {
		if err := os.Remove(filepath.Join(store, "queue", "dead", id+".job.err")); err != nil {
			t.Fatal(err)
		}
	}
	var dead []struct{ ID, Reason string }
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "jobs", "--json")), &dead); err != nil {
		t.Fatal(err)
	}
	if len(dead) != 2 || dead[0].Reason != "unknown (its .err file is missing)" || dead[1].Reason != dead[0].Reason {
		t.Fatalf("jobs --json with the .err files missing: %+v; want both, reason unknown", dead)
	}
	if out := mustMemsnap(t, store, nil, "jobs"); !contains(out, retried) || !contains(out, purged) {
		t.Fatalf("jobs with the .err files missing:\n%s", out)
	}
	if out := mustMemsnap(t, store, nil, "jobs", "retry", retried); !contains(out, retried) || !contains(out, `"left":[]`) {
		t.Fatalf("jobs retry of a dead job without .err: %s", out)
	}
	if out := mustMemsnap(t, store, nil, "jobs", "purge", "--all"); !contains(out, purged) {
		t.Fatalf("jobs purge --all with a dead job without .err: %s", out)
	}
	if left := dirNames(t, filepath.Join(store, "queue", "dead")); len(left) != 0 {
		t.Fatalf("queue/dead after retry and purge: %v", left)
	}
	commit(t, store) // the retried job is dead again, with its reason
}
