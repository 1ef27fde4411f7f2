package main

import (
	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/reader"
)

func (a *app) newJobCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "job JOB_ID",
		Short: "Print a job's outcome: applied, rejected (with reason), pending or unknown",
		Args:  exactArgs("JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			o, err := reader.JobOutcome(cmd.Context(), s, a.cfg.Reader.Verify, args[0])
			if err != nil {
				return err
			}
			return a.printJSON(o)
		},
	}
}
