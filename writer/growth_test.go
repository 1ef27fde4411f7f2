package writer_test

import "encoding/json"
import "fmt"
import "os"
import "path/filepath"
import "testing"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// Changing one entity's observations must cost what the entity holds, not
// what the graph holds: Kuzu 0.11.3 rewrites a whole STRING or LIST column
// chunk when a row's value changes in place, and the graph file grew by
// that much on every commit (67-268 MB at 100k entities). The writer
// re-creates a changed entity instead. Here 9 one-entity updates in a
// graph of 2000 entities must leave the file within 1 MiB of its size
// after the first (made in place, they grew it from 22.6 to 32.8 MB).
func TestUpdatesDoNotGrowTheGraph(t *testing.T) {
	s := newTestStore(t)
	s.withOptions(func(o *writer.Options) { o.NoRecycle = true }) // every snapshot's graph is a copy: its size is all that grew
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
	r := openReader(t, s)
	res, err := r.Query(t.Context(), "MATCH (a:Entity {name: 'g-00001'})-[r:Relation]->(b) RETURN b.name, size(a.observations), a.created_at < a.updated_at", nil)
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != "g-00002" || res.Rows[0][1] != int64(3) || res.Rows[0][2] != true {
		t.Errorf("updated entity g-00001: %v %v; want its relation to g-00002, 3 observations, created before updated", res, err)
	}
}

func enqueueJob(t *testing.T, s *storeUnderTest, job model.Job) {
	t.Helper()
	data, _ := json.Marshal(job)
	if _, err := producer.Enqueue(s.store, data, s.cfg.Job.Limits()); err != nil {
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

// An entity with a relation to itself and relations into it is changed
// several times: every relation stays exactly once. A DETACH DELETE of such
// an entity, created again in the same transaction, left its incoming
// relations behind in Kuzu 0.11.3 (after four changes of B, C had 5
// relations and the graph 8), so the writer deletes the relations one by
// one first.
func TestUpdateEntityWithSelfLoop(t *testing.T) {
	s := newTestStore(t)
	enqueueJob(t, s, model.Job{Ops: []model.Op{
		{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "A", EntityType: "t"}, {Name: "B", EntityType: "t"}, {Name: "C", EntityType: "t"}}},
		{Op: model.OpCreateRelations, Relations: []model.Relation{{From: "A", To: "B", RelationType: "uses"}, {From: "C", To: "B", RelationType: "likes"},
			{From: "B", To: "A", RelationType: "back"}, {From: "B", To: "B", RelationType: "self"}}},
	}})
	s.commit(t, writer.CommitOptions{})
	for k := range 4 {
		enqueueJob(t, s, model.Job{Ops: []model.Op{{Op: model.OpAddObservations,
			Observations: []model.ObservationAdd{{EntityName: "B", Contents: []string{fmt.Sprintf("change %d", k)}}}}}})
		if sum := s.commit(t, writer.CommitOptions{}); sum.Applied != 1 {
			t.Fatalf("change %d: %+v", k, sum)
		}
	}
	r := openReader(t, s)
	for q, want := range map[string]int64{
		"MATCH ()-[r:Relation]->() RETURN count(*)":                     4,
		"MATCH (c:Entity {name: 'C'})-[r:Relation]->() RETURN count(*)": 1,
		"MATCH (a:Entity {name: 'A'})-[r:Relation]->() RETURN count(*)": 1,
		"MATCH ()-[r:Relation]->(b:Entity {name: 'B'}) RETURN count(*)": 3,
	} {
		res, err := r.Query(t.Context(), q, nil)
		if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != want {
			t.Errorf("%s: %v %v, want %d", q, res, err, want)
		}
	}
	if m := r.Manifest(); m.Relations != 4 {
		t.Errorf("manifest counts %d relations, want 4", m.Relations)
	}
}

// The same with delete_entities and create_entities of one name in one
// job: the relations of the deleted entity must all go (the graph had 5
// relations instead of 2 after three such jobs).
func TestRecreateEntityWithSelfLoop(t *testing.T) {
	s := newTestStore(t)
	rels := []model.Relation{{From: "B", To: "B", RelationType: "self"}, {From: "C", To: "B", RelationType: "likes"}}
	enqueueJob(t, s, model.Job{Ops: []model.Op{
		{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "A", EntityType: "t"}, {Name: "B", EntityType: "t"}, {Name: "C", EntityType: "t"}}},
		{Op: model.OpCreateRelations, Relations: append([]model.Relation{{From: "A", To: "B", RelationType: "uses"}}, rels...)},
	}})
	s.commit(t, writer.CommitOptions{})
	for k := range 3 {
		enqueueJob(t, s, model.Job{Ops: []model.Op{
			{Op: model.OpDeleteEntities, EntityNames: []string{"B"}},
			{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "B", EntityType: "t", Observations: []string{fmt.Sprint(k)}}}},
			{Op: model.OpCreateRelations, Relations: rels},
		}})
		if sum := s.commit(t, writer.CommitOptions{}); sum.Applied != 1 {
			t.Fatalf("job %d: %+v", k, sum)
		}
	}
	r := openReader(t, s)
	res, err := r.Query(t.Context(), "MATCH (a:Entity)-[r:Relation]->(b:Entity) RETURN a.name, b.name, r.relationType ORDER BY a.name", nil)
	if err != nil || len(res.Rows) != 2 || res.Rows[0][0] != "B" || res.Rows[1][0] != "C" {
		t.Errorf("relations: %v %v; want B-self->B and C-likes->B", res, err)
	}
	if m := r.Manifest(); m.Relations != 2 {
		t.Errorf("manifest counts %d relations, want 2", m.Relations)
	}
}
