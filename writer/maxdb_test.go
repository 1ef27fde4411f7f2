package writer_test

import "fmt"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/writer"

// The staged graph opens with a bounded maximum database size (max_db_mb,
// issue 26) that grows with the graph and the batch: a batch that makes
// the graph many times larger than the graph it starts from, and more than
// a quarter of the floor, still applies. With the bound taken from the
// graph alone (the least, 32 MiB, here) the batch's checkpoint fails and
// the publish finds a WAL.
func TestBatchOutgrowsTheMaxDBFloor(t *testing.T) {
	s := newTestStore(t)
	s.withOptions(func(o *writer.Options) { o.MaxDBMB = 32 })
	enqueueJob(t, s, model.Job{Ops: []model.Op{{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "seed", EntityType: "thing"}}}}})
	s.commit(t, writer.CommitOptions{})
	small := graphSize(t, s.store)
	word := strings.Repeat("observation ", 80)
	for lo := 0; lo < 6000; lo += 1000 {
		var es []model.Entity
		for i := lo; i < lo+1000; i++ {
			es = append(es, model.Entity{Name: fmt.Sprintf("e-%05d", i), EntityType: "thing", Observations: []string{fmt.Sprintf("%d %s", i, word)}})
		}
		enqueueJob(t, s, model.Job{Ops: []model.Op{{Op: model.OpCreateEntities, Entities: es}}})
	}
	if sum := s.commit(t, writer.CommitOptions{}); sum.Applied != 6 {
		t.Fatalf("batch of 6 jobs: %+v", sum)
	}
	big := graphSize(t, s.store)
	t.Logf("graph grew from %d to %d bytes in one batch with max_db_mb 32", small, big)
	if big < 4*small || big < 8<<20 {
		t.Fatalf("the batch grew the graph only from %d to %d bytes: it does not test the bound", small, big)
	}
}
