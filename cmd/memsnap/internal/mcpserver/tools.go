package mcpserver

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "reflect"
import "slices"
import "sort"
import "strings"
import "time"

import jsonv2 "github.com/go-json-experiment/json"
import "github.com/google/jsonschema-go/jsonschema"
import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/oneline"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// Arguments and answers. Field names and JSON shapes are the reference
// server's, which the job format (model.Entity, model.Relation, ...) shares.

type (
	// entityList is create_entities' argument.
	entityList struct {
		Entities []model.Entity `json:"entities"`
	}
	// entitiesAnswer is create_entities' answer.
	entitiesAnswer struct {
		Entities []model.Entity `json:"entities"`
		Note     string         `json:"note,omitempty"`
	}
	// relationsAnswer is create_relations' answer.
	relationsAnswer struct {
		Relations []model.Relation `json:"relations"`
		Note      string           `json:"note,omitempty"`
	}
	// relationList is create_relations' argument and answer, and
	// delete_relations' argument.
	relationList struct {
		Relations []model.Relation `json:"relations"`
	}
	addObservationsIn struct {
		Observations []model.ObservationAdd `json:"observations"`
	}
	deleteEntitiesIn struct {
		EntityNames []string `json:"entityNames"`
	}
	deleteObservationsIn struct {
		Deletions []model.ObservationDelete `json:"deletions"`
	}
	readGraphIn struct {
		Limit      int    `json:"limit"`
		Cursor     string `json:"cursor"`
		EntityType string `json:"entityType"`
		windowIn
		atIn
	}
	searchNodesIn struct {
		Query string `json:"query"`
		pageIn
		windowIn
		atIn
	}
	// atIn is the optional point of history of every read tool but
	// memory_status (see Server.atReader).
	atIn struct {
		At string `json:"at"`
	}
	// pageIn is the optional limit and cursor of search_nodes and
	// open_nodes.
	pageIn struct {
		Limit  int    `json:"limit"`
		Cursor string `json:"cursor"`
	}
	// windowIn is the optional time window of search_nodes and read_graph.
	windowIn struct {
		Since string `json:"since"`
		Until string `json:"until"`
	}
	recentChangesIn struct {
		Since  string `json:"since"`
		Limit  int    `json:"limit"`
		Cursor string `json:"cursor"`
		atIn
	}
	openNodesIn struct {
		Names []string `json:"names"`
		pageIn
		atIn
	}
	neighborsIn struct {
		Name         string `json:"name"`
		Depth        int    `json:"depth"`
		RelationType string `json:"relationType"`
		Limit        int    `json:"limit"`
		Cursor       string `json:"cursor"`
		atIn
	}
	queryIn struct {
		Cypher string         `json:"cypher"`
		Params map[string]any `json:"params"`
		atIn
	}
	kvGetIn struct {
		Key string `json:"key"`
		atIn
	}
	kvPutIn struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	kvScanIn struct {
		Prefix string `json:"prefix"`
		Limit  int    `json:"limit"`
		Cursor string `json:"cursor"`
		atIn
	}
	statusIn struct{}

	addedObservations struct {
		EntityName        string   `json:"entityName"`
		AddedObservations []string `json:"addedObservations"`
	}
	addObservationsOut struct {
		Results []addedObservations `json:"results"`
		Note    string              `json:"note,omitempty"`
	}
	messageOut struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
	graphOut struct {
		Entities   []reader.Entity   `json:"entities"`
		Relations  []reader.Relation `json:"relations"`
		NextCursor string            `json:"nextCursor,omitempty"`
		// Note says how an answer was cut (mcp.max_answer_bytes, a limit)
		// and how many more entities there are.
		Note string `json:"note,omitempty"`
		// Suggestions (search_nodes only, when nothing matched): the
		// entities whose names are closest to the query, likely typos;
		// absent otherwise, so the answer keeps the reference's shape.
		Suggestions []reader.Suggestion `json:"suggestions,omitempty" jsonschema:"search_nodes only, when nothing matched: entities whose names are close to the query (likely typos), best first; not matches"`
		// sent is this very answer as encodeAnswer encodes it, kept by the
		// fit check that encoded it so that answerOf need not encode it
		// again; nil when not kept (and cleared by whatever changes the
		// answer after).
		sent *sentAnswer
	}
	queryOut struct {
		Snapshot uint64   `json:"snapshot"`
		Columns  []string `json:"columns"`
		Rows     [][]any  `json:"rows"`
		// Truncated says the rows stop at reader.query_max_rows or
		// reader.query_max_bytes; TruncatedReason names the cap.
		Truncated       bool   `json:"truncated,omitempty"`
		TruncatedReason string `json:"truncated_reason,omitempty"`
	}
	kvGetOut struct {
		Key      string `json:"key"`
		Value    string `json:"value"`
		Found    bool   `json:"found"`
		Snapshot uint64 `json:"snapshot"`
	}
	kvScanOut struct {
		Pairs      []reader.Pair `json:"pairs"`
		Snapshot   uint64        `json:"snapshot"`
		NextCursor string        `json:"nextCursor,omitempty"`
		Note       string        `json:"note,omitempty"`
	}
	// changesOut is recent_changes' answer: reader.Changes (its entities,
	// relations and nextCursor; not its snapshot, which goes in _meta) with
	// the note of a page cut to mcp.max_answer_bytes.
	changesOut struct {
		reader.Changes
		Note string `json:"note,omitempty"`
	}
	statusOut struct {
		Snapshot           uint64  `json:"snapshot"`
		SnapshotAgeSeconds float64 `json:"snapshotAgeSeconds"`
		Watermark          uint64  `json:"watermark"`
		QueueDepth         int     `json:"queueDepth"`
		DeadJobs           int     `json:"deadJobs"`
		WriterRunning      bool    `json:"writerRunning"`
		WriterPID          int     `json:"writerPid,omitempty"`
		// PendingWrites counts this server's acknowledged writes that the
		// snapshot does not hold yet.
		PendingWrites int `json:"pendingWrites"`
		// LateRejections lists this server's recent writes that were
		// acknowledged, then rejected when applied.
		LateRejections []producer.LateRejection `json:"lateRejections"`
		// GroupCommit counts the commits this server ran.
		GroupCommit *producer.GroupCommitStats `json:"groupCommit,omitempty"`
		// Writer says whether the writer can commit: state "ok",
		// "blocked" (the next job does not fit in the free space: cause,
		// hint, neededMiB, freeMiB) or "failing" (this server's last
		// commit failed: cause).
		Writer writer.Health `json:"writer"`
	}
)

