// Package bench is memsnap's benchmark harness. It measures, in one run and
// with real processes, what memsnap promises beside what users do today and
// beside the physical limits: readers under a flowing writer against idle
// readers and against opening the Kuzu file directly; batched apply against
// one statement per row and Kuzu's COPY FROM; publish against a plain copy;
// durable enqueue against a bare fsync loop; enqueue-to-visible latency;
// reader swaps; reader memory; read throughput as reader processes are
// added; and the MCP write tools, reads right after them on the same server
// and reads on a second server through a real MCP client, beside the
// reference memory server. Figures are reported side by side so that ratios, not absolute
// times, carry the result on shared machines.
//
// Every worker is the memsnap binary itself, started as
// "memsnap bench-worker ROLE" with its spec as JSON on stdin and its result
// as JSON on stdout (see RunWorker).
package bench

import "context"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "os"
import "path/filepath"
import "runtime"
import "slices"
import "strings"
import "time"

// Names lists the benchmarks in the order a run takes them; --only takes
// any of them.
var Names = []string{"readers_under_write", "apply", "publish", "enqueue", "visibility", "swap", "rss", "scaling", "query", "mcp", "serve", "footprint", "replicate"}

// Options sets up one run.
type Options struct {
	// Exe is the memsnap binary every worker process runs.
	Exe string
	// Dir is a scratch directory for stores and files; Run creates and
	// removes a directory inside it.
	Dir string
	// Quick runs the short version (a few minutes) instead of the full one.
	Quick bool
	// Smoke shrinks every benchmark to seconds, to check the harness itself;
	// its figures mean nothing.
	Smoke bool
	// Only restricts the run to these benchmarks (nil: all of them).
	Only []string
	// MCPSizes are the store sizes (entities) of the mcp benchmark (nil: the
	// mode's: 1k, 10k and 100k; 1k with Quick; 200 with Smoke).
	MCPSizes []int
	// MCPCalls is the number of timed calls per write tool and server in
	// the mcp benchmark (0: the mode's, 15; 3 with Smoke); the writes timed
	// until a second process sees them are at most as many.
	MCPCalls int
	// ServeThink is the pause between one client's calls in the serve
	// benchmark (0: 100 ms).
	ServeThink time.Duration
	// Reference is the reference MCP memory server's entry script
	// (dist/index.js), run with node ("": looked for in .reference/; if
	// absent the mcp benchmark leaves the reference column out).
	Reference string
	// ReferenceMax is the largest mcp store size the reference runs on (0:
	// DefaultReferenceMax).
	ReferenceMax int
	// Versitygw is the S3-compatible server the replicate benchmark runs
	// ("": versitygw on PATH, else .tools/bin/versitygw, where make
	// versitygw puts it).
	Versitygw string
	// Progress receives one line as each step starts (nil: nowhere).
	Progress io.Writer
	// Log receives the harness's own diagnostics (nil: discarded).
	Log *slog.Logger
}

// Report is the result of a run. A benchmark left out by Options.Only is
// nil (or empty) and left out of the JSON.
type Report struct {
	Machine           Machine            `json:"machine"`
	Mode              string             `json:"mode"`
	ReadersUnderWrite *ReadersUnderWrite `json:"readers_under_write,omitempty"`
	Apply             *Apply             `json:"apply,omitempty"`
	Publish           []Publish          `json:"publish,omitempty"`
	Enqueue           *Enqueue           `json:"enqueue,omitempty"`
	Visibility        *Visibility        `json:"visibility,omitempty"`
	Swap              *Swap              `json:"swap,omitempty"`
	RSS               *RSS               `json:"rss,omitempty"`
	Scaling           []Scaling          `json:"scaling,omitempty"`
	Query             *Query             `json:"query,omitempty"`
	MCP               *MCP               `json:"mcp,omitempty"`
	Serve             *Serve             `json:"serve,omitempty"`
	Footprint         []Footprint        `json:"footprint,omitempty"`
	Replicate         []Replicate        `json:"replicate,omitempty"`
	// Failed maps each benchmark that failed to why; the others still ran.
	Failed  map[string]string `json:"failed,omitempty"`
	Seconds float64           `json:"seconds"`
}

