package bench

import "context"
import "fmt"
import "io"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "strconv"
import "strings"
import "sync"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/internal/servelink"
import "github.com/memsnap/memsnap/snapshot"

// Serve is the serve benchmark: many MCP clients at once over streamable
// HTTP against one 'memsnap serve', while a 'memsnap daemon' commits their
// writes. Its reference, measured in the same run on the same process, is
// one client alone calling search_nodes.
type Serve struct {
	Entities int `json:"entities"`
	Clients  int `json:"clients"`
	// Seconds is how long the clients ran; ThinkMS the pause each client
	// makes between its calls.
	Seconds float64 `json:"seconds"`
	ThinkMS float64 `json:"think_ms"`
	// Alone is search_nodes from one client with nothing else running.
	Alone ServeTool `json:"alone"`
	// Tools are the calls under load, by tool.
	Tools []ServeTool `json:"tools"`
	// Calls and Failed count every call under load; FirstError is the
	// first failure's message.
	Calls      int     `json:"calls"`
	Failed     int     `json:"failed"`
	FirstError string  `json:"first_error,omitempty"`
	PerSecond  float64 `json:"calls_per_second"`
	// Snapshots is how many snapshots the daemon published during the
	// load; ServeMB the serve process's peak resident memory.
	Snapshots uint64  `json:"snapshots"`
	ServeMB   float64 `json:"serve_peak_mb"`
}

