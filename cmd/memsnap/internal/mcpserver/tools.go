package mcpserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memsnap/memsnap/internal/model"
	"github.com/memsnap/memsnap/reader"
	"github.com/memsnap/memsnap/writer"
)

// Arguments and answers. Field names and JSON shapes are the reference
// server's, which the job format (writer.Entity, writer.Relation, ...) shares.

type (
	createEntitiesIn struct {
		Entities []model.Entity `json:"entities"`
	}
	createRelationsIn struct {
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
	deleteRelationsIn struct {
		Relations []model.Relation `json:"relations"`
	}
	readGraphIn struct {
		Limit      int    `json:"limit"`
		Cursor     string `json:"cursor"`
		EntityType string `json:"entityType"`
	}
	searchNodesIn struct {
		Query string `json:"query"`
	}
	openNodesIn struct {
		Names []string `json:"names"`
	}
	neighborsIn struct {
		Name         string `json:"name"`
		Depth        int    `json:"depth"`
		RelationType string `json:"relationType"`
		Limit        int    `json:"limit"`
	}
	queryIn struct {
		Cypher string         `json:"cypher"`
		Params map[string]any `json:"params"`
	}
	kvGetIn struct {
		Key string `json:"key"`
	}
	kvPutIn struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	kvScanIn struct {
		Prefix string `json:"prefix"`
		Limit  int    `json:"limit"`
	}
	statusIn struct{}

	entitiesOut struct {
		Entities []model.Entity `json:"entities"`
	}
	relationsOut struct {
		Relations []model.Relation `json:"relations"`
	}
	addedObservations struct {
		EntityName        string   `json:"entityName"`
		AddedObservations []string `json:"addedObservations"`
	}
	addObservationsOut struct {
		Results []addedObservations `json:"results"`
	}
	messageOut struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
	graphOut struct {
		Entities   []reader.Entity   `json:"entities"`
		Relations  []reader.Relation `json:"relations"`
		NextCursor string            `json:"nextCursor,omitempty"`
	}
	queryOut struct {
		Snapshot uint64   `json:"snapshot"`
		Columns  []string `json:"columns"`
		Rows     [][]any  `json:"rows"`
	}
	kvGetOut struct {
		Key      string `json:"key"`
		Value    string `json:"value"`
		Found    bool   `json:"found"`
		Snapshot uint64 `json:"snapshot"`
	}
	kvScanOut struct {
		Pairs    []reader.Pair `json:"pairs"`
		Snapshot uint64        `json:"snapshot"`
	}
	statusOut struct {
		Snapshot           uint64  `json:"snapshot"`
		SnapshotAgeSeconds float64 `json:"snapshotAgeSeconds"`
		Watermark          uint64  `json:"watermark"`
		QueueDepth         int     `json:"queueDepth"`
		DeadJobs           int     `json:"deadJobs"`
		WriterRunning      bool    `json:"writerRunning"`
		WriterPID          int     `json:"writerPid,omitempty"`
	}
)

func boolp(b bool) *bool { return &b }

func writeAnn(title string, destructive bool) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, DestructiveHint: boolp(destructive), IdempotentHint: destructive, OpenWorldHint: boolp(false)}
}

func readAnn(title string) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: boolp(false)}
}

