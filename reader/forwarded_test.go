package reader

import "context"
import "encoding/json"
import "os"
import "testing"

import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// A job a replica forwarded (queue/fwd) is applied by reads over every
// snapshot that does not record it, and never over one that does: here
// the snapshot records the job and, after it, a delete of what the job
// created; applying the forwarded copy again would bring the entity back.
func TestForwardedJobAppliedOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.commitJob(t, map[string]any{"ops": []any{createOp(Entity{Name: "seed", EntityType: "t", Observations: []string{}})}})
	r := f.open(t)
	b, err := json.Marshal(map[string]any{"ops": []any{createOp(Entity{Name: "forwarded", EntityType: "t", Observations: []string{"sent on"}})}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := producer.Enqueue(f.store, b, f.wopts.Limits)
	if err != nil {
		t.Fatal(err)
	}
	q := f.store.Queue()
	if err := q.MarkForwarded(id); err != nil {
		t.Fatal(err)
	}
	open := func(when string, want int) {
		t.Helper()
		g, err := r.OpenNodes(ctx, []string{"forwarded"})
		if err != nil || len(g.Entities) != want {
			t.Fatalf("%s: open_nodes finds %d entities (%v), want %d", when, len(g.Entities), err, want)
		}
	}
	open("forwarded, no snapshot holds it", 1)

	// The writer applies the job (as the remote writer does), then a
	// delete of its entity; the forwarded copy is still in queue/fwd.
	if err := os.Link(q.ForwardedPath(id), q.NewPath(id)); err != nil {
		t.Fatal(err)
	}
	del, err := json.Marshal(map[string]any{"ops": []any{map[string]any{"op": "delete_entities", "entityNames": []string{"forwarded"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(f.store, del, f.wopts.Limits); err != nil {
		t.Fatal(err)
	}
	if sum, err := f.w.Commit(ctx, writer.CommitOptions{}); err != nil || sum.Applied != 2 {
		t.Fatalf("commit of the job and the delete: %+v %v", sum, err)
	}
	if _, err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(q.ForwardedPath(id)); err != nil {
		t.Fatalf("the forwarded copy: %v", err)
	}
	open("the snapshot records the job and a later delete", 0)
}
