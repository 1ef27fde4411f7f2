package main

import "errors"
import "fmt"
import "strings"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// newSnapshotsRestoreCommand is 'snapshots restore SEQ|TIME': an undo to a point
// of history (see writer.Restore).
func (a *app) newSnapshotsRestoreCommand() *cobra.Command {
	return &cobra.Command{
		Use: "restore SEQ|TIME",
		Short: "Publish a new snapshot with the content as it was at SEQ or TIME (RFC 3339, or -10m) and do NOT apply " +
			"again what came after (an undo: the jobs undone are listed and stay in history); prints JSON",
		Args:        exactArgs("SEQ|TIME"),
		Annotations: map[string]string{negativeArgs: "yes"}, // -10m is TIME, not flags
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

// newHistoryCommand is 'snapshots history': the points of history, with
// the jobs each applied, to choose what to restore or read --at.
func (a *app) newHistoryCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "history",
		Short: "List the points of history (history.keep_for) with the jobs each applied, oldest first: what restore and --at can go back to",
		Args:  noArgs,
		RunE: a.onStore(func(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
			pts, err := writer.History(s, a.cfg.Job.Limits(), a.cfg.WriterOptions().History)
			if err != nil {
				return err
			}
			return a.output(cmd, pts, func() error {
				for _, p := range pts {
					if p.Damaged != "" {
						fmt.Fprintf(a.stdout, "%d\tdamaged\t%s (%s)\n", p.Seq, p.Damaged, p.Hint)
						continue
					}
					kept := "jobs only"
					if p.Full {
						kept = "full"
					}
					if p.RollbackOf > 0 {
						kept += fmt.Sprintf(", rollback of %d", p.RollbackOf)
					}
					if p.RestoreOf > 0 {
						kept += fmt.Sprintf(", restore of %d", p.RestoreOf)
					}
					fmt.Fprintf(a.stdout, "%d\t%s\t%s\n", p.Seq, p.CreatedAt.UTC().Format(time.RFC3339), kept)
					for _, j := range p.Jobs {
						fmt.Fprintf(a.stdout, "  %s  %s\n", j.ID, strings.Join(j.Ops, "; "))
					}
				}
				return nil
			})
		}),
	}
	c.Flags().Bool("json", false, "print JSON")
	return c
}
