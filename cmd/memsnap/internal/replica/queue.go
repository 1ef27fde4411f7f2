package replica

import "context"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "path"
import "strings"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"

// Writes through a replica: its MCP or HTTP server queues a job in the
// cache store's queue as on any store (validated, durable, acknowledged);
// Forward moves it to the remote queue/ prefix, and the writer's daemon
// Pulls it into its own queue. Job ids are ULIDs, so a job keeps one key
// all the way: the remote put never overwrites (If-None-Match: *), and the
// pull skips an id the writer's store already knows (queued, applied or
// rejected), so that a job forwarded or pulled twice after a crash still
// applies once.

// Forward sends every job queued in the replica's cache store to the
// remote queue with a conditional put, then moves it to the cache queue's
// fwd/, where reads over queued writes still see it until a snapshot that
// holds it comes down (dropForwarded). It returns how many jobs it sent
// (or found already sent).
func Forward(ctx context.Context, client *objstore.Client, cache *snapshot.Store, log *slog.Logger) (int, error) {
	q := cache.Queue()
	ids, err := q.QueuedIDs()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		data, err := os.ReadFile(q.NewPath(id))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("forward job %s: %w", id, err)
		}
		created, err := client.PutIfAbsent(ctx, queuePrefix+id+queue.Ext, data)
		if err != nil {
			return n, fmt.Errorf("forward job %s: %w", id, err)
		}
		if !created {
			log.Debug("job already in the remote queue", "job_id", id)
		}
		if err := q.MarkForwarded(id); err != nil {
			return n, fmt.Errorf("forward job %s: %w", id, err)
		}
		n++
	}
	return n, nil
}

// dropForwarded removes from the cache queue's fwd/ the forwarded jobs
// whose outcome (applied or rejected) the cache's CURRENT records, and
// those named in applied (the ids a remote point of history applied, which
// a later restore may have undone: their outcome then reads unknown, yet
// the writer will never apply them again): a reader serving an older
// snapshot sees a job leave the queue and moves to CURRENT, as when a
// writer removes the jobs it applied. It returns how many it dropped.
func dropForwarded(ctx context.Context, cache *snapshot.Store, applied map[string]bool) (int, error) {
	q := cache.Queue()
	ids, err := q.ForwardedIDs()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		// The snapshot was checked whole when it was adopted.
		out, err := reader.JobOutcome(ctx, cache, "off", id)
		if err != nil {
			return n, err
		}
		if out.Status != model.StatusApplied && out.Status != model.StatusRejected && !applied[id] {
			continue
		}
		if err := q.DropForwarded(id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Pull moves every job of the remote queue into the writer's store's
// queue, exactly once by job id: a job the store already knows (waiting,
// claimed, applied or rejected: reader.JobOutcome, which looks in the
// queue before the snapshot cannot miss a job moving between them), or
// one a point of its history applied even if a restore undid it since
// (historyJobIDs; README: "the undone jobs are never applied again"), is
// not queued again; either way the remote object is deleted after. verify is
// reader.verify (full, size or off). It returns how many jobs it queued.
func Pull(ctx context.Context, client *objstore.Client, store *snapshot.Store, verify string, log *slog.Logger) (int, error) {
	list, err := client.List(ctx, queuePrefix)
	if err != nil {
		return 0, err
	}
	n := 0
	var applied map[string]bool // built once, when there is a job
	for _, o := range list {
		id, ok := strings.CutSuffix(path.Base(o.Key), queue.Ext)
		if !ok || !queue.ValidID(id) || path.Dir(o.Key)+"/" != queuePrefix {
			log.Warn("remote queue: not a job file, left alone", "key", o.Key)
			continue
		}
		if applied == nil {
			if applied, err = historyJobIDs(store); err != nil {
				return n, fmt.Errorf("pull: %w", err)
			}
		}
		out, err := reader.JobOutcome(ctx, store, verify, id)
		if err != nil {
			return n, fmt.Errorf("pull job %s: %w", id, err)
		}
		if applied[id] && out.Status == model.StatusUnknown {
			log.Info("remote queue: job already applied by a point of history (a restore undid it): not applied again", "job_id", id)
		}
		if out.Status == model.StatusUnknown && !applied[id] {
			data, err := client.Get(ctx, o.Key)
			if errors.Is(err, objstore.ErrNotFound) {
				continue // another puller took it
			}
			if err != nil {
				return n, fmt.Errorf("pull job %s: %w", id, err)
			}
			if err := store.Queue().Enqueue(id, data); err != nil {
				return n, fmt.Errorf("pull job %s: %w", id, err)
			}
			n++
		}
		if err := client.Delete(ctx, o.Key); err != nil {
			return n, fmt.Errorf("pull job %s: %w", id, err)
		}
	}
	return n, nil
}
