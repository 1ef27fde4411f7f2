package graphdb

import (
	"context"
	"fmt"
	"time"

	"github.com/memsnap/memsnap/internal/model"
)

// Queries of LoadState, for a list of names ($names) and for one ($n). Kuzu
// 0.11.3 looks a scalar $n up in the primary-key index but scans the table
// for a name taken from a list: at 50k entities one name costs 0.4 ms as $n
// and 16 ms through UNWIND. A few names go one query each; many go through
// UNWIND, whose one scan then costs less than that many lookups.
const (
	stateEntities = "UNWIND $names AS nm MATCH (e:Entity {name: nm}) " +
		"RETURN e.name, e.entityType, e.observations, e.created_at, e.updated_at"
	stateRelations = "UNWIND $names AS nm MATCH (a:Entity {name: nm})-[r:Relation]->(b:Entity) " +
		"RETURN a.name, b.name, r.relationType, r.created_at"
	stateEntity = "MATCH (e:Entity {name: $n}) " +
		"RETURN e.name, e.entityType, e.observations, e.created_at, e.updated_at"
	stateRelationsOf = "MATCH (a:Entity {name: $n})-[r:Relation]->(b:Entity) " +
		"RETURN a.name, b.name, r.relationType, r.created_at"
)

// lookupsAtMost is the most names LoadState looks up one query each.
const lookupsAtMost = 32

// LoadState reads the rows of the named entities and every relation leaving
// the entities named in relSources (see model.State), in one read of conn's
// database. Names that do not exist are simply absent. It works on a
// read-only database as on a read-write one.
func LoadState(ctx context.Context, conn *Conn, names, relSources []string) (*model.State, error) {
	st := &model.State{}
	err := loadRows(ctx, conn, "entities", stateEntities, stateEntity, names, func(row []any) {
		st.Entities = append(st.Entities, model.EntityRow{Name: String(row[0]), EntityType: String(row[1]),
			Observations: strList(row[2]), CreatedAt: utc(row[3]), UpdatedAt: utc(row[4])})
	})
	if err != nil {
		return nil, err
	}
	err = loadRows(ctx, conn, "relations", stateRelations, stateRelationsOf, relSources, func(row []any) {
		st.Relations = append(st.Relations, model.RelationRow{From: String(row[0]), To: String(row[1]),
			RelationType: String(row[2]), CreatedAt: utc(row[3])})
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// loadRows runs one of the name's query per name (up to lookupsAtMost
// names) or query with all names as $names, and hands add each row.
func loadRows(ctx context.Context, conn *Conn, what, query, one string, names []string, add func(row []any)) error {
	if len(names) > lookupsAtMost {
		res, err := conn.Query(ctx, query, map[string]any{"names": List(names)})
		if err != nil {
			return fmt.Errorf("load %s: %w", what, err)
		}
		for _, row := range res.Rows {
			add(row)
		}
		return nil
	}
	for _, n := range names {
		res, err := conn.Query(ctx, one, map[string]any{"n": n})
		if err != nil {
			return fmt.Errorf("load %s: %w", what, err)
		}
		for _, row := range res.Rows {
			add(row)
		}
	}
	return nil
}

func utc(v any) time.Time { t, _ := v.(time.Time); return t.UTC() }

func strList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, String(x))
	}
	return out
}

// Queries of RelationsTouching: the relations into an entity, for a list
// of names and for one (relations out of one use stateRelations[Of]).
const (
	relationsInto = "UNWIND $names AS nm MATCH (a:Entity)-[r:Relation]->(b:Entity {name: nm}) " +
		"RETURN a.name, b.name, r.relationType, r.created_at"
	relationsIntoOne = "MATCH (a:Entity)-[r:Relation]->(b:Entity {name: $n}) " +
		"RETURN a.name, b.name, r.relationType, r.created_at"
)

// RelationsTouching reads every relation out of or into the named entities,
// each once (a relation between two of them, or a self-loop, is not
// repeated).
func RelationsTouching(ctx context.Context, conn *Conn, names []string) ([]model.RelationRow, error) {
	var out []model.RelationRow
	seen := map[[3]string]bool{}
	add := func(row []any) {
		r := model.RelationRow{From: String(row[0]), To: String(row[1]), RelationType: String(row[2]), CreatedAt: utc(row[3])}
		if k := [3]string{r.From, r.To, r.RelationType}; !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	if err := loadRows(ctx, conn, "relations", stateRelations, stateRelationsOf, names, add); err != nil {
		return nil, err
	}
	if err := loadRows(ctx, conn, "relations", relationsInto, relationsIntoOne, names, add); err != nil {
		return nil, err
	}
	return out, nil
}
