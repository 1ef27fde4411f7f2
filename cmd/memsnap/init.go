package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

func (a *app) newInitCommand() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "init [--force]",
		Short: "Create the store with an empty first snapshot, so that reads answer at once (idempotent)",
		Args:  noArgs,
		RunE: a.storeRunE(func(dir string) (*snapshot.Store, error) {
			return snapshot.InitWith(dir, snapshot.InitOptions{Force: force})
		}, func(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
			// An empty first snapshot: readers started with the store
			// answer (empty) at once.
			if _, _, err := writer.New(s, a.cfg.WriterOptions(), a.log).PublishEmpty(cmd.Context()); err != nil {
				return fmt.Errorf("init %s: %w", s.Dir(), err)
			}
			fmt.Fprintf(a.stdout, "store ready at %s\n", s.Dir())
			return nil
		}),
	}
	c.Flags().BoolVar(&force, "force", false, "make the store in a directory that holds other files (refused otherwise)")
	return c
}
