package main

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "slices"
import "sync"
import "sync/atomic"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/snapshot"

type demoOptions struct {
	producers, readers, jobs int
	commit                   string
	pace                     time.Duration
	keep                     bool
}

func (a *app) newDemoCommand() *cobra.Command {
	var o demoOptions
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a daemon, producer and reader processes on a fresh temporary store (or --store DIR) and print a summary",
		Long: `The main job on one store: a daemon commits jobs as they arrive (group commit) while producer
processes enqueue memories (acknowledged once durable) and reader processes query all the
while. Every process is a real memsnap process. Prints jobs applied, snapshots published and
jobs per snapshot, the write latency (a process started per write: 'memsnap enqueue
--wait=durable', start to exit), the acknowledgement time of the same writes inside one
process (as an MCP server acknowledges them; measured on a scratch store), reader queries
and reader errors; exits 1 if any
reader failed or any memory is missing. It runs on a fresh temporary store, removed at the end
(--keep keeps it), unless --store names one: it never writes demo memories into the store
'memsnap mcp' serves by default.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), a, o)
		},
	}
	c.Flags().IntVar(&o.producers, "producers", 3, "producer processes at a time")
	c.Flags().IntVar(&o.readers, "readers", 3, "reader processes at a time")
	c.Flags().IntVar(&o.jobs, "jobs", 20, "jobs per producer")
	c.Flags().DurationVar(&o.pace, "pace", 200*time.Millisecond, "pause between one producer's jobs")
	c.Flags().StringVar(&o.commit, "commit", "@every 1s", "the daemon's commit schedule")
	c.Flags().BoolVar(&o.keep, "keep", false, "keep the temporary store after the run (without --store)")
	return c
}

// demo is one run of 'memsnap demo': the store, how to start memsnap
// processes on it, and what the readers and producers counted.
type demo struct {
	a       *app
	o       demoOptions
	exe     string
	s       *snapshot.Store
	started time.Time

	enqueued, queries, readerErrs atomic.Int64
	firstErr                      atomic.Value // string

	mu        sync.Mutex      // guards writeTime
	writeTime []time.Duration // each producer process's enqueue --wait=durable, start to exit
	// ackTime is each of the same writes acknowledged in this process
	// (inProcessAck).
	ackTime []time.Duration
}

func runDemo(ctx context.Context, a *app, o demoOptions) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: find own binary: %w", err)
	}
	dir, temp := a.cfg.Store, false
	if f, ok := a.flags["store"]; !ok || !f.changed() {
		tmp, err := os.MkdirTemp("", "memsnap-demo-")
		if err != nil {
			return fmt.Errorf("demo: temporary store: %w", err)
		}
		dir, temp = filepath.Join(tmp, "store"), true
		if !o.keep {
			defer os.RemoveAll(tmp)
		}
	}
	s, err := snapshot.Init(dir)
	if err != nil {
		return err
	}
	switch {
	case !temp:
		fmt.Fprintf(a.stdout, "demo store: %s\n", s.Dir())
	case o.keep:
		fmt.Fprintf(a.stdout, "demo store: %s (a fresh temporary store, kept)\n", s.Dir())
	default:
		fmt.Fprintf(a.stdout, "demo store: %s (a fresh temporary store, removed at the end; --keep keeps it, --store DIR runs on DIR)\n", s.Dir())
	}
	d := &demo{a: a, o: o, exe: exe, s: s, started: time.Now()}
	daemon := d.command(context.WithoutCancel(ctx), "daemon")
	daemon.Stderr = a.stderr
	if err := daemon.Start(); err != nil {
		return fmt.Errorf("demo: start daemon: %w", err)
	}
	defer func() {
		if daemon.ProcessState == nil {
			_ = daemon.Process.Kill()
			_ = daemon.Wait()
		}
	}()

	stopReaders := d.startReaders(ctx)
	d.produce(ctx)
	// Let the daemon catch up on its own schedule, then stop it cleanly.
	d.waitForQueue(ctx)
	stopReaders()
	_ = stopProcess(daemon.Process)
	if err := daemon.Wait(); err != nil && !stopKills {
		return fmt.Errorf("demo: daemon exited badly: %w", err)
	}
	// Anything the daemon had not reached yet: one last commit.
	if out, err := d.command(ctx, "commit").CombinedOutput(); err != nil {
		return fmt.Errorf("demo: final commit: %v: %s", err, bytes.TrimSpace(out))
	}
	memories, snap, err := d.countMemories(ctx)
	if err != nil {
		return err
	}
	if d.ackTime, err = d.inProcessAck(ctx); err != nil {
		return err
	}
	return d.report(memories, snap)
}

// command is a memsnap process on the demo's store.
func (d *demo) command(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, d.exe, append([]string{"--store", d.s.Dir(), "--log-level", "warn"}, args...)...)
	c.Env = append(os.Environ(), "MEMSNAP_WRITER_COMMIT="+d.o.commit)
	return c
}

// fail records the first thing that went wrong.
func (d *demo) fail(format string, args ...any) {
	d.firstErr.CompareAndSwap(nil, fmt.Sprintf(format, args...))
}

// startReaders starts the reader loops, each running one query process
// after another; the function it returns stops them and waits.
func (d *demo) startReaders(ctx context.Context) (stop func()) {
	readCtx, cancel := context.WithCancel(ctx)
	var readers sync.WaitGroup
	for r := 0; r < d.o.readers; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for readCtx.Err() == nil {
				out, err := d.command(context.WithoutCancel(readCtx), "query", "--json",
					"MATCH (e:Entity) OPTIONAL MATCH (e)-[r:Relation]->() RETURN count(DISTINCT e), count(r)").CombinedOutput()
				if err != nil {
					if errors.Is(err, exec.ErrNotFound) || !bytes.Contains(out, []byte("nothing published yet")) {
						d.readerErrs.Add(1)
						d.fail("%v: %s", err, bytes.TrimSpace(out))
					}
				}
				d.queries.Add(1)
			}
		}()
	}
	return func() {
		cancel()
		readers.Wait()
	}
}

// produce runs the producers, each enqueueing its jobs one process at a
// time, and waits for them.
func (d *demo) produce(ctx context.Context) {
	var producers sync.WaitGroup
	for p := 0; p < d.o.producers; p++ {
		producers.Add(1)
		go func() {
			defer producers.Done()
			for k := 0; k < d.o.jobs && ctx.Err() == nil; k++ {
				c := d.command(ctx, "enqueue", "--wait=durable")
				c.Stdin = bytes.NewReader(demoJob(p, k))
				t := time.Now()
				if out, err := c.CombinedOutput(); err != nil {
					d.fail("enqueue: %v: %s", err, bytes.TrimSpace(out))
					continue
				}
				d.mu.Lock()
				d.writeTime = append(d.writeTime, time.Since(t))
				d.mu.Unlock()
				d.enqueued.Add(1)
				time.Sleep(d.o.pace)
			}
		}()
	}
	producers.Wait()
}

// waitForQueue waits, up to 30s, until no job waits in the queue.
func (d *demo) waitForQueue(ctx context.Context) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if q, err := d.s.Queue().Counts(); err == nil && q.Waiting() == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// countMemories asks a query process how many memories the graph holds and
// in which snapshot.
func (d *demo) countMemories(ctx context.Context) (memories int64, snap uint64, err error) {
	out, err := d.command(ctx, "query", "--json", "MATCH (e:Entity) WHERE e.entityType = 'memory' RETURN count(e)").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("demo: final query: %w", err)
	}
	var res struct {
		Snapshot uint64  `json:"snapshot"`
		Rows     [][]any `json:"rows"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Rows) != 1 {
		return 0, 0, fmt.Errorf("demo: final query answer %q: %v", out, err)
	}
	return int64(res.Rows[0][0].(float64)), res.Snapshot, nil
}

