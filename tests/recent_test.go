package tests

import "encoding/json"
import "fmt"
import "net/http"
import "net/url"
import "regexp"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/modelcontextprotocol/go-sdk/mcp"

// bulkImported imports n entities ("imported NNNN", types a and b
// alternating) and n relations between them into a new store, then creates
// the entities "fresh 0" to "fresh 4" one at a time through a real
// 'memsnap mcp', whose session it returns with the store and the names,
// newest first.
func bulkImported(t *testing.T, n int) (store string, cs *mcp.ClientSession, fresh []string) {
	t.Helper()
	ctx := testContext(t)
	store = newStore(t)
	var lines []string
	for i := 0; i < n; i++ {
		b, _ := json.Marshal(map[string]any{"type": "entity", "name": fmt.Sprintf("imported %04d", i), "entityType": []string{"a", "b"}[i%2],
			"observations": []string{fmt.Sprintf("bulk item %d", i)}})
		lines = append(lines, string(b))
	}
	for i := 0; i < n; i++ {
		b, _ := json.Marshal(map[string]any{"type": "relation", "from": fmt.Sprintf("imported %04d", i),
			"to": fmt.Sprintf("imported %04d", (i+1)%n), "relationType": "next"})
		lines = append(lines, string(b))
	}
	mustMemsnap(t, store, nil, "import", "--wait", writeLines(t, lines...))
	cs = mcpSession(t, ctx, store)
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("fresh %d", i)
		createEntities(t, ctx, cs, entity(name, "a", "created after the import"))
		fresh = append([]string{name}, fresh...) // newest first
	}
	return store, cs, fresh
}

// recentPage is one recent_changes answer.
type recentPage struct {
	Entities []struct {
		Name      string    `json:"name"`
		UpdatedAt time.Time `json:"updatedAt"`
	} `json:"entities"`
	Relations []struct {
		From         string    `json:"from"`
		To           string    `json:"to"`
		RelationType string    `json:"relationType"`
		CreatedAt    time.Time `json:"createdAt"`
	} `json:"relations"`
	NextCursor string `json:"nextCursor"`
}

