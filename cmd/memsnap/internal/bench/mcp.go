package bench

import "bufio"
import "context"
import "encoding/json"
import "fmt"
import "math/rand/v2"
import "os"
import "os/exec"
import "path/filepath"
import "time"

import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// MCP is the latency of the write tools and of the read tools through a
// real MCP client (the official Go SDK over stdio, time per call measured
// client-side): 'memsnap mcp' beside the reference server
// (@modelcontextprotocol/server-memory, node) on the same data, per store
// size. The reads are timed twice: right after the same server's own writes
// (MCPSize.AfterWrite) and on a second server that made none
// (MCPSize.Reads).
type MCP struct {
	// Calls is the number of timed calls per tool and server, after Warmup
	// untimed ones.
	Calls  int `json:"calls"`
	Warmup int `json:"warmup"`
	// VisibleWrites is the number of writes timed until a second 'memsnap
	// mcp' process sees them.
	VisibleWrites int `json:"visible_writes"`
	// Reference is the reference server's entry script that ran, or empty
	// with ReferenceNote saying why and how to install it.
	Reference     string `json:"reference,omitempty"`
	ReferenceNote string `json:"reference_note,omitempty"`
	// ReferenceMax is the largest store size the reference runs on (it
	// reads its whole JSONL file on every call: 1.5 s a call at 100k).
	ReferenceMax int       `json:"reference_max"`
	Sizes        []MCPSize `json:"sizes"`
}

// MCPSize is one store size: N entities of 3 observations and N relations.
type MCPSize struct {
	Entities int `json:"entities"`
	// BuildSeconds is building memsnap's store (bulk enqueue and one
	// commit); not part of any measured figure.
	BuildSeconds float64 `json:"build_seconds"`
	StoreMB      float64 `json:"store_mb"`
	// SnapshotMB and SnapshotAfterMB are the size of CURRENT's snapshot
	// before and after memsnap's timed writes: what each commit copies.
	SnapshotMB      float64 `json:"snapshot_mb"`
	SnapshotAfterMB float64 `json:"snapshot_after_mb"`
	JSONLMB         float64 `json:"jsonl_mb"`
	// Tools are the write tools, in the order they ran.
	Tools []MCPTool `json:"tools"`
	// Reads are the read tools, timed after the writes: memsnap's on the
	// second server (which made no write, so no read waits for one), the
	// reference's on the server that took its writes.
	Reads []MCPTool `json:"reads"`
	// AfterWrite are the read-after-write rounds, run on the server that
	// took the write tools' calls, right after them: each round writes, then
	// reads what it wrote and runs broad searches at once.
	AfterWrite []MCPAfterWrite `json:"after_write"`
	// SecondVisible*MS is the time from sending a create_entities to the
	// first process until a second 'memsnap mcp' on the same store returns
	// the entity from open_nodes (polled every 10 ms).
	SecondVisibleP50MS float64 `json:"second_visible_p50_ms"`
	SecondVisibleP95MS float64 `json:"second_visible_p95_ms"`
}

// MCPTool is one tool's latency on memsnap and on the reference.
type MCPTool struct {
	// Tool is the tool's name; for a read, what it asks too
	// ("search_nodes: a word in 1% of entities").
	Tool  string  `json:"tool"`
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	// P99MS is the highest of the timed calls' figures when there are
	// fewer than 100 (reads only).
	P99MS float64 `json:"p99_ms,omitempty"`
	// Reference* are zero when the reference did not run.
	ReferenceP50MS float64 `json:"reference_p50_ms,omitempty"`
	ReferenceP95MS float64 `json:"reference_p95_ms,omitempty"`
	// MaxAnswerBytes and ReferenceMaxAnswerBytes are a read's largest
	// answer as the server sent it (the result's JSON), memsnap's and the
	// reference's: what the client decodes, which grows with the matches
	// until mcp.max_answer_bytes cuts it.
	MaxAnswerBytes          int `json:"max_answer_bytes,omitempty"`
	ReferenceMaxAnswerBytes int `json:"reference_max_answer_bytes,omitempty"`
	// RatioP50 and RatioP95 are memsnap's figure over the reference's.
	RatioP50 float64 `json:"ratio_p50,omitempty"`
	RatioP95 float64 `json:"ratio_p95,omitempty"`
	// ReferenceError is why the reference's calls of a read tool failed
	// (its whole-graph answer at 100k entities is over the client's frame
	// limit); the tool is not called on it again.
	ReferenceError string `json:"reference_error,omitempty"`
}

