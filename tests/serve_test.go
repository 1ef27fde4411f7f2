package tests

import "context"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "slices"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/servelink"
import "github.com/modelcontextprotocol/go-sdk/mcp"

// served is one running 'memsnap serve'.
type served struct {
	base  string // http://127.0.0.1:PORT
	token string
	cmd   *exec.Cmd
}

// servedLine is the line in which serve says where it serves.
var servedLine = servelink.DashboardLine

// startServe runs 'memsnap serve --addr 127.0.0.1:0' on store with env and
// returns once it has printed its address and token. The cleanup stops it
// with SIGTERM and checks that it exits 0.
func startServe(t *testing.T, ctx context.Context, store string, env ...string) *served {
	t.Helper()
	cmd := exec.Command(bin, "--store", store, "--log-level", "warn", "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(append(os.Environ(), "MEMSNAP_MCP_WRITE_TIMEOUT=30m"), env...)
	return startServeCmd(t, ctx, cmd)
}

// startServeCmd is startServe with the command given.
func startServeCmd(t *testing.T, ctx context.Context, cmd *exec.Cmd) *served {
	t.Helper()
	cmd.Stderr = os.Stderr
	out := pipe(t, cmd.StdoutPipe)
	mustStart(t, cmd)
	s := &served{cmd: cmd}
	select {
	case m, ok := <-firstMatch(out, servedLine):
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("memsnap serve exited without printing its address")
		}
		s.base, s.token = m[1], m[2]
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		t.Fatal("memsnap serve did not print its address")
	}
	t.Cleanup(func() {
		if err := terminate(cmd); err != nil {
			t.Errorf("memsnap serve did not stop cleanly on SIGTERM: %v", err)
		}
	})
	return s
}

// sessionVersion is the protocol version of the clients session starts:
// the newest with sessions (initialize, Mcp-Session-Id, a GET stream), which
// these tests of per-session behaviour need; the SDK's default, 2026-07-28,
// is stateless (see stateless_test.go).
const sessionVersion = "2025-11-25"

// session connects the official Go SDK client to the server's /mcp over
// streamable HTTP with a session (sessionVersion), with the token (none if
// token is "").
func (s *served) session(ctx context.Context, token string, opts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	return s.sessionAt(ctx, token, opts, sessionVersion, http.DefaultTransport)
}

// sessionAt is session at the protocol version given, over rt.
func (s *served) sessionAt(ctx context.Context, token string, opts *mcp.ClientOptions, version string, rt http.RoundTripper) (*mcp.ClientSession, error) {
	hc := &http.Client{Transport: rt}
	if token != "" {
		hc.Transport = servelink.Bearer{Token: token, Next: rt}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "memsnap-http-test", Version: "1"}, opts)
	return client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.base + "/mcp", HTTPClient: hc},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
}

