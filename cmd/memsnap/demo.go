package main

import (
	"github.com/spf13/cobra"
)

func (a *app) newDemoCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "demo",
		Short:  "Run producers, a committing daemon and readers as real processes on a store and summarise",
		Args:   cobra.NoArgs,
		Hidden: false,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), a)
		},
	}
}