// DefaultReferenceMax is the largest mcp store size the reference runs on
// unless Options.ReferenceMax says otherwise.
const DefaultReferenceMax = 100_000

// MinMCPEntities is the smallest mcp store size: every timed call must touch an
// entity of its own.
const MinMCPEntities = 50

// mcpTool is a write tool and the arguments of its k-th call on a store of n
// generated entities. Every call changes something (a new name, a new
// observation, an observation that is still there), so no call is a no-op.
type mcpTool struct {
	name string
	args func(k, n int) any
}

// pick is the k-th entity a tool's calls touch: distinct for k < n, spread
// over the store.
func pick(k, n, salt int) int { return (k*104729 + salt) % n }

var mcpTools = []mcpTool{
	{"create_entities", func(k, _ int) any {
		return map[string]any{"entities": []any{map[string]any{"name": fmt.Sprintf("mcp-new-%d", k), "entityType": "bench",
			"observations": []string{fmt.Sprintf("created by the mcp benchmark, call %d", k)}}}}
	}},
	{"add_observations", func(k, n int) any {
		return map[string]any{"observations": []any{map[string]any{"entityName": entityName(pick(k, n, 11)),
			"contents": []string{fmt.Sprintf("added by the mcp benchmark, call %d", k)}}}}
	}},
	{"create_relations", func(k, n int) any {
		return map[string]any{"relations": []any{map[string]any{"from": entityName(pick(k, n, 23)),
			"to": entityName(pick(k, n, 37)), "relationType": fmt.Sprintf("bench_%d", k)}}}
	}},
	{"delete_observations", func(k, n int) any {
		i := pick(k, n, 51)
		return map[string]any{"deletions": []any{map[string]any{"entityName": entityName(i),
			"observations": []string{mcpEntity(i).Observations[0]}}}}
	}},
}

// mcpRead is a read tool and the arguments of its k-th call on a store of n
// generated entities, on memsnap (args) and on the reference (refArgs; nil:
// the reference has no such tool).
type mcpRead struct {
	label, tool   string
	args, refArgs func(k, n int) any
}

// rareWord is in the first observation of one entity in a hundred: a
// search_nodes query that matches 1% of the store.
const rareWord = "zephyr"

func searchFor(q string) func(k, n int) any {
	return func(int, int) any { return map[string]any{"query": q} }
}

var mcpReads = []mcpRead{
	{"search_nodes: a word in 1% of entities", "search_nodes", searchFor(rareWord), searchFor(rareWord)},
	{"search_nodes: two words", "search_nodes", searchFor("coffee deadline"), searchFor("coffee deadline")},
	{"search_nodes: digits", "search_nodes", searchFor("0042"), searchFor("0042")},
	{"search_nodes: no match", "search_nodes", searchFor("xylograph"), searchFor("xylograph")},
	{"open_nodes: 2 names", "open_nodes", openTwo, openTwo},
	{"neighbors: depth 2", "neighbors", func(k, n int) any {
		return map[string]any{"name": entityName(pick(k, n, 71)), "depth": 2}
	}, nil},
	// The reference has no pages: its read_graph returns the whole graph,
	// which at 100k is over the client's frame limit and ends the session:
	// it runs last.
	{"read_graph: first page of 100 (reference: the whole graph)", "read_graph",
		func(int, int) any { return map[string]any{"limit": 100} }, func(int, int) any { return map[string]any{} }},
}

func openTwo(k, n int) any {
	return map[string]any{"names": []string{entityName(pick(k, n, 61)), entityName(pick(k, n, 67))}}
}

// mcpEntity is entity i of the mcp store: a type and three observations of
// eight words, the same for every run, the second after "topic i%50" (so
// broadQuery is in 22% of them by substring); one entity in a hundred has
// rareWord first.
func mcpEntity(i int) model.Entity {
	rng := rand.New(rand.NewPCG(uint64(i), 13))
	e := model.Entity{Name: entityName(i), EntityType: entityTypes[i%len(entityTypes)],
		Observations: []string{sentence(rng, 8), fmt.Sprintf("topic %d %s", i%50, sentence(rng, 8)), sentence(rng, 8)}}
	if i%100 == 0 {
		e.Observations[0] = rareWord + " " + e.Observations[0]
	}
	return e
}

