package main

import "errors"
import "fmt"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

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
	// damaged: why CURRENT's manifest cannot be read ("" when it can).
	damaged string
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
		if errors.Is(err, snapshot.ErrNewerFormat) { // not damage: upgrade memsnap
			return st, nil, err
		}
		if err != nil { // shown as what it is, with the rest of the status
			st.damaged = err.Error()
			st.Writer = writerHealth{State: writer.HealthFailing, Cause: err.Error(), Hint: snapshot.DamagedHint}
			return st, snapshot.WithHint(err, snapshot.DamagedHint), st.readLock(s)
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
	case st.damaged != "":
		fmt.Fprintf(a.stdout, "current:   snapshot %d, damaged\n", st.Current)
	case st.Current == 0:
		fmt.Fprintf(a.stdout, "current:   none published yet\n")
	default:
		fmt.Fprintf(a.stdout, "current:   snapshot %d, %s old\n", st.Current, time.Duration(st.AgeSeconds*float64(time.Second)).Round(time.Millisecond))
	}
	dead := ""
	if st.Queue.Dead > 0 {
		dead = " (memsnap jobs lists them; jobs retry or purge)"
	}
	fmt.Fprintf(a.stdout, "queue:     %d queued, %d claimed, %d dead%s\n", st.Queue.New, st.Queue.Cur, st.Queue.Dead, dead)
	if h := st.Holder; h != nil && h.Host != "" && !h.Since.IsZero() {
		fmt.Fprintf(a.stdout, "writer:    running (pid %d on %s since %s)\n", h.PID, h.Host, h.Since.Format(time.RFC3339))
	} else if h != nil {
		// The lock is held by a process that has not written who it is:
		// a writer that has just taken it, or a process that is no memsnap
		// writer (flock(1) on LOCK).
		fmt.Fprintf(a.stdout, "writer:    LOCK held by pid %d, which has not named itself (a writer starting, or no memsnap process)\n", h.PID)
	} else {
		fmt.Fprintf(a.stdout, "writer:    idle\n")
	}
	if w := st.Writer; w.State != writer.HealthOK {
		fmt.Fprintf(a.stdout, "%-10s %s\n           %s\n", w.State+":", w.Cause, w.Hint)
	}
}
