package graphindex

import "errors"
import "testing"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"

// FollowJobs checks a manifest's digest when it records one, and only
// the counts when it does not (a manifest written before digests); the
// View it returns carries the digest of what it holds.
func TestFollowJobsChecksTheDigest(t *testing.T) {
	ents := []model.Entity{{Name: "ash", EntityType: "tree", Observations: []string{"amber"}}, {Name: "bay", EntityType: "place", Observations: []string{}}}
	rels := []model.Relation{{From: "ash", To: "bay", RelationType: "near"}, {From: "bay", To: "bay", RelationType: "self"}}
	jobs := []*model.Job{{Ops: []model.Op{
		{Op: model.OpAddObservations, Observations: []model.ObservationAdd{{EntityName: "bay", Contents: []string{"cedar", "cedar"}}}},
		{Op: model.OpDeleteEntities, EntityNames: []string{"bay"}},
		{Op: model.OpCreateEntities, Entities: []model.Entity{{Name: "bay", EntityType: "place", Observations: []string{"dune"}}}},
	}}}
	after := []model.Entity{ents[0], {Name: "bay", EntityType: "place", Observations: []string{"dune"}}}
	want := fsm.DigestOf(after, nil)
	if got := Build(ents, rels).Digest(); got != fsm.DigestOf(ents, rels) {
		t.Fatalf("Build's digest %s, the content's %s", got, fsm.DigestOf(ents, rels))
	}
	wrong := want.Add(fsm.Digest{Lo: 1})
	if _, err := Build(ents, rels).FollowJobs(jobs, Target{Entities: 2, Digest: wrong, HasDigest: true}); !errors.Is(err, ErrDiverged) {
		t.Errorf("a digest other than the jobs lead to: %v", err)
	}
	v, err := Build(ents, rels).FollowJobs(jobs, Target{Entities: 2, Digest: wrong})
	if err != nil || v.Digest() != want {
		t.Errorf("no digest recorded: %v, digest %v, want %v", err, v, want)
	}
	v, err = Build(ents, rels).FollowJobs(jobs, Target{Entities: 2, Digest: want, HasDigest: true})
	if err != nil || v.Digest() != want {
		t.Fatalf("the right digest: %v", err)
	}
	if e, out, ok := v.Lookup("ash"); !ok || len(out) != 0 || e.Observations[0] != "amber" {
		t.Errorf("ash after the jobs: %+v %v %v (its relation to the deleted bay must go)", e, out, ok)
	}
}
