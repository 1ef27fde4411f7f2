package tests

import "encoding/json"
import "os"
import "path/filepath"
import "strconv"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/queue"

// A job file dropped into queue/new whose name is not <job id>.job (a job
// id is a ULID) is dead-lettered under a fresh id with its name quoted in
// the reason, and never blocks the jobs behind it. Before, a name that was
// not UTF-8 published a snapshot whose manifest failed its own checksum
// (every later command failed), a 250-character name stopped every commit
// (the claim name was too long), and any other name became a job id.
func TestBadJobFileNamesAreDeadLettered(t *testing.T) {
	store := newStore(t)
	lower := strings.ToLower(queue.NewID())
	names := map[string]string{ // file name -> what its .err quotes
		".job":                            `".job"`,
		"..job":                           `"..job"`,
		"%s%n.job":                        `"%s%n.job"`,
		".hidden.job":                     `".hidden.job"`,
		lower + ".job":                    `"` + lower + `.job"`,
		"a\nb.job":                        `"a\nb.job"`,
		"x\xff.job":                       `"x\xff.job"`,
		strings.Repeat("A", 250) + ".job": `"` + strings.Repeat("A", 80) + `" (cut; 254 bytes in all)`,
	}
	a := enqueue(t, store, ops(entities(entity("before", "t"))))
	for name := range names {
		if err := os.WriteFile(filepath.Join(store, "queue", "new", name), []byte(`{"ops":[{"op":"kv_put","key":"a","value":"x"}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := enqueue(t, store, ops(entities(entity("after", "t"))))

	s := commit(t, store)
	if s.Applied != 2 || s.Rejected != len(names) || s.QueueLeft != 0 {
		t.Fatalf("commit with %d badly named job files queued: %+v; want the 2 good jobs applied, the rest rejected, nothing left", len(names), s)
	}
	for _, id := range []string{a, b} {
		if o := jobOutcome(t, store, id); o.Status != "applied" {
			t.Fatalf("good job %s: %+v", id, o)
		}
	}
	if left := dirNames(t, filepath.Join(store, "queue", "new")); len(left) != 0 {
		t.Fatalf("queue/new still holds %q", left)
	}
	reasons := map[string]string{} // dead job id -> reason
	for _, n := range dirNames(t, filepath.Join(store, "queue", "dead")) {
		id, ok := strings.CutSuffix(n, ".job")
		if !ok {
			continue
		}
		if !queue.ValidID(id) {
			t.Errorf("queue/dead holds %q, not named by a job id", n)
		}
		r, err := os.ReadFile(filepath.Join(store, "queue", "dead", n+".err"))
		if err != nil {
			t.Fatal(err)
		}
		reasons[id] = string(r)
	}
	if len(reasons) != len(names) {
		t.Fatalf("queue/dead holds %d jobs, want %d: %q", len(reasons), len(names), reasons)
	}
	for name, quoted := range names {
		found := ""
		for id, r := range reasons {
			if strings.Contains(r, "job file name "+quoted+" in queue/new is not <job id>.job") {
				found = id
			}
		}
		if found == "" {
			t.Errorf("no dead letter quotes %q as %s: %q", name, quoted, reasons)
			continue
		}
		if o := jobOutcome(t, store, found); o.Status != "rejected" || !contains(o.Reason, quoted) {
			t.Errorf("dead letter of %q: outcome %+v", name, o)
		}
	}
	// Nothing odd reached a manifest: every command still works.
	if out := mustMemsnap(t, store, nil, "status"); !contains(out, "8 dead") {
		t.Errorf("status after the commit:\n%s", out)
	}
	mustMemsnap(t, store, nil, "snapshots", "verify")
	c := enqueue(t, store, ops(entities(entity("next", "t"))))
	if s := commit(t, store); s.Applied != 1 || s.Rejected != 0 {
		t.Fatalf("next commit: %+v", s)
	}
	if o := jobOutcome(t, store, c); o.Status != "applied" {
		t.Fatalf("job %s: %+v", c, o)
	}
	// A lookup by a name that is not a job id is refused, not searched for.
	if r := memsnap(t, store, nil, nil, "job", "..job"); r.code == 0 || !contains(r.stderr, `job id "..job" is not valid`) {
		t.Errorf("memsnap job ..job: exit %d, %s", r.code, r.stderr)
	}
}

// A file in queue/new that does not end in .job at all ("X.JOB", "X",
// "X.job.tmp", "X.job " with a trailing space) is dead-lettered the same
// way, counts as queued in status until then, is logged once and counts as
// rejected in the commit summary. Before, such files stayed in queue/new
// forever and status said 0 queued.
func TestJobFilesNotEndingInJobAreDeadLettered(t *testing.T) {
	store := newStore(t)
	names := []string{"X.JOB", "X", "X.job.tmp", "X.job "}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(store, "queue", "new", name), []byte(`{"ops":[{"op":"kv_put","key":"a","value":"x"}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := enqueue(t, store, ops(entities(entity("behind", "t"))))
	if out := mustMemsnap(t, store, nil, "status"); !contains(out, "5 queued") {
		t.Errorf("status before the commit counts the badly named files as queued:\n%s", out)
	}
	r := memsnap(t, store, nil, nil, "commit")
	if r.code != 0 {
		t.Fatalf("commit: exit %d: %s", r.code, r.stderr)
	}
	var s commitSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("commit answer %q: %v", r.stdout, err)
	}
	if s.Applied != 1 || s.Rejected != len(names) || s.QueueLeft != 0 {
		t.Fatalf("commit: %+v; want the good job applied and the %d badly named files rejected", s, len(names))
	}
	if o := jobOutcome(t, store, good); o.Status != "applied" {
		t.Fatalf("good job %s: %+v", good, o)
	}
	if left := dirNames(t, filepath.Join(store, "queue", "new")); len(left) != 0 {
		t.Fatalf("queue/new still holds %q", left)
	}
	var errs []string
	for _, n := range dirNames(t, filepath.Join(store, "queue", "dead")) {
		if strings.HasSuffix(n, ".err") {
			b, err := os.ReadFile(filepath.Join(store, "queue", "dead", n))
			if err != nil {
				t.Fatal(err)
			}
			errs = append(errs, string(b))
		}
	}
	for _, name := range names {
		quoted := strconv.Quote(name)
		if n := strings.Count(strings.Join(errs, ""), "job file name "+quoted+" in queue/new"); n != 1 {
			t.Errorf("%d dead letters quote %s, want 1: %q", n, quoted, errs)
		}
		if n := strings.Count(r.stderr, "name="+strconv.Quote(quoted)); n != 1 {
			t.Errorf("commit logged %s %d times, want once:\n%s", quoted, n, r.stderr)
		}
	}
	if out := mustMemsnap(t, store, nil, "status"); !contains(out, "0 queued") || !contains(out, "4 dead") {
		t.Errorf("status after the commit:\n%s", out)
	}
}
