package tests

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// statelessVersion is the first MCP protocol version without sessions
// (SEP-2575: no initialize, no Mcp-Session-Id; the version and the client's
// capabilities in each request's _meta).
const statelessVersion = "2026-07-28"

// headerLog is a RoundTripper that records the Mcp-Session-Id headers of
// the requests it sends and of the answers it gets.
type headerLog struct {
	next http.RoundTripper
	// mu guards sessions and requests.
	mu       sync.Mutex
	sessions []string // every Mcp-Session-Id seen, either way
	requests int
}

func (h *headerLog) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.next.RoundTrip(r)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	if id := r.Header.Get("Mcp-Session-Id"); id != "" {
		h.sessions = append(h.sessions, id)
	}
	if resp != nil {
		if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
			h.sessions = append(h.sessions, id)
		}
	}
	return resp, err
}

// Issue 28, point 2: 'memsnap serve' speaks MCP 2026-07-28 on the same
// /mcp as the session-based versions, routed by the version each request
// carries. The official Go SDK client at 2026-07-28 connects without a
// session (no initialize, no Mcp-Session-Id either way), lists the tools,
// writes and reads its write back; a subscription as that version defines
// it (subscriptions/listen) is told of a write by another process; raw
// JSON-RPC requests of that version, with no handshake before them, are
// answered; a session client (2025-11-25) on the same endpoint still gets
// its session; a 2026-07-28 request without the token gets 401.
func TestServeSpeaksStatelessMCP(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	srv := startServe(t, ctx, store)

	log := &headerLog{next: http.DefaultTransport}
	var updated atomic.Int64
	opts := &mcp.ClientOptions{ResourceUpdatedHandler: func(context.Context, *mcp.ResourceUpdatedNotificationRequest) { updated.Add(1) }}
	cs, err := srv.sessionAt(ctx, srv.token, opts, statelessVersion, log)
	if err != nil {
		t.Fatalf("a 2026-07-28 client: connect: %v", err)
	}
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != statelessVersion {
		t.Fatalf("the client negotiated %q, want %s (it fell back to the handshake)", v, statelessVersion)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list at 2026-07-28: %v", err)
	}
	names := map[string]bool{}
	for _, tool := range tools.Tools {
		names[tool.Name] = true
	}
	for _, want := range []string{"create_entities", "search_nodes", "open_nodes", "read_graph", "neighbors", "memory_status"} {
		if !names[want] {
			t.Errorf("tools/list at 2026-07-28 lacks %s", want)
		}
	}
	// Write, then read at once: the read holds the write.
	createEntities(t, ctx, cs, entity("stateless-1", "note", "written without a session"))
	if g := parseGraph(t, mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"stateless-1"}})); len(g.Entities) != 1 {
		t.Errorf("open_nodes right after the write: %v, want stateless-1", g.names())
	}
	if g := parseGraph(t, mustCall(t, ctx, cs, "search_nodes", map[string]any{"query": "without a session"})); len(g.Entities) != 1 {
		t.Errorf("search_nodes right after the write: %v, want stateless-1", g.names())
	}

	// A subscription (subscriptions/listen) is told of another process's write.
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "memory://knowledge-graph"}); err != nil {
		t.Fatalf("subscribe at 2026-07-28: %v", err)
	}
	before := updated.Load()
	enqueueWait(t, store, ops(entities(entity("from-the-cli", "t", "written by another process"))), "30m")
	waitUntil(t, ctx, "the 2026-07-28 subscriber to be told of a write by another process", 50*time.Millisecond,
		func() bool { return updated.Load() > before })

	log.mu.Lock()
	if len(log.sessions) != 0 || log.requests == 0 {
		t.Errorf("a 2026-07-28 client over %d requests saw Mcp-Session-Id %v, want none", log.requests, log.sessions)
	}
	log.mu.Unlock()

	// Raw JSON-RPC of that version: no initialize before it.
	got := rawCall(t, ctx, srv, srv.token, "tools/list", "", map[string]any{})
	if !strings.Contains(got, `"search_nodes"`) {
		t.Errorf("raw tools/list at 2026-07-28: %s", got)
	}
	got = rawCall(t, ctx, srv, srv.token, "tools/call", "create_entities",
		map[string]any{"name": "create_entities", "arguments": map[string]any{"entities": []any{entity("raw-1", "note", "raw JSON-RPC")}}})
	if !strings.Contains(got, `raw-1`) || strings.Contains(got, `"isError":true`) {
		t.Errorf("raw create_entities at 2026-07-28: %s", got)
	}
	got = rawCall(t, ctx, srv, srv.token, "tools/call", "search_nodes",
		map[string]any{"name": "search_nodes", "arguments": map[string]any{"query": "raw JSON-RPC"}})
	if !strings.Contains(got, `\"raw-1\"`) {
		t.Errorf("raw search_nodes right after the raw write: %s", got)
	}

	// A session client on the same endpoint still gets its session.
	slog := &headerLog{next: http.DefaultTransport}
	old, err := srv.sessionAt(ctx, srv.token, nil, sessionVersion, slog)
	if err != nil {
		t.Fatalf("a %s client: %v", sessionVersion, err)
	}
	defer old.Close()
	if g := parseGraph(t, mustCall(t, ctx, old, "open_nodes", map[string]any{"names": []string{"stateless-1", "raw-1"}})); len(g.Entities) != 2 {
		t.Errorf("the session client reads %v, want stateless-1 and raw-1", g.names())
	}
	slog.mu.Lock()
	if old.InitializeResult().ProtocolVersion != sessionVersion || len(slog.sessions) == 0 {
		t.Errorf("a %s client: version %q, session ids %v; want a session", sessionVersion, old.InitializeResult().ProtocolVersion, slog.sessions)
	}
	slog.mu.Unlock()

	// Without the token: 401, nothing written.
	if status, body := rawPost(t, ctx, srv, "", "tools/call", "create_entities",
		map[string]any{"name": "create_entities", "arguments": map[string]any{"entities": []any{entity("intruder", "t")}}}); status != http.StatusUnauthorized {
		t.Errorf("a 2026-07-28 call without the token: %d %s, want 401", status, body)
	}
}