func boolp(b bool) *bool { return &b }

// readTool and writeTool describe a tool with the reference's annotations,
// which repeat its title.
func readTool(name, title, desc string) *mcp.Tool {
	return &mcp.Tool{Name: name, Title: title, Description: desc,
		Annotations: &mcp.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: boolp(false)}}
}

func writeTool(name, title, desc string, destructive bool) *mcp.Tool {
	return &mcp.Tool{Name: name, Title: title, Description: desc,
		Annotations: &mcp.ToolAnnotations{Title: title, DestructiveHint: boolp(destructive), IdempotentHint: destructive, OpenWorldHint: boolp(false)}}
}

// addTool registers a tool with its input schema and its output schema:
// out, or (nil) the schema of Out's JSON (outputSchema). A read tool first
// waits for its session's own acknowledged writes (read-your-writes; not
// memory_status, which reports them). Every answer carries the late
// rejections not reported yet. Errors reach the client as one line.
//
// It does what the SDK's generic mcp.AddTool does (arguments checked
// against the input schema, in the SDK's words; the answer as
// structuredContent) except check each answer against the output schema:
// the answers are memsnap's own types, and that check (a decode of the
// whole answer and a schema walk) cost more than the search it answered.
func addTool[In, Out any](s *Server, t *mcp.Tool, in, out schema, h mcp.ToolHandlerFor[In, Out]) {
	t.InputSchema = in
	inResolved, err := resolveSchema(in)
	if err != nil {
		panic(fmt.Sprintf("tool %s: input schema: %v", t.Name, err)) // a bug in schema.go
	}
	if out != nil {
		t.OutputSchema = out
	} else if t.OutputSchema, err = outputSchema[Out](); err != nil {
		panic(fmt.Sprintf("tool %s: output schema: %v", t.Name, err))
	}
	if s.tools == nil {
		s.tools = map[string]mcp.ToolHandler{}
	}
	s.toolList = append(s.toolList, t)
	waits := t.Annotations.ReadOnlyHint && t.Name != "memory_status"
	// The graph reads answer with the queued writes (reader.queued_writes):
	// they need not wait for a commit.
	overlaid := waits && s.o.Config.Reader.QueuedWrites && queuedReads[t.Name]
	writes := !t.Annotations.ReadOnlyHint
	handler := func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args, err := decodeArgs[In](req.Params.Arguments, inResolved)
		if err != nil {
			res := &mcp.CallToolResult{}
			res.SetError(err)
			return res, nil
		}
		ctx = withSession(ctx, req.Session)
		var note string
		switch {
		case overlaid:
			note = strings.TrimPrefix(s.settleOwnWrites(ctx)+"; "+s.queueBeyondReads(ctx), "; ")
			note = strings.TrimSuffix(note, "; ")
		case waits:
			note = s.awaitOwnWrites(ctx)
		}
		res, out, err := h(ctx, req, args)
		if err != nil {
			res = &mcp.CallToolResult{}
			res.SetError(toolError(err))
			return res, nil
		}
		if res == nil {
			res = &mcp.CallToolResult{}
		}
		var outVal any = out
		if v := reflect.ValueOf(outVal); v.Kind() == reflect.Pointer && v.IsNil() {
			outVal = reflect.Zero(v.Type().Elem()).Interface() // {}, not null, as the SDK sends
		}
		outJSON, text, err := answerOf(outVal)
		if err != nil {
			return nil, err
		}
		// An answer over mcp.max_answer_bytes as sent is cut and encoded
		// again; the rows' share is estimated, so a smaller budget is
		// tried if the cut answer is still over. (The graph tools cut
		// their answers themselves, with a cursor: fit.go.)
		if fit, ok := outVal.(frameFitter); ok {
			limit := s.answerCap()
			for budget := limit; sentSize(outJSON, text) > limit && budget > 0; budget -= limit / 16 {
				if outJSON, text, err = encodeAnswer(fit.fitFrame(budget)); err != nil {
					return nil, err
				}
			}
		}
		res.StructuredContent = json.RawMessage(outJSON)
		if res.Content == nil { // outAnswer: the text is the answer, indented as the reference does
			res.Content = []mcp.Content{&mcp.TextContent{Text: text}}
		}
		s.annotate(ctx, res, note)
		if writes {
			s.warnWriter(res)
		}
		return res, nil
	}
	s.tools[t.Name] = handler
	s.mcp.AddTool(t, handler)
}

