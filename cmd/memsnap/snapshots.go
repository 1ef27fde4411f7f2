package main

import "errors"
import "fmt"
import "io/fs"
import "path/filepath"
import "slices"
import "strconv"
import "strings"
import "text/tabwriter"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// The snapshots command and its subcommands: list, gc, verify, rollback,
// restore and history (restore.go) and repair.

func (a *app) newSnapshotsCommand() *cobra.Command {
	c := &cobra.Command{Use: "snapshots", Short: "List, collect, verify, roll back and restore snapshots"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List snapshots, oldest first",
		Args:  noArgs,
		RunE:  a.onStore(a.listSnapshots),
	}
	list.Flags().Bool("json", false, "print JSON")
	gc := &cobra.Command{
		Use:   "gc",
		Short: "Remove old snapshots (never CURRENT, the newest gc.keep, one younger than gc.min_age, one history.* keeps or a pinned one); prints JSON",
		Args:  noArgs,
		RunE:  a.onStore(a.collectSnapshots),
	}
	verify := &cobra.Command{
		Use:   "verify [SEQ]",
		Short: "Check a snapshot (default CURRENT) against its manifest; without SEQ, also the store's invariants",
		Long: `Check snapshot SEQ's files against the sizes and CRC-32C checksums its manifest lists.

Without SEQ, check CURRENT's snapshot and the store around it (snapshot.Store.Check):
  - CURRENT parses and names a snapshot that exists;
  - that snapshot's files match their checksums, and its graph's content digest is the
    one its manifest records;
  - along CURRENT's lineage snapshot numbers only grow and no job is applied twice;
  - the history log (history/<seq>/): every manifest parses and agrees with snapshots/,
    every job file it lists matches its checksum;
  - when no writer is at work: nothing newer than CURRENT was published; and, printed as
    warnings (a crashed writer or an interrupted rollback leaves them, the next commit
    clears them), staging/ is empty and no job waiting in queue/new was applied already.`,
		Args: optionalArg("SEQ"),
		RunE: a.onStore(a.verifySnapshot),
	}
	rollback := &cobra.Command{
		Use:   "rollback SEQ",
		Short: "Publish a new snapshot holding an older one's content (numbers only grow); the jobs applied after it are queued again (to undo them, use restore)",
		Args:  exactArgs("SEQ"),
		RunE:  a.onStore(a.rollBack),
	}
	repair := &cobra.Command{
		Use: "repair [SEQ]",
		Short: "Point CURRENT at the newest published snapshot that verifies (or at SEQ) when it was moved back, names a missing " +
			"snapshot or is corrupt; deletes nothing; prints JSON",
		Args: optionalArg("SEQ"),
		RunE: a.onStore(a.repairCurrent),
	}
	c.AddCommand(list, gc, verify, rollback, a.newSnapshotsRestoreCommand(), a.newHistoryCommand(), repair)
	return c
}

