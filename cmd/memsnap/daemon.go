package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

func (a *app) newDaemonCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "Run the commit and gc schedules until SIGINT or SIGTERM",
		Long: "Commit on writer.commit and collect garbage on gc.schedule (cron specs such as \"@every 1s\").\n" +
			"A tick skips at once when another writer holds the lock. On SIGINT/SIGTERM the daemon lets a\n" +
			"running commit finish and exits 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := snapshot.Init(a.cfg.Store)
			if err != nil {
				return err
			}
			return runDaemon(cmd.Context(), s, a)
		},
	}
}

func runDaemon(ctx context.Context, s *snapshot.Store, a *app) error {
	log := a.log.With("component", "daemon")
	w := writer.New(s, a.cfg, a.log)
	noWait := time.Duration(0)
	var mu sync.Mutex // one writer action at a time inside this process
	work := context.WithoutCancel(ctx)
	c := cron.New()
	if spec := a.cfg.Writer.Commit; spec != "" {
		if _, err := c.AddFunc(spec, func() {
			mu.Lock()
			defer mu.Unlock()
			sum, err := w.Commit(work, writer.CommitOptions{LockTimeout: &noWait})
			switch {
			case errors.Is(err, writer.ErrLocked):
				log.Debug("commit skipped", "reason", err)
			case err != nil:
				log.Error("commit failed", "error", err)
			case sum.Batches > 0:
				log.Info("committed", "snapshots", sum.Snapshots, "applied", sum.Applied, "rejected", sum.Rejected, "ms", sum.DurationMS)
			}
		}); err != nil {
			return fmt.Errorf("writer.commit %q: %w", spec, err)
		}
	}
	if spec := a.cfg.GC.Schedule; spec != "" {
		if _, err := c.AddFunc(spec, func() {
			mu.Lock()
			defer mu.Unlock()
			if _, err := writer.GC(work, s, a.cfg, a.log); err != nil {
				log.Error("gc failed", "error", err)
			}
		}); err != nil {
			return fmt.Errorf("gc.schedule %q: %w", spec, err)
		}
	}
	log.Info("daemon started", "store", s.Dir(), "commit", a.cfg.Writer.Commit, "gc", a.cfg.GC.Schedule)
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	log.Info("daemon stopped")
	return nil
}