func (s *Server) register() {
	add := func(t *mcp.Tool, in schema) *mcp.Tool { t.InputSchema = in; return t }

	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "create_entities", Title: "Create Entities",
		Description: "Create multiple new entities in the knowledge graph", Annotations: writeAnn("Create Entities", false)},
		createEntitiesSchema), s.createEntities)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "create_relations", Title: "Create Relations",
		Description: "Create multiple new relations between entities in the knowledge graph. Relations should be in active voice",
		Annotations: writeAnn("Create Relations", false)}, createRelationsSchema), s.createRelations)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "add_observations", Title: "Add Observations",
		Description: "Add new observations to existing entities in the knowledge graph", Annotations: writeAnn("Add Observations", false)},
		addObservationsSchema), s.addObservations)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "delete_entities", Title: "Delete Entities",
		Description: "Delete multiple entities and their associated relations from the knowledge graph",
		Annotations: writeAnn("Delete Entities", true)}, deleteEntitiesSchema), s.deleteEntities)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "delete_observations", Title: "Delete Observations",
		Description: "Delete specific observations from entities in the knowledge graph", Annotations: writeAnn("Delete Observations", true)},
		deleteObservationsSchema), s.deleteObservations)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "delete_relations", Title: "Delete Relations",
		Description: "Delete multiple relations from the knowledge graph", Annotations: writeAnn("Delete Relations", true)},
		deleteRelationsSchema), s.deleteRelations)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "read_graph", Title: "Read Graph",
		Description: "Read the entire knowledge graph (optionally a page at a time, or only one entity type)",
		Annotations: readAnn("Read Graph")}, readGraphSchema), s.readGraph)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "search_nodes", Title: "Search Nodes",
		Description: "Search for nodes in the knowledge graph based on a query", Annotations: readAnn("Search Nodes")},
		searchNodesSchema), s.searchNodes)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "open_nodes", Title: "Open Nodes",
		Description: "Open specific nodes in the knowledge graph by their names", Annotations: readAnn("Open Nodes")},
		openNodesSchema), s.openNodes)

	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "neighbors", Title: "Neighbors",
		Description: "The entities within a number of hops of one entity (relations followed both ways), with the relations between them",
		Annotations: readAnn("Neighbors")}, neighborsSchema), s.neighbors)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "query", Title: "Read-only Cypher",
		Description: "Run a read-only Cypher query on the memory graph; writes and file access are refused",
		Annotations: readAnn("Read-only Cypher")}, querySchema), s.query)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "kv_get", Title: "KV Get", Description: "Read one key of the key-value store",
		Annotations: readAnn("KV Get")}, kvGetSchema), s.kvGet)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "kv_put", Title: "KV Put", Description: "Write one key of the key-value store",
		Annotations: writeAnn("KV Put", false)}, kvPutSchema), s.kvPut)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "kv_scan", Title: "KV Scan", Description: "List keys of the key-value store with a prefix, in order",
		Annotations: readAnn("KV Scan")}, kvScanSchema), s.kvScan)
	mcp.AddTool(s.mcp, add(&mcp.Tool{Name: "memory_status", Title: "Memory Status",
		Description: "The snapshot answers come from (seq and age), the queue depth and whether a writer is running",
		Annotations: readAnn("Memory Status")}, statusSchema), s.status)

	s.mcp.AddResource(&mcp.Resource{Name: "knowledge-graph", URI: ResourceURI, Title: "Knowledge Graph",
		Description: "The full knowledge graph with all entities and relations", MIMEType: "application/json"}, s.readResource)
}

func (s *Server) createEntities(ctx context.Context, _ *mcp.CallToolRequest, in createEntitiesIn) (*mcp.CallToolResult, entitiesOut, error) {
	for i := range in.Entities {
		in.Entities[i].Observations = model.NonNil(in.Entities[i].Observations)
	}
	o, err := s.submit(ctx, map[string]any{"op": model.OpCreateEntities, "entities": in.Entities})
	if err != nil {
		return nil, entitiesOut{}, oneLine(err)
	}
	out := entitiesOut{Entities: []model.Entity{}}
	for _, i := range result(o, 0).New {
		out.Entities = append(out.Entities, in.Entities[i])
	}
	return answer(out.Entities, o.Snapshot), out, nil
}

func (s *Server) createRelations(ctx context.Context, _ *mcp.CallToolRequest, in createRelationsIn) (*mcp.CallToolResult, relationsOut, error) {
	o, err := s.submit(ctx, map[string]any{"op": model.OpCreateRelations, "relations": model.NonNil(in.Relations)})
	if err != nil {
		return nil, relationsOut{}, oneLine(err)
	}
	out := relationsOut{Relations: []model.Relation{}}
	for _, i := range result(o, 0).New {
		out.Relations = append(out.Relations, in.Relations[i])
	}
	return answer(out.Relations, o.Snapshot), out, nil
}

