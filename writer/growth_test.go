package writer_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/memsnap/memsnap/internal/model"
	"github.com/memsnap/memsnap/reader"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// Changing one entity's observations must cost what the entity holds, not
// what the graph holds: Kuzu 0.11.3 rewrites a whole STRING or LIST column
// chunk when a row's value changes in place, and the graph file grew by
// that much on every commit (67-268 MB at 100k entities). The writer
// re-creates a changed entity instead. Here 9 one-entity updates in a
// graph of 2000 entities must leave the file within 1 MiB of its size
// after the first (made in place, they grew it from 22.6 to 32.8 MB).
func TestUpdatesDoNotGrowTheGraph(t *testing.T) {
	s := newTestStore(t)
	opts := s.cfg.WriterOptions()
	opts.NoRecycle = true // every snapshot's graph is a copy: its size is all that grew
	s.w = writer.New(s.store, opts, nil)
	const n = 2000
	var es []model.Entity
	for i := range n {
		es = append(es, model.Entity{Name: fmt.Sprintf("g-%05d", i), EntityType: "thing",
			Observations: []string{fmt.Sprintf("entity %d of a graph that must not grow", i), "a second observation"}})
	}
	for lo := 0; lo < n; lo += 1000 {
		enqueueJob(t, s, model.Job{Ops: []model.Op{{Op: model.OpCreateEntities, Entities: es[lo : lo+1000]}}})
	}
	enqueueJob(t, s, model.Job{Ops: []model.Op{{Op: model.OpCreateRelations, Relations: []model.Relation{{From: "g-00001", To: "g-00002", RelationType: "next"}}}}})
	s.commit(t, writer.CommitOptions{})
	var before int64
	for k := range 10 {
		name := fmt.Sprintf("g-%05d", (k*397+1)%n)
		enqueueJob(t, s, model.Job{Ops: []model.Op{{Op: model.OpAddObservations,
			Observations: []model.ObservationAdd{{EntityName: name, Contents: []string{fmt.Sprintf("update %d", k)}}}}}})
		if sum := s.commit(t, writer.CommitOptions{}); sum.Applied != 1 {
			t.Fatalf("update %d: %+v", k, sum)
		}
		if k == 0 {
			before = graphSize(t, s.store) // the first change of a bulk-loaded graph grows it once
		}
	}
	after := graphSize(t, s.store)
	t.Logf("graph of %d entities: %d bytes after one update, %d after 9 more", n, before, after)
	if after-before > 1<<20 {
		t.Errorf("9 one-entity updates grew the graph from %d to %d bytes", before, after)
	}
	// The updated entity keeps its relations and creation time.
	r, err := reader.Open(t.Context(), s.store, s.cfg.ReaderOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Query(t.Context(), "MATCH (a:Entity {name: 'g-00001'})-[r:Relation]->(b) RETURN b.name, size(a.observations), a.created_at < a.updated_at", nil)
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != "g-00002" || res.Rows[0][1] != int64(3) || res.Rows[0][2] != true {
		t.Errorf("updated entity g-00001: %v %v; want its relation to g-00002, 3 observations, created before updated", res, err)
	}
}

func enqueueJob(t *testing.T, s *storeUnderTest, job model.Job) {
	t.Helper()
	data, _ := json.Marshal(job)
	if _, err := writer.Enqueue(s.store, data, s.cfg.Job.Limits()); err != nil {
		t.Fatal(err)
	}
}

func graphSize(t *testing.T, s *snapshot.Store) int64 {
	t.Helper()
	cur, err := s.Current()
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(s.SnapshotDir(cur), snapshot.GraphFile))
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}