// mcpRelation is relation i of the mcp store of n entities (n relations in
// all, no two alike).
func mcpRelation(i, n int) model.Relation {
	return model.Relation{From: entityName(i), To: entityName((i*7 + 3) % n), RelationType: "mentions"}
}

// writeMCPJSONL writes the mcp store of n entities as the reference server's
// memory file.
func writeMCPJSONL(path string, n int) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("reference memory file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("reference memory file: %w", cerr)
		}
	}()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := 0; i < n; i++ {
		e := mcpEntity(i)
		if err := enc.Encode(map[string]any{"type": "entity", "name": e.Name, "entityType": e.EntityType, "observations": e.Observations}); err != nil {
			return err
		}
	}
	for i := 0; i < n; i++ {
		r := mcpRelation(i, n)
		if err := enc.Encode(map[string]any{"type": "relation", "from": r.From, "to": r.To, "relationType": r.RelationType}); err != nil {
			return err
		}
	}
	return w.Flush()
}

// buildMCPStore creates a memsnap store at dir holding the mcp store of n
// entities, in one snapshot: the bench's bulk path (jobs of 1000 items, one
// commit).
func buildMCPStore(ctx context.Context, dir string, n int) error {
	s, err := snapshot.Init(dir)
	if err != nil {
		return err
	}
	err = enqueueBy1000(s, 0, n, func(lo, hi int) model.Op {
		var es []model.Entity
		for i := lo; i < hi; i++ {
			es = append(es, mcpEntity(i))
		}
		return model.Op{Op: model.OpCreateEntities, Entities: es}
	})
	if err != nil {
		return fmt.Errorf("enqueue entities: %w", err)
	}
	err = enqueueBy1000(s, 0, n, func(lo, hi int) model.Op {
		var rs []model.Relation
		for i := lo; i < hi; i++ {
			rs = append(rs, mcpRelation(i, n))
		}
		return model.Op{Op: model.OpCreateRelations, Relations: rs}
	})
	if err != nil {
		return fmt.Errorf("enqueue relations: %w", err)
	}
	sum, err := writer.New(s, bulkConfig(dir).WriterOptions(), nil).Commit(ctx, writer.CommitOptions{})
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if sum.Rejected > 0 {
		return fmt.Errorf("commit rejected %d of the generated jobs", sum.Rejected)
	}
	return nil
}

// mcp runs the mcp benchmark at every size.
func (r *runner) mcp(ctx context.Context) (*MCP, error) {
	if r.opts.MCPCalls > 0 {
		r.sc.mcpCalls, r.sc.mcpVisible = r.opts.MCPCalls, min(r.opts.MCPCalls, r.sc.mcpVisible)
	}
	out := &MCP{Calls: r.sc.mcpCalls, Warmup: r.sc.mcpWarmup, VisibleWrites: r.sc.mcpVisible, ReferenceMax: r.opts.ReferenceMax}
	if out.ReferenceMax == 0 {
		out.ReferenceMax = DefaultReferenceMax
	}
	out.Reference, out.ReferenceNote = findReference(r.opts.Reference, r.opts.Exe)
	if out.ReferenceNote != "" {
		fmt.Fprintf(r.opts.Progress, "bench: mcp: %s\n", out.ReferenceNote)
	}
	sizes := r.sc.mcpSizes
	if len(r.opts.MCPSizes) > 0 {
		sizes = r.opts.MCPSizes
	}
	for _, n := range sizes {
		ref := out.Reference
		if n > out.ReferenceMax {
			ref = ""
			fmt.Fprintf(r.opts.Progress, "bench: mcp %d entities: the reference is not run above %d entities (--reference-max)\n", n, out.ReferenceMax)
		}
		sz, err := r.mcpSize(ctx, n, ref)
		if err != nil {
			return out, fmt.Errorf("%d entities: %w", n, err)
		}
		out.Sizes = append(out.Sizes, sz)
	}
	return out, nil
}

