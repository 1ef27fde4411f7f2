package fsm

import "errors"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/model"

func TestDigestSumsAndParses(t *testing.T) {
	a := EntityHash("ash", "tree", []string{"amber", "birch"})
	b := RelationHash(model.Relation{From: "ash", To: "bay", RelationType: "near"})
	if a.Add(b) != b.Add(a) || a.Add(b).Sub(b) != a {
		t.Fatal("the digest is not an order-independent sum")
	}
	if EntityHash("ash", "tree", []string{"birch", "amber"}) == a {
		t.Error("observation order does not change the digest")
	}
	// Length prefixes: moving a byte from one field to the next changes it.
	if EntityHash("as", "htree", []string{"amber", "birch"}) == a {
		t.Error("fields are not delimited")
	}
	top := Digest{^uint64(0), ^uint64(0)}
	if got := top.Add(Digest{0, 1}); got != (Digest{}) {
		t.Errorf("2^128-1 + 1 = %v, want 0 (mod 2^128)", got)
	}
	for _, d := range []Digest{{}, a, top} {
		got, err := ParseDigest(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDigest(%s) = %v, %v", d, got, err)
		}
	}
	for _, bad := range []string{"", "sum128-sha256:00", "crc32c:0000", "sum128-sha256:" + "G0000000000000000000000000000000",
		"sum128-sha256:" + "ABCDEF00000000000000000000000000"} {
		if _, err := ParseDigest(bad); !errors.Is(err, ErrBadDigest) {
			t.Errorf("ParseDigest(%q): %v", bad, err)
		}
	}
}

// A rejected job leaves the state as it was and says which op named which
// missing entity, in the writer's and in the reference server's words; an
// applied job's Delta is the change of the state's digest, cascade included.
// TestDigestIsStable: the terms of a row are what manifests of format 8
// record (computed by the first implementation); a change in how a row is
// hashed would make every existing manifest's digest disagree with its
// graph. The long observation goes past the stack buffer a row is hashed in.
func TestDigestIsStable(t *testing.T) {
	for _, c := range []struct {
		got  Digest
		want string
	}{
		{EntityHash("ash", "tree", []string{"amber", "birch"}), "sum128-sha256:5062dddd915d908dcb8a0156dfb82424"},
		{EntityHash("ash", "tree", []string{strings.Repeat("x", 700)}), "sum128-sha256:c332573a7b573b52c147dca36935a7ce"},
		{RelationHash(model.Relation{From: "ash", To: "bay", RelationType: "near"}), "sum128-sha256:14f19903855c944c01ffd91502c1fbc9"},
	} {
		if c.got.String() != c.want {
			t.Errorf("row term %s, manifests record %s", c.got, c.want)
		}
	}
}