// Machine describes where the run happened.
type Machine struct {
	Cores    int    `json:"cores"`
	MemoryMB int    `json:"memory_mb"`
	Disk     string `json:"disk"`
	Kernel   string `json:"kernel"`
}

// scale holds the sizes and durations of one mode.
type scale struct {
	entities         int           // store used by readers, swap, rss, scaling
	readers          int           // reader processes in readers_under_write
	phase            time.Duration // each phase of readers_under_write
	queryEvery       time.Duration // pacing of each reader's mix
	commitEvery      time.Duration // writer schedule in readers_under_write
	applyRows        int           // rows for apply
	perStatementRows int           // rows for the per-statement baseline
	publishMB        []int         // store sizes for publish
	publishRuns      int           // commits timed per size
	producers        int           // enqueue processes
	enqueueFor       time.Duration // enqueue window
	visibilityJobs   int           // jobs timed through the daemon
	visibilityStore  int           // entities in the visibility store (the smallest, about 16 MB)
	waitJobs         int           // jobs timed with --wait
	swaps            int           // refreshes timed
	scalingFor       time.Duration // each reader count in scaling
	mcpSizes         []int         // store sizes (entities) in mcp
	mcpCalls         int           // timed calls per tool and server in mcp
	mcpWarmup        int           // untimed calls before them
	mcpVisible       int           // writes timed until a second 'memsnap mcp' sees them
	serveEntities    int           // store size in serve
	serveClients     int           // HTTP MCP clients in serve
	servePhase       time.Duration // how long they run
	serveThink       time.Duration // pause between a client's calls
	serveAlone       int           // searches timed from one client alone
}

func scaleFor(o Options) scale {
	switch {
	case o.Smoke:
		return scale{entities: 600, readers: 2, phase: 2 * time.Second, queryEvery: 20 * time.Millisecond,
			commitEvery: 500 * time.Millisecond, applyRows: 2000, perStatementRows: 200, publishMB: []int{2},
			publishRuns: 1, producers: 2, enqueueFor: time.Second, visibilityJobs: 3, visibilityStore: 1000,
			waitJobs: 2, swaps: 3, scalingFor: time.Second,
			mcpSizes: []int{200}, mcpCalls: 3, mcpWarmup: 1, mcpVisible: 2,
			serveEntities: 200, serveClients: 5, servePhase: 3 * time.Second, serveThink: 100 * time.Millisecond, serveAlone: 5}
	case o.Quick:
		return scale{entities: 10000, readers: 4, phase: 10 * time.Second, queryEvery: 20 * time.Millisecond,
			commitEvery: 500 * time.Millisecond, applyRows: 50000, perStatementRows: 2000, publishMB: []int{10, 100},
			publishRuns: 3, producers: 4, enqueueFor: 3 * time.Second, visibilityJobs: 15, visibilityStore: 1000,
			waitJobs: 10, swaps: 20, scalingFor: 4 * time.Second,
			mcpSizes: []int{1000}, mcpCalls: 15, mcpWarmup: 2, mcpVisible: 10,
			serveEntities: 1000, serveClients: 50, servePhase: time.Minute, serveThink: 100 * time.Millisecond, serveAlone: 100}
	default:
		return scale{entities: 50000, readers: 4, phase: 30 * time.Second, queryEvery: 20 * time.Millisecond,
			commitEvery: 500 * time.Millisecond, applyRows: 200000, perStatementRows: 5000, publishMB: []int{10, 100, 1000},
			publishRuns: 3, producers: 4, enqueueFor: 10 * time.Second, visibilityJobs: 40, visibilityStore: 1000,
			waitJobs: 30, swaps: 30, scalingFor: 10 * time.Second,
			mcpSizes: []int{1000, 10000, 100000}, mcpCalls: 15, mcpWarmup: 2, mcpVisible: 10,
			serveEntities: 10000, serveClients: 50, servePhase: time.Minute, serveThink: 100 * time.Millisecond, serveAlone: 200}
	}
}

// runner carries what every benchmark needs.
type runner struct {
	opts  Options
	sc    scale
	dir   string
	log   *slog.Logger
	cache map[int]string // entities -> built store, reused across benchmarks
}

