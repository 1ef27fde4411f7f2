package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/memsnap/memsnap/writer"
)

func (a *app) newCommitCommand() *cobra.Command {
	var maxJobs int
	c := &cobra.Command{
		Use:   "commit [--max-jobs N]",
		Short: "Run the writer once; prints a JSON summary",
		Long: "Take the writer lock (waiting up to writer.lock_timeout), recover from any crashed writer,\n" +
			"apply the queued jobs in batches and publish one snapshot per batch. It runs at most\n" +
			"writer.max_rounds batches; jobs left over or queued meanwhile wait for the next commit\n" +
			"(queue_left in the summary).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			if err := lowerPriority(a.cfg.Writer.Nice); err != nil {
				a.log.Warn("could not lower the writer's CPU priority (writer.nice)", "error", err)
			}
			sum, err := writer.New(s, a.cfg.WriterOptions(), a.log).Commit(cmd.Context(), writer.CommitOptions{MaxJobs: maxJobs})
			if err != nil {
				return err
			}
			if sum.Snapshots == nil {
				sum.Snapshots = []uint64{}
			}
			return a.printJSON(sum)
		},
	}
	c.Flags().IntVar(&maxJobs, "max-jobs", 0, "cap the jobs per batch below writer.max_batch_jobs (0: no extra cap)")
	c.Flags().Duration("lock-timeout", 0, "how long to wait for the writer lock (default writer.lock_timeout)")
	a.bindFlag("writer.lock_timeout", c, "lock-timeout")
	return c
}

// lowerPriority sets every thread of this process to nice level n (threads
// started later inherit it from the thread that starts them). Linux keeps
// the nice value per thread, so the process's main thread alone is not
// enough.
func lowerPriority(n int) error {
	if n == 0 {
		return nil
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, n); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("set nice %d on thread %d: %w", n, tid, err)
		}
	}
	return nil
}
