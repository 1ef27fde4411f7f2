package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// newRestoreCommand is 'snapshots restore SEQ|TIME': an undo to a point
// of history (see writer.Restore).
func (a *app) newRestoreCommand() *cobra.Command {
	return &cobra.Command{
		Use: "restore SEQ|TIME",
		Short: "Publish a new snapshot with the content as it was at SEQ or TIME (RFC 3339, or -10m) and do NOT apply " +
			"again what came after (an undo: the jobs undone are listed and stay in history); prints JSON",
		Args: exactArgs("SEQ|TIME"),
		RunE: a.onStore(func(cmd *cobra.Command, s *snapshot.Store, args []string) error {
			seq, err := s.ParsePoint(args[0], time.Now())
			if errors.Is(err, snapshot.ErrBadPoint) {
				return usagef(cmd, "%w", err)
			}
			if err != nil {
				return err
			}
			res, err := writer.Restore(cmd.Context(), s, a.cfg.WriterOptions(), seq, a.log)
			if err != nil {
				return err
			}
			if res.Undone == nil {
				res.Undone = []writer.JobSummary{}
			}
			if res.Redone == nil {
				res.Redone = []writer.JobSummary{}
			}
			return a.printJSON(res)
		}),
	}
}