// scratchMemory makes the scratch directory NAME-N holding memory.jsonl, a
// memory of n entities as the reference writes it (writeMCPJSONL), and
// returns its path, its size in bytes, the path a store takes beside it,
// and cleanup, which removes the directory.
func (r *runner) scratchMemory(name string, n int) (jsonl, store string, size int64, cleanup func(), err error) {
	dir := r.path(fmt.Sprintf("%s-%d", name, n))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", 0, nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	jsonl, store = filepath.Join(dir, "memory.jsonl"), filepath.Join(dir, "store")
	if err := writeMCPJSONL(jsonl, n); err != nil {
		cleanup()
		return "", "", 0, nil, err
	}
	info, err := os.Stat(jsonl)
	if err != nil {
		cleanup()
		return "", "", 0, nil, err
	}
	return jsonl, store, info.Size(), cleanup, nil
}

// mcpSize builds both stores of n entities in a scratch directory (removed
// afterwards), then times memsnap and, if ref is set, the reference.
func (r *runner) mcpSize(ctx context.Context, n int, ref string) (MCPSize, error) {
	out := MCPSize{Entities: n}
	jsonl, store, size, cleanup, err := r.scratchMemory("mcp", n)
	if err != nil {
		return out, err
	}
	defer cleanup()
	out.JSONLMB = float64(size) / (1 << 20)
	fmt.Fprintf(r.opts.Progress, "bench: mcp %d entities: building the memsnap store ...\n", n)
	t := time.Now()
	if err := buildMCPStore(ctx, store, n); err != nil {
		return out, fmt.Errorf("build the memsnap store: %w", err)
	}
	out.BuildSeconds = time.Since(t).Round(time.Millisecond).Seconds()
	out.StoreMB = float64(fsutil.TreeSize(store)) / (1 << 20)
	out.SnapshotMB = currentMB(store)
	fmt.Fprintf(r.opts.Progress, "bench: mcp %d entities: store built in %.1fs (%.1f MB); timing memsnap mcp ...\n", n, out.BuildSeconds, out.StoreMB)
	mine, err := r.mcpMemsnap(ctx, store, n)
	if err != nil {
		return out, err
	}
	out.SecondVisibleP50MS, out.SecondVisibleP95MS = percentile(mine.seen, 50), percentile(mine.seen, 95)
	out.SnapshotAfterMB = currentMB(store)
	var theirs *mcpTimes
	if ref != "" {
		if theirs, err = r.mcpReference(ctx, ref, jsonl, n); err != nil {
			return out, err
		}
	}
	out.figures(mine, theirs)
	return out, nil
}

// mcpTimes are one server's timed calls: each write tool's and each read
// tool's in ms, the read-after-write rounds' figures, and (memsnap) the
// times until a second server saw a write; failed are the reference's read
// tools that failed, and why.
type mcpTimes struct {
	tools, reads [][]float64
	readBytes    []int // each read tool's largest answer, as sent
	after        []MCPCalls
	seen         []float64
	failed       []string
}

// mcpReference times the reference server on its memory file jsonl: the
// write tools, the read-after-write rounds, then the read tools, all on one
// server.
func (r *runner) mcpReference(ctx context.Context, ref, jsonl string, n int) (*mcpTimes, error) {
	fmt.Fprintf(r.opts.Progress, "bench: mcp %d entities: timing the reference server ...\n", n)
	start := func(ctx context.Context) (*mcpServer, error) {
		cmd := exec.Command("node", ref)
		cmd.Env = append(os.Environ(), "MEMORY_FILE_PATH="+jsonl)
		return startMCP(ctx, r.log, "reference server", cmd)
	}
	t, srv, err := r.timeWrites(ctx, start, n, "reference")
	if err != nil {
		return nil, err
	}
	defer srv.close()
	if t.reads, t.readBytes, t.failed, err = r.timeReads(ctx, srv, n, "reference", true); err != nil {
		return nil, err
	}
	return t, nil
}

