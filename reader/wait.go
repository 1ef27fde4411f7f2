package reader

import "context"
import "fmt"
import "time"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"

// CommitPolicy is what a read-your-writes wait does while its job is still
// pending. It may run the writer itself and returns how many jobs that
// applied or rejected (0 when it did not run, e.g. because another writer
// holds the lock). A nil policy only waits for whoever writes.
type CommitPolicy func(ctx context.Context) (jobs int, err error)

// LookFunc reports a job's outcome as the caller sees the store now.
type LookFunc func(ctx context.Context) (Outcome, error)

// waitPoll is how often a wait looks again while someone else writes.
const waitPoll = 20 * time.Millisecond

// WaitForJob is memsnap's one read-your-writes wait. Until look reports the
// job as no longer pending, it runs commit (if not nil) and then looks; after
// a commit that applied something it looks again at once, otherwise it
// sleeps waitPoll first. It returns the outcome (applied, rejected, or
// unknown for a job nobody queued), a commit's or look's error, or, when
// ctx ends, an error wrapping ctx's that says the job is still pending.
func WaitForJob(ctx context.Context, id string, look LookFunc, commit CommitPolicy) (Outcome, error) {
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		jobs := 0
		if commit != nil {
			n, err := commit(ctx)
			if err != nil {
				return Outcome{}, fmt.Errorf("commit while waiting for job %s: %w", id, err)
			}
			jobs = n
		}
		o, err := look(ctx)
		if err != nil {
			return o, err
		}
		if o.Status != model.StatusPending {
			return o, nil
		}
		if jobs > 0 {
			continue // that commit's batch was full before it reached the job
		}
		select {
		case <-ctx.Done():
			return o, fmt.Errorf("job %s is still pending: %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitFor blocks until a published snapshot records the job's outcome
// (read-your-writes), refreshing as CURRENT moves, and returns it; see
// WaitForJob. It never commits: someone else must run the writer.
func (r *Reader) WaitFor(ctx context.Context, id string) (Outcome, error) {
	return WaitForJob(ctx, id, r.look(id), nil)
}

// look refreshes r and looks the job up in its snapshot.
func (r *Reader) look(id string) LookFunc {
	return func(ctx context.Context) (Outcome, error) {
		if _, err := r.Refresh(ctx); err != nil {
			r.log.Debug("refresh while waiting", "error", err)
		}
		return r.Job(ctx, id)
	}
}

// LookInStore looks a job up without a Reader (see JobOutcome). Its
// looks share one snapshot.Verifier: a wait that polls every 20 ms
// checksums each key-value file once, not once per poll. A job found
// pending stays pending until CURRENT moves (a job is applied or rejected
// only by a published snapshot), so until then a look reads CURRENT alone
// instead of opening the snapshot's key-value store again.
func LookInStore(store *snapshot.Store, verify, id string) LookFunc {
	v := snapshot.NewVerifier()
	check := func(m *snapshot.Manifest, sums bool) []error { return v.KV(store, m, sums) }
	var pendingAt uint64 // CURRENT when the job was last found pending; 0: look
	return func(ctx context.Context) (Outcome, error) {
		cur, err := store.Current()
		if err == nil && cur > 0 && cur == pendingAt {
			return Outcome{JobID: id, Status: model.StatusPending}, nil
		}
		o, err := jobOutcome(store, verify, id, check)
		if pendingAt = 0; err == nil && o.Status == model.StatusPending {
			pendingAt = cur
		}
		return o, err
	}
}