// Issue 30: after importing 1,000 entities and 1,000 relations (one time
// for all) and creating 5 entities one by one, recent_changes (through a
// real 'memsnap mcp') and the dashboard's front page (from 'memsnap
// serve') list those 5 first, newest first; paging through recent_changes
// gives every entity and relation once. The dashboard's cookie lasts
// serve.cookie_max_age.
func TestRecentChangesAfterBulkImport(t *testing.T) {
	const n = 1000
	// The session that wrote them reads them (read-your-writes).
	store, cs, fresh := bulkImported(t, n)
	ctx := testContext(t)
	page := func(args map[string]any) recentPage {
		t.Helper()
		var p recentPage
		if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "recent_changes", args)), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	names := func(p recentPage) (out []string) {
		for _, e := range p.Entities {
			out = append(out, e.Name)
		}
		return out
	}
	if p := page(map[string]any{"limit": 5}); !slices.Equal(names(p), fresh) || len(p.Relations) != 0 {
		t.Errorf("recent_changes limit 5: entities %v and %d relations, want %v only", names(p), len(p.Relations), fresh)
	}
	// The default page: the 5 first, every relation older than them.
	p := page(map[string]any{})
	if got := names(p); len(got) < 5 || !slices.Equal(got[:5], fresh) {
		t.Errorf("recent_changes: entities begin %v, want %v", got[:min(5, len(got))], fresh)
	}
	if len(p.Entities)+len(p.Relations) != 100 {
		t.Errorf("recent_changes: %d items, want a full page of 100", len(p.Entities)+len(p.Relations))
	}
	for _, r := range p.Relations {
		if len(p.Entities) < 5 {
			break
		}
		if !r.CreatedAt.Before(p.Entities[4].UpdatedAt) {
			t.Errorf("relation %s>%s at %v listed among the 5 newest (the 5th at %v)", r.From, r.To, r.CreatedAt, p.Entities[4].UpdatedAt)
			break
		}
	}
	// Every item once, newest first, to the oldest.
	seen := map[string]int{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 2*n {
			t.Fatalf("recent_changes: no end after %d pages", pages)
		}
		args := map[string]any{"limit": 250}
		if cursor != "" {
			args["cursor"] = cursor
		}
		p := page(args)
		for _, e := range p.Entities {
			seen["e:"+e.Name]++
		}
		for _, r := range p.Relations {
			seen["r:"+r.From+">"+r.To+":"+r.RelationType]++
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 2*n+5 {
		t.Errorf("paging through recent_changes gave %d distinct items, want %d", len(seen), 2*n+5)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s listed %d times", k, c)
		}
	}

	// The dashboard's front page: the 5 first, newest first. (The serve
	// also keeps its cookie for serve.cookie_max_age.)
	srv := startServe(t, ctx, store, "MEMSNAP_SERVE_COOKIE_MAX_AGE=48h")
	resp, _ := srv.get(t, "GET", "/?token="+srv.token, nil)
	port := srv.base[strings.LastIndex(srv.base, ":")+1:]
	set := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"memsnap_token_" + port + "=", "Max-Age=172800", "Expires=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %q (serve.cookie_max_age 48h)", set, want)
		}
	}
	var body string
	waitUntil(t, ctx, "the front page to list fresh 4 first", 50*time.Millisecond, func() bool {
		var resp *http.Response
		resp, body = srv.get(t, "GET", "/", nil, "Authorization", "Bearer "+srv.token)
		return resp.StatusCode == http.StatusOK && strings.Contains(body, `href="/entity?name=fresh%204"`)
	})
	if strings.Contains(body, "No entities yet") {
		t.Errorf("the front page says No entities yet with %d entities", n+5)
	}
	if got := entityLinks(t, body, "recent"); len(got) < 5 || !slices.Equal(got[:5], fresh) {
		t.Errorf("front page, recently changed: %v, want %v first", got, fresh)
	}

	// The graph view's data: a neighbourhood, the most connected, and its
	// errors as JSON; the token is needed.
	auth := []string{"Authorization", "Bearer " + srv.token}
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{"/graph.json?name=imported%200000", 200, `"n:imported 0001"`},
		{"/graph.json?name=imported%200000&depth=2", 200, `"n:imported 0002"`},
		{"/graph.json?limit=2", 200, `"capped":true`},
		{"/graph.json?name=nobody", 404, `"error":`},
		{"/graph.json?depth=4", 400, `depth`},
		{"/graph.json?limit=201", 400, `limit`},
	} {
		resp, body := srv.get(t, "GET", c.path, nil, auth...)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s %.300s, want %d with %s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.want)
		}
	}
	if resp, _ := srv.get(t, "GET", "/graph.json", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /graph.json without the token: %d, want 401", resp.StatusCode)
	}
	var g struct {
		Elements []struct {
			Group string         `json:"group"`
			Data  map[string]any `json:"data"`
		} `json:"elements"`
	}
	_, body = srv.get(t, "GET", "/graph.json?name=imported%200000", nil, auth...)
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, e := range g.Elements {
		if e.Group == "nodes" {
			nodes = append(nodes, fmt.Sprint(e.Data["name"]))
		}
	}
	if want := []string{"imported 0000", "imported 0001", "imported 0999"}; !testutil.SameElements(nodes, want) {
		t.Errorf("graph around imported 0000: nodes %v, want %v", nodes, want)
	}
}

var entityLink = regexp.MustCompile(`<a href="/entity\?name=([^"]*)">`)

// entityLinks returns the names of the entities the table with id links
// to, in order.
func entityLinks(t *testing.T, page, id string) []string {
	t.Helper()
	start := strings.Index(page, `<table id="`+id+`">`)
	if start < 0 {
		t.Fatalf("no table %s in the page:\n%.2000s", id, page)
	}
	table := page[start:]
	table = table[:strings.Index(table, "</table>")]
	var out []string
	for _, m := range entityLink.FindAllStringSubmatch(table, -1) {
		name, err := url.QueryUnescape(strings.ReplaceAll(m[1], "&amp;", "&"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	return out
}
