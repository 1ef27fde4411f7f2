package main

import "errors"
import "fmt"
import "slices"
import "strings"
import "text/tabwriter"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// The jobs command: the dead jobs (queue/dead), listed with their reasons,
// queued again or deleted.

func (a *app) newJobsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "jobs [--json]",
		Short: "List the dead (rejected) jobs with their reasons, newest first; retry or purge them",
		Long: `List the jobs in queue/dead, newest first, each with the reason it was rejected.

memsnap jobs retry ID...|--all queues dead jobs again: each one that decodes under the current
job limits (after job.max_bytes or job.max_string_bytes was raised, say) is queued under a new job id
and removed from queue/dead; one that still does not decode stays there and is reported with the
reason (the command then exits 1). A job the memory's rules rejected ("Entity with name X not found")
decodes, so it is queued again: the writer applies it if the memory now allows it, else it is
dead again, under its new id. memsnap jobs purge ID...|--all deletes dead jobs. Both take the
writer lock (waiting up to writer.lock_timeout) so that no writer dead-letters a job meanwhile, and
print JSON.`,
		Args: noArgs,
		RunE: a.onStore(a.listDeadJobs),
	}
	c.Flags().Bool("json", false, `print [{"id", "time", "reason"}, ...]`)
	retry := &cobra.Command{
		Use:   "retry ID...|--all",
		Short: "Queue dead jobs again under new ids (those that decode under the current job limits); prints JSON",
		RunE:  a.onStore(a.retryDeadJobs),
	}
	retry.Flags().Bool("all", false, "every dead job")
	purge := &cobra.Command{
		Use:   "purge ID...|--all",
		Short: "Delete dead jobs; prints JSON",
		RunE:  a.onStore(a.purgeDeadJobs),
	}
	purge.Flags().Bool("all", false, "every dead job")
	c.AddCommand(retry, purge)
	return c
}

func (a *app) listDeadJobs(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
	dead, err := s.Queue().DeadJobs(0)
	if err != nil {
		return err
	}
	if dead == nil {
		dead = []queue.DeadJob{}
	}
	return a.output(cmd, dead, func() error {
		if len(dead) == 0 {
			fmt.Fprintln(a.stdout, "no dead jobs")
			return nil
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tREJECTED\tREASON")
		for _, d := range dead {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", d.ID, d.Time.UTC().Format("2006-01-02 15:04:05"), strings.ReplaceAll(d.Reason, "\n", " "))
		}
		return tw.Flush()
	})
}

// deadTargets returns the ids a retry or purge names: its arguments, or
// with --all every dead job.
func (a *app) deadTargets(cmd *cobra.Command, s *snapshot.Store, args []string) ([]string, error) {
	all, _ := cmd.Flags().GetBool("all")
	switch {
	case all && len(args) > 0:
		return nil, usagef(cmd, "takes job ids or --all, not both")
	case !all && len(args) == 0:
		return nil, usagef(cmd, "needs job ids (see memsnap jobs) or --all")
	case !all:
		var ids []string
		for _, id := range args {
			if id == "" {
				return nil, usagef(cmd, "an empty job id (see memsnap jobs)")
			}
			if !slices.Contains(ids, id) { // a job named twice is retried or purged once
				ids = append(ids, id)
			}
		}
		return ids, nil
	}
	dead, err := s.Queue().DeadJobs(0)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(dead))
	for i, d := range dead {
		ids[len(dead)-1-i] = d.ID // oldest first: the order they were queued
	}
	return ids, nil
}

// lockDeadTargets returns the ids a retry or purge names (deadTargets) and
// the writer lock, taken, which the caller releases: a writer also changes
// queue/dead. what ("jobs retry") prefixes a failure to take it.
func (a *app) lockDeadTargets(cmd *cobra.Command, s *snapshot.Store, args []string, what string) ([]string, *writer.Lock, error) {
	ids, err := a.deadTargets(cmd, s, args)
	if err != nil {
		return nil, nil, err
	}
	lock, err := writer.AcquireLock(cmd.Context(), s, a.cfg.Writer.LockTimeout)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return ids, lock, nil
}