// get fetches path with the given headers and returns the status and body.
func (s *served) get(t *testing.T, method, path string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Issue 15, done-when 2 and 4 for serve: three official Go SDK clients on
// one 'memsnap serve' over streamable HTTP write at once; every client sees
// every write, no call fails, and a subscribed client is told of a write
// made by another process. Without the token: 401 and nothing written. The
// token file is 0600; cross-origin writes, oversized bodies and bad tokens
// are refused; /metrics counts the calls by tool and outcome.
func TestServeHTTPClients(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	srv := startServe(t, ctx, store, "MEMSNAP_JOB_MAX_BYTES=16384", "MEMSNAP_SERVE_MAX_BODY_BYTES=65536")
	if info, err := os.Stat(filepath.Join(store, "serve.token")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("serve.token: %v, mode %v; want 0600", err, info.Mode().Perm())
	}

	// raw is a write call as a client without the token might send it.
	raw := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"intruder","entityType":"x","observations":[]}]}}}`
	srv.checkRefusedWithoutToken(t, ctx, raw)

	// Three clients at once, each writing its own entities and then
	// relations to the others'.
	const clients, each = 3, 8
	var subscribed atomic.Int64
	sessions := make([]*mcp.ClientSession, clients)
	for i := range sessions {
		var opts *mcp.ClientOptions
		if i == 0 {
			opts = &mcp.ClientOptions{ResourceUpdatedHandler: func(context.Context, *mcp.ResourceUpdatedNotificationRequest) { subscribed.Add(1) }}
		}
		cs, err := srv.session(ctx, srv.token, opts)
		if err != nil {
			t.Fatalf("client %d: connect: %v", i, err)
		}
		t.Cleanup(func() { cs.Close() })
		sessions[i] = cs
	}
	if err := sessions[0].Subscribe(ctx, &mcp.SubscribeParams{URI: "memory://knowledge-graph"}); err != nil {
		t.Fatalf("subscribe over HTTP: %v", err)
	}
	name := func(c, k int) string { return fmt.Sprintf("client%d-entity%d", c, k) }
	calls := writeFromEveryClient(t, ctx, sessions, each, name)
	// Every client sees every write, once the writer has applied the other
	// clients' (a read waits only for its own session's writes).
	var all []string
	for c := range clients {
		for k := range each {
			all = append(all, name(c, k))
		}
	}
	slices.Sort(all)
	for c, cs := range sessions {
		waitUntil(t, ctx, fmt.Sprintf("client %d to see every client's writes", c), 50*time.Millisecond, func() bool {
			g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": all}))
			found := parseGraph(t, mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": "seen over HTTP"}))
			return slices.Equal(g.names(), all) && len(found.Entities) == clients
		})
	}
	if n := queryInt(t, store, "MATCH (e:Entity) WHERE e.name = 'intruder' RETURN count(e)"); n != 0 {
		t.Errorf("a call without the token wrote: %d intruder entities", n)
	}

	// A write by another process reaches the subscribed client.
	before := subscribed.Load()
	enqueueWait(t, store, ops(entities(entity("from-the-cli", "t", "written by another process"))), "30m")
	waitUntil(t, ctx, "the subscribed HTTP client to be told of a write by another process", 50*time.Millisecond,
		func() bool { return subscribed.Load() > before })

	// The queue page shows a rejected job with the writer's reason.
	bad, _ := json.Marshal(ops(map[string]any{"op": "add_observations", "observations": []any{
		map[string]any{"entityName": "nobody-by-this-name", "contents": []string{"x"}}}}))
	memsnap(t, store, bad, nil, "enqueue", "--wait=30m")
	if resp, body := srv.get(t, "GET", "/queue", nil, "Authorization", "Bearer "+srv.token); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, "nobody-by-this-name") || !strings.Contains(body, "1</b> dead") {
		t.Errorf("queue page: %d, want the dead job and its reason:\n%s", resp.StatusCode, body)
	}

	srv.checkBrowserAccess(t, raw, name(2, 7))

	// A tool that does not exist is counted as "unknown", whatever its name.
	if _, err := sessions[1].CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool_\"x", Arguments: map[string]any{}}); err == nil {
		t.Errorf("an unknown tool answered")
	}

	// /metrics counts the calls by tool and outcome, and the swaps.
	resp, body := srv.get(t, "GET", "/metrics", nil, "Authorization", "Bearer "+srv.token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	fams := parseMetrics(t, []byte(body))
	for tool, n := range calls {
		if got := metricValue(t, fams, "memsnap_mcp_calls_total", "tool", tool, "outcome", "ok"); got < float64(n) {
			t.Errorf("memsnap_mcp_calls_total{tool=%q,outcome=\"ok\"} = %v, want at least %d", tool, got, n)
		}
	}
	if got := metricValue(t, fams, "memsnap_mcp_calls_total", "tool", "unknown", "outcome", "error"); got != 1 {
		t.Errorf("the call to an unknown tool counted %v times under tool=\"unknown\", want 1", got)
	}
	if strings.Contains(body, "no_such_tool") {
		t.Errorf("an unknown tool's name became a label")
	}
	if got := metricValue(t, fams, "memsnap_reader_swap_duration_seconds"); got < 1 {
		t.Errorf("no reader swap counted")
	}
	if got := metricValue(t, fams, "memsnap_snapshot_seq"); got < 2 {
		t.Errorf("memsnap_snapshot_seq %v", got)
	}
}

// checkRefusedWithoutToken checks that without the token, or with a wrong
// one, the SDK client and a raw write call (raw) get 401 and every page
// but /healthz is refused.
func (s *served) checkRefusedWithoutToken(t *testing.T, ctx context.Context, raw string) {
	t.Helper()
	for _, tok := range []string{"", strings.Repeat("0", 64)} {
		if cs, err := s.session(ctx, tok, nil); err == nil {
			cs.Close()
			t.Fatalf("an MCP client with token %q connected", tok)
		}
	}
	for _, h := range [][]string{nil, {"Authorization", "Bearer nope"}, {"Authorization", "Basic " + s.token}} {
		hdr := append([]string{"Content-Type", "application/json", "Accept", "application/json, text/event-stream"}, h...)
		if resp, body := s.get(t, "POST", "/mcp", strings.NewReader(raw), hdr...); resp.StatusCode != http.StatusUnauthorized ||
			resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(body, "401 unauthorized") {
			t.Errorf("POST /mcp with %v: %d %q, want 401 with WWW-Authenticate", h, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"/", "/metrics", "/events", "/entity?name=x", "/assets/app.js", "/?token=bad"} {
		if resp, _ := s.get(t, "GET", p, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", p, resp.StatusCode)
		}
	}
	if resp, body := s.get(t, "GET", "/healthz", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Errorf("/healthz without the token: %d %s, want 200", resp.StatusCode, body)
	}
}

// writeFromEveryClient has each client of sessions write each entities
// named name(client, k) at once, read each back at once (read-your-writes),
// add an observation and search. It returns how many calls of each tool
// were made.
func writeFromEveryClient(t *testing.T, ctx context.Context, sessions []*mcp.ClientSession, each int, name func(c, k int) string) map[string]int {
	t.Helper()
	clients := len(sessions)
	var wg sync.WaitGroup
	errs := make(chan error, clients*each*3)
	calls := map[string]int{}
	var callsMu sync.Mutex // guards calls
	count := func(tool string) { callsMu.Lock(); calls[tool]++; callsMu.Unlock() }
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs := sessions[c]
			do := func(tool string, args any) {
				count(tool)
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
				if err == nil && res.IsError {
					err = fmt.Errorf("tool error: %v", res.Content)
				}
				if err != nil {
					errs <- fmt.Errorf("client %d %s: %w", c, tool, err)
				}
			}
			for k := range each {
				do("create_entities", map[string]any{"entities": []any{entity(name(c, k), "test", fmt.Sprintf("written by client %d", c))}})
				// Read-your-writes per session: the next read of this
				// client holds its write.
				count("open_nodes")
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "open_nodes", Arguments: map[string]any{"names": []string{name(c, k)}}})
				if err != nil || res.IsError || !strings.Contains(fmt.Sprint(res.StructuredContent), name(c, k)) {
					errs <- fmt.Errorf("client %d does not read its own write %s: %v %v", c, name(c, k), err, res)
				}
			}
			do("add_observations", map[string]any{"observations": []any{map[string]any{"entityName": name(c, 0), "contents": []string{"seen over HTTP"}}}})
			do("search_nodes", map[string]any{"query": "client"})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return calls
}

// checkBrowserAccess checks a browser's way in: a link with ?token= sets a
// cookie and redirects to the page without it, the cookie opens pages (the
// search page lists want), no CORS header is sent, another site's page
// cannot write with the cookie (raw), and a body over serve.max_body_bytes
// (64 KiB here) is refused.
func (s *served) checkBrowserAccess(t *testing.T, raw, want string) {
	t.Helper()
	// A browser link: ?token= sets a cookie and redirects to the same page
	// without it; the cookie then opens the page.
	resp, _ := s.get(t, "GET", "/search?q=client&token="+s.token, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/search?q=client" {
		t.Fatalf("GET with ?token=: %d Location %q, want 303 to /search?q=client", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	port := s.base[strings.LastIndex(s.base, ":")+1:]
	for _, c := range resp.Cookies() {
		if c.Name == "memsnap_token_"+port { // one per port: two servers on one host keep theirs
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookies %v, want memsnap_token_%s, HttpOnly, SameSite=Strict", resp.Cookies(), port)
	}
	if resp, _ := s.get(t, "GET", "/", nil, "Authorization", "bearer "+s.token); resp.StatusCode != http.StatusOK {
		t.Errorf("Authorization: bearer (the scheme in lower case): %d, want 200", resp.StatusCode)
	}
	resp, body := s.get(t, "GET", "/search?q=client", nil, "Cookie", cookie.String())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
		t.Errorf("search page with the cookie: %d, want 200 listing %s", resp.StatusCode, want)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS header sent: %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// Another site's page cannot write with the browser's cookie.
	resp, _ = s.get(t, "POST", "/mcp", strings.NewReader(raw), "Cookie", cookie.String(), "Content-Type", "application/json",
		"Accept", "application/json, text/event-stream", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST /mcp with the cookie: %d, want 403", resp.StatusCode)
	}
	// A body over serve.max_body_bytes (64 KiB here) is refused.
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 70<<10) + `"}}`
	resp, _ = s.get(t, "POST", "/mcp", strings.NewReader(big), "Authorization", "Bearer "+s.token, "Content-Type", "application/json",
		"Accept", "application/json, text/event-stream")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /mcp of 70 KiB with a 64 KiB cap: %d, want 413", resp.StatusCode)
	}
}

