package main

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"

func (a *app) newJobCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "job JOB_ID",
		Short: "Print a job's outcome: applied, rejected (with reason), pending or unknown",
		Args:  exactArgs("JOB_ID"),
		RunE: a.onStore(func(cmd *cobra.Command, s *snapshot.Store, args []string) error {
			o, err := reader.JobOutcome(cmd.Context(), s, a.cfg.Reader.Verify, args[0])
			if err != nil {
				return err
			}
			return a.printJSON(o)
		}),
	}
}
