package writer

import "bufio"
import "cmp"
import "context"
import "encoding/json"
import "fmt"
import "maps"
import "os"
import "path/filepath"
import "runtime/debug"
import "slices"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/failpoint"
import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/internal/model"

// How a batch is applied
//
// Every job of a batch is first run by the memory's state machine
// (internal/fsm.Apply) on an in-memory overlay: the rows of the entities
// and relations the batch reads (fsm.Reads), loaded once from the staging
// graph. A job that fails (say add_observations on a missing entity) is
// rolled back in the overlay alone, so it cannot change or block the others,
// and the overlay afterwards holds exactly the state that applying the
// accepted jobs one by one in claim order would give. The net difference is
// then written with four columnar statements (UNWIND over parallel lists of primitives,
// which go-kuzu binds ~30x faster than lists of maps) inside one transaction.

// entState is one entity as the overlay sees it.
type entState struct {
	exists  bool // exists now
	inDB    bool // existed in the graph when the batch started
	wiped   bool // the graph's row must be deleted (it was deleted in the batch)
	dirty   bool // changed in the batch
	typ     string
	obs     []string // never mutated in place: replaced on change
	created time.Time
	updated time.Time
}

type relKey struct{ from, to, typ string }

func keyOf(r model.Relation) relKey { return relKey{r.From, r.To, r.RelationType} }

func (k relKey) relation() model.Relation {
	return model.Relation{From: k.from, To: k.to, RelationType: k.typ}
}

// compare orders relation keys by source, target, then type.
func (a relKey) compare(b relKey) int {
	return cmp.Or(strings.Compare(a.from, b.from), strings.Compare(a.to, b.to), strings.Compare(a.typ, b.typ))
}

type relState struct {
	exists  bool
	inDB    bool // existed in the graph when the batch started
	dropped bool // the graph's row must be deleted (it was deleted in the batch)
	created time.Time
}

// overlay is the batch's view of the graph, the fsm.State the batch's jobs
// run on: the rows they read (fsm.Reads), what each changed, and an undo
// log for job atomicity.
type overlay struct {
	ents map[string]entState
	rels map[relKey]relState
	// relsOf lists every known relation key touching an entity; built on
	// the first delete_entities (relationsOf), as most batches delete no
	// entity and a 100k-relation import's index held 22 MB.
	relsOf map[string][]relKey
	undo   []func()
	at     time.Time // the running job's time: rows it creates or changes get it
	// touched are the names whose every relation in the graph fill loaded
	// (fsm.ReadSet.Touching), and touchRels those relations.
	touched   map[string]bool
	touchRels []model.RelationRow
}

func newOverlay() *overlay {
	return &overlay{ents: map[string]entState{}, rels: map[relKey]relState{}}
}

func (o *overlay) setEnt(name string, e entState) { fsm.SetUndoably(&o.undo, o.ents, name, e) }

// indexRel adds k, unless already known, to relsOf once that is built.
func (o *overlay) indexRel(k relKey) {
	if _, ok := o.rels[k]; !ok && o.relsOf != nil {
		o.addRelOf(k)
	}
}

func (o *overlay) addRelOf(k relKey) {
	o.relsOf[k.from] = append(o.relsOf[k.from], k)
	if k.to != k.from {
		o.relsOf[k.to] = append(o.relsOf[k.to], k)
	}
}

// relationsOf returns the known relation keys touching entity n (some may
// no longer exist), building relsOf on first use.
func (o *overlay) relationsOf(n string) []relKey {
	if o.relsOf == nil {
		o.relsOf = map[string][]relKey{}
		for k := range o.rels {
			o.addRelOf(k)
		}
	}
	return o.relsOf[n]
}

func (o *overlay) setRel(k relKey, r relState) {
	o.indexRel(k)
	fsm.SetUndoably(&o.undo, o.rels, k, r)
}

// Entity implements fsm.State.
func (o *overlay) Entity(name string) (fsm.Entity, bool) {
	e := o.ents[name]
	return fsm.Entity{Type: e.typ, Observations: e.obs}, e.exists
}