// warnWriter adds to a write's answer a warning when the writer cannot
// commit (WriterHealth): the write is queued, durable, and will apply, but
// not before what the warning names is fixed. The health goes in the
// answer's metadata too ("memsnap/writer").
func (s *Server) warnWriter(res *mcp.CallToolResult) {
	h := s.WriterHealth()
	if h.State == writer.HealthOK {
		return
	}
	job, _ := res.Meta["memsnap/job"].(string)
	what := "this write is queued"
	if job != "" {
		what = fmt.Sprintf("this write (job %s) is queued and durable", job)
	}
	msg := fmt.Sprintf("warning: %s but cannot apply yet: %s", what, h.Cause)
	if h.Hint != "" {
		msg += "; " + h.Hint
	}
	res.Content = append(res.Content, &mcp.TextContent{Text: msg})
	if res.Meta == nil {
		res.Meta = mcp.Meta{}
	}
	res.Meta["memsnap/writer"] = h
}

// resolveSchema resolves a tool's input schema (schema.go's maps).
func resolveSchema(in schema) (*jsonschema.Resolved, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var sc jsonschema.Schema
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, err
	}
	return sc.Resolve(&jsonschema.ResolveOptions{ValidateDefaults: true})
}

// outputSchema is the schema of Out's JSON (of its element for a pointer),
// as the SDK infers it, made exact (strict): a slice or pointer is not
// nullable (the answers send [] and {}, never null, or leave an omitempty
// field out), and a value of any JSON type (a query cell) says so, one
// type per anyOf branch, rather than being the schema that constrains
// nothing (true, {}). That is what MCP Inspector's --strict check asks
// for: type unions and untyped schemas are less portable.
func outputSchema[Out any]() (*jsonschema.Schema, error) {
	rt := reflect.TypeFor[Out]()
	if rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	sc, err := jsonschema.ForType(rt, &jsonschema.ForOptions{})
	if err != nil {
		return nil, err
	}
	strict(sc)
	return sc, nil
}

// anyDescription describes a value of any JSON type in an output schema.
const anyDescription = "Any JSON value: a string, number, boolean, null, array or object"

// anyValue makes sub, a schema that constrains nothing, the schema of any
// JSON value: one anyOf branch per type.
func anyValue(sub *jsonschema.Schema) {
	sub.Description = anyDescription
	for _, t := range []string{"string", "number", "boolean", "object", "array", "null"} {
		sub.AnyOf = append(sub.AnyOf, &jsonschema.Schema{Type: t})
	}
}

// strict makes sc and the schemas in it exact, as outputSchema says.
func strict(sc *jsonschema.Schema) {
	if sc == nil {
		return
	}
	if len(sc.Types) == 2 && slices.Contains(sc.Types, "null") {
		sc.Type, sc.Types = slices.DeleteFunc(slices.Clone(sc.Types), func(t string) bool { return t == "null" })[0], nil
	}
	fill := func(sub *jsonschema.Schema) {
		if sub != nil && reflect.ValueOf(*sub).IsZero() {
			anyValue(sub)
		}
	}
	fill(sc.Items)
	strict(sc.Items)
	for _, p := range sc.Properties {
		fill(p)
		strict(p)
	}
	if ap := sc.AdditionalProperties; ap != nil && ap.Not == nil {
		fill(ap)
		strict(ap)
	}
}

// decodeArgs checks a call's arguments against the tool's input schema,
// with its defaults applied, and decodes them, with the SDK's wording for
// arguments that do not fit.
func decodeArgs[In any](raw json.RawMessage, resolved *jsonschema.Resolved) (In, error) {
	var in In
	m := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return in, fmt.Errorf("validating \"arguments\": unmarshaling arguments: %v", err)
		}
	}
	if err := resolved.ApplyDefaults(&m); err != nil {
		return in, fmt.Errorf("validating \"arguments\": applying defaults: %v", err)
	}
	if err := resolved.Validate(m); err != nil {
		return in, fmt.Errorf("validating \"arguments\": %v", err)
	}
	// Field names match exactly, as the SDK's decoder matches them: with
	// encoding/json's case-insensitive matching, a key the schema never
	// checked ("entityNameſ") would stand in for one it did.
	b, err := json.Marshal(m)
	if err == nil {
		err = jsonv2.Unmarshal(b, &in)
	}
	if err != nil {
		return in, fmt.Errorf("validating \"arguments\": %v", err)
	}
	return in, nil
}

// annotate adds to an answer the note of its read, if any, and a warning for
// each late rejection not reported before: a write this server acknowledged
// that the writer then rejected.
func (s *Server) annotate(ctx context.Context, res *mcp.CallToolResult, note string) {
	s.reconcileOnSwap(ctx)
	late := s.acker.TakeLate()
	if note == "" && len(late) == 0 {
		return
	}
	if note != "" {
		res.Content = append(res.Content, &mcp.TextContent{Text: note})
	}
	for _, l := range late {
		res.Content = append(res.Content, &mcp.TextContent{Text: lateWarning(l)})
	}
	if len(late) > 0 {
		if res.Meta == nil {
			res.Meta = mcp.Meta{}
		}
		res.Meta["memsnap/lateRejections"] = late
	}
}