// retried and leftJob are what retry and purge print.
type (
	retried struct {
		ID    string `json:"id"`
		NewID string `json:"new_id"`
	}
	leftJob struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
)

func (a *app) retryDeadJobs(cmd *cobra.Command, s *snapshot.Store, args []string) error {
	ids, lock, err := a.lockDeadTargets(cmd, s, args, "jobs retry")
	if err != nil {
		return err
	}
	defer lock.Release()
	q, lim := s.Queue(), a.cfg.Job.Limits()
	out := struct {
		Retried []retried `json:"retried"`
		Left    []leftJob `json:"left"`
	}{Retried: []retried{}, Left: []leftJob{}}
	for _, id := range ids {
		newID, reason, err := retryDeadJob(s, q, id, lim)
		if err != nil {
			_ = a.printJSON(out)
			return err
		}
		if reason != "" {
			out.Left = append(out.Left, leftJob{ID: id, Reason: reason})
			continue
		}
		out.Retried = append(out.Retried, retried{ID: id, NewID: newID})
	}
	if err := a.printJSON(out); err != nil {
		return err
	}
	return leftError("jobs retry", "retried", out.Left, len(ids))
}

// leftError is nil when no job was left, else the one line that says how
// many of n jobs what (retry, purge) left and why, the first three by name:
// "jobs retry: 1 of 1 jobs not retried: NOPE: not a dead job (see memsnap
// jobs)".
func leftError(what, done string, left []leftJob, n int) error {
	if len(left) == 0 {
		return nil
	}
	const named = 3
	var why []string
	for _, l := range left[:min(len(left), named)] {
		why = append(why, l.ID+": "+l.Reason)
	}
	if len(left) > named {
		why = append(why, fmt.Sprintf("and %d more (see \"left\")", len(left)-named))
	}
	return fmt.Errorf("%s: %d of %d jobs not %s: %s", what, len(left), n, done, strings.Join(why, "; "))
}

// retryDeadJob queues dead job id again under a new id and removes it from
// queue/dead. reason, when not "", says why it stays there: no such dead
// job, or it does not decode under lim (which names the limit to raise).
// err is a failure to read, queue or remove.
func retryDeadJob(s *snapshot.Store, q *queue.Queue, id string, lim model.Limits) (newID, reason string, err error) {
	path, err := q.DeadJobFile(id)
	if errors.Is(err, queue.ErrNotDead) {
		return "", "not a dead job (see memsnap jobs)", nil
	}
	if err != nil {
		return "", "", err
	}
	data, err := queue.ReadJobFile(path, lim.MaxBytes)
	if err == nil {
		newID, err = producer.Enqueue(s, data, lim)
	}
	if errors.Is(err, model.ErrInvalidJob) {
		return "", "still does not decode: " + err.Error() + "; it stays in queue/dead (raise the limit named, or purge it)", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("jobs retry %s: %w", id, err)
	}
	if err := q.RemoveDead(id); err != nil {
		return "", "", fmt.Errorf("jobs retry %s: queued again as %s, but not removed from queue/dead (purge it): %w", id, newID, err)
	}
	return newID, "", nil
}

func (a *app) purgeDeadJobs(cmd *cobra.Command, s *snapshot.Store, args []string) error {
	ids, lock, err := a.lockDeadTargets(cmd, s, args, "jobs purge")
	if err != nil {
		return err
	}
	defer lock.Release()
	out := struct {
		Purged []string  `json:"purged"`
		Left   []leftJob `json:"left"`
	}{Purged: []string{}, Left: []leftJob{}}
	for _, id := range ids {
		err := s.Queue().RemoveDead(id)
		switch {
		case errors.Is(err, queue.ErrNotDead):
			out.Left = append(out.Left, leftJob{ID: id, Reason: "not a dead job (see memsnap jobs)"})
		case err != nil:
			_ = a.printJSON(out)
			return fmt.Errorf("jobs purge: %w", err)
		default:
			out.Purged = append(out.Purged, id)
		}
	}
	if err := a.printJSON(out); err != nil {
		return err
	}
	return leftError("jobs purge", "purged", out.Left, len(ids))
}
