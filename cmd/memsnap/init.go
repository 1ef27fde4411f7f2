package main

import "context"
import "errors"
import "fmt"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

func (a *app) newInitCommand() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "init [--force]",
		Short: "Create the store with an empty first snapshot, so that reads answer at once (idempotent)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.initStore(cmd.Context(), snapshot.InitOptions{Force: force})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "store ready at %s\n", s.Dir())
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "make the store in a directory that holds other files (refused otherwise)")
	return c
}

// initStore is 'memsnap init': it makes the configured store
// (snapshot.InitWith, with its checks) and publishes an empty first
// snapshot there if it has none, so that readers started with the store
// answer (empty) at once. It is idempotent.
func (a *app) initStore(ctx context.Context, opts snapshot.InitOptions) (*snapshot.Store, error) {
	s, err := snapshot.InitWith(a.cfg.Store, opts)
	if err != nil {
		return nil, err
	}
	if _, _, err := writer.New(s, a.cfg.WriterOptions(), a.log).PublishEmpty(ctx); err != nil {
		return nil, fmt.Errorf("init %s: %w", s.Dir(), err)
	}
	return s, nil
}

// onStoreOrInit is onStore for the commands that write into a store the
// user may not have made yet (import, the memory-tool commands): a store
// that does not exist (snapshot.ErrNoStore: a missing or empty directory)
// is made first as 'memsnap init' makes it (initStore), which is said once
// on standard error. Anything else Open refuses (a file, a directory that
// is not a store) is refused as every command refuses it.
func (a *app) onStoreOrInit(run storeRunE) runE {
	return func(cmd *cobra.Command, args []string) error {
		s, err := snapshot.Open(a.cfg.Store)
		if errors.Is(err, snapshot.ErrNoStore) {
			if s, err = a.initStore(cmd.Context(), snapshot.InitOptions{}); err == nil {
				fmt.Fprintf(a.stderr, "memsnap: created the store at %s (as 'memsnap init' does)\n", s.Dir())
			}
		}
		if err != nil {
			return err
		}
		return run(cmd, s, args)
	}
}
