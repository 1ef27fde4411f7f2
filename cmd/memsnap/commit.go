package main

import "context"
import "errors"
import "fmt"
import "log/slog"
import "os/signal"
import "syscall"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

func (a *app) newCommitCommand() *cobra.Command {
	var maxJobs int
	var loop bool
	c := &cobra.Command{
		Use:   "commit [--max-jobs N]",
		Short: "Run the writer once; prints a JSON summary",
		Long: `Take the writer lock (waiting up to writer.lock_timeout), recover from any crashed writer,
apply the queued jobs in batches and publish one snapshot per batch. It runs at most
writer.max_rounds batches; jobs left over or queued meanwhile wait for the next commit
(queue_left in the summary).`,
		Args: noArgs,
		RunE: a.onStore(func(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
			if maxJobs < 0 {
				return usagef(cmd, "--max-jobs must not be negative")
			}
			if err := lowerPriority(a.cfg.Writer.Nice); err != nil {
				a.log.Warn("could not lower the writer's CPU priority (writer.nice)", "error", err)
			}
			// A commit run by a server that has since exited writes its log
			// and summary into closed pipes: it must still finish its work
			// (clean the queue up), not die of SIGPIPE half way.
			signal.Ignore(syscall.SIGPIPE)
			if loop {
				return commitLoop(cmd.Context(), s, a.cfg.WriterOptions(), a.log, a.stdin, a.stdout)
			}
			sum, err := writer.New(s, a.cfg.WriterOptions(), a.log).Commit(cmd.Context(), writer.CommitOptions{MaxJobs: maxJobs})
			if err != nil {
				return err
			}
			if sum.Snapshots == nil {
				sum.Snapshots = []uint64{}
			}
			if sum.NoSpace != nil {
				fmt.Fprintf(a.stderr, "memsnap: warning: %d jobs left queued: %s\n", sum.QueueLeft+countClaimed(s), sum.NoSpace)
			}
			return a.printJSON(sum)
		}),
	}
	c.Flags().IntVar(&maxJobs, "max-jobs", 0, "cap the jobs per batch below writer.max_batch_jobs (0: no extra cap)")
	c.Flags().BoolVar(&loop, "loop", false, "run one commit per request line on stdin, never waiting for the lock (the warm writer of long-lived processes)")
	c.Flags().MarkHidden("loop")
	c.Flags().Duration("lock-timeout", 0, "how long to wait for the writer lock (default writer.lock_timeout)")
	a.bindFlag("writer.lock_timeout", c, "lock-timeout")
	return c
}

// countClaimed is how many jobs wait in queue/cur (0 if it cannot tell).
func countClaimed(s *snapshot.Store) int {
	q, _ := s.Queue().Counts()
	return q.Cur
}

// commitUnlessLocked is the commit policy of a process that may write
// itself: it runs the writer at once when the lock is free and leaves the
// jobs to the holder when it is not.
func commitUnlessLocked(s *snapshot.Store, opts writer.Options, log *slog.Logger) reader.CommitPolicy {
	w := writer.New(s, opts, log)
	noWait := time.Duration(0)
	return func(ctx context.Context) (int, error) {
		sum, err := w.Commit(ctx, writer.CommitOptions{LockTimeout: &noWait})
		if errors.Is(err, writer.ErrLocked) {
			return 0, nil
		}
		return sum.Applied + sum.Rejected, err
	}
}
