package web

import "context"
import "encoding/json"
import "fmt"
import "net/http"
import "net/url"
import "strconv"
import "strings"

import "github.com/memsnap/memsnap/reader"

// Browsing limits: the entities page and the graph view.
const (
	entitiesShown = 50  // entities on a page of /entities
	graphMaxDepth = 3   // hops of a neighbourhood in the graph view
	graphDefault  = 60  // entities in the graph view when no limit is asked
	graphMax      = 200 // entities in the graph view at most
)

// entities is /entities: every entity, a page at a time (keyset, see
// reader.ListEntities), newest first or by name, optionally of one type.
// The type parameter is "=" and the type (the type dropdown's values, so
// that the empty type can be asked: "type=="), or a type as is ("type=a");
// absent or "", every type.
func (s *Server) entities(ctx context.Context, r *http.Request, rd *reader.Reader) (view, error) {
	q := r.URL.Query()
	data := struct {
		Types    []reader.TypeCount
		Type     string
		Filtered bool // one type asked (Type, which may be "")
		Order    reader.EntityOrder
		Entities []reader.ChangedEntity
		First    bool   // no cursor: the first page
		Next     string // the next page's URL, "" on the last
	}{Order: reader.EntityOrder(q.Get("order")), First: q.Get("cursor") == ""}
	raw := q.Get("type")
	data.Type, data.Filtered = strings.TrimPrefix(raw, "="), raw != ""
	if data.Order == "" {
		data.Order = reader.Newest
	}
	if rd == nil {
		return view{page: "entities", title: "Entities", data: data}, nil
	}
	var err error
	if data.Types, err = rd.EntityTypes(ctx); err != nil {
		return view{}, err
	}
	page, err := rd.ListEntities(ctx, reader.ListOptions{Type: data.Type, Untyped: data.Filtered && data.Type == "", Order: data.Order, Limit: entitiesShown, Cursor: q.Get("cursor")})
	if err != nil {
		return view{}, err
	}
	data.Entities = page.Entities
	if page.NextCursor != "" {
		next := url.Values{"order": {string(data.Order)}, "cursor": {page.NextCursor}}
		if data.Filtered {
			next.Set("type", "="+data.Type)
		}
		data.Next = "/entities?" + next.Encode()
	}
	return view{page: "entities", title: "Entities", data: data}, nil
}

// graphParams are the graph view's arguments: an entity's neighbourhood
// (Name, up to Depth hops) or, without a name, the most connected
// entities; at most Limit entities either way.
type graphParams struct {
	Name  string
	Depth int
	Limit int
}

// graphArgs reads name, depth (1 to graphMaxDepth, default 1) and limit
// (1 to graphMax, default graphDefault) from the query.
func graphArgs(r *http.Request) (graphParams, error) {
	q := r.URL.Query()
	p := graphParams{Name: q.Get("name"), Depth: 1, Limit: graphDefault}
	for _, a := range []struct {
		key      string
		to       *int
		min, max int
	}{{"depth", &p.Depth, 1, graphMaxDepth}, {"limit", &p.Limit, 1, graphMax}} {
		v := q.Get(a.key)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < a.min || n > a.max {
			return p, &httpError{http.StatusBadRequest, fmt.Sprintf("%s %q is not a number from %d to %d", a.key, v, a.min, a.max)}
		}
		*a.to = n
	}
	return p, nil
}

// graphView is /graph: the page that draws /graph.json's elements.
func (s *Server) graphView(_ context.Context, r *http.Request, _ *reader.Reader) (view, error) {
	p, err := graphArgs(r)
	if err != nil {
		return view{}, err
	}
	src := url.Values{"depth": {strconv.Itoa(p.Depth)}, "limit": {strconv.Itoa(p.Limit)}}
	if p.Name != "" {
		src.Set("name", p.Name)
	}
	title := "Graph: the most connected entities"
	if p.Name != "" {
		title = "Graph: " + p.Name
	}
	return view{page: "graph", title: title, data: struct {
		graphParams
		Depths []int
		Src    string
	}{p, []int{1, 2, 3}, "/graph.json?" + src.Encode()}}, nil
}

// graphJSON is what /graph.json answers.
type graphJSON struct {
	// Snapshot is the seq the graph was read from (0: none yet).
	Snapshot uint64 `json:"snapshot"`
	// Elements are cytoscape.js's nodes and edges (see elements).
	Elements []cyElement `json:"elements"`
	// Capped says that more entities were in reach than Limit.
	Capped bool `json:"capped"`
}

// graphData is /graph.json: the graph view's elements, read from the
// reader's current snapshot (reader.Neighbors, reader.MostConnected).
// Errors are {"error": "..."} with 400 for a bad argument, 404 for an
// entity that does not exist, 500 for anything else (logged).
func (s *Server) graphData(w http.ResponseWriter, r *http.Request) {
	out, err := s.readGraph(r)
	status := http.StatusOK
	var body any = out
	if err != nil {
		status, body = s.statusOf(r, err), map[string]string{"error": err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) readGraph(r *http.Request) (graphJSON, error) {
	out := graphJSON{Elements: []cyElement{}}
	p, err := graphArgs(r)
	if err != nil {
		return out, err
	}
	ctx := r.Context()
	rd, err := s.o.MCP.Reader(ctx)
	if err != nil || rd == nil {
		if err == nil && p.Name != "" {
			err = fmt.Errorf("no entity named %q: %w (the store has no snapshot yet)", p.Name, reader.ErrNotFound)
		}
		return out, err
	}
	var g *reader.Graph
	var degree map[string]int64
	if p.Name != "" {
		g, err = rd.Neighbors(ctx, p.Name, reader.NeighborsOptions{Depth: p.Depth, Limit: p.Limit + 1})
	} else {
		g, degree, err = rd.MostConnected(ctx, p.Limit+1)
	}
	if err != nil {
		return out, err
	}
	if len(g.Entities) > p.Limit {
		g.Entities, out.Capped = g.Entities[:p.Limit], true
	}
	out.Snapshot, out.Elements = g.Snapshot, elements(g, p.Name, degree)
	return out, nil
}

// elements converts g into cytoscape.js's elements: a node per entity (id
// "n:NAME"; data name, type, start for the entity named start, degree when
// degree has it) and an edge per relation between two of them (id "e:I";
// source, target, type). The prefixes keep an entity's name from taking a
// relation's id (cytoscape drops an element whose id is taken).
func elements(g *reader.Graph, start string, degree map[string]int64) []cyElement {
	els := make([]cyElement, 0, len(g.Entities)+len(g.Relations))
	shown := map[string]bool{}
	for _, e := range g.Entities {
		shown[e.Name] = true
		data := map[string]any{"id": "n:" + e.Name, "name": e.Name, "type": e.EntityType, "start": e.Name == start}
		if d, ok := degree[e.Name]; ok {
			data["degree"] = d
		}
		els = append(els, cyElement{"nodes", data})
	}
	for i, rel := range g.Relations {
		if shown[rel.From] && shown[rel.To] {
			els = append(els, cyElement{"edges", map[string]any{"id": fmt.Sprintf("e:%d", i), "source": "n:" + rel.From, "target": "n:" + rel.To, "type": rel.RelationType}})
		}
	}
	return els
}
