package main

import "context"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "sync"
import "sync/atomic"
import "time"

import "github.com/robfig/cron/v3"
import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/metrics"
import "github.com/memsnap/memsnap/internal/schedule"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// The daemon command: it commits and collects garbage on schedules. As mcp
// and serve do, it leaves every commit to a warm writer: a 'memsnap commit
// --loop' child process (see warm.go).

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
With replica.to set it also replicates the store there (see 'memsnap replicate'): each
snapshot as soon as it is published (by any process: it watches CURRENT), and on
replica.schedule, which also pulls replicas' writes into the queue. With --addr it serves Prometheus metrics on /metrics (snapshot seq and age, queue depth and
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
	if err := a.daemonSetup(ctx, s, addr, met, health, log); err != nil {
		return err
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
	stopReplicate, err := a.replicateSchedule(ctx, s, c)
	if err != nil {
		return err
	}
	defer stopReplicate()
	// Besides its schedule, the daemon commits jobs as they arrive. A
	// commit under way when a stop signal comes runs to its end.
	committer := producer.NewGroupCommitter(s, producer.GroupCommitOptions{Delay: a.cfg.Writer.CommitDelay, Log: a.log, Space: space.Check,
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

// daemonSetup serves /metrics and /healthz on addr (none when empty) and
// lowers the daemon's CPU priority to writer.nice: the daemon only writes,
// and at that priority it and the commit processes it starts (which
// inherit it from the moment they start) leave the CPU to readers.
func (a *app) daemonSetup(ctx context.Context, s *snapshot.Store, addr string, met *metrics.Metrics, health *daemonHealth, log *slog.Logger) error {
	if addr != "" {
		at, err := serveMetrics(ctx, addr, s, met, a.newGuard(log), health.get, log)
		if err != nil {
			return err
		}
		log.Info("serving metrics", "url", "http://"+at+"/metrics")
	}
	if err := lowerPriority(a.cfg.Writer.Nice); err != nil {
		log.Warn("could not lower the daemon's CPU priority (writer.nice)", "error", err)
	}
	return nil
}

// daemonHealth is whether the daemon's writer can commit, for /healthz:
// the space check, and the last failure of the group committer once it
// runs.
type daemonHealth struct {
	space   *writer.SpaceChecker
	running atomic.Pointer[producer.GroupCommitter]
}

func (h *daemonHealth) get() writer.Health {
	var last error
	if g := h.running.Load(); g != nil {
		last = g.LastFailure()
	}
	return h.space.Health(last)
}