// timeWrites starts a server with start and times on it the write tools,
// then the read-after-write rounds (which start it again if it loses its
// connection). It returns the times and the server it ends on, still
// running, for the caller to close; on an error it closes it.
func (r *runner) timeWrites(ctx context.Context, start func(context.Context) (*mcpServer, error), n int, who string) (*mcpTimes, *mcpServer, error) {
	srv, err := start(ctx)
	if err != nil {
		return nil, nil, err
	}
	t := &mcpTimes{}
	if t.tools, err = r.timeTools(ctx, srv, n, who); err == nil {
		t.after, err = r.timeAfterWrite(ctx, &srv, start, n, who)
	}
	if err != nil {
		srv.close()
		return nil, nil, err
	}
	return t, srv, nil
}

// figures fills out's tool, read and read-after-write figures from memsnap's
// times and the reference's (nil: not run).
func (out *MCPSize) figures(mine, theirs *mcpTimes) {
	for i, t := range mcpTools {
		x := MCPTool{Tool: t.name, P50MS: percentile(mine.tools[i], 50), P95MS: percentile(mine.tools[i], 95)}
		if theirs != nil {
			x.ReferenceP50MS, x.ReferenceP95MS = percentile(theirs.tools[i], 50), percentile(theirs.tools[i], 95)
			x.RatioP50, x.RatioP95 = ratio(x.P50MS, x.ReferenceP50MS), ratio(x.P95MS, x.ReferenceP95MS)
		}
		out.Tools = append(out.Tools, x)
	}
	for i, t := range mcpReads {
		my := mine.reads[i]
		x := MCPTool{Tool: t.label, P50MS: percentile(my, 50), P95MS: percentile(my, 95), P99MS: percentile(my, 99),
			MaxAnswerBytes: mine.readBytes[i]}
		if theirs != nil {
			x.ReferenceError = theirs.failed[i]
		}
		if theirs != nil && len(theirs.reads[i]) > 0 && x.ReferenceError == "" {
			x.ReferenceP50MS, x.ReferenceP95MS = percentile(theirs.reads[i], 50), percentile(theirs.reads[i], 95)
			x.ReferenceMaxAnswerBytes = theirs.readBytes[i]
			x.RatioP50, x.RatioP95 = ratio(x.P50MS, x.ReferenceP50MS), ratio(x.P95MS, x.ReferenceP95MS)
		}
		out.Reads = append(out.Reads, x)
	}
	var theirAfter []MCPCalls
	if theirs != nil {
		theirAfter = theirs.after
	}
	out.AfterWrite = afterWriteFigures(mine.after, theirAfter)
}

// currentMB is the size of the store's CURRENT snapshot (0 if unreadable).
func currentMB(store string) float64 {
	s, err := snapshot.Open(store)
	if err != nil {
		return 0
	}
	cur, err := s.Current()
	if err != nil {
		return 0
	}
	return float64(fsutil.TreeSize(s.SnapshotDir(cur))) / (1 << 20)
}

// memsnapMCP starts 'memsnap mcp' on store.
func (r *runner) memsnapMCP(ctx context.Context, name, store string) (*mcpServer, error) {
	cmd := exec.Command(r.opts.Exe, "--store", store, "--log-level", "warn", "mcp")
	// A write waits for its snapshot as long as a commit of the largest
	// store may take on a loaded machine; the default would fail the run.
	cmd.Env = append(os.Environ(), "MEMSNAP_MCP_WRITE_TIMEOUT=10m")
	return startMCP(ctx, r.log, name, cmd)
}

// mcpMemsnap times the write tools through one 'memsnap mcp', then the
// read-after-write rounds on the same server, then how long a second one on
// the same store takes to see writes made through the first, then the read
// tools on the second.
func (r *runner) mcpMemsnap(ctx context.Context, store string, n int) (*mcpTimes, error) {
	start := func(ctx context.Context) (*mcpServer, error) { return r.memsnapMCP(ctx, "memsnap mcp", store) }
	t, first, err := r.timeWrites(ctx, start, n, "memsnap")
	if err != nil {
		return nil, err
	}
	defer first.close()
	second, err := r.memsnapMCP(ctx, "second memsnap mcp", store)
	if err != nil {
		return nil, err
	}
	defer second.close()
	if _, err := second.hasEntity(ctx, entityName(0)); err != nil { // warm-up: its snapshot is open
		return nil, err
	}
	for k := 0; k < r.sc.mcpVisible; k++ {
		name := fmt.Sprintf("mcp-seen-%d", k)
		ms, err := seenBy(ctx, first, second, name)
		if err != nil {
			return nil, err
		}
		t.seen = append(t.seen, ms)
	}
	if t.reads, t.readBytes, _, err = r.timeReads(ctx, second, n, "memsnap", false); err != nil {
		return nil, err
	}
	return t, nil
}