// PutEntity implements fsm.State: a new row is created at o.at, a changed
// one updated at o.at.
func (o *overlay) PutEntity(name string, e fsm.Entity) {
	cur := o.ents[name]
	if !cur.exists {
		o.setEnt(name, entState{exists: true, inDB: cur.inDB, wiped: cur.wiped, dirty: true,
			typ: e.Type, obs: e.Observations, created: o.at, updated: o.at})
		return
	}
	cur.typ, cur.obs, cur.updated, cur.dirty = e.Type, e.Observations, o.at, true
	o.setEnt(name, cur)
}

// DeleteEntity implements fsm.State: the graph's row, if any, is wiped.
func (o *overlay) DeleteEntity(name string) {
	cur := o.ents[name]
	o.setEnt(name, entState{inDB: cur.inDB, wiped: cur.inDB, dirty: true})
}

// HasRelation implements fsm.State.
func (o *overlay) HasRelation(r model.Relation) bool { return o.rels[keyOf(r)].exists }

// PutRelation implements fsm.State.
func (o *overlay) PutRelation(r model.Relation) {
	k := keyOf(r)
	cur := o.rels[k]
	o.setRel(k, relState{exists: true, inDB: cur.inDB, dropped: cur.dropped, created: o.at})
}

// DeleteRelation implements fsm.State.
func (o *overlay) DeleteRelation(r model.Relation) {
	k := keyOf(r)
	cur := o.rels[k]
	cur.exists, cur.dropped = false, cur.inDB
	o.setRel(k, cur)
}

// RelationsOf implements fsm.State: complete for the names whose
// relations fill loaded (fsm.ReadSet.Touching).
func (o *overlay) RelationsOf(name string) []model.Relation {
	var out []model.Relation
	for _, k := range o.relationsOf(name) {
		if o.rels[k].exists {
			out = append(out, k.relation())
		}
	}
	return out
}

// Mark implements fsm.State.
func (o *overlay) Mark() int { return len(o.undo) }

// Undo implements fsm.State.
func (o *overlay) Undo(mark int) { fsm.Undo(&o.undo, mark) }

// Forget implements fsm.State.
func (o *overlay) Forget(mark int) { fsm.Forget(&o.undo, mark) }

// run applies one job, stamped at, to the overlay (fsm.Apply) and returns
// what it did. A rejected job (*model.Rejection) leaves the overlay
// unchanged.
func (o *overlay) run(job *model.Job, at time.Time) (fsm.Result, error) {
	o.at = at
	return fsm.Apply(o, job)
}

// fill loads a graph's rows into the empty overlay as the state the batch
// starts from. A relation listed twice is loaded once.
func (o *overlay) fill(st *model.State) {
	for _, e := range st.Entities {
		o.ents[e.Name] = entState{exists: true, inDB: true, typ: e.EntityType, obs: e.Observations,
			created: e.CreatedAt, updated: e.UpdatedAt}
	}
	for _, r := range st.Relations {
		k := relKey{r.From, r.To, r.RelationType}
		o.indexRel(k)
		o.rels[k] = relState{exists: true, inDB: true, created: r.CreatedAt}
	}
}

// loadedTouching records that rels are every relation the graph holds
// into or out of names (graphdb.RelationsTouching).
func (o *overlay) loadedTouching(names []string, rels []model.RelationRow) {
	o.touched = make(map[string]bool, len(names))
	for _, n := range names {
		o.touched[n] = true
	}
	o.touchRels = rels
}

// touchingRows returns every relation the graph holds into or out of
// names, from what fill loaded when it holds them all (the batch's deleted
// entities), else read from the graph.
func (o *overlay) touchingRows(ctx context.Context, conn *graphdb.Conn, names []string) ([]model.RelationRow, error) {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		if !o.touched[n] {
			return graphdb.RelationsTouching(ctx, conn, names)
		}
		set[n] = true
	}
	var out []model.RelationRow
	for _, r := range o.touchRels {
		if set[r.From] || set[r.To] {
			out = append(out, r)
		}
	}
	return out, nil
}

