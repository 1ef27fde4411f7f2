package bench

// The mcp benchmark's read-right-after-own-write rounds (issue 28, done-when
// 1): an agent writes a memory, then reads it, through the server that
// acknowledged the write, with no pause in between.

import "context"
import "encoding/json"
import "fmt"
import "slices"
import "time"

// MCPAfterWrite is one call of the read-after-write rounds: its figures on
// memsnap and, when the reference ran, on the reference.
type MCPAfterWrite struct {
	// Tool is the tool's name and what it asks ("search_nodes: the name
	// just written").
	Tool      string    `json:"tool"`
	Memsnap   MCPCalls  `json:"memsnap"`
	Reference *MCPCalls `json:"reference,omitempty"`
	// RatioP50 is memsnap's p50 over the reference's (0: no reference).
	RatioP50 float64 `json:"ratio_p50,omitempty"`
}

// MCPCalls are one server's calls of one step of the read-after-write
// rounds.
type MCPCalls struct {
	// P50MS and P95MS are over the timed rounds' calls that succeeded, in
	// milliseconds, client-side.
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	// Calls is every call made, warm-up rounds included; Failed those that
	// returned an error (a tool error, or the client's connection lost),
	// Error the first one's message. A call that lost the connection is
	// not made again: the server is started anew for the other steps, and
	// Skipped counts the calls left out.
	Calls   int    `json:"calls"`
	Failed  int    `json:"failed"`
	Error   string `json:"error,omitempty"`
	Skipped int    `json:"skipped,omitempty"`
	// Missing counts reads whose answer lacks the write acknowledged just
	// before (read-your-writes broken); a search answer cut short (with a
	// nextCursor) is not checked.
	Missing int `json:"missing"`
	// MaxAnswerBytes is the largest answer as the server sent it: the
	// JSON-RPC result, text and structured content, re-encoded by the client.
	MaxAnswerBytes int `json:"max_answer_bytes"`
	// OverClientLimit counts answers over ClientFrameLimit: the TypeScript
	// MCP client closes its connection on such a message, so they count as
	// failed calls in the goals.
	OverClientLimit int `json:"over_client_limit"`
	// Cut counts answers with a nextCursor (cut to mcp.max_answer_bytes);
	// MaxEntities is the most entities one answer held.
	Cut         int `json:"cut"`
	MaxEntities int `json:"max_entities"`
}

// ClientFrameLimit is the largest message the official TypeScript MCP client
// reads over stdio (its ReadBuffer: 10 MiB); past it the client closes the
// connection and every later call fails.
const ClientFrameLimit = 10 << 20

// broadQuery is in the second observation of 22% of the mcp store's
// entities as the reference's substring rule reads it ("topic 1", "topic
// 10" to "topic 19"): issue 28's ordinary query whose answer at 100k is over
// the client's frame limit unless capped.
const broadQuery = "topic 1"

// commonWord is a vocabulary word: about one entity in six holds it.
const commonWord = "coffee"

// afterName is the entity round k of the read-after-write rounds creates.
func afterName(k int) string { return fmt.Sprintf("mcp-after-%d", k) }

// afterObservation is the observation round k adds to an existing entity;
// it holds broadQuery, so that entity must be in that search's answer.
func afterObservation(k int) string {
	return fmt.Sprintf("observed right before it is read, %s round %d", broadQuery, k)
}

// afterTarget is the existing entity round k adds an observation to.
func afterTarget(k, n int) string { return entityName(pick(k, n, 83)) }

// afterStep is one call of a read-after-write round: its arguments, and for a
// read, what its answer must hold after the round's writes (nil: writes).
type afterStep struct {
	label, tool string
	args        func(k, n int) any
	holds       func(g afterGraph, k, n int) bool
}

// afterGraph is the part of a graph answer (memsnap's or the reference's text)
// the rounds check.
type afterGraph struct {
	Entities []struct {
		Name         string   `json:"name"`
		Observations []string `json:"observations"`
	} `json:"entities"`
	NextCursor string `json:"nextCursor"`
}

// entity returns the answer's entity called name.
func (g afterGraph) entity(name string) ([]string, bool) {
	for _, e := range g.Entities {
		if e.Name == name {
			return e.Observations, true
		}
	}
	return nil, false
}

