package web

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "html/template"
import "net/http"
import "slices"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// Dashboard limits: how much one page shows.
const (
	recentShown    = 20  // entities on the front page
	searchShown    = 100 // search results
	neighborsShown = 60  // entities in an entity's graph picture
	deadShown      = 100 // dead jobs on the queue page
)

// pages holds one parsed template set per page, each with the layout.
type pages struct{ t map[string]*template.Template }

func newPages() (*pages, error) {
	funcs := template.FuncMap{
		"ts":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"ago": ago,
		"sh":  shellQuote,
		"bytes": func(n int64) string {
			switch {
			case n >= 1<<30:
				return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
			case n >= 1<<20:
				return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
			case n >= 1<<10:
				return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
			}
			return fmt.Sprintf("%d B", n)
		},
	}
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range []string{"overview", "search", "entity", "entities", "graph", "snapshots", "queue", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and /._-+=:,@%, so that a command shown on the dashboard
// can be pasted as it is.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+=:,@%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ago says how long before now t was, to the second.
func ago(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	if d < time.Second {
		return "just now"
	}
	return d.String() + " ago"
}

// view is what a page handler gives: which template, its title and data.
type view struct {
	page   string
	title  string
	data   any
	status int // 0: 200
}

// layout is what every page's template gets.
type layout struct {
	Title string
	Seq   uint64
	Query string
	Data  any
}

// httpError is an error with the status it is answered with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// statusOf is the HTTP status err is answered with: an httpError's, 404
// for a name that does not exist, 400 for a bad argument, 500 (logged) for
// anything else.
func (s *Server) statusOf(r *http.Request, err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, reader.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, reader.ErrBadOption):
		return http.StatusBadRequest
	}
	s.log.Error("dashboard page", "path", r.URL.Path, "error", err)
	return http.StatusInternalServerError
}

