package tests

import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "testing"

// importSummary is import's JSON summary.
type importSummary struct {
	Entities  int `json:"entities"`
	Relations int `json:"relations"`
	Repaired  int `json:"repaired"`
	Skipped   int `json:"skipped"`
	Jobs      int `json:"jobs"`
	Applied   int `json:"applied"`
	Rejected  int `json:"rejected"`
}

func parseImportSummary(t *testing.T, out string) importSummary {
	t.Helper()
	return decodeAnswer[importSummary](t, "import summary", out)
}

// Issue 14, input 1: a file with imperfect lines imports every valid
// record, repairs what is unambiguous, skips the rest, each reported with
// its line number, and --strict refuses the file at its first problem.
func TestImportKeepsWhatItCan(t *testing.T) {
	store := newStore(t)
	file := filepath.Join(t.TempDir(), "memory.jsonl")
	lines := []string{
		`{"type":"entity","name":"Ent_A","entityType":"note"}`,
		`{"type":"entity","name":"Ent_B","entityType":"note","observations":["plain text",null,42]}`,
		`{"type":"entity","name":"Ent_C","observations":["no type here"]}`,
		`{"type":"relation","from":"Ent_A","to":"Ent_D"}`,
		`{"type":"entity","name":"Ent_D","entityType":"note","observations":["findme"]}`,
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "import", "--strict", file)
	if r.code != 1 || !strings.Contains(r.stderr, "line 1: no observations") || !strings.Contains(r.stderr, "nothing was queued") {
		t.Fatalf("--strict: exit %d: %s", r.code, r.stderr)
	}
	if n := dirNames(t, filepath.Join(store, "queue", "new")); len(n) != 0 {
		t.Fatalf("--strict queued %v", n)
	}
	r = memsnap(t, store, nil, nil, "import", "--wait", file)
	if r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	sum := parseImportSummary(t, r.stdout)
	if sum.Entities != 4 || sum.Relations != 0 || sum.Repaired != 3 || sum.Skipped != 1 || sum.Rejected != 0 {
		t.Fatalf("summary %+v", sum)
	}
	for _, want := range []string{
		"line 1: repaired: no observations: taken as []",
		"line 2: repaired: dropped 2 observation(s) that are not strings: null, 42",
		`line 3: repaired: no entityType: taken as ""`,
		"line 4: skipped: a relation needs from, to and relationType",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stderr)
		}
	}
	g := parseGraph(t, mustMemsnap(t, store, nil, "search", "--json", "findme"))
	if len(g.Entities) != 1 || g.Entities[0].Name != "Ent_D" {
		t.Fatalf("search findme: %+v", g)
	}
	g = parseGraph(t, mustMemsnap(t, store, nil, "open", "--json", "Ent_A", "Ent_B", "Ent_C"))
	got := fmt.Sprint(g.Entities)
	if want := "[{Ent_A note []} {Ent_B note [plain text]} {Ent_C  [no type here]}]"; got != want {
		t.Fatalf("entities %s, want %s", got, want)
	}
}