func (s *Server) addObservations(ctx context.Context, _ *mcp.CallToolRequest, in addObservationsIn) (*mcp.CallToolResult, addObservationsOut, error) {
	for i := range in.Observations {
		in.Observations[i].Contents = model.NonNil(in.Observations[i].Contents)
	}
	o, err := s.submit(ctx, map[string]any{"op": model.OpAddObservations, "observations": model.NonNil(in.Observations)})
	if err != nil {
		return nil, addObservationsOut{}, oneLine(err)
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
	return answer(out.Results, o.Snapshot), out, nil
}

func (s *Server) deleteEntities(ctx context.Context, _ *mcp.CallToolRequest, in deleteEntitiesIn) (*mcp.CallToolResult, messageOut, error) {
	o, err := s.submit(ctx, map[string]any{"op": model.OpDeleteEntities, "entityNames": model.NonNil(in.EntityNames)})
	if err != nil {
		return nil, messageOut{}, oneLine(err)
	}
	r := result(o, 0)
	msg := "Entities deleted successfully"
	if len(r.Missing) > 0 {
		msg = fmt.Sprintf("Deleted %d of %d entities. Not found: %s", r.Deleted, len(in.EntityNames), strings.Join(r.Missing, ", "))
	}
	return textAnswer(msg, o.Snapshot), messageOut{Success: true, Message: msg}, nil
}

func (s *Server) deleteObservations(ctx context.Context, _ *mcp.CallToolRequest, in deleteObservationsIn) (*mcp.CallToolResult, messageOut, error) {
	for i := range in.Deletions {
		in.Deletions[i].Observations = model.NonNil(in.Deletions[i].Observations)
	}
	o, err := s.submit(ctx, map[string]any{"op": model.OpDeleteObservations, "deletions": model.NonNil(in.Deletions)})
	if err != nil {
		return nil, messageOut{}, oneLine(err)
	}
	r := result(o, 0)
	requested := 0
	for _, d := range in.Deletions {
		requested += len(d.Observations)
	}
	msg := "Observations deleted successfully"
	if r.Deleted != requested {
		msg = fmt.Sprintf("Deleted %d of %d observations.", r.Deleted, requested)
		if len(r.Missing) > 0 {
			msg += " Entities not found: " + strings.Join(r.Missing, ", ")
		}
	}
	return textAnswer(msg, o.Snapshot), messageOut{Success: true, Message: msg}, nil
}

func (s *Server) deleteRelations(ctx context.Context, _ *mcp.CallToolRequest, in deleteRelationsIn) (*mcp.CallToolResult, messageOut, error) {
	o, err := s.submit(ctx, map[string]any{"op": model.OpDeleteRelations, "relations": model.NonNil(in.Relations)})
	if err != nil {
		return nil, messageOut{}, oneLine(err)
	}
	r := result(o, 0)
	msg := "Relations deleted successfully"
	if r.Deleted != len(in.Relations) {
		msg = fmt.Sprintf("Deleted %d of %d relations. The rest matched nothing.", r.Deleted, len(in.Relations))
	}
	return textAnswer(msg, o.Snapshot), messageOut{Success: true, Message: msg}, nil
}

// result is what op i of an applied job did.
func result(o model.Outcome, i int) model.OpResult {
	if i < len(o.Results) {
		return o.Results[i]
	}
	return model.OpResult{}
}

// graphAnswer shapes a reader graph as the reference's {entities, relations}.
func graphAnswer(g *reader.Graph) (*mcp.CallToolResult, graphOut, error) {
	out := graphOut{Entities: model.NonNil(g.Entities), Relations: model.NonNil(g.Relations), NextCursor: g.NextCursor}
	return answer(out, g.Snapshot), out, nil
}

var emptyGraph = &reader.Graph{}

// readGraph, searchNodes and openNodes answer from the current snapshot; an
// empty memory (nothing published yet) answers with an empty graph.
func (s *Server) graphRead(ctx context.Context, read func(r *reader.Reader) (*reader.Graph, error)) (*mcp.CallToolResult, graphOut, error) {
	r, err := s.reader(ctx)
	if err != nil {
		return nil, graphOut{}, oneLine(err)
	}
	g := emptyGraph
	if r != nil {
		if g, err = read(r); err != nil {
			return nil, graphOut{}, oneLine(err)
		}
	}
	return graphAnswer(g)
}

func (s *Server) readGraph(ctx context.Context, _ *mcp.CallToolRequest, in readGraphIn) (*mcp.CallToolResult, graphOut, error) {
	return s.graphRead(ctx, func(r *reader.Reader) (*reader.Graph, error) {
		return r.ReadGraph(ctx, reader.ReadGraphOptions{Limit: in.Limit, Cursor: in.Cursor, EntityType: in.EntityType})
	})
}

func (s *Server) searchNodes(ctx context.Context, _ *mcp.CallToolRequest, in searchNodesIn) (*mcp.CallToolResult, graphOut, error) {
	return s.graphRead(ctx, func(r *reader.Reader) (*reader.Graph, error) {
		return r.SearchNodes(ctx, in.Query, reader.SearchOptions{})
	})
}

func (s *Server) openNodes(ctx context.Context, _ *mcp.CallToolRequest, in openNodesIn) (*mcp.CallToolResult, graphOut, error) {
	return s.graphRead(ctx, func(r *reader.Reader) (*reader.Graph, error) {
		return r.OpenNodes(ctx, in.Names)
	})
}

func (s *Server) neighbors(ctx context.Context, _ *mcp.CallToolRequest, in neighborsIn) (*mcp.CallToolResult, graphOut, error) {
	r, err := s.reader(ctx)
	if err == nil && r == nil {
		//lint:ignore ST1005 the reference memory server's wording, which clients match
		err = fmt.Errorf("Entity with name %s %w", in.Name, reader.ErrNotFound)
	}
	if err != nil {
		return nil, graphOut{}, oneLine(err)
	}
	g, err := r.Neighbors(ctx, in.Name, reader.NeighborsOptions{Depth: in.Depth, RelationType: in.RelationType, Limit: in.Limit})
	if err != nil {
		return nil, graphOut{}, oneLine(err)
	}
	return graphAnswer(g)
}

func (s *Server) query(ctx context.Context, _ *mcp.CallToolRequest, in queryIn) (*mcp.CallToolResult, queryOut, error) {
	if err := reader.CheckReadOnly(in.Cypher); err != nil {
		return nil, queryOut{}, oneLine(err)
	}
	r, err := s.reader(ctx)
	if err == nil && r == nil {
		err = fmt.Errorf("nothing has been published to query yet")
	}
	if err != nil {
		return nil, queryOut{}, oneLine(err)
	}
	res, err := r.Query(ctx, in.Cypher, in.Params)
	if err != nil {
		return nil, queryOut{}, oneLine(err)
	}
	out := queryOut{Snapshot: res.Snapshot, Columns: model.NonNil(res.Columns), Rows: model.NonNil(res.Rows)}
	return answer(out, res.Snapshot), out, nil
}

func (s *Server) kvGet(ctx context.Context, _ *mcp.CallToolRequest, in kvGetIn) (*mcp.CallToolResult, kvGetOut, error) {
	out := kvGetOut{Key: in.Key}
	r, err := s.reader(ctx)
	if err != nil {
		return nil, out, oneLine(err)
	}
	if r != nil {
		if out.Value, out.Found, out.Snapshot, err = r.KVGet(ctx, in.Key); err != nil {
			return nil, out, oneLine(err)
		}
	}
	return answer(out, out.Snapshot), out, nil
}

func (s *Server) kvPut(ctx context.Context, _ *mcp.CallToolRequest, in kvPutIn) (*mcp.CallToolResult, messageOut, error) {
	o, err := s.submit(ctx, map[string]any{"op": model.OpKVPut, "key": in.Key, "value": in.Value})
	if err != nil {
		return nil, messageOut{}, oneLine(err)
	}
	msg := fmt.Sprintf("Stored %s", in.Key)
	return textAnswer(msg, o.Snapshot), messageOut{Success: true, Message: msg}, nil
}

func (s *Server) kvScan(ctx context.Context, _ *mcp.CallToolRequest, in kvScanIn) (*mcp.CallToolResult, kvScanOut, error) {
	out := kvScanOut{Pairs: []reader.Pair{}}
	limit := in.Limit
	if limit <= 0 {
		limit = defaultScan
	}
	r, err := s.reader(ctx)
	if err != nil {
		return nil, out, oneLine(err)
	}
	if r != nil {
		pairs, seq, err := r.KVScan(ctx, in.Prefix, limit)
		if err != nil {
			return nil, out, oneLine(err)
		}
		out.Pairs, out.Snapshot = model.NonNil(pairs), seq
	}
	return answer(out, out.Snapshot), out, nil
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
		return nil, out, oneLine(err)
	}
	out.QueueDepth, out.DeadJobs = q.Waiting(), q.Dead
	h, locked, err := writer.Locked(s.o.Store)
	if err != nil {
		return nil, out, oneLine(err)
	}
	out.WriterRunning = locked
	if locked {
		out.WriterPID = h.PID
	}
	return answer(out, out.Snapshot), out, nil
}

func (s *Server) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	g := emptyGraph
	r, err := s.reader(ctx)
	if err != nil {
		return nil, oneLine(err)
	}
	if r != nil {
		if g, err = r.ReadGraph(ctx, reader.ReadGraphOptions{}); err != nil {
			return nil, oneLine(err)
		}
	}
	text := jsonText(graphOut{Entities: model.NonNil(g.Entities), Relations: model.NonNil(g.Relations)})
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: text,
		Meta: mcp.Meta{"memsnap/snapshot": g.Snapshot}}}}, nil
}
