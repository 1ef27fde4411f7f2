package main

import "context"
import "errors"
import "fmt"
import "io"
import "os"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// The enqueue command: it queues one job and, with --wait, waits for its
// outcome.

func (a *app) newEnqueueCommand() *cobra.Command {
	var file string
	var wait waitValue
	c := &cobra.Command{
		Use:   "enqueue [-f FILE|-] [--wait [DUR|durable]]",
		Short: "Submit one job (JSON); prints {\"job_id\": ...}, or its outcome with --wait",
		Long: `Submit one job read from FILE or standard input. The job is durable when its id is printed.
Without --wait, memsnap prints the job's id and returns at once. With --wait, it waits up to
DUR (1m if --wait is given alone) until a published snapshot contains the job and prints its
outcome instead, committing the queue itself whenever no other writer holds the lock; it
exits 1 if the job is rejected or still pending after DUR (the job stays queued).
With --wait=durable, memsnap checks the job against CURRENT, queues it and prints at once the
outcome the writer will give (status "pending" with the results), as MCP write tools answer;
a job the writer would reject is refused (exit 1) and not queued. The prediction counts
CURRENT only: a job of another process still queued ahead of it that touches the same
entities can change the outcome (see the README, "When a write answers"). When such jobs
wait and the prediction is a refusal, only the writer can tell: it then waits as --wait does.`,
		Args: noArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("wait") && !wait.durable && wait.d <= 0 {
				return usagef(cmd, "--wait %s: the wait must be positive", wait.d)
			}
			return nil
		},
		RunE: a.onStore(func(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
			data, err := a.readJob(file)
			if err != nil {
				return err
			}
			if wait.durable {
				done, err := a.enqueueDurable(cmd.Context(), s, data)
				if done || err != nil {
					return err
				}
				wait.d = time.Minute // only the writer can tell: wait for it
			}
			id, err := producer.Enqueue(s, data, a.cfg.Job.Limits())
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("wait") {
				a.warnIfBlocked(s, id)
				return a.printJSON(map[string]string{"job_id": id})
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait.d)
			defer cancel()
			o, err := a.waitForJob(ctx, s, id)
			if errors.Is(err, context.DeadlineExceeded) && cmd.Context().Err() == nil {
				return stillQueued(s, id, wait.d)
			}
			if err != nil {
				return err
			}
			if err := a.printJSON(o); err != nil {
				return err
			}
			if o.Status == model.StatusRejected {
				return fmt.Errorf("job %s rejected: %s", id, o.Reason)
			}
			return nil
		}),
	}
	c.Flags().StringVarP(&file, "file", "f", "-", "job file, or - for standard input")
	waitFlag(c, &wait, "wait", time.Minute,
		"wait up to `DUR` for the job's outcome, or until it is durable with its predicted outcome (durable) (--wait alone: 1m; without --wait: no wait)")
	return c
}

// enqueueDurable is enqueue --wait=durable (producer.Acker, as MCP write tools
// use it): it prints the predicted outcome of a queued job, or refuses a job
// the writer would reject. It reports done false, queueing nothing, when
// only the writer can tell (producer.ErrUncertain).
func (a *app) enqueueDurable(ctx context.Context, s *snapshot.Store, data []byte) (done bool, err error) {
	var r *reader.Reader
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	state := func(ctx context.Context, names, sources, ids []string) (*model.SnapshotState, error) {
		var err error
		r, err = reader.Open(ctx, s, a.cfg.ReaderOptions(), a.log)
		if errors.Is(err, snapshot.ErrNoSnapshot) {
			return &model.SnapshotState{Graph: &model.State{}, Outcomes: map[string]model.Outcome{}}, nil
		}
		if err != nil {
			return nil, err
		}
		return r.State(ctx, names, sources, ids)
	}
	queued := func(context.Context) ([]model.QueuedJob, error) {
		if r == nil { // no snapshot yet
			return nil, nil
		}
		return r.QueuedJobs()
	}
	ack, err := producer.NewAcker(s, a.cfg.Job.Limits(), state).FollowQueue(queued).Submit(ctx, data)
	var rej *producer.RejectedError
	switch {
	case errors.Is(err, producer.ErrUncertain):
		return false, nil
	case errors.As(err, &rej):
		return true, fmt.Errorf("enqueue: job rejected, not queued: %s", rej.Reason)
	case err != nil:
		return true, err
	}
	a.warnIfBlocked(s, ack.JobID)
	return true, a.printJSON(model.Outcome{JobID: ack.JobID, Status: model.StatusPending, Results: ack.Results})
}

// warnIfBlocked prints a warning to stderr when job id, queued, cannot
// apply yet because the writer is blocked for lack of space (the exit
// status stays 0: the job is durable and applies once space is freed).
func (a *app) warnIfBlocked(s *snapshot.Store, id string) {
	var ns *writer.NoSpaceError
	if errors.As(writer.NewSpaceChecker(s, a.cfg.WriterOptions()).Check(), &ns) {
		fmt.Fprintf(a.stderr, "memsnap: warning: job %s is queued and durable but cannot apply yet: %s; %s\n", id, ns.Cause(), ns.Hint())
	}
}

// readJob reads a job from file, or from standard input for "" and "-", up
// to job.max_bytes.
func (a *app) readJob(file string) ([]byte, error) {
	var in io.Reader = a.stdin
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("read job: %w", err)
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, a.cfg.Job.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	if int64(len(data)) > a.cfg.Job.MaxBytes {
		return nil, fmt.Errorf("%w: job is more than %d bytes, over the limit (job.max_bytes)", model.ErrInvalidJob, a.cfg.Job.MaxBytes)
	}
	return data, nil
}

// stillQueued is the error of a job still pending after --wait d: it stays
// queued, durable, and which writer it waits for, if any holds the lock.
func stillQueued(s *snapshot.Store, id string, d time.Duration) error {
	why := "it was not committed in that time; the next commit (a daemon, memsnap commit, or the next write command) applies it"
	if h, locked, err := writer.Locked(s); err == nil && locked {
		why = fmt.Sprintf("the writer lock is held by pid %d, which has not committed it; it applies when a writer does", h.PID)
	}
	return fmt.Errorf("job %s is still queued after --wait %s (durable; memsnap job %s shows its outcome later): %s", id, d, id, why)
}

// waitForJob gives read-your-writes without a daemon: while the job is
// pending it commits the queue itself whenever no other writer holds the
// lock, and otherwise waits for whoever does. It never keeps a snapshot open
// while it writes: the writer's staging copy opens and closes CURRENT's graph
// file, which would drop this process's Kuzu lock on it.
func (a *app) waitForJob(ctx context.Context, s *snapshot.Store, id string) (reader.Outcome, error) {
	return reader.WaitForJob(ctx, id, reader.LookInStore(s, a.cfg.Reader.Verify, id), commitUnlessLocked(s, a.cfg.WriterOptions(), a.log))
}
