package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/cmd/memsnap/internal/linerpc"
	"github.com/memsnap/memsnap/cmd/memsnap/internal/mcpserver"
	"github.com/memsnap/memsnap/cmd/memsnap/internal/metrics"
	"github.com/memsnap/memsnap/internal/buildinfo"
	"github.com/memsnap/memsnap/internal/schedule"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// The long-running commands: the daemon commits and collects garbage on
// schedules, mcp serves the memory to an AI tool. Both leave every commit to
// a warm writer: a 'memsnap commit --loop' child process (see warm.go).

func (a *app) newDaemonCommand() *cobra.Command {
	var addr string
	c := &cobra.Command{
		Use:   "daemon [--addr 127.0.0.1:9464]",
		Short: "Run the commit and gc schedules until SIGINT or SIGTERM",
		Long: `Commit queued jobs as they arrive (within writer.commit_delay, all that arrived in one
snapshot) and on writer.commit, and collect garbage on gc.schedule (cron specs such as
"@every 1s"; an empty one turns that part off). Commits run in a 'memsnap commit' child
process that stays up between commits (it stops after a minute without one); a tick is skipped when another writer holds the lock or the daemon's last commit or
gc still runs. On SIGINT/SIGTERM the daemon lets a running commit or gc finish and exits 0.
With --addr it serves Prometheus metrics on /metrics (snapshot seq and age, queue depth and
dead jobs, its commits and their durations) and /healthz, over HTTP with no authentication:
keep it on a loopback address. Its connections are capped and timed as serve's (the serve.*
connection keys), each serving one request.`,
		Args: noArgs,
		RunE: a.onNewStore(func(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
			return runDaemon(cmd.Context(), s, a, addr)
		}),
	}
	c.Flags().StringVar(&addr, "addr", "", "serve /metrics and /healthz on this address (host:port; port 0 picks one)")
	return c
}

