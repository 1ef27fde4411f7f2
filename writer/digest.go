package writer

import "context"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"

// loadState reads what jobs read (fsm.Reads) from the graph: the rows of
// the entities they name, the relations out of the sources of relations
// they create or delete, and every relation touching an entity they
// delete (the digest's change needs those, and the DETACH DELETE that
// wipes the entity takes them from here: see overlay.touchingRows).
func loadState(ctx context.Context, conn *graphdb.Conn, reads fsm.ReadSet) (*model.State, []model.RelationRow, error) {
	st, err := graphdb.LoadState(ctx, conn, reads.Names, reads.Sources)
	if err != nil {
		return nil, nil, err
	}
	if len(reads.Touching) == 0 {
		return st, nil, nil
	}
	rels, err := graphdb.RelationsTouching(ctx, conn, reads.Touching)
	if err != nil {
		return nil, nil, err
	}
	st.Relations = append(st.Relations, rels...) // fill loads a relation listed twice once
	return st, rels, nil
}

// batchDigest is the content digest of the stage's graph once jobs are
// applied: its parent's digest plus what each applied job changed
// (fsm.Result.Delta), at the cost of the change. A parent that records
// no digest (written before digests) leaves a scan of the graph, open on
// conn, as the only way to know it.
func batchDigest(ctx context.Context, conn *graphdb.Conn, stage *snapshot.Stage, jobs []*batchJob) (fsm.Digest, error) {
	var d fsm.Digest
	if p := stage.Parent(); p != nil {
		pd, ok := p.ContentDigest()
		if !ok {
			return graphdb.ContentDigest(ctx, conn)
		}
		d = pd
	}
	for _, bj := range jobs {
		if bj.reason == "" && !bj.dup {
			d = d.Add(bj.delta)
		}
	}
	return d, nil
}
