package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/internal/queue"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// The commands that create, inspect and maintain the store: init, status and
// snapshots.

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

// status is the answer of 'memsnap status'.
type status struct {
	Store      string         `json:"store"`
	Current    uint64         `json:"current"`
	AgeSeconds float64        `json:"current_age_seconds"`
	Watermark  uint64         `json:"watermark"`
	Queue      queue.Counts   `json:"queue"`
	Locked     bool           `json:"locked"`
	Holder     *writer.Holder `json:"lock_holder,omitempty"`
	Writer     writerHealth   `json:"writer"`
	// missing: CURRENT names no snapshot on disk, or there is no CURRENT
	// file beside published snapshots.
	missing bool
	// corrupt: CURRENT holds no snapshot seq (snapshot.ErrCurrentCorrupt).
	corrupt bool
}

// writerHealth is writer.Health as status prints it: state "ok";
// "blocked" when the next queued job does not fit in the free space, with
// the cause, what to do and the figures in MiB; or "failing" when CURRENT
// stops commits, with the cause and the repair command.
type writerHealth struct {
	State     string `json:"state"`
	Cause     string `json:"cause,omitempty"`
	Hint      string `json:"hint,omitempty"`
	NeededMiB int64  `json:"needed_mib,omitempty"`
	FreeMiB   int64  `json:"free_mib,omitempty"`
}

func (a *app) newStatusCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "status [--json]",
		Short: "Queue depth, dead jobs, CURRENT seq and age, lock holder",
		Args:  noArgs,
		RunE: a.onStore(func(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
			st, refused, err := readStatus(s, a.cfg.WriterOptions())
			if err != nil {
				return err
			}
			if err := a.output(cmd, st, func() error {
				a.printStatus(st)
				return nil
			}); err != nil {
				return err
			}
			return refused // commits are refused until the repair: exit 1
		}),
	}
	c.Flags().Bool("json", false, "print JSON")
	return c
}

// readStatus gathers the store's status. When CURRENT stops commits (moved
// back, naming a missing snapshot, or missing beside published snapshots:
// snapshot.CheckCurrent), the writer's state is failing with the cause and
// the repair command, as the daemon's /healthz and memory_status show it,
// and refused is that error; so too when CURRENT is corrupt
// (snapshot.ErrCurrentCorrupt), with current 0. The check takes no lock: a rollback running
// meanwhile may show for a moment as a CURRENT behind.
func readStatus(s *snapshot.Store, opts writer.Options) (st status, refused error, err error) {
	st.Store = s.Dir()
	if st.Queue, err = s.Queue().Counts(); err != nil {
		return st, nil, err
	}
	var ce *snapshot.CurrentError
	if st.Current, err = s.Current(); errors.As(err, &ce) && errors.Is(err, snapshot.ErrCurrentCorrupt) {
		cause := *ce // shown as a commit's refusal, as for a moved-back CURRENT
		cause.Op, cause.Reading, cause.Hint = "commit", false, ""
		st.corrupt = true
		st.Writer = writerHealth{State: writer.HealthFailing, Cause: cause.Error(), Hint: ce.Hint}
		if err := st.readLock(s); err != nil {
			return st, nil, err
		}
		return st, err, nil
	} else if err != nil {
		return st, nil, err
	}
	_, cerr := s.CheckCurrent("commit")
	switch {
	case errors.As(cerr, &ce):
		refused = cerr
		cause := *ce
		cause.Hint = ""
		st.Writer = writerHealth{State: writer.HealthFailing, Cause: cause.Error(), Hint: ce.Hint}
	case cerr != nil:
		return st, nil, cerr
	}
	st.missing = errors.Is(refused, snapshot.ErrCurrentMissing)
	if st.Current > 0 && !st.missing {
		m, err := s.Manifest(st.Current)
		if err != nil {
			return st, nil, err
		}
		st.AgeSeconds = time.Since(m.CreatedAt).Seconds()
		st.Watermark = m.Watermark
	}
	if err := st.readLock(s); err != nil {
		return st, nil, err
	}
	if refused == nil {
		wh := writer.NewSpaceChecker(s, opts).Health(nil)
		st.Writer = writerHealth{State: wh.State, Cause: wh.Cause, Hint: wh.Hint, NeededMiB: wh.NeededMiB, FreeMiB: wh.FreeMiB}
	}
	return st, refused, nil
}