var afterSteps = []afterStep{
	{"create_entities", "create_entities", func(k, _ int) any {
		return map[string]any{"entities": []any{map[string]any{"name": afterName(k), "entityType": "bench",
			"observations": []string{fmt.Sprintf("written right before it is read, round %d", k)}}}}
	}, nil},
	{"add_observations", "add_observations", func(k, n int) any {
		return map[string]any{"observations": []any{map[string]any{"entityName": afterTarget(k, n),
			"contents": []string{afterObservation(k)}}}}
	}, nil},
	{"search_nodes: the name just written", "search_nodes", func(k, _ int) any { return map[string]any{"query": afterName(k)} },
		func(g afterGraph, k, _ int) bool {
			_, ok := g.entity(afterName(k))
			return ok || g.NextCursor != ""
		}},
	{fmt.Sprintf("search_nodes: %q (22%% of entities)", broadQuery), "search_nodes", searchFor(broadQuery),
		func(g afterGraph, k, n int) bool {
			_, ok := g.entity(afterTarget(k, n))
			return ok || g.NextCursor != ""
		}},
	{fmt.Sprintf("search_nodes: %q (1 entity in 6)", commonWord), "search_nodes", searchFor(commonWord), nil},
	{"open_nodes: the two entities just written", "open_nodes", func(k, n int) any {
		return map[string]any{"names": []string{afterName(k), afterTarget(k, n)}}
	}, func(g afterGraph, k, n int) bool {
		_, created := g.entity(afterName(k))
		obs, added := g.entity(afterTarget(k, n))
		return created && added && slices.Contains(obs, afterObservation(k))
	}},
}

// timeAfterWrite runs the read-after-write rounds on *srv (Warmup untimed,
// then Calls timed): each round writes a new entity and an observation, then
// at once asks the same server for them and runs the broad searches. A
// failed call is counted, not fatal. A call that loses the connection (an
// answer over the client's frame limit) is not made again, and *srv is
// replaced by a server restart starts, for the other steps and whatever runs
// after (the caller closes *srv). It returns each step's figures, in
// afterSteps' order.
func (r *runner) timeAfterWrite(ctx context.Context, srv **mcpServer, restart func(context.Context) (*mcpServer, error), n int, who string) ([]MCPCalls, error) {
	out := make([]MCPCalls, len(afterSteps))
	ms := make([][]float64, len(afterSteps))
	lost := make([]bool, len(afterSteps))
	start := time.Now()
	rounds := r.sc.mcpWarmup + r.sc.mcpCalls
	for k := 0; k < rounds; k++ {
		for i, st := range afterSteps {
			c := &out[i]
			if lost[i] {
				c.Skipped++
				continue
			}
			c.Calls++
			t := time.Now()
			res, text, err := (*srv).callResult(ctx, st.tool, st.args(k, n))
			took := float64(time.Since(t).Microseconds()) / 1000
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				c.Failed++
				if c.Error == "" {
					c.Error = truncate(err.Error(), 200)
				}
				if res == nil && (*srv).cs.Ping(ctx, nil) != nil {
					fmt.Fprintf(r.opts.Progress, "bench: mcp %d entities: %s lost its connection on %s (%v); starting it again\n", n, who, st.label, err)
					lost[i] = true
					(*srv).close()
					again, err := restart(ctx)
					if err != nil {
						return nil, err
					}
					*srv = again
				}
				continue
			}
			if k >= r.sc.mcpWarmup {
				ms[i] = append(ms[i], took)
			}
			if b, err := json.Marshal(res); err == nil {
				c.MaxAnswerBytes = max(c.MaxAnswerBytes, len(b))
				if len(b) > ClientFrameLimit {
					c.OverClientLimit++
				}
			}
			if st.tool == "search_nodes" || st.tool == "open_nodes" {
				checkAfter(c, st, text, k, n)
			}
		}
		fmt.Fprintf(r.opts.Progress, "bench: mcp %d entities: %s: read-after-write round %d of %d done after %.1fs\n",
			n, who, k+1, rounds, time.Since(start).Seconds())
	}
	for i := range out {
		out[i].P50MS, out[i].P95MS = percentile(ms[i], 50), percentile(ms[i], 95)
	}
	return out, nil
}

// checkAfter reads a graph answer into c's counts: its entities, whether it
// was cut, and whether it holds round k's writes.
func checkAfter(c *MCPCalls, st afterStep, text string, k, n int) {
	var g afterGraph
	if err := json.Unmarshal([]byte(text), &g); err != nil {
		c.Missing++
		return
	}
	c.MaxEntities = max(c.MaxEntities, len(g.Entities))
	if g.NextCursor != "" {
		c.Cut++
	}
	if st.holds != nil && !st.holds(g, k, n) {
		c.Missing++
	}
}

// afterWriteFigures pairs memsnap's and the reference's (nil: not run)
// figures of each step.
func afterWriteFigures(mine, theirs []MCPCalls) []MCPAfterWrite {
	var out []MCPAfterWrite
	for i, st := range afterSteps {
		x := MCPAfterWrite{Tool: st.label, Memsnap: mine[i]}
		if theirs != nil {
			ref := theirs[i]
			x.Reference = &ref
			x.RatioP50 = ratio(x.Memsnap.P50MS, ref.P50MS)
		}
		out = append(out, x)
	}
	return out
}

// isRead says whether a read-after-write step is a read (its goals are the
// reads').
func (x MCPAfterWrite) isRead() bool {
	return x.Tool != "create_entities" && x.Tool != "add_observations"
}
