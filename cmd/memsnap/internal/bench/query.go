package bench

import "context"
import "fmt"
import "os/exec"
import "time"

import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/reader/queryworker"
import "github.com/memsnap/memsnap/snapshot"

// Query is the cost of one small user query (a primary-key lookup of one
// entity, one row) through a warm query worker against the same query in
// process, as the query command and MCP tool ran it before they had
// workers. The two paths alternate, on the same store, in the same run.
type Query struct {
	Entities       int     `json:"entities"`
	Queries        int     `json:"queries"` // timed per path
	InProcessP50MS float64 `json:"in_process_p50_ms"`
	InProcessP99MS float64 `json:"in_process_p99_ms"`
	WorkerP50MS    float64 `json:"worker_p50_ms"`
	WorkerP99MS    float64 `json:"worker_p99_ms"`
	// OverheadP50MS is WorkerP50MS less InProcessP50MS.
	OverheadP50MS float64 `json:"overhead_p50_ms"`
}

// queryCalls is how many queries each path times.
func (r *runner) queryCalls() int {
	switch {
	case r.opts.Smoke:
		return 20
	case r.opts.Quick:
		return 1000
	}
	return 5000
}

func (r *runner) query(ctx context.Context) (*Query, error) {
	dir, err := r.store(ctx, r.sc.entities)
	if err != nil {
		return nil, err
	}
	s, err := snapshot.Open(dir)
	if err != nil {
		return nil, err
	}
	opts := reader.DefaultOptions()
	opts.Refresh, opts.WatchCurrent, opts.Scrub = "", false, 0
	direct, err := reader.Open(ctx, s, opts, nil)
	if err != nil {
		return nil, err
	}
	defer direct.Close()
	pool := queryworker.New(queryworker.Options{Size: 1, Timeout: 30 * time.Second, MaxMemoryBytes: 1 << 30,
		MaxRows: 10000, MaxBytes: 4 << 20, Command: func() *exec.Cmd {
			return exec.Command(r.opts.Exe, "--store", dir, "--log-level", "warn", "query-worker")
		}})
	defer pool.Close()
	opts.Runner = pool
	isolated, err := reader.Open(ctx, s, opts, nil)
	if err != nil {
		return nil, err
	}
	defer isolated.Close()
	const q = "MATCH (e:Entity {name: $n}) RETURN e.name, e.entityType"
	n := r.queryCalls()
	var lat [2][]float64
	for i := -20; i < n; i++ { // 20 untimed rounds warm both paths
		params := map[string]any{"n": entityName((i + 20) * 7919 % r.sc.entities)}
		for k, rd := range []*reader.Reader{direct, isolated} {
			t := time.Now()
			res, err := rd.Query(ctx, q, params)
			took := time.Since(t)
			if err != nil {
				return nil, err
			}
			if len(res.Rows) != 1 {
				return nil, fmt.Errorf("query %v: %d rows, want 1", params, len(res.Rows))
			}
			if i >= 0 {
				lat[k] = append(lat[k], float64(took.Microseconds())/1000)
			}
		}
	}
	out := &Query{Entities: r.sc.entities, Queries: n,
		InProcessP50MS: percentile(lat[0], 50), InProcessP99MS: percentile(lat[0], 99),
		WorkerP50MS: percentile(lat[1], 50), WorkerP99MS: percentile(lat[1], 99)}
	out.OverheadP50MS = out.WorkerP50MS - out.InProcessP50MS
	return out, nil
}