// readLock fills in who holds the writer lock.
func (st *status) readLock(s *snapshot.Store) error {
	h, locked, err := writer.Locked(s)
	if err != nil {
		return err
	}
	st.Locked = locked
	if locked {
		st.Holder = &h
	}
	return nil
}

func (a *app) printStatus(st status) {
	fmt.Fprintf(a.stdout, "store:     %s\n", st.Store)
	switch {
	case st.corrupt:
		fmt.Fprintf(a.stdout, "current:   unreadable: CURRENT is corrupt\n")
	case st.missing && st.Current == 0:
		fmt.Fprintf(a.stdout, "current:   no CURRENT file\n")
	case st.missing:
		fmt.Fprintf(a.stdout, "current:   snapshot %d, which does not exist\n", st.Current)
	case st.Current == 0:
		fmt.Fprintf(a.stdout, "current:   none published yet\n")
	default:
		fmt.Fprintf(a.stdout, "current:   snapshot %d, %s old\n", st.Current, time.Duration(st.AgeSeconds*float64(time.Second)).Round(time.Millisecond))
	}
	fmt.Fprintf(a.stdout, "queue:     %d queued, %d claimed, %d dead\n", st.Queue.New, st.Queue.Cur, st.Queue.Dead)
	if h := st.Holder; h != nil {
		fmt.Fprintf(a.stdout, "writer:    running (pid %d on %s since %s)\n", h.PID, h.Host, h.Since.Format(time.RFC3339))
	} else {
		fmt.Fprintf(a.stdout, "writer:    idle\n")
	}
	if w := st.Writer; w.State != writer.HealthOK {
		fmt.Fprintf(a.stdout, "%-10s %s\n           %s\n", w.State+":", w.Cause, w.Hint)
	}
}

func (a *app) newSnapshotsCommand() *cobra.Command {
	c := &cobra.Command{Use: "snapshots", Short: "List, collect, verify and roll back snapshots"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List snapshots, oldest first",
		Args:  noArgs,
		RunE:  a.onStore(a.listSnapshots),
	}
	list.Flags().Bool("json", false, "print JSON")
	gc := &cobra.Command{
		Use:   "gc",
		Short: "Remove old snapshots (never CURRENT, the newest gc.keep, one younger than gc.min_age or a pinned one); prints JSON",
		Args:  noArgs,
		RunE:  a.onStore(a.collectSnapshots),
	}
	verify := &cobra.Command{
		Use:   "verify [SEQ]",
		Short: "Check a snapshot (default CURRENT) against its manifest checksums",
		Args:  optionalArg("SEQ"),
		RunE:  a.onStore(a.verifySnapshot),
	}
	rollback := &cobra.Command{
		Use:   "rollback SEQ",
		Short: "Publish a new snapshot holding an older one's content (numbers only grow); the jobs applied after it are queued again",
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
	c.AddCommand(list, gc, verify, rollback, repair)
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
	return a.printJSON(res)
}

func (a *app) verifySnapshot(cmd *cobra.Command, s *snapshot.Store, args []string) error {
	var seq uint64
	var err error
	if len(args) == 1 { // CURRENT need not be readable to check another snapshot
		seq, err = parseSeq(cmd, args[0])
	} else {
		seq, err = s.Current()
	}
	if err != nil {
		return err
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
	// The error names the first problem; the others go on lines of their own
	// before it, so that each is printed once.
	problems := s.Verify(seq)
	for _, p := range problems[min(1, len(problems)):] {
		fmt.Fprintln(a.stderr, p)
	}
	if err := snapshot.VerifyError(seq, problems); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "snapshot %d ok\n", seq)
	return nil
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