// Issue 14, done-when 2: a byte order mark, CRLF line ends, a blank line,
// a line over job.max_bytes, an entity on two lines, a relation to an
// entity in neither the file nor the store (and one to an entity only the
// store holds), and a truncated last line.
func TestImportOddFiles(t *testing.T) {
	store := newStore(t)
	mustMemsnap(t, store, nil, "import", "--wait", writeLines(t, `{"type":"entity","name":"stored","entityType":"t","observations":[]}`))
	long := fmt.Sprintf(`{"type":"entity","name":"long","entityType":"t","observations":[%q]}`, strings.Repeat("x", 5000))
	file := writeLines(t,
		"\xef\xbb\xbf"+`{"type":"entity","name":"bom","entityType":"t","observations":["first line"]}`+"\r",
		`{"type":"entity","name":"crlf","entityType":"t","observations":["crlf line"]}`+"\r",
		"",
		"   ",
		long,
		`{"type":"entity","name":"twice","entityType":"first","observations":["kept"]}`,
		`{"type":"entity","name":"twice","entityType":"second","observations":["dropped"]}`,
		`{"type":"relation","from":"bom","to":"nowhere","relationType":"r"}`,
		`{"type":"relation","from":"crlf","to":"stored","relationType":"r"}`,
		`{"type":"relation","from":"bom","to":"crlf","relationType":"r"}`,
		`{"type":"relation","from":"bom","to":"crlf","relationType":"r"}`,
		// <, > and & are not escaped into jobs: 3000 of them fit a 4 KiB job.
		fmt.Sprintf(`{"type":"entity","name":"angles","entityType":"t","observations":[%q]}`, strings.Repeat("<&>", 1000)),
		"{\"type\":\"entity\",\"name\":\"bad\xffutf8\",\"entityType\":\"t\",\"observations\":[]}",
		`{"type":"entity","name":"cut","entityType":"t","observ`,
	)
	// The last line has no line end: the file stops in the middle of it.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.TrimSuffix(string(data), "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, []string{"MEMSNAP_JOB_MAX_BYTES=4096"}, "import", "--wait", file)
	if r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	sum := parseImportSummary(t, r.stdout)
	if sum.Entities != 4 || sum.Relations != 2 || sum.Skipped != 6 || sum.Repaired != 0 || sum.Rejected != 0 {
		t.Errorf("summary %+v\n%s", sum, r.stderr)
	}
	for _, want := range []string{
		"line 5: skipped: the line is 5",
		`line 7: skipped: entity "twice" is already on line 6`,
		`line 8: skipped: relation "bom" -> "nowhere": entity "nowhere" is in neither the file nor the store nor a queued job`,
		"line 11: skipped: the same relation is already on line 10",
		"line 13: skipped: not valid UTF-8",
		"line 14: skipped: not a JSON object",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stderr)
		}
	}
	if g := parseGraph(t, mustMemsnap(t, store, nil, "open", "--json", "angles")); len(g.Entities) != 1 || g.Entities[0].Observations[0] != strings.Repeat("<&>", 1000) {
		t.Errorf("angles: %+v", g.Entities)
	}
	g := parseGraph(t, mustMemsnap(t, store, nil, "open", "--json", "bom", "crlf", "twice", "stored"))
	var names []string
	for _, e := range g.Entities {
		names = append(names, e.Name+"/"+e.EntityType+"/"+strings.Join(e.Observations, ","))
	}
	if want := []string{"bom/t/first line", "crlf/t/crlf line", "twice/first/kept", "stored/t/"}; !slices.Equal(names, want) {
		t.Errorf("entities %q, want %q", names, want)
	}
	if n := queryInt(t, store, "MATCH (:Entity)-[r:Relation]->(:Entity) RETURN count(r)"); n != 2 {
		t.Errorf("%d relations, want 2", n)
	}
}

