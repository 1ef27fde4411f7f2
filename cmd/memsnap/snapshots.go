package main

import (
	"fmt"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

func (a *app) newSnapshotsCommand() *cobra.Command {
	c := &cobra.Command{Use: "snapshots", Short: "List, collect, verify and roll back snapshots"}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List snapshots, oldest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			infos, err := s.List()
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(infos)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tCURRENT\tPINNED\tCREATED\tENTITIES\tRELATIONS\tKV\tBYTES")
			for _, in := range infos {
				fmt.Fprintf(tw, "%d\t%v\t%v\t%s\t%d\t%d\t%d\t%d\n", in.Seq, in.Current, in.Pinned,
					in.CreatedAt.Format(time.RFC3339), in.Entities, in.Relations, in.KVKeys, in.Bytes)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	gc := &cobra.Command{
		Use:   "gc",
		Short: "Remove old snapshots (never CURRENT, the newest gc.keep, one younger than gc.min_age or a pinned one); prints JSON",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			res, err := writer.GC(cmd.Context(), s, a.cfg.WriterOptions(), a.log)
			if err != nil {
				return err
			}
			for _, p := range []*[]uint64{&res.Removed, &res.Pinned, &res.Kept} {
				if *p == nil {
					*p = []uint64{}
				}
			}
			return a.printJSON(res)
		},
	}
	verify := &cobra.Command{
		Use:   "verify [SEQ]",
		Short: "Check a snapshot (default CURRENT) against its manifest checksums",
		Args:  optionalArg("SEQ"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			seq, err := s.Current()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if seq, err = strconv.ParseUint(args[0], 10, 64); err != nil {
					return usagef(cmd, "SEQ %q is not a snapshot number", args[0])
				}
			}
			if len(args) == 0 && seq == 0 {
				return snapshot.ErrNoSnapshot
			}
			seqs, err := s.Seqs()
			if err != nil {
				return err
			}
			if !slices.Contains(seqs, seq) {
				return fmt.Errorf("snapshot %d does not exist (see 'memsnap snapshots list')", seq)
			}
			// The error names the first problem; the others go on lines of
			// their own before it, so that each is printed once.
			problems := s.Verify(seq)
			for _, p := range problems[min(1, len(problems)):] {
				fmt.Fprintln(a.stderr, p)
			}
			if err := snapshot.VerifyError(seq, problems); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "snapshot %d ok\n", seq)
			return nil
		},
	}
	rollback := &cobra.Command{
		Use:   "rollback SEQ",
		Short: "Point CURRENT back at an older snapshot that verifies; the jobs applied after it are queued again",
		Args:  exactArgs("SEQ"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return usagef(cmd, "SEQ %q is not a snapshot number", args[0])
			}
			res, err := writer.Rollback(cmd.Context(), s, a.cfg.WriterOptions(), seq)
			if err != nil {
				return err
			}
			a.log.Info("rolled back", "from", res.From, "to", res.To, "requeued", len(res.Requeued))
			return a.printJSON(res)
		},
	}
	c.AddCommand(list, gc, verify, rollback)
	return c
}