// reconcileOnSwap settles the acknowledged writes that the snapshot being
// served holds, once per snapshot: a snapshot already reconciled settles
// nothing more (a job acknowledged after it was published cannot be in it),
// so that calls do not queue on the Acker while writes are pending.
func (s *Server) reconcileOnSwap(ctx context.Context) {
	if len(s.acker.Pending()) == 0 {
		return
	}
	r, err := s.reader(ctx)
	if err != nil || r == nil {
		return
	}
	seq := r.Seq()
	if s.reconciledAt.Load() == seq {
		return
	}
	if err := s.acker.Reconcile(ctx); err != nil {
		s.log.Debug("reconcile", "error", err)
		return
	}
	s.reconciledAt.Store(seq)
}

// lateWarning words a late rejection for the client.
func lateWarning(l producer.LateRejection) string {
	return fmt.Sprintf("warning: an earlier write (job %s: %s) was acknowledged but then rejected when applied, "+
		"because another process changed the memory first: %s. Nothing of that write took effect.",
		l.JobID, l.Summary, userReason(l.Reason, l.Rejection))
}

// toolError is err as a client sees it: on one line.
func toolError(err error) error { return errors.New(oneline.Message(err)) }

func (s *Server) register() {
	// The reference memory server's tools.
	addTool(s, writeTool("create_entities", "Create Entities", "Create multiple new entities in the knowledge graph", false),
		createEntitiesSchema, entitiesOut, s.createEntities)
	addTool(s, writeTool("create_relations", "Create Relations",
		"Create multiple new relations between entities in the knowledge graph. Relations should be in active voice", false),
		createRelationsSchema, relationsOut, s.createRelations)
	addTool(s, writeTool("add_observations", "Add Observations", "Add new observations to existing entities in the knowledge graph", false),
		addObservationsSchema, addObservationsOutSchema, s.addObservations)
	addTool(s, writeTool("delete_entities", "Delete Entities", "Delete multiple entities and their associated relations from the knowledge graph", true),
		deleteEntitiesSchema, messageOutSchema, s.deleteEntities)
	addTool(s, writeTool("delete_observations", "Delete Observations", "Delete specific observations from entities in the knowledge graph", true),
		deleteObservationsSchema, messageOutSchema, s.deleteObservations)
	addTool(s, writeTool("delete_relations", "Delete Relations", "Delete multiple relations from the knowledge graph", true),
		deleteRelationsSchema, messageOutSchema, s.deleteRelations)
	addTool(s, readTool("read_graph", "Read Graph", "Read the entire knowledge graph (optionally a page at a time, or only one entity type)"),
		readGraphSchema, graphOutSchema, s.readGraph)
	addTool(s, readTool("search_nodes", "Search Nodes",
		"Search for nodes in the knowledge graph based on a query; returns the matching entities and every relation with at least one end among them"), searchNodesSchema, searchOutSchema, s.searchNodes)
	addTool(s, readTool("recent_changes", "Recent Changes",
		"The entities and relations created or changed: without since, the newest first, a page at a time, nextCursor giving the next older ones; "+
			"with since, those changed at or after it, oldest first, nextCursor giving what changed after, now or later"), recentChangesSchema, nil, s.recentChanges)
	addTool(s, readTool("open_nodes", "Open Nodes",
		"Open specific nodes in the knowledge graph by their names; returns those entities and every relation with at least one end among them"), openNodesSchema, graphOutSchema, s.openNodes)

	// memsnap's own.
	addTool(s, readTool("neighbors", "Neighbors",
		"The entities within a number of hops of one entity (relations followed both ways), with the relations between them"),
		neighborsSchema, graphOutSchema, s.neighbors)
	addTool(s, readTool("query", "Read-only Cypher", "Run a read-only Cypher query on the memory graph; writes and file access are refused"),
		querySchema, nil, s.query)
	addTool(s, readTool("kv_get", "KV Get", "Read one key of the key-value store"), kvGetSchema, nil, s.kvGet)
	addTool(s, writeTool("kv_put", "KV Put", "Write one key of the key-value store", false), kvPutSchema, messageOutSchema, s.kvPut)
	addTool(s, readTool("kv_scan", "KV Scan", "List keys of the key-value store with a prefix, in order"), kvScanSchema, nil, s.kvScan)
	addTool(s, readTool("memory_status", "Memory Status",
		"The snapshot answers come from (seq and age), the queue depth, whether a writer is running, "+
			"this server's writes not yet applied, its recent late rejections (acknowledged writes the writer then rejected), "+
			"and whether the writer can commit (writer.state ok, blocked with the free and needed space, or failing with the cause)"),
		statusSchema, nil, s.status)

	s.mcp.AddResource(&mcp.Resource{Name: "knowledge-graph", URI: ResourceURI, Title: "Knowledge Graph",
		Description: "The full knowledge graph with all entities and relations", MIMEType: "application/json"}, s.readResource)
}

func (s *Server) createEntities(ctx context.Context, _ *mcp.CallToolRequest, in entityList) (*mcp.CallToolResult, entitiesAnswer, error) {
	for i := range in.Entities {
		in.Entities[i].Observations = model.NonNil(in.Entities[i].Observations)
	}
	o, err := s.submit(ctx, map[string]any{"op": model.OpCreateEntities, "entities": in.Entities})
	if err != nil {
		return nil, entitiesAnswer{}, err
	}
	out := entitiesAnswer{Entities: created(o, in.Entities)}
	out.Entities, out.Note = writeEcho(s, "entities created", out.Entities, func(es []model.Entity) any { return entitiesAnswer{Entities: es} })
	return s.echoAnswer(out.Entities, out.Note, o), out, nil
}

