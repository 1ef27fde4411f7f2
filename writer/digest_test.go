package writer

import "context"
import "testing"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/snapshot/snapshottest"

// The digest a commit records from the change alone is the digest of the
// graph it wrote; and on a parent that records none (a manifest written
// before digests) the writer takes it from a scan of the graph, ignoring
// the jobs' deltas, which the graph already holds.
func TestDigestFromTheChangeIsTheGraphs(t *testing.T) {
	ctx := context.Background()
	s := snapshottest.NewStore(t)
	w := New(s, DefaultOptions(), nil)
	for _, job := range []string{
		`{"ops":[{"op":"create_entities","entities":[{"name":"ash","entityType":"tree","observations":["amber","birch"]},{"name":"bay","entityType":"place","observations":[]}]},` +
			`{"op":"create_relations","relations":[{"from":"ash","to":"bay","relationType":"near"},{"from":"bay","to":"bay","relationType":"self"}]}]}`,
		`{"ops":[{"op":"delete_entities","entityNames":["bay"]},{"op":"add_observations","observations":[{"entityName":"ash","contents":["cedar"]}]}]}`,
	} {
		if _, err := enqueue(s, []byte(job), w.opts.Limits); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx, CommitOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.Manifest(2)
	if err != nil {
		t.Fatal(err)
	}
	recorded, ok := m.ContentDigest()
	if !ok {
		t.Fatalf("snapshot 2 records no digest: %q", m.Digest)
	}
	stage, err := s.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stage.Abort()
	stage.Parent().Digest = "" // as a manifest written before digests reads
	g, err := w.openStageGraph(ctx, stage, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	scanned, err := batchDigest(ctx, g.conn, stage, []*batchJob{{delta: fsm.Digest{Lo: 7}}})
	if err != nil {
		t.Fatal(err)
	}
	if scanned != recorded {
		t.Errorf("the graph's digest %s, the manifest's (kept from the changes) %s", scanned, recorded)
	}
}