// ServeTool is one tool's calls: count, failures and client-side latency.
type ServeTool struct {
	Tool   string  `json:"tool"`
	Calls  int     `json:"calls"`
	Failed int     `json:"failed"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

func toolStats(tool string, ms []float64, failed int) ServeTool {
	st := ServeTool{Tool: tool, Calls: len(ms) + failed, Failed: failed}
	if len(ms) > 0 {
		st.P50MS, st.P99MS, st.MaxMS = percentile(ms, 50), percentile(ms, 99), percentile(ms, 100)
	}
	return st
}

// serveCall is the k-th call of a client under load: seven in ten
// search_nodes (the four queries of the mcp benchmark in turn), two
// open_nodes, one write (create_entities or add_observations).
func serveCall(client, k, n int) (tool string, args any) {
	switch k % 10 {
	case 0, 1, 2, 3, 4, 5, 6:
		return "search_nodes", map[string]any{"query": serveQueries[(client+k)%len(serveQueries)]}
	case 7, 8:
		return "open_nodes", openTwo(client*1000+k, n)
	}
	if (k/10)%2 == 0 {
		return "create_entities", map[string]any{"entities": []any{map[string]any{"name": fmt.Sprintf("serve-c%d-%d", client, k),
			"entityType": "bench", "observations": []string{fmt.Sprintf("written over HTTP by client %d", client)}}}}
	}
	return "add_observations", map[string]any{"observations": []any{map[string]any{"entityName": entityName(pick(client*1000+k, n, 11)),
		"contents": []string{fmt.Sprintf("added over HTTP by client %d, call %d", client, k)}}}}
}

// serveQueries are the search_nodes queries of the mcp benchmark: a word in
// 1% of entities, two words, digits, no match.
var serveQueries = []string{rareWord, "coffee deadline", "0042", "xylograph"}

// serve runs the serve benchmark.
func (r *runner) serve(ctx context.Context) (*Serve, error) {
	out := &Serve{Entities: r.sc.serveEntities, Clients: r.sc.serveClients, ThinkMS: float64(r.sc.serveThink.Milliseconds())}
	store := r.path("serve-store")
	fmt.Fprintf(r.opts.Progress, "bench: serve: building a store of %d entities ...\n", out.Entities)
	if err := buildMCPStore(ctx, store, out.Entities); err != nil {
		return out, err
	}
	defer os.RemoveAll(store)
	daemon, err := r.cli(ctx, store, "", "daemon")
	if err != nil {
		return out, err
	}
	defer func() { _ = daemon.stop() }()
	srv, err := r.startServe(ctx, store)
	if err != nil {
		return out, err
	}
	defer srv.stop()

	fmt.Fprintf(r.opts.Progress, "bench: serve: one client alone, %d searches ...\n", r.sc.serveAlone)
	if out.Alone, err = r.serveAlone(ctx, srv); err != nil {
		return out, err
	}
	s, err := snapshot.Open(store)
	if err != nil {
		return out, err
	}
	seqBefore, _ := s.Current()
	fmt.Fprintf(r.opts.Progress, "bench: serve: %d clients for %s ...\n", out.Clients, r.sc.servePhase)
	if err := r.serveLoad(ctx, srv, out); err != nil {
		return out, err
	}
	seqAfter, _ := s.Current()
	out.Snapshots = seqAfter - seqBefore
	out.ServeMB = peakRSSMB(srv.cmd.Process.Pid)
	return out, nil
}

// servedProc is a running 'memsnap serve' of the benchmark.
type servedProc struct {
	cmd         *exec.Cmd
	stderr      *tailBuffer
	base, token string
}

// startServe starts 'memsnap serve' on store, leaving commits to the
// daemon as a deployment with one would, and waits for its address.
func (r *runner) startServe(ctx context.Context, store string) (*servedProc, error) {
	cmd := exec.CommandContext(ctx, r.opts.Exe, "--store", store, "--log-level", "warn", "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "MEMSNAP_MCP_COMMIT_WHEN_IDLE=false", "MEMSNAP_MCP_WRITE_TIMEOUT=10m")
	newGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	p := &servedProc{cmd: cmd, stderr: &tailBuffer{}}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start memsnap serve: %w", err)
	}
	if p.base, p.token, err = servelink.ReadAnnounce(stdout); err != nil {
		p.stop()
		return nil, fmt.Errorf("memsnap serve: %w (stderr: %s)", err, p.stderr.lastLine())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return p, nil
}

// stop sends SIGTERM and, after 30 s, SIGKILL to serve's process group.
func (p *servedProc) stop() {
	_ = termGroup(p.cmd.Process.Pid)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = killGroup(p.cmd.Process.Pid)
		<-done
	}
}

// connect opens an MCP session to serve over streamable HTTP, at
// 2025-11-25, the newest version with sessions, as the recorded figures
// were measured (the SDK's default, 2026-07-28, is stateless: its reads
// wait for every write of the server, not only the session's).
func (p *servedProc) connect(ctx context.Context) (*mcp.ClientSession, error) {
	hc := &http.Client{Transport: servelink.Bearer{Token: p.token}}
	client := mcp.NewClient(&mcp.Implementation{Name: "memsnap-bench", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: p.base + "/mcp", HTTPClient: hc},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		return nil, fmt.Errorf("connect to memsnap serve: %w (stderr: %s)", err, p.stderr.lastLine())
	}
	return cs, nil
}

// timedToolCall runs one tool and returns how long it took, client-side, in
// ms; a tool error is an error.
func timedToolCall(ctx context.Context, cs *mcp.ClientSession, tool string, args any) (float64, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	t := time.Now()
	res, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	ms := float64(time.Since(t).Microseconds()) / 1000
	if err == nil && res.IsError {
		var text strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				text.WriteString(tc.Text)
			}
		}
		err = fmt.Errorf("tool error: %s", truncate(text.String(), 200))
	}
	if err != nil {
		return ms, fmt.Errorf("%s: %w", tool, err)
	}
	return ms, nil
}

// serveAlone times search_nodes from one client with nothing else running:
// the reference of the load's figures.
func (r *runner) serveAlone(ctx context.Context, srv *servedProc) (ServeTool, error) {
	cs, err := srv.connect(ctx)
	if err != nil {
		return ServeTool{}, err
	}
	defer cs.Close()
	var ms []float64
	for k := range r.sc.mcpWarmup + r.sc.serveAlone {
		d, err := timedToolCall(ctx, cs, "search_nodes", map[string]any{"query": serveQueries[k%len(serveQueries)]})
		if err != nil {
			return ServeTool{}, err
		}
		if k >= r.sc.mcpWarmup {
			ms = append(ms, d)
		}
	}
	return toolStats("search_nodes", ms, 0), nil
}

// serveLoad runs out.Clients clients for the phase, each calling
// serveCall's mix with a pause between calls, and fills out's load figures.
func (r *runner) serveLoad(ctx context.Context, srv *servedProc, out *Serve) error {
	sessions := make([]*mcp.ClientSession, out.Clients)
	for i := range sessions {
		cs, err := srv.connect(ctx)
		if err != nil {
			for _, open := range sessions[:i] {
				open.Close()
			}
			return fmt.Errorf("client %d: %w", i, err)
		}
		sessions[i] = cs
	}
	type result struct {
		ms     map[string][]float64
		failed map[string]int
		first  string
	}
	results := make([]result, out.Clients)
	start := time.Now()
	deadline := start.Add(r.sc.servePhase)
	var wg sync.WaitGroup
	for c := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := result{ms: map[string][]float64{}, failed: map[string]int{}}
			for k := 0; time.Now().Before(deadline) && ctx.Err() == nil; k++ {
				tool, args := serveCall(c, k, out.Entities)
				if ms, err := timedToolCall(ctx, sessions[c], tool, args); err != nil {
					res.failed[tool]++
					if res.first == "" {
						res.first = err.Error()
					}
				} else {
					res.ms[tool] = append(res.ms[tool], ms)
				}
				time.Sleep(r.sc.serveThink)
			}
			results[c] = res
		}()
	}
	wg.Wait()
	out.Seconds = time.Since(start).Seconds()
	for _, cs := range sessions {
		cs.Close()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, tool := range []string{"search_nodes", "open_nodes", "create_entities", "add_observations"} {
		var ms []float64
		failed := 0
		for _, res := range results {
			ms = append(ms, res.ms[tool]...)
			failed += res.failed[tool]
			if out.FirstError == "" && res.first != "" {
				out.FirstError = res.first
			}
		}
		st := toolStats(tool, ms, failed)
		out.Tools = append(out.Tools, st)
		out.Calls += st.Calls
		out.Failed += st.Failed
	}
	out.PerSecond = float64(out.Calls) / out.Seconds
	return nil
}

// peakRSSMB is a process's peak resident memory (VmHWM), in MB; 0 if it
// cannot be read.
func peakRSSMB(pid int) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// writeRows adds the serve benchmark's rows to the table.
func (x *Serve) writeRows(row func(bench, figure, format string, args ...any)) {
	if x == nil {
		return
	}
	b := "serve"
	row(b, "setup", "%d HTTP MCP clients, %.0f s, %.0f ms between a client's calls, %d entities, a daemon committing",
		x.Clients, x.Seconds, x.ThinkMS, x.Entities)
	row(b, "search_nodes, one client alone (reference)", "p50 %.2f ms, p99 %.2f ms (%d calls)", x.Alone.P50MS, x.Alone.P99MS, x.Alone.Calls)
	for _, t := range x.Tools {
		row(b, t.Tool+" under load", "p50 %.2f ms, p99 %.2f ms, max %.0f ms (%d calls, %d failed)", t.P50MS, t.P99MS, t.MaxMS, t.Calls, t.Failed)
	}
	row(b, "all calls under load", "%d (%.0f/s), %d failed; %d snapshots published; serve peak RSS %.0f MB",
		x.Calls, x.PerSecond, x.Failed, x.Snapshots, x.ServeMB)
	if x.FirstError != "" {
		row(b, "first failure", "%s", truncate(x.FirstError, 140))
	}
}

// goals checks issue 15's load goal: no failed call.
func (x *Serve) goals(add func(bench, what, measured, target string, met bool)) {
	if x == nil {
		return
	}
	add("serve", fmt.Sprintf("failed calls of %d HTTP clients", x.Clients), fmt.Sprintf("%d of %d", x.Failed, x.Calls), "0", x.Failed == 0 && x.Calls > 0)
	var search ServeTool
	for _, t := range x.Tools {
		if t.Tool == "search_nodes" {
			search = t
		}
	}
	add("serve", "search_nodes p99 under load / one client alone",
		fmt.Sprintf("%.1fx (%.1f / %.1f ms)", ratio(search.P99MS, x.Alone.P99MS), search.P99MS, x.Alone.P99MS), "reported", true)
}