func (s *Server) createRelations(ctx context.Context, _ *mcp.CallToolRequest, in relationList) (*mcp.CallToolResult, relationsAnswer, error) {
	o, err := s.submit(ctx, map[string]any{"op": model.OpCreateRelations, "relations": model.NonNil(in.Relations)})
	if err != nil {
		return nil, relationsAnswer{}, err
	}
	out := relationsAnswer{Relations: created(o, in.Relations)}
	out.Relations, out.Note = writeEcho(s, "relations created", out.Relations, func(rs []model.Relation) any { return relationsAnswer{Relations: rs} })
	return s.echoAnswer(out.Relations, out.Note, o), out, nil
}

// writeEcho cuts the echo of what a write did (items, the reference's
// answer) to the first items whose answer, as shape makes it, fits
// mcp.max_answer_bytes with room for the note and the job's metadata; note
// says how many are shown ("" when all are). A single item over the cap
// is not shown. Every item was written whatever the echo shows.
func writeEcho[T any](s *Server, what string, items []T, shape func([]T) any) (shown []T, note string) {
	budget := s.answerCap() - noteReserve
	if fits(shape(items), budget) {
		return items, ""
	}
	k := sort.Search(len(items), func(k int) bool { return !fits(shape(items[:k+1]), budget) })
	return items[:k], fmt.Sprintf("answer cut to fit mcp.max_answer_bytes (%d bytes): %d of %d %s shown; every one was written",
		s.answerCap(), k, len(items), what)
}

// echoAnswer is a write's answer: the echo as the reference words it
// (writeAnswer) and, when it was cut, the note as a second text.
func (s *Server) echoAnswer(echo any, note string, o model.Outcome) *mcp.CallToolResult {
	res := writeAnswer(echo, o)
	if note != "" {
		res.Content = append(res.Content, &mcp.TextContent{Text: "note: " + note})
	}
	return res
}

// created lists the items of the job's one op that it created.
func created[T any](o model.Outcome, items []T) []T {
	out := []T{}
	for _, i := range result(o, 0).New {
		out = append(out, items[i])
	}
	return out
}

func (s *Server) addObservations(ctx context.Context, _ *mcp.CallToolRequest, in addObservationsIn) (*mcp.CallToolResult, addObservationsOut, error) {
	for i := range in.Observations {
		in.Observations[i].Contents = model.NonNil(in.Observations[i].Contents)
	}
	o, err := s.submit(ctx, map[string]any{"op": model.OpAddObservations, "observations": model.NonNil(in.Observations)})
	if err != nil {
		return nil, addObservationsOut{}, err
	}
	out := addObservationsOut{Results: []addedObservations{}}
	added := result(o, 0).Added
	for i, a := range in.Observations {
		var got []string
		if i < len(added) {
			got = added[i]
		}
		out.Results = append(out.Results, addedObservations{EntityName: a.EntityName, AddedObservations: model.NonNil(got)})
	}
	out.Results, out.Note = writeEcho(s, "entities' added observations", out.Results, func(rs []addedObservations) any { return addObservationsOut{Results: rs} })
	return s.echoAnswer(out.Results, out.Note, o), out, nil
}

func (s *Server) deleteEntities(ctx context.Context, _ *mcp.CallToolRequest, in deleteEntitiesIn) (*mcp.CallToolResult, messageOut, error) {
	o, err := s.submit(ctx, map[string]any{"op": model.OpDeleteEntities, "entityNames": model.NonNil(in.EntityNames)})
	if err != nil {
		return nil, messageOut{}, err
	}
	r := result(o, 0)
	msg := "Entities deleted successfully"
	names, missing := notFound(in.EntityNames, r.Missing)
	if len(missing) > 0 {
		msg = fmt.Sprintf("Deleted %d of %d entities. Not found: %s", r.Deleted, names, strings.Join(missing, ", "))
	}
	return message(msg, o)
}

