package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/cmd/memsnap/internal/replica"
	"github.com/memsnap/memsnap/snapshot"
)

// The restore command: disaster recovery from a replica location.

func (a *app) newRestoreCommand() *cobra.Command {
	var from string
	c := &cobra.Command{
		Use:   "restore --from s3://BUCKET/PREFIX DIR",
		Short: "Rebuild a store in DIR from S3-compatible storage",
		Long: `Rebuild a store in DIR (new or empty) from what 'memsnap replicate' sent to
s3://BUCKET/PREFIX: the snapshot the remote CURRENT names, every chunk and file checked
against its content hash and the snapshot's manifest before it is published. The store
in DIR then works as any other ('memsnap --store DIR ...'). Prints {"seq": N, ...}.`,
		Args: exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return usagef(cmd, "needs --from s3://BUCKET/PREFIX")
			}
			client, err := a.objClient(cmd.Context(), from)
			if err != nil {
				return err
			}
			s, err := snapshot.Init(args[0])
			if err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			cur, err := s.Current()
			if err != nil {
				return fmt.Errorf("restore: read %s's CURRENT: %w", s.Dir(), err)
			}
			if cur != 0 {
				return fmt.Errorf("restore: %s already holds a store (CURRENT names snapshot %d): restore into a new directory", s.Dir(), cur)
			}
			res, err := replica.NewSyncer(client, s, replica.SyncOptions{Keep: 1}, a.log).Sync(cmd.Context())
			if err != nil {
				return fmt.Errorf("restore from %s: %w", client.Location(), err)
			}
			return a.printJSON(res)
		},
	}
	c.Flags().StringVar(&from, "from", "", "s3://BUCKET/PREFIX to restore from")
	return c
}