// Statements of the columnar write. Each MATCH goes through a WITH so that
// Kuzu plans a primary-key lookup per row instead of a scan per row.
const (
	stmtWipe = "UNWIND $n AS nm MATCH (e:Entity {name: nm}) DETACH DELETE e RETURN count(*)"

	stmtDeleteRels = "UNWIND range(1, size($f)) AS i WITH i, $f[i] AS fn " +
		"MATCH (a:Entity {name: fn})-[r:Relation]->(b:Entity) WHERE b.name = $t[i] AND r.relationType = $r[i] " +
		"DELETE r RETURN count(*)"

	stmtCreate = "UNWIND range(1, size($n)) AS i CREATE (:Entity {name: $n[i], entityType: $t[i], " +
		"observations: list_slice($obs, $s[i], $e[i]), created_at: timestamp($c[i]), updated_at: timestamp($u[i])}) RETURN count(*)"

	stmtCreateRels = "UNWIND range(1, size($f)) AS i WITH i, $f[i] AS fn MATCH (a:Entity {name: fn}) " +
		"WITH a, i, $t[i] AS tn MATCH (b:Entity {name: tn}) " +
		"CREATE (a)-[:Relation {relationType: $r[i], created_at: timestamp($c[i])}]->(b) RETURN count(*)"

	// One-row forms of the statements above, taking scalars: Kuzu 0.11.3
	// finds a scalar name through the primary-key index but scans the
	// table for a name taken from a list (3 ms against 70 ms at 100k
	// entities), so a few rows go one statement each (see stmtRunner.rows).
	stmtWipeOne        = "MATCH (e:Entity {name: $n}) DETACH DELETE e RETURN count(*)"
	stmtDeleteRelOne   = "MATCH (a:Entity {name: $f})-[r:Relation]->(b:Entity {name: $t}) WHERE r.relationType = $r DELETE r RETURN count(*)"
	stmtCreateRelOne   = "MATCH (a:Entity {name: $f}), (b:Entity {name: $t}) CREATE (a)-[:Relation {relationType: $r, created_at: timestamp($c)}]->(b) RETURN count(*)"
	rowsOneByOneAtMost = 32
)

// obsColumns packs per-entity observation lists into one flat list plus
// 1-based inclusive bounds. The flat list starts with a sentinel so it is never
// empty (go-kuzu cannot bind an empty list); an empty range yields [].
type obsColumns struct {
	obs, s, e []any
}

func newObsColumns() *obsColumns { return &obsColumns{obs: []any{""}} }

func (c *obsColumns) add(obs []string) {
	c.s = append(c.s, int64(len(c.obs)+1))
	for _, o := range obs {
		c.obs = append(c.obs, o)
	}
	c.e = append(c.e, int64(len(c.obs)))
}

// writeOptions tunes how the net change is written.
type writeOptions struct {
	// copyThreshold: creates of at least this many entities (or relations) go
	// through COPY FROM a JSON file, Kuzu's bulk path; 0 never uses it.
	copyThreshold int
	// scratch is a directory for COPY's temporary files (outside the snapshot).
	scratch string
}

// writeStats counts the rows the write changed.
type writeStats struct {
	wiped, created, updated, relsCreated, relsDeleted int
}

// netChange is what the overlay changes in the graph, each list sorted:
// entities to wipe (DETACH DELETE), update and create, relations to delete
// and create.
type netChange struct {
	wipe, upd, cre []string
	relDel, relCre []relKey
}