// Issue 14, done-when 2: a 100k-line file with 1% bad lines imports the
// other 99% in one run.
func TestImportOnePercentBad(t *testing.T) {
	store := newStore(t)
	const lines, entities = 100_000, 60_000
	bad := []string{
		`{"type":"entity","name":`,
		`{"type":"relation","from":"e1","to":"e2"}`,
		`{"type":"gadget","name":"x"}`,
		`[1,2,3]`,
		`{"type":"entity","entityType":"t","observations":[]}`,
	}
	var b strings.Builder
	wantEnts, wantRels, badLines := 0, 0, 0
	for i := 0; i < lines; i++ {
		switch {
		case i%100 == 99:
			b.WriteString(bad[(i/100)%len(bad)])
			badLines++
		case i < entities:
			fmt.Fprintf(&b, `{"type":"entity","name":"e%d","entityType":"t","observations":["obs %d"]}`, i, i)
			wantEnts++
		default:
			// Sources and targets among the entities, avoiding the bad lines.
			from, to := (i*7)%entities, (i*13)%entities
			if from%100 == 99 || to%100 == 99 {
				from, to = 0, i%98
			}
			fmt.Fprintf(&b, `{"type":"relation","from":"e%d","to":"e%d","relationType":"r%d"}`, from, to, i)
			wantRels++
		}
		b.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "big.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "import", "--wait", file)
	if r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	sum := parseImportSummary(t, r.stdout)
	if sum.Entities != wantEnts || sum.Relations != wantRels || sum.Skipped != badLines || sum.Rejected != 0 {
		t.Fatalf("summary %+v, want %d entities, %d relations, %d skipped", sum, wantEnts, wantRels, badLines)
	}
	if got := sum.Entities + sum.Relations; got*100 < lines*99 {
		t.Fatalf("imported %d of %d lines", got, lines)
	}
	if !strings.Contains(r.stderr, "more repaired or skipped lines not shown") {
		t.Errorf("a thousand problems reported one by one:\n%.500s", r.stderr)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != int64(wantEnts) {
		t.Errorf("%d entities in the store, want %d", n, wantEnts)
	}
	if n := queryInt(t, store, "MATCH (:Entity)-[r:Relation]->(:Entity) RETURN count(r)"); n != int64(wantRels) {
		t.Errorf("%d relations in the store, want %d", n, wantRels)
	}
}

// writeLines writes lines, each ended by "\n", to a new file and returns
// its path.
func writeLines(t *testing.T, lines ...string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// Two imports in a row, the first not committed yet: a relation of the
// second to an entity the first queued is kept, not skipped as dangling.
func TestImportSeesQueuedEntities(t *testing.T) {
	store := newStore(t)
	mustMemsnap(t, store, nil, "import", writeLines(t, `{"type":"entity","name":"E1","entityType":"t","observations":[]}`))
	r := memsnap(t, store, nil, nil, "import", "--wait", writeLines(t,
		`{"type":"entity","name":"E2","entityType":"t","observations":[]}`,
		`{"type":"relation","from":"E2","to":"E1","relationType":"r"}`))
	if r.code != 0 || !strings.Contains(r.stdout, `"relations":1`) || !strings.Contains(r.stdout, `"skipped":0`) {
		t.Fatalf("second import: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if n := queryInt(t, store, "MATCH (:Entity)-[r:Relation]->(:Entity) RETURN count(r)"); n != 1 {
		t.Fatalf("%d relations, want 1", n)
	}
}

// A line whose strings hold an unpaired surrogate escape is skipped with the
// reason, as enqueue refuses such a job: before, "S\ud800" and "S\udbff"
// were both applied as "S\ufffd", one entity.
func TestImportRefusesLoneSurrogates(t *testing.T) {
	store := newStore(t)
	file := writeLines(t,
		`{"type":"entity","name":"S\ud800","entityType":"t","observations":[]}`,
		`{"type":"entity","name":"S\udbff","entityType":"t","observations":[]}`,
		`{"type":"entity","name":"ok","entityType":"t","observations":["pair \ud83d\ude00 kept"]}`,
	)
	r := memsnap(t, store, nil, nil, "import", "--wait", file)
	if r.code != 0 {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	if sum := parseImportSummary(t, r.stdout); sum.Entities != 1 || sum.Skipped != 2 {
		t.Errorf("summary %+v\n%s", sum, r.stderr)
	}
	for _, want := range []string{
		`line 1: skipped: a string holds an unpaired surrogate escape (not valid Unicode): \ud800`,
		`line 2: skipped: a string holds an unpaired surrogate escape (not valid Unicode): \udbff`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stderr)
		}
	}
	if n := queryInt(t, store, "MATCH (e:Entity) WHERE e.name <> 'ok' RETURN count(e)"); n != 0 {
		t.Errorf("%d entities besides ok, want none", n)
	}
}

// An entity only a badly named file in queue/new creates (a file the next
// commit dead-letters unread) is not taken as queued: a relation to it is
// skipped as dangling.
func TestImportIgnoresBadlyNamedQueueFiles(t *testing.T) {
	store := newStore(t)
	job := `{"ops":[{"op":"create_entities","entities":[{"name":"ghost","entityType":"t","observations":[]}]}]}`
	if err := os.WriteFile(filepath.Join(store, "queue", "new", "X.JOB"), []byte(job), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "import", "--wait", writeLines(t,
		`{"type":"entity","name":"E","entityType":"t","observations":[]}`,
		`{"type":"relation","from":"E","to":"ghost","relationType":"r"}`))
	if r.code != 0 || !strings.Contains(r.stdout, `"relations":0`) || !strings.Contains(r.stderr, `entity "ghost" is in neither the file nor the store nor a queued job`) {
		t.Fatalf("import: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
}

// A delete still queued counts too: a relation of an import to an entity a
// queued job deletes is skipped as dangling, not queued to fail the whole
// import job when it applies after the delete (the check runs the queued
// jobs on CURRENT's rows by the memory's rules).
func TestImportSeesQueuedDeletes(t *testing.T) {
	store := newStore(t)
	mustMemsnap(t, store, nil, "import", "--wait", writeLines(t, `{"type":"entity","name":"E1","entityType":"t","observations":[]}`))
	mustMemsnap(t, store, []byte(`{"ops":[{"op":"delete_entities","entityNames":["E1"]}]}`), "enqueue")
	r := memsnap(t, store, nil, nil, "import", "--wait", writeLines(t,
		`{"type":"entity","name":"E2","entityType":"t","observations":[]}`,
		`{"type":"relation","from":"E2","to":"E1","relationType":"r"}`))
	if r.code != 0 || !strings.Contains(r.stdout, `"relations":0`) || !strings.Contains(r.stderr, `entity "E1" is in neither the file nor the store nor a queued job`) {
		t.Fatalf("import: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if n := queryInt(t, store, "MATCH (e:Entity) RETURN count(e)"); n != 1 {
		t.Fatalf("%d entities, want E2 alone (the import applied, E1 deleted)", n)
	}
}

// A file that is not the reference's memory file at all (one JSON array of
// the entities, as a user might write it) imports nothing and says so:
// exit 1, each line's reason in plain words, and what the file must be.
func TestImportOfNoMemoryFileFails(t *testing.T) {
	store := newStore(t)
	file := filepath.Join(t.TempDir(), "memory.json")
	if err := os.WriteFile(file, []byte(`[{"type":"entity","name":"a","entityType":"t","observations":[]}]`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "import", file)
	if r.code != 1 || !contains(r.stderr, "not a JSON object but a JSON array") || !contains(r.stderr, "nothing imported") ||
		!contains(r.stderr, "JSON Lines") {
		t.Errorf("import of a JSON array: exit %d, stderr %q", r.code, r.stderr)
	}
}
