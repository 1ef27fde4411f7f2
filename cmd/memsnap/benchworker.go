package main

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/bench"

// newBenchWorkerCommand is the hidden entry point of the harness's worker
// processes.
func (a *app) newBenchWorkerCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "bench-worker ROLE",
		Short:  "A process of 'memsnap bench' (spec on stdin, result on stdout)",
		Hidden: true,
		Args:   exactArgs("ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.RunWorker(cmd.Context(), args[0], a.stdin, a.stdout)
		},
	}
}