// timeReads runs each read tool's calls in turn (Warmup untimed, then Calls
// timed: the store does not change, so unlike the writes they need no
// rounds), on the reference's arguments when reference is set (skipping
// the tools it does not have), and returns each tool's timed calls in ms
// and its largest answer in bytes, as sent. On the reference, a failing
// call is recorded in failed and its tool not called again; on memsnap it
// ends the run.
func (r *runner) timeReads(ctx context.Context, srv *mcpServer, n int, who string, reference bool) (out [][]float64, answer []int, failed []string, err error) {
	out, answer, failed = make([][]float64, len(mcpReads)), make([]int, len(mcpReads)), make([]string, len(mcpReads))
	start := time.Now()
	rounds := r.sc.mcpWarmup + r.sc.mcpCalls
	for i, t := range mcpReads {
		for k := 0; k < rounds; k++ {
			args := t.args
			if reference {
				args = t.refArgs
			}
			if args == nil || failed[i] != "" {
				continue
			}
			start := time.Now()
			res, _, err := srv.callResult(ctx, t.tool, args(k, n))
			ms := float64(time.Since(start).Microseconds()) / 1000
			if err != nil && reference && ctx.Err() == nil {
				failed[i], out[i] = truncate(err.Error(), 200), nil
				fmt.Fprintf(r.opts.Progress, "bench: mcp %d entities: reference %s failed: %v\n", n, t.label, err)
				continue
			}
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s, call %d: %w", t.label, k, err)
			}
			if k >= r.sc.mcpWarmup {
				out[i] = append(out[i], ms)
			}
			if b, err := json.Marshal(res); err == nil {
				answer[i] = max(answer[i], len(b))
			}
		}
		fmt.Fprintf(r.opts.Progress, "bench: mcp %d entities: %s reads: %s done after %.1fs\n", n, who, t.label, time.Since(start).Seconds())
	}
	return out, answer, failed, nil
}

// seenBy creates entity name through first and polls open_nodes on second
// until it answers with it; it returns the milliseconds from sending the
// write until then.
func seenBy(ctx context.Context, first, second *mcpServer, name string) (float64, error) {
	t := time.Now()
	args := map[string]any{"entities": []any{map[string]any{"name": name, "entityType": "bench", "observations": []string{"seen"}}}}
	if _, err := first.call(ctx, "create_entities", args); err != nil {
		return 0, err
	}
	for deadline := t.Add(5 * time.Minute); ; {
		ok, err := second.hasEntity(ctx, name)
		if err != nil {
			return 0, err
		}
		if ok {
			return float64(time.Since(t).Microseconds()) / 1000, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("a second memsnap mcp did not see %s within 5 minutes of its write", name)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// timeTools runs the write tools in rounds, each tool once a round: Warmup
// untimed rounds, then Calls timed ones. Rounds rather than one tool after
// the other, so that whatever changes as the store takes writes (memsnap's
// snapshot grows with each) weighs on every tool alike. It returns the
// milliseconds of each tool's timed calls.
func (r *runner) timeTools(ctx context.Context, srv *mcpServer, n int, who string) ([][]float64, error) {
	out := make([][]float64, len(mcpTools))
	start := time.Now()
	rounds := r.sc.mcpWarmup + r.sc.mcpCalls
	for k := 0; k < rounds; k++ {
		for i, t := range mcpTools {
			ms, err := srv.timedCall(ctx, t.name, t.args(k, n))
			if err != nil {
				return nil, fmt.Errorf("call %d: %w", k, err)
			}
			if k >= r.sc.mcpWarmup {
				out[i] = append(out[i], ms)
			}
		}
		fmt.Fprintf(r.opts.Progress, "bench: mcp %d entities: %s: round %d of %d done after %.1fs\n", n, who, k+1, rounds, time.Since(start).Seconds())
	}
	return out, nil
}
