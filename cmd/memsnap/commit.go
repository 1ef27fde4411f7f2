package main

import (
	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/writer"
)

func (a *app) newCommitCommand() *cobra.Command {
	var maxJobs int
	c := &cobra.Command{
		Use:   "commit [--max-jobs N]",
		Short: "Run the writer once; prints a JSON summary",
		Long: "Take the writer lock (waiting up to writer.lock_timeout), recover from any crashed writer,\n" +
			"apply the queued jobs in batches and publish one snapshot per batch.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			sum, err := writer.New(s, a.cfg, a.log).Commit(cmd.Context(), writer.CommitOptions{MaxJobs: maxJobs})
			if err != nil {
				return err
			}
			if sum.Snapshots == nil {
				sum.Snapshots = []uint64{}
			}
			return a.printJSON(sum)
		},
	}
	c.Flags().IntVar(&maxJobs, "max-jobs", 0, "cap the jobs per batch (0 = writer.max_batch_jobs)")
	c.Flags().Duration("lock-timeout", 0, "how long to wait for the writer lock (default writer.lock_timeout)")
	_ = a.v.BindPFlag("writer.lock_timeout", c.Flags().Lookup("lock-timeout"))
	return c
}
