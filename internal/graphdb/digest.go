package graphdb

import "context"
import "fmt"

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"

// ContentDigest reads every entity and relation of the graph and returns
// the digest of its content (fsm.Digest). It costs a scan of the graph:
// the writer runs it once, on the first commit after a snapshot that
// records no digest.
func ContentDigest(ctx context.Context, conn *Conn) (fsm.Digest, error) {
	var d fsm.Digest
	res, err := conn.Query(ctx, "MATCH (e:Entity) RETURN e.name, e.entityType, e.observations", nil)
	if err != nil {
		return d, fmt.Errorf("content digest: read entities: %w", err)
	}
	for _, row := range res.Rows {
		d = d.Add(fsm.EntityHash(String(row[0]), String(row[1]), strList(row[2])))
	}
	res, err = conn.Query(ctx, "MATCH (a:Entity)-[r:Relation]->(b:Entity) RETURN a.name, b.name, r.relationType", nil)
	if err != nil {
		return d, fmt.Errorf("content digest: read relations: %w", err)
	}
	for _, row := range res.Rows {
		d = d.Add(fsm.RelationHash(model.Relation{From: String(row[0]), To: String(row[1]), RelationType: String(row[2])}))
	}
	return d, nil
}