// notFound returns how many distinct names asked holds and, in the order
// first asked, the names that were not there: those the writer listed
// missing (model.OpResult.Missing) every time they were asked. A name asked
// twice that existed is deleted the first time and listed missing the
// second; it counts once, as deleted.
func notFound(asked, missing []string) (int, []string) {
	times := map[string]int{}
	for _, n := range asked {
		times[n]++
	}
	for _, n := range missing {
		times[n]--
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range asked {
		if !seen[n] && times[n] == 0 {
			out = append(out, n)
		}
		seen[n] = true
	}
	return len(seen), out
}

func (s *Server) deleteObservations(ctx context.Context, _ *mcp.CallToolRequest, in deleteObservationsIn) (*mcp.CallToolResult, messageOut, error) {
	// An observation asked twice of one entity counts once.
	asked := map[[2]string]bool{}
	var entities []string
	for i, d := range in.Deletions {
		in.Deletions[i].Observations = model.NonNil(d.Observations)
		entities = append(entities, d.EntityName)
		for _, ob := range d.Observations {
			asked[[2]string{d.EntityName, ob}] = true
		}
	}
	requested := len(asked)
	o, err := s.submit(ctx, map[string]any{"op": model.OpDeleteObservations, "deletions": model.NonNil(in.Deletions)})
	if err != nil {
		return nil, messageOut{}, err
	}
	r := result(o, 0)
	msg := "Observations deleted successfully"
	if r.Deleted != requested {
		msg = fmt.Sprintf("Deleted %d of %d observations.", r.Deleted, requested)
		if _, missing := notFound(entities, r.Missing); len(missing) > 0 {
			msg += " Entities not found: " + strings.Join(missing, ", ")
		}
	}
	return message(msg, o)
}

func (s *Server) deleteRelations(ctx context.Context, _ *mcp.CallToolRequest, in relationList) (*mcp.CallToolResult, messageOut, error) {
	o, err := s.submit(ctx, map[string]any{"op": model.OpDeleteRelations, "relations": model.NonNil(in.Relations)})
	if err != nil {
		return nil, messageOut{}, err
	}
	msg := "Relations deleted successfully"
	if r := result(o, 0); r.Deleted != len(in.Relations) {
		msg = fmt.Sprintf("Deleted %d of %d relations. The rest matched nothing.", r.Deleted, len(in.Relations))
	}
	return message(msg, o)
}

// message is the reference's answer to a delete or a write: success and a
// sentence.
func message(msg string, o model.Outcome) (*mcp.CallToolResult, messageOut, error) {
	return withJob(textAnswer(msg, o.Snapshot), o), messageOut{Success: true, Message: msg}, nil
}

// writeAnswer is answer for a write: v as indented JSON, with the job in the
// metadata.
func writeAnswer(v any, o model.Outcome) *mcp.CallToolResult {
	return withJob(answer(v, o.Snapshot), o)
}

// withJob names the write's job and its status (pending: acknowledged on
// durability; applied) in the answer's metadata.
func withJob(res *mcp.CallToolResult, o model.Outcome) *mcp.CallToolResult {
	if o.JobID == "" {
		return res
	}
	if res.Meta == nil {
		res.Meta = mcp.Meta{}
	}
	res.Meta["memsnap/job"] = o.JobID
	res.Meta["memsnap/jobStatus"] = o.Status
	return res
}

// result is what op i of an applied job did.
func result(o model.Outcome, i int) model.OpResult {
	if i < len(o.Results) {
		return o.Results[i]
	}
	return model.OpResult{}
}

var emptyGraph = &reader.Graph{}

// graph answers with what read reads from the current snapshot, or from
// the point of history at names (atReader); an empty memory (nothing
// published yet) answers with an empty graph.
func (s *Server) graph(ctx context.Context, at atIn, read func(r *reader.Reader) (*reader.Graph, error)) (*reader.Graph, error) {
	r, done, err := s.atReader(ctx, at)
	if err != nil || r == nil {
		return emptyGraph, err
	}
	defer done()
	return read(r)
}

// atReader is the server's reader (done does nothing), or with an at
// argument a reader of that point of history, rebuilt for this call in a
// store of its own (pointView) and read as it is; done closes and removes
// it. A point outside the history, or an at that names none, is
// reader.ErrBadOption.
func (s *Server) atReader(ctx context.Context, at atIn) (r *reader.Reader, done func(), err error) {
	if at.At == "" {
		r, err := s.reader(ctx)
		return r, func() {}, err
	}
	view, remove, err := s.pointView(ctx, at.At)
	if (errors.Is(err, snapshot.ErrNoPoint) || errors.Is(err, snapshot.ErrBadPoint)) && !errors.Is(err, snapshot.ErrCorrupt) {
		return nil, nil, fmt.Errorf("%w: at: %w", reader.ErrBadOption, err) // err's hint stays in the chain
	}
	if err != nil {
		return nil, nil, fmt.Errorf("at %s: %w", at.At, err)
	}
	if r, err = reader.Open(ctx, view, s.o.Config.ReaderOptions().ForPoint(), s.o.Log); err != nil {
		remove()
		return nil, nil, fmt.Errorf("at %s: %w", at.At, err)
	}
	return r, func() { r.Close(); remove() }, nil
}

// pointView builds the store of the point at names (SEQ|TIME,
// snapshot.Store.ParsePoint): Options.PointView when set, else from the
// store's own history (writer.ViewPoint). done removes it.
func (s *Server) pointView(ctx context.Context, at string) (view *snapshot.Store, done func(), err error) {
	if s.o.PointView != nil {
		return s.o.PointView(ctx, at)
	}
	seq, err := s.o.Store.ParsePoint(at, time.Now())
	if err != nil {
		return nil, nil, err
	}
	return writer.ViewPoint(ctx, s.o.Store, s.o.Config.WriterOptions(), seq)
}

// outAnswer is the result of a tool whose text is its structured answer
// as indented JSON (addTool writes it from the JSON it encodes once), with
// the snapshot it was read from in its metadata.
func outAnswer(snap uint64) *mcp.CallToolResult {
	res := &mcp.CallToolResult{}
	if snap > 0 {
		res.Meta = mcp.Meta{"memsnap/snapshot": snap}
	}
	return res
}

// queuedReads are the tools the reader answers with the queued writes
// (reader.Options.QueuedWrites), which therefore do not wait for the
// session's writes to be committed; a time window (since, until) reads the
// snapshot alone and waits (waitWindowed).
var queuedReads = map[string]bool{"read_graph": true, "search_nodes": true, "open_nodes": true, "neighbors": true}

// waitWindowed gives a read with a time window read-your-writes the way
// the other reads get it without the queued writes: by waiting for the
// session's writes to be committed (awaitOwnWrites).
func (s *Server) waitWindowed(ctx context.Context, w reader.TimeWindow) {
	if !w.IsZero() && s.o.Config.Reader.QueuedWrites {
		s.awaitOwnWrites(ctx)
	}
}

func (s *Server) readGraph(ctx context.Context, _ *mcp.CallToolRequest, in readGraphIn) (*mcp.CallToolResult, graphOut, error) {
	w, err := in.window()
	if err != nil {
		return nil, graphOut{}, err
	}
	s.waitWindowed(ctx, w)
	r, done, err := s.atReader(ctx, in.atIn)
	if err != nil || r == nil {
		return outAnswer(0), graphOut{Entities: []reader.Entity{}, Relations: []reader.Relation{}}, err
	}
	defer done()
	out, snap, err := s.readGraphPart(ctx, r, reader.ReadGraphOptions{Limit: in.Limit, Cursor: in.Cursor, EntityType: in.EntityType, Window: w})
	return outAnswer(snap), out, err
}

// searchNodes answers the search's whole answer, unchanged, when it fits
// mcp.max_answer_bytes and limit; otherwise the part from cursor that does
// (pagedGraph).
func (s *Server) searchNodes(ctx context.Context, _ *mcp.CallToolRequest, in searchNodesIn) (*mcp.CallToolResult, graphOut, error) {
	w, err := in.window()
	if err != nil {
		return nil, graphOut{}, err
	}
	s.waitWindowed(ctx, w)
	g, err := s.graph(ctx, in.atIn, func(r *reader.Reader) (*reader.Graph, error) {
		return r.SearchNodes(ctx, in.Query, s.searchPart(in, w))
	})
	if err != nil {
		return nil, graphOut{}, err
	}
	out, err := s.pagedGraph("search_nodes", nonNilGraph(g), in.Cursor, in.Limit, in.Query, in.Since, in.Until)
	return outAnswer(g.Snapshot), out, err
}

// nonNilGraph is g with empty lists rather than nil ones.
func nonNilGraph(g *reader.Graph) *reader.Graph {
	c := *g
	c.Entities, c.Relations = model.NonNil(g.Entities), model.NonNil(g.Relations)
	return &c
}

// maxRecent caps a recent_changes page.
const maxRecent = 1000

func (s *Server) recentChanges(ctx context.Context, _ *mcp.CallToolRequest, in recentChangesIn) (*mcp.CallToolResult, changesOut, error) {
	since, err := parseTime("since", in.Since)
	if err != nil {
		return nil, changesOut{}, err
	}
	if in.Limit < 0 || in.Limit > maxRecent {
		return nil, changesOut{}, fmt.Errorf("%w: limit %d is not between 1 and %d", reader.ErrBadOption, in.Limit, maxRecent)
	}
	r, done, err := s.atReader(ctx, in.atIn)
	if err != nil {
		return nil, changesOut{}, err
	}
	defer done()
	if r == nil {
		// Nothing written yet: read from a time (or on from a cursor), the
		// feed goes on at that time; newest first, it is over.
		out := changesOut{Changes: reader.Changes{Entities: []reader.ChangedEntity{}, Relations: []reader.ChangedRelation{}}}
		if in.Cursor != "" || !since.IsZero() {
			out.NextCursor = reader.FeedAt(since)
		}
		return outAnswer(0), out, nil
	}
	out, snap, err := s.recentPart(ctx, r, reader.RecentOptions{Since: since, Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, changesOut{}, err
	}
	return outAnswer(snap), out, nil
}

// window reads the since and until arguments.
func (w windowIn) window() (reader.TimeWindow, error) {
	since, err := parseTime("since", w.Since)
	if err != nil {
		return reader.TimeWindow{}, err
	}
	until, err := parseTime("until", w.Until)
	return reader.TimeWindow{Since: since, Until: until}, err
}

// parseTime reads an RFC 3339 time ("2026-11-30T09:00:00Z") or a UTC date
// ("2026-11-30"); "" is the zero time.
func parseTime(arg, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: %s %q is not an RFC 3339 time (2026-11-30T09:00:00Z) or a date (2026-11-30)", reader.ErrBadOption, arg, v)
}

// openNodes answers as searchNodes does: the whole answer when it fits,
// else a part.
func (s *Server) openNodes(ctx context.Context, _ *mcp.CallToolRequest, in openNodesIn) (*mcp.CallToolResult, graphOut, error) {
	g, err := s.graph(ctx, in.atIn, func(r *reader.Reader) (*reader.Graph, error) { return r.OpenNodes(ctx, in.Names) })
	if err != nil {
		return nil, graphOut{}, err
	}
	out, err := s.pagedGraph("open_nodes", nonNilGraph(g), in.Cursor, in.Limit, in.Names)
	return outAnswer(g.Snapshot), out, err
}

func (s *Server) neighbors(ctx context.Context, _ *mcp.CallToolRequest, in neighborsIn) (*mcp.CallToolResult, graphOut, error) {
	r, done, err := s.atReader(ctx, in.atIn)
	if err == nil && r == nil {
		err = &reader.NotFoundError{Name: in.Name}
	}
	if err != nil {
		return nil, graphOut{}, err
	}
	defer done()
	g, err := r.Neighbors(ctx, in.Name, reader.NeighborsOptions{Depth: in.Depth, RelationType: in.RelationType, Limit: in.Limit})
	if err != nil {
		return nil, graphOut{}, err
	}
	out, err := s.pagedGraph("neighbors", nonNilGraph(g), in.Cursor, 0, in.Name, in.Depth, in.RelationType, in.Limit)
	return outAnswer(g.Snapshot), out, err
}

func (s *Server) query(ctx context.Context, _ *mcp.CallToolRequest, in queryIn) (*mcp.CallToolResult, queryOut, error) {
	if err := reader.CheckReadOnly(in.Cypher); err != nil {
		return nil, queryOut{}, err
	}
	r, done, err := s.atReader(ctx, in.atIn)
	if err == nil && r == nil {
		err = fmt.Errorf("nothing has been published to query yet")
	}
	if err != nil {
		return nil, queryOut{}, err
	}
	defer done()
	res, err := r.Query(ctx, in.Cypher, in.Params)
	if err != nil {
		return nil, queryOut{}, err
	}
	out := queryOut{Snapshot: res.Snapshot, Columns: model.NonNil(res.Columns), Rows: model.NonNil(res.Rows),
		Truncated: res.Truncated, TruncatedReason: res.TruncatedReason}
	return outAnswer(res.Snapshot), out, nil
}

func (s *Server) kvGet(ctx context.Context, _ *mcp.CallToolRequest, in kvGetIn) (*mcp.CallToolResult, kvGetOut, error) {
	out := kvGetOut{Key: in.Key}
	r, done, err := s.atReader(ctx, in.atIn)
	if err != nil {
		return nil, out, err
	}
	defer done()
	if r != nil {
		if out.Value, out.Found, out.Snapshot, err = r.KVGet(ctx, in.Key); err != nil {
			return nil, out, err
		}
	}
	return outAnswer(out.Snapshot), out, nil
}

func (s *Server) kvPut(ctx context.Context, _ *mcp.CallToolRequest, in kvPutIn) (*mcp.CallToolResult, messageOut, error) {
	o, err := s.submit(ctx, map[string]any{"op": model.OpKVPut, "key": in.Key, "value": in.Value})
	if err != nil {
		return nil, messageOut{}, err
	}
	return message(fmt.Sprintf("Stored %s", in.Key), o)
}

func (s *Server) kvScan(ctx context.Context, _ *mcp.CallToolRequest, in kvScanIn) (*mcp.CallToolResult, kvScanOut, error) {
	out := kvScanOut{Pairs: []reader.Pair{}}
	limit := in.Limit
	if limit <= 0 {
		limit = defaultScan
	}
	r, done, err := s.atReader(ctx, in.atIn)
	if err != nil {
		return nil, out, err
	}
	defer done()
	if r != nil {
		pairs, seq, err := r.KVScan(ctx, in.Prefix, limit)
		if err != nil {
			return nil, out, err
		}
		if out, err = s.kvPart(model.NonNil(pairs), seq, in); err != nil {
			return nil, out, err
		}
	}
	return outAnswer(out.Snapshot), out, nil
}

func (s *Server) status(ctx context.Context, _ *mcp.CallToolRequest, _ statusIn) (*mcp.CallToolResult, statusOut, error) {
	var out statusOut
	if r, err := s.reader(ctx); err == nil && r != nil {
		if _, err := r.Refresh(ctx); err != nil {
			s.log.Debug("refresh for status", "error", err)
		}
		if m := r.Manifest(); m != nil {
			out.Snapshot, out.Watermark = m.Seq, m.Watermark
			out.SnapshotAgeSeconds = time.Since(m.CreatedAt).Round(time.Millisecond).Seconds()
		}
	}
	q, err := s.o.Store.Queue().Counts()
	if err != nil {
		return nil, out, err
	}
	out.QueueDepth, out.DeadJobs = q.Waiting(), q.Dead
	h, locked, err := writer.Locked(s.o.Store)
	if err != nil {
		return nil, out, err
	}
	out.WriterRunning = locked
	if locked {
		out.WriterPID = h.PID
	}
	if len(s.acker.Pending()) > 0 {
		if err := s.acker.Reconcile(ctx); err != nil {
			s.log.Debug("reconcile for status", "error", err)
		}
	}
	out.PendingWrites, out.LateRejections = len(s.acker.Pending()), model.NonNil(s.acker.Late())
	if s.committer != nil {
		st := s.committer.Stats()
		out.GroupCommit = &st
	}
	out.Writer = s.WriterHealth()
	return outAnswer(out.Snapshot), out, nil
}

func (s *Server) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	if s.o.Config.Reader.QueuedWrites {
		s.settleOwnWrites(withSession(ctx, req.Session))
	} else {
		s.awaitOwnWrites(withSession(ctx, req.Session))
	}
	out, snap := graphOut{Entities: []reader.Entity{}, Relations: []reader.Relation{}}, uint64(0)
	r, err := s.reader(ctx)
	if err == nil && r != nil {
		// The whole graph, or as much of it as fits mcp.max_answer_bytes,
		// with read_graph's nextCursor and a note.
		out, snap, err = s.readGraphPart(ctx, r, reader.ReadGraphOptions{})
	}
	if err != nil {
		return nil, toolError(err)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: jsonText(out),
		Meta: mcp.Meta{"memsnap/snapshot": snap}}}}, nil
}