// Run runs the selected benchmarks and returns their figures. A benchmark
// that fails stops the run with its error; what finished before is in the
// returned report.
func Run(ctx context.Context, o Options) (*Report, error) {
	for _, n := range o.Only {
		if !slices.Contains(Names, n) {
			return nil, fmt.Errorf("unknown benchmark %q (have %s)", n, strings.Join(Names, ", "))
		}
	}
	for _, n := range o.MCPSizes {
		if n < MinMCPEntities {
			return nil, fmt.Errorf("bench: mcp store size %d is below %d entities", n, MinMCPEntities)
		}
	}
	if o.Exe == "" {
		return nil, errors.New("bench: no memsnap binary to run workers with")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	dir, err := os.MkdirTemp(o.Dir, "memsnap-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	r := &runner{opts: o, sc: scaleFor(o), dir: dir, log: o.Log, cache: map[int]string{}}
	if o.ServeThink > 0 {
		r.sc.serveThink = o.ServeThink
	}
	rep := &Report{Machine: describeMachine(dir), Mode: "full"}
	switch {
	case o.Smoke:
		rep.Mode = "smoke"
	case o.Quick:
		rep.Mode = "quick"
	}
	start := time.Now()
	defer func() { rep.Seconds = time.Since(start).Round(time.Millisecond).Seconds() }()
	steps := []benchStep{
		step("readers_under_write", &rep.ReadersUnderWrite, r.readersUnderWrite),
		step("apply", &rep.Apply, r.apply),
		step("publish", &rep.Publish, r.publish),
		step("enqueue", &rep.Enqueue, r.enqueue),
		step("visibility", &rep.Visibility, r.visibility),
		step("swap", &rep.Swap, r.swap),
		step("rss", &rep.RSS, r.rss),
		step("scaling", &rep.Scaling, r.scaling),
		step("query", &rep.Query, r.query),
		step("mcp", &rep.MCP, r.mcp),
		step("serve", &rep.Serve, r.serve),
		step("footprint", &rep.Footprint, r.footprint),
		step("replicate", &rep.Replicate, r.replicate),
	}
	var failed []string
	for _, s := range steps {
		if len(o.Only) > 0 && !slices.Contains(o.Only, s.name) {
			continue
		}
		t := time.Now()
		fmt.Fprintf(o.Progress, "bench: %s ...\n", s.name)
		if err := s.run(ctx); err != nil {
			if ctx.Err() != nil {
				return rep, fmt.Errorf("bench %s: %w", s.name, err)
			}
			// One benchmark failing says nothing about the others: note
			// it, run the rest, and fail the run at the end.
			fmt.Fprintf(o.Progress, "bench: %s FAILED after %.1fs: %v\n", s.name, time.Since(t).Seconds(), err)
			if rep.Failed == nil {
				rep.Failed = map[string]string{}
			}
			rep.Failed[s.name] = err.Error()
			failed = append(failed, s.name)
			continue
		}
		fmt.Fprintf(o.Progress, "bench: %s done in %.1fs\n", s.name, time.Since(t).Seconds())
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("bench: %s failed: %s", strings.Join(failed, ", "), rep.Failed[failed[0]])
	}
	return rep, nil
}

// path is a fresh path inside the run's scratch directory.
func (r *runner) path(elem ...string) string {
	return filepath.Join(append([]string{r.dir}, elem...)...)
}

func describeMachine(dir string) Machine {
	m := Machine{Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryMB = kb / 1024
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Disk = diskOf(dir)
	return m
}

// diskOf names the filesystem holding dir and its type, from /proc/mounts
// (the longest mount point that is a prefix of dir).
func diskOf(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown"
	}
	best, desc := "", "unknown"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, desc = mp, fmt.Sprintf("%s (%s on %s)", f[2], f[0], mp)
		}
	}
	return desc
}

// benchStep is one benchmark of a run: its name (as --only names it) and
// what runs it.
type benchStep struct {
	name string
	run  func(context.Context) error
}

// step is the benchmark name: run measures it, and its figures go into
// *field of the report.
func step[T any](name string, field *T, run func(context.Context) (T, error)) benchStep {
	return benchStep{name, func(ctx context.Context) (err error) {
		*field, err = run(ctx)
		return err
	}}
}