// netChange computes the overlay's net change against the graph.
func (o *overlay) netChange() (ch netChange) {
	for _, name := range slices.Sorted(maps.Keys(o.ents)) {
		e := o.ents[name]
		if e.wiped {
			ch.wipe = append(ch.wipe, name)
		}
		switch {
		case e.exists && (!e.inDB || e.wiped):
			ch.cre = append(ch.cre, name)
		case e.exists && e.dirty:
			ch.upd = append(ch.upd, name)
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(o.rels), relKey.compare) {
		r := o.rels[k]
		endsWiped := o.ents[k.from].wiped || o.ents[k.to].wiped
		if r.dropped && !endsWiped {
			ch.relDel = append(ch.relDel, k) // DETACH DELETE already took it otherwise
		}
		if r.exists && (!r.inDB || r.dropped || endsWiped) {
			ch.relCre = append(ch.relCre, k)
		}
	}
	return ch
}

// stmtRunner runs the write's statements on one connection.
type stmtRunner struct {
	ctx  context.Context
	conn *graphdb.Conn
}

// run runs stmt unless want is 0, and checks that it changed want rows.
func (sr stmtRunner) run(what, stmt string, want int, params map[string]any) error {
	if want == 0 {
		return nil
	}
	res, err := sr.conn.Query(sr.ctx, stmt, params)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if got := res.Int(); got != int64(want) {
		return fmt.Errorf("%s: changed %d rows, expected %d", what, got, want)
	}
	return nil
}

// rows runs one row-changing statement over the columns cols (all of the
// same length n): many once with the columns as lists when n is above
// rowsOneByOneAtMost, else one once per row with that row's values as
// scalars. It checks that n rows changed.
func (sr stmtRunner) rows(what, many, one string, cols map[string][]any) error {
	n := -1
	for _, c := range cols {
		n = len(c)
		break
	}
	if n <= 0 {
		return nil
	}
	if n > rowsOneByOneAtMost {
		params := make(map[string]any, len(cols))
		for k, c := range cols {
			params[k] = c
		}
		return sr.run(what, many, n, params)
	}
	var got int64
	for i := 0; i < n; i++ {
		params := make(map[string]any, len(cols))
		for k, c := range cols {
			params[k] = c[i]
		}
		res, err := sr.conn.Query(sr.ctx, one, params)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		got += res.Int()
	}
	if got != int64(n) {
		return fmt.Errorf("%s: changed %d rows, expected %d", what, got, n)
	}
	return nil
}

// relCols are the columns (from, to, type, created) of relations ks.
func (o *overlay) relCols(ks []relKey) (f, t, r, c []any) {
	for _, k := range ks {
		f, t, r = append(f, k.from), append(t, k.to), append(r, k.typ)
		c = append(c, kuzuTime(o.rels[k].created))
	}
	return
}

// useCopy reports whether n creates go through COPY FROM.
func (wo writeOptions) useCopy(n int) bool {
	return wo.copyThreshold > 0 && n >= wo.copyThreshold && wo.scratch != ""
}

// write turns the overlay's net change into the four columnar statements.
// The caller runs it inside a transaction. It is the overlay's last use: a
// bulk create drops the observations it has written (see createEntities).
func (o *overlay) write(ctx context.Context, conn *graphdb.Conn, wo writeOptions) (writeStats, error) {
	ch := o.netChange()
	sr := stmtRunner{ctx: ctx, conn: conn}
	if len(ch.wipe) > 0 {
		rels, err := o.touchingRows(ctx, conn, ch.wipe)
		if err != nil {
			return writeStats{}, fmt.Errorf("delete entities: %w", err)
		}
		if err := sr.detachDelete("delete entities", ch.wipe, rels); err != nil {
			return writeStats{}, err
		}
	}
	f, t, r, _ := o.relCols(ch.relDel)
	if err := sr.rows("delete relations", stmtDeleteRels, stmtDeleteRelOne, map[string][]any{"f": f, "t": t, "r": r}); err != nil {
		return writeStats{}, err
	}
	failpoint.Hit("mid-apply")
	kept, err := o.detachUpdated(sr, ch.upd)
	if err != nil {
		return writeStats{}, err
	}
	// Updated entities are created anew with the new ones, and their
	// relations with the new relations, in one statement (or COPY) each:
	// Kuzu 0.11.3 crashes when one transaction both CREATEs rows and COPYs
	// into the same table before updating them.
	if err := o.createEntities(sr, slices.Concat(ch.cre, ch.upd), wo); err != nil {
		return writeStats{}, err
	}
	if err := o.createRelations(sr, ch.relCre, kept, wo); err != nil {
		return writeStats{}, err
	}
	return writeStats{wiped: len(ch.wipe), created: len(ch.cre), updated: len(ch.upd),
		relsCreated: len(ch.relCre), relsDeleted: len(ch.relDel)}, nil
}

// detachUpdated starts writing the new observations of entities upd,
// which the caller finishes by creating them anew (createEntities) with
// the relations it returns (createRelations): it reads the relations into
// and out of them and deletes them with the entities (detachDelete).
// Kuzu 0.11.3 rewrites a whole STRING or LIST column chunk (every row of a node group, up to
// 131,072 entities) when it checkpoints a change to one row's value, and
// does not reuse the pages it frees: at 100k entities one add_observations
// in place cost a 1.2-6.5 s checkpoint and grew the graph file by 67-268 MB,
// commit after commit. A deleted and re-created row costs what the row and
// its relations hold (40-270 ms, no growth).
func (o *overlay) detachUpdated(sr stmtRunner, upd []string) ([]model.RelationRow, error) {
	if len(upd) == 0 {
		return nil, nil
	}
	rels, err := graphdb.RelationsTouching(sr.ctx, sr.conn, upd)
	if err != nil {
		return nil, fmt.Errorf("update entities: %w", err)
	}
	if err := sr.detachDelete("update entities", upd, rels); err != nil {
		return nil, err
	}
	return rels, nil
}

// detachDelete deletes entities names and rels, every relation into or out
// of them (graphdb.RelationsTouching). The relations go first, by name: a
// DETACH DELETE of an entity with a relation to itself left its incoming
// relations behind in Kuzu 0.11.3 when an entity of that name was created
// again in the same transaction (TestUpdateEntityWithSelfLoop,
// TestRecreateEntityWithSelfLoop).
func (sr stmtRunner) detachDelete(what string, names []string, rels []model.RelationRow) error {
	var f, t, r []any
	for _, x := range rels {
		f, t, r = append(f, x.From), append(t, x.To), append(r, x.RelationType)
	}
	if err := sr.rows(what+": relations", stmtDeleteRels, stmtDeleteRelOne, map[string][]any{"f": f, "t": t, "r": r}); err != nil {
		return err
	}
	return sr.rows(what, stmtWipe, stmtWipeOne, map[string][]any{"n": graphdb.List(names)})
}

// createEntities creates entities cre, in bulk above the COPY threshold.
func (o *overlay) createEntities(sr stmtRunner, cre []string, wo writeOptions) error {
	if wo.useCopy(len(cre)) {
		row := func(i int) any {
			e := o.ents[cre[i]]
			// Once in the bulk file its observations are not needed again
			// (write is the overlay's last use): Kuzu's COPY runs with them
			// freed, 30-40 MB at a 100k-entity import.
			done := e
			done.obs = nil
			o.ents[cre[i]] = done
			return copyEntity{Name: cre[i], EntityType: e.typ, Observations: e.obs, Created: kuzuTime(createdOr(e.created, e.updated)), Updated: kuzuTime(e.updated)}
		}
		if err := copyRows(sr.ctx, sr.conn, "Entity", wo.scratch, len(cre), row); err != nil {
			return fmt.Errorf("create entities: %w", err)
		}
		return nil
	}
	if len(cre) == 0 {
		return nil
	}
	cols := newObsColumns()
	var ty, c, u []any
	for _, n := range cre {
		e := o.ents[n]
		cols.add(e.obs)
		ty, c, u = append(ty, e.typ), append(c, kuzuTime(createdOr(e.created, e.updated))), append(u, kuzuTime(e.updated))
	}
	return sr.run("create entities", stmtCreate, len(cre),
		map[string]any{"n": graphdb.List(cre), "t": ty, "obs": cols.obs, "s": cols.s, "e": cols.e, "c": c, "u": u})
}

// createRelations creates relations ks and kept (relations of updated
// entities, created again as they were), in bulk above the COPY threshold.
func (o *overlay) createRelations(sr stmtRunner, ks []relKey, kept []model.RelationRow, wo writeOptions) error {
	f, t, r, c := o.relCols(ks)
	for _, x := range kept {
		f, t, r = append(f, x.From), append(t, x.To), append(r, x.RelationType)
		// No creation time recorded (not written by memsnap): the change's,
		// from whichever end the batch changed.
		c = append(c, kuzuTime(createdOr(x.CreatedAt, createdOr(o.ents[x.From].updated, o.ents[x.To].updated))))
	}
	if wo.useCopy(len(f)) {
		row := func(i int) any {
			return copyRelation{From: f[i].(string), To: t[i].(string), RelationType: r[i].(string), Created: c[i].(string)}
		}
		if err := copyRows(sr.ctx, sr.conn, "Relation", wo.scratch, len(f), row); err != nil {
			return fmt.Errorf("create relations: %w", err)
		}
		return nil
	}
	return sr.rows("create relations", stmtCreateRels, stmtCreateRelOne, map[string][]any{"f": f, "t": t, "r": r, "c": c})
}

// createdOr is a row's creation time, or instead (the time of the change
// that creates the row anew) when none was recorded.
func createdOr(created, instead time.Time) time.Time {
	if created.IsZero() {
		return instead
	}
	return created
}

// Rows of the COPY FROM JSON bulk path. Field order is the table's column
// order; for Relation the first two are the FROM and TO primary keys.
type copyEntity struct {
	Name         string   `json:"name"`
	EntityType   string   `json:"entityType"`
	Observations []string `json:"observations"`
	Created      string   `json:"created_at"`
	Updated      string   `json:"updated_at"`
}

type copyRelation struct {
	From         string `json:"from"`
	To           string `json:"to"`
	RelationType string `json:"relationType"`
	Created      string `json:"created_at"`
}

// kuzuTime is t as the text Kuzu's timestamp() and COPY read, to the
// microsecond (a TIMESTAMP column's precision). Times are bound as this text,
// not as time.Time: go-kuzu binds a time with no sub-second part as
// TIMESTAMP and any other as TIMESTAMP_NS, and Kuzu refuses a list that
// mixes the two, which failed every batch holding a job stamped on a whole
// second (about one job in a thousand: job times are milliseconds).
func kuzuTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000") }

// copyRows bulk-loads n rows (row(i) is the i-th, written as it is made)
// into table with COPY FROM a newline-delimited JSON file in scratch (JSON
// keeps any string intact, unlike CSV), inside the caller's transaction,
// and checks the number of rows Kuzu reports. Before Kuzu copies, the Go
// heap's free pages go back to the operating system: Kuzu allocates its
// own memory for the copy, and an import of 100k entities otherwise peaked
// with both resident (debug.FreeOSMemory, about 20-60 ms).
func copyRows(ctx context.Context, conn *graphdb.Conn, table, scratch string, n int, row func(i int) any) (err error) {
	f, err := os.CreateTemp(scratch, strings.ToLower(table)+"-*.json")
	if err != nil {
		return fmt.Errorf("bulk file: %w", err)
	}
	defer os.Remove(f.Name())
	bw := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range n {
		if err := enc.Encode(row(i)); err != nil {
			f.Close()
			return fmt.Errorf("bulk file: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("bulk file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bulk file: %w", err)
	}
	path, _ := filepath.Abs(f.Name())
	debug.FreeOSMemory()
	got, err := graphdb.CopyFrom(ctx, conn, table, path, "")
	if err != nil {
		return err
	}
	if got != int64(n) {
		return fmt.Errorf("COPY %s loaded %d rows, expected %d", table, got, n)
	}
	return nil
}

// createsAtMost is an upper bound on the entities the jobs create: the number
// of create_entities items, before duplicates and failures are known.
func createsAtMost(jobs []*model.Job) int { return fsm.CreatesAtMost(jobs) }
