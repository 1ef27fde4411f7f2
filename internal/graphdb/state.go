package graphdb

import "context"
import "fmt"
import "time"

import "github.com/memsnap/memsnap/internal/model"

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

// LookupsAtMost is the most names LookupRows looks up one query each.
const LookupsAtMost = 32

// LoadState reads the rows of the named entities and every relation leaving
// the entities named in relSources (see model.State), in one read of conn's
// database. Names that do not exist are simply absent. It works on a
// read-only database as on a read-write one.
func LoadState(ctx context.Context, conn *Conn, names, relSources []string) (*model.State, error) {
	st := &model.State{}
	if len(names) > LookupsAtMost {
		// Binding a long list costs (0.6 s for 100k names): an empty
		// graph, as a first import finds it, has nothing to look up.
		res, err := conn.Query(ctx, "MATCH (e:Entity) RETURN count(*)", nil)
		if err != nil {
			return nil, fmt.Errorf("load entities: %w", err)
		}
		if res.Int() == 0 {
			return st, nil
		}
	}
	err := LookupRows(ctx, conn, "load entities", stateEntities, stateEntity, names, nil, func(row []any) {
		st.Entities = append(st.Entities, model.EntityRow{Name: String(row[0]), EntityType: String(row[1]),
			Observations: strList(row[2]), CreatedAt: utc(row[3]), UpdatedAt: utc(row[4])})
	})
	if err != nil {
		return nil, err
	}
	err = LookupRows(ctx, conn, "load relations", stateRelations, stateRelationsOf, relSources, nil, func(row []any) {
		st.Relations = append(st.Relations, model.RelationRow{From: String(row[0]), To: String(row[1]),
			RelationType: String(row[2]), CreatedAt: utc(row[3])})
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// LookupRows runs query one once per name with the name as $n (up to
// LookupsAtMost names), or query many once with all names as $names, and
// hands add each row, in the order of names. params, if any, are bound too.
// Kuzu 0.11.3 finds a scalar $n through the primary-key index and scans the
// whole table for names from a list (at 100k entities: 2 names and their
// relations 17 ms one by one, 120 ms through UNWIND), so both queries must
// give the same rows. Errors are wrapped with what ("read entities").
func LookupRows(ctx context.Context, conn *Conn, what, many, one string, names []string, params map[string]any, add func(row []any)) error {
	if len(names) == 0 {
		return nil // go-kuzu cannot bind an empty list
	}
	bind := func(k string, v any) map[string]any {
		p := make(map[string]any, len(params)+1)
		for pk, pv := range params {
			p[pk] = pv
		}
		p[k] = v
		return p
	}
	if len(names) > LookupsAtMost {
		res, err := conn.Query(ctx, many, bind("names", List(names)))
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for _, row := range res.Rows {
			add(row)
		}
		return nil
	}
	for _, n := range names {
		res, err := conn.Query(ctx, one, bind("n", n))
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
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
	if err := LookupRows(ctx, conn, "load relations", stateRelations, stateRelationsOf, names, nil, add); err != nil {
		return nil, err
	}
	if err := LookupRows(ctx, conn, "load relations", relationsInto, relationsIntoOne, names, nil, add); err != nil {
		return nil, err
	}
	return out, nil
}