func TestApplyRejectsWholeAndCountsTheDelta(t *testing.T) {
	st := NewMemState(&model.State{
		Entities:  []model.EntityRow{{Name: "ash", EntityType: "tree", Observations: []string{"amber"}}, {Name: "bay", EntityType: "place"}},
		Relations: []model.RelationRow{{From: "ash", To: "bay", RelationType: "near"}, {From: "bay", To: "ash", RelationType: "far"}},
	})
	before := memDigest(st)
	_, err := Apply(st, &model.Job{Ops: []model.Op{
		{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "cove", EntityType: "place"}}},
		{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: "dell", Contents: []string{"x"}}}},
	}})
	var rej *model.Rejection
	if !errors.As(err, &rej) || rej.Op != 1 || rej.OpName != model.OpAddObservations || rej.Code != model.RejectEntityNotFound || rej.Entity != "dell" {
		t.Fatalf("rejection %#v (%v)", rej, err)
	}
	if err.Error() != "op 1 (add_observations): Entity with name dell not found" || rej.Message() != "Entity with name dell not found" {
		t.Errorf("worded %q / %q", err.Error(), rej.Message())
	}
	if _, ok := st.Entity("cove"); ok || memDigest(st) != before {
		t.Fatal("the rejected job left a change behind")
	}
	res, err := Apply(st, &model.Job{Ops: []model.Op{
		{Op: model.OpDeleteEntities, EntityNames: []string{"bay", "elm"}},
		{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: "ash", Contents: []string{"amber", "cedar", "cedar"}}}},
		{Op: model.OpKVPut, Key: "k", Value: new(string)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops[0].Deleted != 1 || len(res.Ops[0].Missing) != 1 || len(res.Ops[1].Added[0]) != 1 || len(res.KV) != 1 {
		t.Errorf("results %+v, kv %+v", res.Ops, res.KV)
	}
	if len(st.RelationsOf("ash")) != 0 {
		t.Errorf("relations of a deleted entity stay: %v", st.RelationsOf("ash"))
	}
	if got := before.Add(res.Delta); got != memDigest(st) {
		t.Errorf("digest before + delta = %v, digest after = %v", got, memDigest(st))
	}
}

// memDigest is the digest of everything st holds.
func memDigest(st *MemState) Digest {
	var d Digest
	for name, e := range st.ents {
		d = d.Add(EntityHash(name, e.Type, e.Observations))
	}
	for r, ok := range st.rels {
		if ok {
			d = d.Add(RelationHash(r))
		}
	}
	return d
}

// Describe words a job as messages about a late rejection quote it.
func TestDescribe(t *testing.T) {
	v := "1"
	job := &model.Job{Ops: []model.Op{
		{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "a"}, {Name: "b"}, {Name: "c"}}},
		{Op: model.OpCreateRelations, Relations: []model.Relation{{From: "a", To: "b", RelationType: "r"}}},
		{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: "Kuzu"}}},
		{Op: model.OpDeleteObservations, Deletions: []model.ObservationDelete{{EntityName: "a"}, {EntityName: "b"}}},
		{Op: model.OpDeleteEntities},
		{Op: model.OpKVPut, Key: "k", Value: &v},
	}}
	want := `create_entities "a" and 2 more; create_relations "a" -[r]-> "b"; add_observations to "Kuzu"; ` +
		`delete_observations from "a" and 1 more; delete_entities; kv_put "k"`
	if got := Describe(job); got != want {
		t.Errorf("Describe:\n got %s\nwant %s", got, want)
	}
}

// Every op kind a job may hold has its entry in the table, and no entry
// names a kind no job may hold.
func TestTableCoversEveryOpKind(t *testing.T) {
	kinds := model.OpKinds()
	if len(kinds) != len(ops) {
		t.Errorf("model decodes %d op kinds %v, the table has %d", len(kinds), kinds, len(ops))
	}
	for _, k := range kinds {
		if _, ok := ops[k]; !ok {
			t.Errorf("op %q has no rules in the table", k)
		}
	}
}

func TestSummarize(t *testing.T) {
	v := "1"
	job := &model.Job{Ops: []model.Op{
		{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}},
		{Op: model.OpCreateRelations, Relations: []model.Relation{{From: "a", To: "b", RelationType: "knows"}}},
		{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: "a", Contents: []string{"x"}}}},
		{Op: model.OpDeleteEntities, EntityNames: []string{"d", "e"}},
		{Op: model.OpDeleteObservations, Deletions: []model.ObservationDelete{{EntityName: "b"}}},
		{Op: model.OpKVPut, Key: "k", Value: &v},
		{Op: model.OpKVDelete},
	}}
	want := []string{
		"create_entities a, b, c (and 2 more)",
		"create_relations a -[knows]-> b",
		"add_observations a",
		"delete_entities d, e",
		"delete_observations b",
		"kv_put k",
		"kv_delete",
	}
	if got := Summarize(job); !slices.Equal(got, want) {
		t.Fatalf("Summarize = %q, want %q", got, want)
	}
}