// serve refuses a token file that others may read, in one line, and starts
// with a fresh token once it is removed.
func TestServeRefusesExposedToken(t *testing.T) {
	store := newStore(t)
	path := filepath.Join(store, "serve.token")
	if err := os.WriteFile(path, []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "serve", "--addr", "127.0.0.1:0")
	if r.code != 1 || !strings.Contains(r.stderr, "readable by other users") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("serve with a 0644 token file: exit %d, stderr %q; want exit 1 and one line", r.code, r.stderr)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "short", "has spaces in it, quite a few", "tök-😀-0123456789abcdef", "line1-0123456789\nline2-0123456789"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		r := memsnap(t, store, nil, nil, "serve", "--addr", "127.0.0.1:0")
		if r.code != 1 || !strings.Contains(r.stderr, "the token is not 16 to 256 letters, digits or -._~") {
			t.Errorf("serve with token %q: exit %d, stderr %q; want it refused", bad, r.code, r.stderr)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// A certificate that cannot be loaded fails the start before any
	// address is printed.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = memsnap(t, store, nil, nil, "serve", "--addr", "127.0.0.1:0", "--tls-cert", bad, "--tls-key", bad)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "--tls-cert") {
		t.Errorf("serve with a bad certificate: exit %d, stdout %q, stderr %q; want exit 1 before printing an address", r.code, r.stdout, r.stderr)
	}
	r = memsnap(t, store, nil, nil, "serve", "--addr", "nonsense")
	if r.code != 2 || !strings.Contains(r.stderr, "serve.addr") {
		t.Errorf("serve --addr nonsense: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
	r = memsnap(t, store, nil, nil, "serve", "--tls-cert", "x.pem")
	if r.code != 2 || !strings.Contains(r.stderr, "--tls-cert and --tls-key go together") {
		t.Errorf("serve --tls-cert alone: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
}

// serve bound beyond loopback without TLS warns, and prints a link that
// works from this machine.
func TestServeWarnsBeyondLoopback(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cmd := exec.Command(bin, "--store", store, "--log-level", "warn", "serve", "--addr", "0.0.0.0:0")
	var stderr strings.Builder
	var mu sync.Mutex // guards stderr
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return stderr.Write(p) })
	out := pipe(t, cmd.StdoutPipe)
	mustStart(t, cmd)
	defer func() {
		if err := terminate(cmd); err != nil {
			t.Errorf("serve did not stop cleanly: %v", err)
		}
	}()
	var base string
	if m, ok := <-firstMatch(out, servedLine); ok {
		base = m[1]
	}
	if !strings.HasPrefix(base, "http://localhost:") {
		t.Fatalf("serve on 0.0.0.0 printed %q, want a localhost link", base)
	}
	waitUntil(t, ctx, "the warning", 20*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(stderr.String(), "beyond this machine without TLS")
	})
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz on the printed link: %v %v", err, resp)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// One client's slow Cypher query does not hold up the other clients' reads:
// the reader runs several Kuzu queries at once (a pool of query threads),
// though each query keeps to reader.threads.
func TestServeSlowQueryDoesNotBlockOthers(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	var es []map[string]any
	for i := range 200 {
		es = append(es, entity(fmt.Sprintf("e%03d", i), "t", "x"))
	}
	enqueueWait(t, store, ops(entities(es...)), "30m")
	srv := startServe(t, ctx, store, "MEMSNAP_READER_QUERY_TIMEOUT=20s")
	slow, err := srv.session(ctx, srv.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	other, err := srv.session(ctx, srv.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	mustCall(t, ctx, other, "open_nodes", map[string]any{"names": []string{"e000"}}) // the snapshot is open
	var slowDone atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// Hundreds of millions of rows: it runs until it ends or
		// reader.query_timeout interrupts it; either way, long.
		_, _ = slow.CallTool(ctx, &mcp.CallToolParams{Name: "query", Arguments: map[string]any{"cypher": "MATCH (a:Entity), (b:Entity), (c:Entity), (d:Entity) " +
			"WHERE a.name < b.name AND b.name < c.name AND c.name < d.name RETURN count(*)"}})
		slowDone.Store(true)
	}()
	// The slow query has begun: the server counts it in flight.
	waitUntil(t, ctx, "the slow query to begin", 20*time.Millisecond, func() bool {
		resp, body := srv.get(t, "GET", "/metrics", nil, "Authorization", "Bearer "+srv.token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics: %d", resp.StatusCode)
		}
		return metricValue(t, parseMetrics(t, []byte(body)), "memsnap_mcp_calls_in_flight", "tool", "query") == 1
	})
	for i := range 3 {
		g := parseGraph(t, mustCall(t, ctx, other, "open_nodes", map[string]any{"names": []string{fmt.Sprintf("e%03d", i+1)}}))
		if len(g.Entities) != 1 {
			t.Fatalf("open_nodes during the slow query: %+v", g)
		}
	}
	if slowDone.Load() {
		t.Fatalf("the slow query ended before the other client's reads did: they waited for it (or it was too fast to show anything)")
	}
	<-finished
}