func (a *app) listSnapshots(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
	infos, err := s.List()
	if err != nil {
		return err
	}
	return a.output(cmd, infos, func() error {
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tCURRENT\tPINNED\tCREATED\tENTITIES\tRELATIONS\tKV\tBYTES\tROLLBACK")
		var bad []snapshot.Info
		for _, in := range infos {
			if in.Error != "" {
				bad = append(bad, in)
				fmt.Fprintf(tw, "%d\t%v\t%v\t(unreadable manifest)\t-\t-\t-\t%d\t-\n", in.Seq, in.Current, in.Pinned, in.Bytes)
				continue
			}
			rb := "-"
			if in.RollbackOf > 0 {
				rb = fmt.Sprintf("of %d", in.RollbackOf)
			} else if in.RestoreOf > 0 {
				rb = fmt.Sprintf("restore of %d", in.RestoreOf)
			}
			fmt.Fprintf(tw, "%d\t%v\t%v\t%s\t%d\t%d\t%d\t%d\t%s\n", in.Seq, in.Current, in.Pinned,
				in.CreatedAt.Format(time.RFC3339), in.Entities, in.Relations, in.KVKeys, in.Bytes, rb)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, in := range bad { // on stderr, after the table
			fmt.Fprintf(a.stderr, "memsnap: %s\n", in.Error)
		}
		var ce *snapshot.CurrentError
		if _, err := s.Current(); errors.As(err, &ce) { // it names the repair
			fmt.Fprintf(a.stderr, "memsnap: no snapshot is marked current: %v\n", err)
		} else if err != nil {
			fmt.Fprintf(a.stderr, "memsnap: %v (no snapshot is marked current; run '%s')\n", err, snapshot.RepairCommand)
		}
		return nil
	})
}

func (a *app) collectSnapshots(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
	res, err := writer.GC(cmd.Context(), s, a.cfg.WriterOptions(), a.log)
	if err != nil {
		return err
	}
	for _, p := range []*[]uint64{&res.Removed, &res.Pinned, &res.Kept} {
		if *p == nil {
			*p = []uint64{}
		}
	}
	if res.TrashLeft != "" {
		fmt.Fprintf(a.stderr, "memsnap: warning: %s (garbage: nothing served or needed is in trash/; each commit and gc tries again)\n", res.TrashLeft)
	}
	return a.printJSON(res)
}

func (a *app) verifySnapshot(cmd *cobra.Command, s *snapshot.Store, args []string) error {
	if len(args) == 0 {
		return a.verifyStore(cmd, s)
	}
	seq, err := parseSeq(cmd, args[0]) // CURRENT need not be readable to check another snapshot
	if err != nil {
		return err
	}
	seqs, err := s.Seqs()
	if err != nil {
		return err
	}
	if !slices.Contains(seqs, seq) {
		return snapshot.WithHint(fmt.Errorf("snapshot %d does not exist", seq), "see 'memsnap snapshots list'")
	}
	a.warnLeftoverViews(s)
	return a.reportVerify(s, seq, s.Verify(seq), nil)
}

// verifyStore is 'snapshots verify' of CURRENT: the store check, whose
// findings about CURRENT's files are what Verify would say, and whose
// findings about CURRENT itself (corrupt, missing, naming no snapshot)
// name the repair. Only a store with no snapshot at all has nothing
// published yet.
func (a *app) verifyStore(cmd *cobra.Command, s *snapshot.Store) error {
	seqs, err := s.Seqs()
	if err != nil {
		return err
	}
	if cur, err := s.Current(); err == nil && cur == 0 && len(seqs) == 0 {
		return snapshot.ErrNoSnapshot
	}
	a.warnLeftoverViews(s)
	rep, err := s.Check(cmd.Context(), snapshot.CheckOptions{Idle: writerIdle(s), Content: reader.CheckContent(a.cfg.MaxDBMB),
		History: a.cfg.WriterOptions().History})
	if err != nil {
		return err
	}
	if !rep.Idle {
		a.log.Debug("a writer is at work: staging/, queue/new and the snapshots newer than CURRENT were not checked")
	}
	var problems []error
	var others []*snapshot.Finding
	for _, f := range rep.Findings {
		if f.Kind == snapshot.FindDamaged && f.Seq == rep.Current {
			problems = append(problems, f.Err)
		} else {
			others = append(others, f)
		}
	}
	if rep.Current == 0 && !slices.ContainsFunc(others, func(f *snapshot.Finding) bool { return errors.Is(f, snapshot.ErrCorrupt) }) {
		// CURRENT is missing beside snapshots, and the check could not
		// tell (a writer at work, publishing the first snapshot?)
		return s.NoCurrentError("verify")
	}
	return a.reportVerify(s, rep.Current, problems, others)
}

// warnLeftoverViews prints a warning naming the rebuilt points of history
// (history/views/) that reads killed or cut short left and that no process
// holds (snapshot.Store.LeftoverViews): the next --at read or gc removes
// them.
func (a *app) warnLeftoverViews(s *snapshot.Store) {
	dirs, err := s.LeftoverViews(time.Now())
	if err != nil || len(dirs) == 0 {
		return
	}
	var bytes int64
	for _, d := range dirs {
		bytes += dirBytes(d)
	}
	fmt.Fprintf(a.stderr, "memsnap: warning: %d rebuilt point(s) of history left by --at reads killed or cut short (%s, %.1f MB): the next --at read or 'memsnap snapshots gc' removes them\n",
		len(dirs), strings.Join(dirs, ", "), float64(bytes)/1e6)
}

// dirBytes is the size of the files under dir, in bytes (0 for what cannot
// be read).
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// reportVerify prints what verify found and returns the error that names
// the first damage: snapshot seq's problems (Verify's), then the store
// check's findings that are damage (snapshot.ErrCorrupt). Each is printed
// once: the error names the first, the rest go on lines of their own
// before it. The other findings (what a crashed writer or an interrupted
// rollback left, which the next commit clears) are warnings: printed, and
// the snapshot is still ok.
func (a *app) reportVerify(s *snapshot.Store, seq uint64, problems []error, findings []*snapshot.Finding) error {
	var damage []*snapshot.Finding
	for _, f := range findings {
		if errors.Is(f, snapshot.ErrCorrupt) {
			damage = append(damage, f)
		} else {
			fmt.Fprintf(a.stderr, "memsnap: warning: %v\n", findingError(f))
		}
	}
	for _, p := range problems[min(1, len(problems)):] {
		fmt.Fprintln(a.stderr, p)
	}
	for i, f := range damage {
		if i > 0 || len(problems) > 0 {
			fmt.Fprintln(a.stderr, findingError(f))
		}
	}
	if err := snapshot.VerifyError(seq, problems); err != nil {
		hint := snapshot.DamagedHint
		if cur, cerr := s.Current(); cerr == nil && cur > seq {
			hint = snapshot.DamagedOlderHint(seq)
		}
		if snapshot.HintOf(err) != "" || errors.Is(err, snapshot.ErrNewerFormat) { // a problem that says what to do itself (a stray file, upgrade memsnap)
			return err
		}
		return snapshot.WithHint(err, hint)
	}
	if len(damage) > 0 {
		return findingError(damage[0])
	}
	fmt.Fprintf(a.stdout, "snapshot %d ok\n", seq)
	return nil
}

// findingError is a store check finding as the command line says it, with
// its hint.
func findingError(f *snapshot.Finding) error {
	if f.Hint == "" {
		return f
	}
	return fmt.Errorf("%w (%s)", f, f.Hint)
}

// writerIdle is snapshot.CheckOptions.Idle for the command line: it takes
// the writer lock if it is free, so that no writer starts while the checks
// that need none at work run. A held lock skips those checks.
func writerIdle(s *snapshot.Store) func() (func(), error) {
	return func() (func(), error) {
		l, err := writer.TryLock(s)
		if err != nil {
			return nil, err
		}
		return l.Release, nil
	}
}

func (a *app) rollBack(cmd *cobra.Command, s *snapshot.Store, args []string) error {
	seq, err := parseSeq(cmd, args[0])
	if err != nil {
		return err
	}
	res, err := writer.Rollback(cmd.Context(), s, a.cfg.WriterOptions(), seq)
	if err != nil {
		return err
	}
	a.log.Info("rolled back", "from", res.From, "to", res.To, "snapshot", res.Snapshot, "requeued", len(res.Requeued))
	return a.printJSON(res)
}

func (a *app) repairCurrent(cmd *cobra.Command, s *snapshot.Store, args []string) error {
	var seq uint64
	if len(args) == 1 {
		var err error
		if seq, err = parseSeq(cmd, args[0]); err != nil {
			return err
		}
	}
	res, err := writer.Repair(cmd.Context(), s, a.cfg.WriterOptions(), seq)
	if err != nil {
		return err
	}
	a.log.Info("repaired CURRENT: "+res.Done, "from", res.From, "current", res.Current)
	return a.printJSON(res)
}

// parseSeq reads the SEQ argument of cmd.
func parseSeq(cmd *cobra.Command, arg string) (uint64, error) {
	seq, err := strconv.ParseUint(arg, 10, 64)
	if err != nil {
		return 0, usagef(cmd, "SEQ %q is not a snapshot number", arg)
	}
	return seq, nil
}