// handle renders a page handler's view in the layout, or its error on the
// error page: 404 for a name that does not exist, 400 for a bad argument,
// 500 (logged) for anything else.
func (s *Server) handle(h func(ctx context.Context, r *http.Request, rd *reader.Reader) (view, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		rd, err := s.o.MCP.Reader(ctx)
		var v view
		if err == nil {
			v, err = h(ctx, r, rd)
		}
		if err != nil {
			status := s.statusOf(r, err)
			v = view{page: "error", title: http.StatusText(status), data: err.Error(), status: status}
		}
		var seq uint64
		if rd != nil {
			seq = rd.Seq()
		}
		var buf bytes.Buffer
		if err := s.page.t[v.page].ExecuteTemplate(&buf, "layout", layout{Title: v.title, Seq: seq, Query: r.URL.Query().Get("q"), Data: v.data}); err != nil {
			s.log.Error("render dashboard page", "page", v.page, "error", err)
			http.Error(w, "500 could not render the page", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if v.status != 0 {
			w.WriteHeader(v.status)
		}
		_, _ = w.Write(buf.Bytes())
	})
}

// writerState is the queue and the writer lock, as the front and queue pages
// show them.
type writerState struct {
	Queue  queue.Counts
	Locked bool
	Holder writer.Holder
	Err    string // the lock could not be read
	// Health says whether the writer can commit (blocked for lack of
	// space, or failing), for a banner.
	Health writer.Health
}

func (s *Server) writerState() (writerState, error) {
	var ws writerState
	q, err := s.o.Store.Queue().Counts()
	if err != nil {
		return ws, err
	}
	ws.Queue = q
	ws.Holder, ws.Locked, err = writer.Locked(s.o.Store)
	if err != nil {
		ws.Err = err.Error()
	}
	ws.Health = s.o.MCP.WriterHealth()
	return ws, nil
}

func (s *Server) overview(ctx context.Context, _ *http.Request, rd *reader.Reader) (view, error) {
	data := struct {
		Store    string
		Manifest *snapshot.Manifest
		Writer   writerState
		Recent   []reader.ChangedEntity
	}{Store: s.o.Store.Dir()}
	var err error
	if data.Writer, err = s.writerState(); err != nil {
		return view{}, err
	}
	if rd != nil {
		data.Manifest = rd.Manifest()
		// The entities themselves, newest first: the change feed also
		// lists relations, which a bulk import stamps by the thousand.
		page, err := rd.ListEntities(ctx, reader.ListOptions{Order: reader.Newest, Limit: recentShown})
		if err != nil {
			return view{}, err
		}
		data.Recent = page.Entities
	}
	return view{page: "overview", title: "Overview", data: data}, nil
}

func (s *Server) search(ctx context.Context, r *http.Request, rd *reader.Reader) (view, error) {
	q := strings.ToValidUTF8(r.URL.Query().Get("q"), "\uFFFD")
	data := struct {
		Query    string
		Entities []reader.Entity
		Capped   bool
	}{Query: q}
	if q != "" && rd != nil {
		if len(q) > 2048 {
			return view{}, &httpError{http.StatusBadRequest, "the query is longer than 2048 bytes"}
		}
		g, err := rd.SearchNodes(ctx, q, reader.SearchOptions{Limit: searchShown + 1})
		if err != nil {
			return view{}, err
		}
		data.Entities = g.Entities
		if len(data.Entities) > searchShown {
			data.Entities, data.Capped = data.Entities[:searchShown], true
		}
	}
	return view{page: "search", title: "Search", data: data}, nil
}

// cyElement is one node or edge of the graph picture, as cytoscape.js takes
// it.
type cyElement struct {
	Group string         `json:"group"`
	Data  map[string]any `json:"data"`
}

func (s *Server) entity(ctx context.Context, r *http.Request, rd *reader.Reader) (view, error) {
	name := r.URL.Query().Get("name")
	if name == "" {
		return view{}, &httpError{http.StatusBadRequest, "which entity? the link has no name"}
	}
	if rd == nil {
		return view{}, fmt.Errorf("no entity named %q: %w (the store has no snapshot yet)", name, reader.ErrNotFound)
	}
	g, err := rd.OpenNodes(ctx, []string{name})
	if err != nil {
		return view{}, err
	}
	if len(g.Entities) == 0 {
		return view{}, fmt.Errorf("no entity named %q: %w", name, reader.ErrNotFound)
	}
	data := struct {
		Entity    reader.Entity
		Out, In   []reader.Relation
		Graph     template.JS
		Neighbors int
		Capped    bool
	}{Entity: g.Entities[0]}
	for _, rel := range g.Relations {
		if rel.From == name {
			data.Out = append(data.Out, rel)
		}
		if rel.To == name {
			data.In = append(data.In, rel)
		}
	}
	nb, err := rd.Neighbors(ctx, name, reader.NeighborsOptions{Depth: 1, Limit: neighborsShown + 1})
	if err != nil {
		return view{}, err
	}
	if len(nb.Entities) > neighborsShown {
		nb.Entities, data.Capped = nb.Entities[:neighborsShown], true
	}
	data.Neighbors = len(nb.Entities) - 1
	els := elements(nb, name, nil)
	b, err := json.Marshal(els)
	if err != nil {
		return view{}, err
	}
	data.Graph = template.JS(b) // JSON from json.Marshal, which escapes <, > and &
	return view{page: "entity", title: name, data: data}, nil
}

func (s *Server) snapshots(context.Context, *http.Request, *reader.Reader) (view, error) {
	list, err := s.o.Store.List()
	if err != nil {
		return view{}, err
	}
	slices.Reverse(list) // newest first
	return view{page: "snapshots", title: "Snapshots", data: struct {
		Store string
		List  []snapshot.Info
	}{s.o.Store.Dir(), list}}, nil
}

func (s *Server) queue(context.Context, *http.Request, *reader.Reader) (view, error) {
	ws, err := s.writerState()
	if err != nil {
		return view{}, err
	}
	dead, err := s.o.Store.Queue().DeadJobs(deadShown)
	if err != nil {
		return view{}, err
	}
	return view{page: "queue", title: "Queue", data: struct {
		Store  string
		Writer writerState
		Dead   []queue.DeadJob
	}{s.o.Store.Dir(), ws, model.NonNil(dead)}}, nil
}
