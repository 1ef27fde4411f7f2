package queue

import "errors"
import "os"
import "path/filepath"
import "testing"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/testutil"

func newQueue(t *testing.T) *Queue {
	t.Helper()
	dir := t.TempDir()
	for _, d := range Subdirs {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return New(dir)
}

// A job moves new -> cur -> dead, and Lookup and Counts follow it.
func TestJobLifecycle(t *testing.T) {
	q := newQueue(t)
	ids := []string{NewID(), NewID(), NewID()}
	for _, id := range ids {
		if err := q.Enqueue(id, []byte(`{"ops":[]}`)); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := q.Lookup(ids[0]); p != Waiting || !q.Queued(ids[0]) {
		t.Fatalf("queued job: place %v", p)
	}
	got, _, full, err := q.Claim(7, 2, 1<<20, 0)
	if err != nil || !full || len(got) != 2 {
		t.Fatalf("claim: %v full=%v %v", got, full, err)
	}
	if got[0].ID != ids[0] || got[0].Seq != 7 || got[1].Seq != 8 {
		t.Fatalf("claim order: %+v", got)
	}
	if c, ok := ParseClaimedName(got[1].Name); !ok || c.ID != ids[1] || c.Seq != 8 {
		t.Fatalf("claimed name %q parses to %+v", got[1].Name, c)
	}
	claimed, err := q.Claimed()
	if err != nil || len(claimed) != 2 || claimed[0].Size == 0 {
		t.Fatalf("claimed: %+v %v", claimed, err)
	}
	if err := q.DeadLetter(claimed[0], "bad job"); err != nil {
		t.Fatal(err)
	}
	if err := q.RemoveClaimed(claimed[1]); err != nil {
		t.Fatal(err)
	}
	if err := q.SyncClaimedAndDead(); err != nil {
		t.Fatal(err)
	}
	if p, reason := q.Lookup(ids[0]); p != Dead || reason != "bad job" {
		t.Fatalf("dead job: %v %q", p, reason)
	}
	if p, _ := q.Lookup(ids[1]); p != Nowhere {
		t.Fatalf("applied job: %v", p)
	}
	c, err := q.Counts()
	if err != nil || c != (Counts{New: 1, Cur: 0, Dead: 1}) || c.Waiting() != 1 {
		t.Fatalf("counts: %+v %v", c, err)
	}
}

// A job over the size cap, or one that is not a regular file, can never be
// applied: ReadJobFile says so with an error the writer dead-letters.
func TestReadJobFileRefuses(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.job")
	if err := os.WriteFile(big, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadJobFile(big, 10); !errors.Is(err, model.ErrInvalidJob) {
		t.Fatalf("oversize job: %v", err)
	}
	if b, err := ReadJobFile(big, 1000); err != nil || len(b) != 100 {
		t.Fatalf("good job: %d bytes, %v", len(b), err)
	}
	link := filepath.Join(dir, "link.job")
	testutil.Symlink(t, big, link) // last: it skips where no symlink can be made
	if _, err := ReadJobFile(link, 1000); !errors.Is(err, model.ErrInvalidJob) {
		t.Fatalf("symlinked job: %v", err)
	}
}

// A dead job's file is found by id, and RemoveDead deletes it and its
// reason; ids that are not job ids, or name no dead job, wrap ErrNotDead.
func TestRemoveDead(t *testing.T) {
	q := newQueue(t)
	id := NewID()
	if err := q.Enqueue(id, []byte(`{"ops":[]}`)); err != nil {
		t.Fatal(err)
	}
	got, _, _, err := q.Claim(1, 1, 1<<20, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim: %v %v", got, err)
	}
	if err := q.DeadLetter(got[0], "bad job"); err != nil {
		t.Fatal(err)
	}
	p, err := q.DeadJobFile(id)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != `{"ops":[]}` {
		t.Fatalf("dead job file: %q %v", b, err)
	}
	for _, bad := range []string{"../new/" + id, "", NewID()} {
		if _, err := q.DeadJobFile(bad); !errors.Is(err, ErrNotDead) {
			t.Errorf("DeadJobFile(%q): %v", bad, err)
		}
		if err := q.RemoveDead(bad); !errors.Is(err, ErrNotDead) {
			t.Errorf("RemoveDead(%q): %v", bad, err)
		}
	}
	if err := q.RemoveDead(id); err != nil {
		t.Fatal(err)
	}
	if dead, err := q.DeadJobs(0); err != nil || len(dead) != 0 {
		t.Fatalf("after RemoveDead: %+v %v", dead, err)
	}
	if c, _ := q.Counts(); c.Dead != 0 {
		t.Fatalf("counts after RemoveDead: %+v", c)
	}
	if err := q.RemoveDead(id); !errors.Is(err, ErrNotDead) {
		t.Fatalf("RemoveDead twice: %v", err)
	}
}
