package main

import "fmt"
import "log/slog"
import "os"
import "path/filepath"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/replica"
import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// The restore command: disaster recovery from a replica location.

func (a *app) newRestoreCommand() *cobra.Command {
	var from, at string
	c := &cobra.Command{
		Use:   "restore --from s3://BUCKET/PREFIX [--at SEQ|TIME] DIR",
		Short: "Rebuild a store in DIR from S3-compatible storage",
		Long: `Rebuild a store in DIR (new or empty) from what 'memsnap replicate' sent to
s3://BUCKET/PREFIX: the snapshot the remote CURRENT names, every chunk and file checked
against its content hash and the snapshot's manifest before it is published. The store
in DIR then works as any other ('memsnap --store DIR ...'). Prints {"seq": N, ...}.
With --at SEQ|TIME (RFC 3339, or a duration ago such as -10m) the store holds the content
as it was at that point of the remote history (remote retention keeps history.keep_for):
the snapshot kept in full at or before it and the job files after it come down, each
checked, and the point is rebuilt through the writer's apply, checked against the content
digest its manifest records; its one snapshot is numbered as the point.`,
		Args: exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) (retErr error) {
			if from == "" {
				return usagef(cmd, "needs --from s3://BUCKET/PREFIX")
			}
			client, err := a.objClient(cmd.Context(), from)
			if err != nil {
				return err
			}
			_, statErr := os.Stat(args[0])
			held, _ := os.ReadDir(args[0])
			s, err := snapshot.Init(args[0])
			if err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			defer func() {
				// Only a skeleton this run made: never a store that was
				// there (it may hold queued jobs).
				if retErr != nil && at != "" && (os.IsNotExist(statErr) || (statErr == nil && len(held) == 0)) {
					undoInit(s.Dir(), os.IsNotExist(statErr), a.log)
				}
			}()
			cur, err := s.Current()
			if err != nil {
				return fmt.Errorf("restore: read %s's CURRENT: %w", s.Dir(), err)
			}
			if cur != 0 {
				return fmt.Errorf("restore: %s already holds a store (CURRENT names snapshot %d): restore into a new directory", s.Dir(), cur)
			}
			if at != "" {
				return a.restorePoint(cmd, client, s, at)
			}
			res, err := replica.NewSyncer(client, s, replica.SyncOptions{Keep: 1}, a.log).Sync(cmd.Context())
			if err != nil {
				return fmt.Errorf("restore from %s: %w", client.Location(), err)
			}
			return a.printJSON(res)
		},
	}
	c.Flags().StringVar(&from, "from", "", "s3://BUCKET/PREFIX to restore from")
	c.Flags().StringVar(&at, "at", "", "restore the content as it was at snapshot SEQ, or at TIME (RFC 3339, or -10m), of the remote history")
	return c
}

// undoInit removes the store skeleton snapshot.Init made in dir for a
// restore that failed: dir itself when it did not exist before (made),
// else what it holds (it was empty before).
func undoInit(dir string, made bool, log *slog.Logger) {
	if made {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("restore failed: could not remove the store it began", "dir", dir, "error", err)
		}
		return
	}
	entries, err := os.ReadDir(dir)
	for _, e := range entries {
		if err == nil {
			err = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	if err != nil {
		log.Warn("restore failed: could not empty the directory again", "dir", dir, "error", err)
	}
}

// restorePoint rebuilds point at of client's remote history as the one
// snapshot of s (new and empty): what it needs comes down into a
// temporary store beside s (mirrorPoint), and writer.BuildView rebuilds it
// in s. Prints {"seq": N}.
func (a *app) restorePoint(cmd *cobra.Command, client *objstore.Client, s *snapshot.Store, at string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(s.Dir()), ".memsnap-restore-")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(tmp)
	seq, err := a.mirrorPoint(cmd, client, at, tmp)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	mirror, err := snapshot.Open(tmp)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if _, err := writer.BuildView(cmd.Context(), mirror, a.cfg.WriterOptions(), seq, s.Dir(), a.log); err != nil {
		return fmt.Errorf("restore point %d from %s: %w", seq, client.Location(), err)
	}
	return a.printJSON(struct {
		Seq uint64 `json:"seq"`
	}{seq})
}
