package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/snapshot"
)

func (a *app) newInitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the store (idempotent)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := snapshot.Init(a.cfg.Store)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "store ready at %s\n", s.Dir())
			return nil
		},
	}
}