func runDaemon(ctx context.Context, s *snapshot.Store, a *app, addr string) error {
	log := a.log.With("component", "daemon")
	met := metrics.New(s, log)
	health := &daemonHealth{space: writer.NewSpaceChecker(s, a.cfg.WriterOptions())}
	space := health.space
	if addr != "" {
		at, err := serveMetrics(ctx, addr, s, met, a.newGuard(log), health.get, log)
		if err != nil {
			return err
		}
		log.Info("serving metrics", "url", "http://"+at+"/metrics")
	}
	// The daemon only writes: at writer.nice, it and the commit processes it
	// starts (which inherit its priority from the moment they start) leave
	// the CPU to readers.
	if err := lowerPriority(a.cfg.Writer.Nice); err != nil {
		log.Warn("could not lower the daemon's CPU priority (writer.nice)", "error", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("daemon: find own binary: %w", err)
	}
	var mu sync.Mutex // one writer action at a time inside this process
	work := context.WithoutCancel(ctx)
	ww := a.newWarmWriter(exe, s)
	defer ww.Close(time.Minute)
	commit := func() (writer.Summary, bool, error) {
		sum, skipped, err := ww.Commit(work)
		met.CommitObserved(sum, skipped, err)
		switch {
		case skipped:
			log.Debug("commit skipped: another writer holds the lock")
		case err != nil:
			log.Error("commit failed", "error", err)
		case sum.Batches > 0:
			log.Info("committed", "snapshots", sum.Snapshots, "applied", sum.Applied, "rejected", sum.Rejected, "ms", sum.DurationMS)
		}
		return sum, skipped, err
	}
	c := cron.New()
	add := func(key, spec string, run func()) error {
		if spec == "" {
			return nil
		}
		sched, err := schedule.Parse(spec)
		if err != nil {
			return fmt.Errorf("%s %q: %w", key, spec, err)
		}
		c.Schedule(sched, cron.FuncJob(func() {
			// A tick that finds the last action still running is skipped,
			// not queued: queued ticks would pile up behind a slow commit
			// and run one after another, even after a stop signal.
			if ctx.Err() != nil || !mu.TryLock() {
				return
			}
			defer mu.Unlock()
			run()
		}))
		return nil
	}
	if err := add("writer.commit", a.cfg.Writer.Commit, func() {
		// While the next job does not fit, a scheduled commit could only
		// fail: the group committer commits once there is room.
		if errors.Is(space.Check(), writer.ErrNoSpace) {
			return
		}
		commit()
	}); err != nil {
		return err
	}
	if err := add("gc.schedule", a.cfg.GC.Schedule, func() {
		if _, err := writer.GC(work, s, a.cfg.WriterOptions(), a.log); err != nil && !errors.Is(err, writer.ErrLocked) {
			log.Error("gc failed", "error", err)
		}
	}); err != nil {
		return err
	}
	// Besides its schedule, the daemon commits jobs as they arrive. A
	// commit under way when a stop signal comes runs to its end.
	committer := writer.NewGroupCommitter(s, writer.GroupCommitOptions{Delay: a.cfg.Writer.CommitDelay, Log: a.log, Space: space.Check,
		Commit: func(context.Context) (writer.Summary, bool, error) {
			mu.Lock()
			defer mu.Unlock()
			return commit()
		}})
	health.running.Store(committer)
	committed := make(chan struct{})
	go func() { defer close(committed); committer.Run(ctx) }()
	log.Info("daemon started", "store", s.Dir(), "commit", a.cfg.Writer.Commit, "gc", a.cfg.GC.Schedule)
	c.Start()
	<-ctx.Done()
	<-committed
	<-c.Stop().Done()
	log.Info("daemon stopped")
	return nil
}

// daemonHealth is whether the daemon's writer can commit, for /healthz:
// the space check, and the last failure of the group committer once it
// runs.
type daemonHealth struct {
	space   *writer.SpaceChecker
	running atomic.Pointer[writer.GroupCommitter]
}

func (h *daemonHealth) get() writer.Health {
	var last error
	if g := h.running.Load(); g != nil {
		last = g.LastFailure()
	}
	return h.space.Health(last)
}

func (a *app) newMCPCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "mcp",
		Short: "Serve the memory to an AI tool over MCP (stdio); many may run at once",
		Long: `Serve the store over the Model Context Protocol on standard input and output, with the
tools of the reference knowledge-graph memory server (create_entities, create_relations,
add_observations, delete_entities, delete_observations, delete_relations, read_graph,
search_nodes, open_nodes) and neighbors, query, kv_get, kv_put, kv_scan, memory_status.
Any number of 'memsnap mcp' processes can share one store (it is created if missing). A write
tool answers once its job is durable in the queue, with the outcome the writer will give
(mcp.write_ack durable; with applied it waits until the job is applied, up to
mcp.write_timeout). The server commits queued jobs as they arrive, batching those that arrive
within writer.commit_delay, through a 'memsnap commit' child process (kept up between
commits) whenever no other writer holds the lock (mcp.commit_when_idle). A read waits until the snapshot holds the
server's own writes. On a store it cannot write (a read-only filesystem, no write
permission) it serves reads and answers every write with "the store ... is read-only".
Logs go to standard error only. A line that is not a JSON-RPC message
is answered with a JSON-RPC error (-32700 not JSON, or not UTF-8, or holding an unpaired
surrogate escape; -32600 not a request, a batch array, or an id that is null or not a string
or an integer within 2^53; id null where it cannot be told), as is a line longer than serve.max_body_bytes (default
four times job.max_bytes), which is skipped unread; the session goes on with the next line.
When the input ends, the replies still due are written (for up to a minute) before it exits.`,
		Args: noArgs,
		RunE: a.onServingStore(func(cmd *cobra.Command, s *snapshot.Store, ro error, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("mcp: find own binary: %w", err)
			}
			ww := a.newWarmWriter(exe, s)
			defer ww.Close(10 * time.Second)
			pool := a.newQueryPool(exe, s)
			defer pool.Close()
			srv := mcpserver.New(mcpserver.Options{
				Store: s, Config: a.cfg, Log: a.log, Version: buildinfo.Version, QueryRunner: pool, ReadOnly: ro,
				// A commit under way when the client leaves runs to its end.
				Commit: func(ctx context.Context) (writer.Summary, bool, error) {
					return ww.Commit(context.WithoutCancel(ctx))
				},
			})
			a.log.Info("mcp server running on stdio", "store", s.Dir())
			// The framing is our own: a bad line is answered and skipped, never
			// the end of the session (see linerpc).
			return srv.Run(cmd.Context(), &linerpc.Transport{In: os.Stdin, Out: os.Stdout,
				MaxLine: int(a.cfg.BodyCap()), Log: a.log.With("component", "mcp")})
		}),
	}
}

// newWarmWriter returns the warm writer of a long-lived process on store s:
// 'exe commit --loop' with this process's store, config and log level. The
// child's log lines go to this process's stderr.
func (a *app) newWarmWriter(exe string, s *snapshot.Store) *warmWriter {
	return newWarmWriter(func() *exec.Cmd {
		args := []string{"--store", s.Dir(), "--log-level", a.cfg.LogLevel}
		if f := a.v.GetString("config"); f != "" {
			args = append(args, "--config", f)
		}
		cmd := exec.Command(exe, append(args, "commit", "--loop")...)
		cmd.Stderr = a.stderr
		return cmd
	})
}