// report prints the summary and fails unless every memory arrived and no
// reader failed.
func (d *demo) report(memories int64, snap uint64) error {
	w, want := d.a.stdout, d.enqueued.Load()
	fmt.Fprintf(w, "jobs enqueued:       %d (%d producers)\n", want, d.o.producers)
	fmt.Fprintf(w, "jobs applied:        %d memories in the graph\n", memories)
	fmt.Fprintf(w, "snapshots published: %d (group commit: %.1f jobs a snapshot)\n", snap, float64(memories)/float64(max(snap, 1)))
	d.mu.Lock()
	p50, p99 := percentile(d.writeTime, 50), percentile(d.writeTime, 99)
	d.mu.Unlock()
	fmt.Fprintf(w, "write latency:       p50 %s, p99 %s, each write a new process ('memsnap enqueue --wait=durable', start to exit:\n"+
		"                     process start, config, snapshot open, prediction, durable enqueue)\n", p50.Round(time.Millisecond), p99.Round(time.Millisecond))
	fmt.Fprintf(w, "in-process ack:      p50 %s, p99 %s, the same writes in one process (prediction and durable enqueue, as an\n"+
		"                     MCP server answers a write tool; on a scratch store)\n",
		percentile(d.ackTime, 50).Round(10*time.Microsecond), percentile(d.ackTime, 99).Round(10*time.Microsecond))
	fmt.Fprintf(w, "reader queries:      %d (%d reader processes at a time)\n", d.queries.Load(), d.o.readers)
	fmt.Fprintf(w, "reader errors:       %d\n", d.readerErrs.Load())
	fmt.Fprintf(w, "elapsed:             %s\n", time.Since(d.started).Round(time.Millisecond))
	if e := d.firstErr.Load(); e != nil {
		fmt.Fprintf(d.a.stderr, "first error: %s\n", e)
	}
	if d.readerErrs.Load() > 0 || memories != want || want != int64(d.o.producers*d.o.jobs) {
		return fmt.Errorf("demo failed: %d of %d memories applied, %d reader errors", memories, d.o.producers*d.o.jobs, d.readerErrs.Load())
	}
	return nil
}

// percentile returns the p-th percentile (nearest rank) of ds, 0 if empty.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

// demoJob is one memory a producer records: an entity, a link to its
// producer's hub entity, and a KV note.
func demoJob(p, k int) []byte {
	hub := fmt.Sprintf("producer-%d", p)
	name := fmt.Sprintf("memory-%d-%d", p, k)
	job := map[string]any{"ops": []map[string]any{
		{"op": "create_entities", "entities": []map[string]any{
			{"name": hub, "entityType": "producer", "observations": []string{}},
			{"name": name, "entityType": "memory", "observations": []string{fmt.Sprintf("noted by %s at step %d", hub, k)}},
		}},
		{"op": "create_relations", "relations": []map[string]any{{"from": hub, "to": name, "relationType": "remembers"}}},
		{"op": "kv_put", "key": hub + "/last", "value": name},
	}}
	b, _ := json.Marshal(job)
	return b
}