// rawCall sends one 2026-07-28 JSON-RPC request (method, with params and
// the _meta that version requires) and returns the answer's body, failing
// unless it is HTTP 200.
func rawCall(t *testing.T, ctx context.Context, srv *served, token, method, name string, params map[string]any) string {
	t.Helper()
	status, body := rawPost(t, ctx, srv, token, method, name, params)
	if status != http.StatusOK {
		t.Fatalf("%s %s at 2026-07-28: HTTP %d %s", method, name, status, body)
	}
	return body
}

// rawPost posts one 2026-07-28 request as the specification has it: the
// Mcp-Protocol-Version, Mcp-Method (and, for tools/call, Mcp-Name)
// headers, and _meta holding the protocol version, the client's info and
// capabilities.
func rawPost(t *testing.T, ctx context.Context, srv *served, token, method, name string, params map[string]any) (int, string) {
	t.Helper()
	params["_meta"] = map[string]any{
		"io.modelcontextprotocol/protocolVersion":    statelessVersion,
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "raw-test", "version": "1"},
		"io.modelcontextprotocol/clientCapabilities": map[string]any{},
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	req, err := http.NewRequestWithContext(ctx, "POST", srv.base+"/mcp", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", statelessVersion)
	req.Header.Set("Mcp-Method", method)
	if name != "" {
		req.Header.Set("Mcp-Name", name)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /mcp %s: %v", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
		t.Errorf("a 2026-07-28 %s was answered with Mcp-Session-Id %q", method, id)
	}
	return resp.StatusCode, fmt.Sprint(string(b))
}

// Issue 28, point 2, with serve's limits: a 2026-07-28 subscription is a
// subscriptions/listen request held open, and counts against
// serve.max_streams as a session's GET stream does: at the cap one more
// gets 503 with Retry-After, while calls go on; once the subscriber leaves,
// a listen is taken again.
func TestServeCapsStatelessListens(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	srv := startServe(t, ctx, store, "MEMSNAP_SERVE_MAX_STREAMS=1")
	cs, err := srv.sessionAt(ctx, srv.token, &mcp.ClientOptions{ResourceUpdatedHandler: func(context.Context, *mcp.ResourceUpdatedNotificationRequest) {}},
		statelessVersion, http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "memory://knowledge-graph"}); err != nil {
		t.Fatalf("subscribe at 2026-07-28: %v", err)
	}
	listen := map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{"memory://knowledge-graph"}}}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if status := rawListenStatus(lctx, srv, listen); status != http.StatusServiceUnavailable {
		t.Errorf("a subscriptions/listen beyond serve.max_streams 1: HTTP %d, want 503", status)
	}
	cancel()
	if got := rawCall(t, ctx, srv, srv.token, "tools/list", "", map[string]any{}); !strings.Contains(got, "search_nodes") {
		t.Errorf("tools/list while the streams are taken: %s", got)
	}
	cs.Close()
	// With the place free, a listen is held open: it answers 200 and
	// streams until the request ends.
	waitUntil(t, ctx, "the subscriber's stream place to be free", 50*time.Millisecond, func() bool {
		lctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		return rawListenStatus(lctx, srv, listen) == http.StatusOK
	})
}

// rawListenStatus posts a 2026-07-28 subscriptions/listen and returns the
// status it is answered with (0 when the request fails before one); it
// closes a stream once its headers are in.
func rawListenStatus(ctx context.Context, srv *served, params map[string]any) int {
	params["_meta"] = map[string]any{"io.modelcontextprotocol/protocolVersion": statelessVersion,
		"io.modelcontextprotocol/clientCapabilities": map[string]any{}}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen", "params": params})
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.base+"/mcp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", statelessVersion)
	req.Header.Set("Mcp-Method", "subscriptions/listen")
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return resp.StatusCode
}
