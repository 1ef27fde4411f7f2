package main

import "context"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "sync"
import "time"

import "github.com/robfig/cron/v3"
import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/replica"
import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/schedule"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// Replication through S3-compatible storage: the replicate command, the
// daemon's replicate schedule, and --from on the read commands, mcp and
// serve (a local cache store that follows the remote; see from.go).
// Package replica does the work.

func (a *app) newReplicateCommand() *cobra.Command {
	var to string
	var verify bool
	c := &cobra.Command{
		Use:   "replicate [--to s3://BUCKET/PREFIX]",
		Short: "Send the store's new snapshots to S3-compatible storage, once",
		Long: `Send every snapshot published since the last replication to s3://BUCKET/PREFIX (default
replica.to), incrementally: Pebble's sstables and the batches' job files go up once each by
content hash, graph.kuzu as content-addressed 64 KiB chunks (only the chunks that changed),
the snapshot's manifest after them and the remote CURRENT last, so that a reader never sees a
partial snapshot. An interrupted run is resumed by the next (what is there is skipped). Jobs
that remote readers queued (their writes) are pulled into the local queue first, each once
("pulled" counts them).
Damaged remote objects that readers reported are put back first (--verify: every object the
remote CURRENT names is read back and checked). A prefix that holds another store's
snapshots is refused. Remote retention follows the store's history rules (history.*: the
snapshots the tiers keep in full, the job files of the thinned ones for history.keep_for), and
always keeps the newest replica.keep snapshots. The daemon does the same on
replica.schedule when replica.to is set. Endpoint, region and credentials: replica.endpoint,
replica.region, replica.access_key_id, replica.secret_access_key, else the standard AWS
environment and shared config. Prints a JSON summary.`,
		Args: noArgs,
		RunE: a.onStore(func(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
			if to == "" {
				to = a.cfg.Replica.To
			}
			if to == "" {
				return usagef(cmd, "needs --to s3://BUCKET/PREFIX (or replica.to)")
			}
			client, err := a.objClient(cmd.Context(), to)
			if err != nil {
				return err
			}
			pulled, err := replica.Pull(cmd.Context(), client, s, a.cfg.Reader.Verify, a.log)
			if err != nil {
				return fmt.Errorf("replicate: pull the remote queue: %w", err)
			}
			up := a.newUploader(s, client, verify)
			res, err := up.Upload(cmd.Context())
			if err != nil {
				return fmt.Errorf("replicate to %s: %w", client.Location(), err)
			}
			if res.Snapshots == nil {
				res.Snapshots = []uint64{} // nothing sent: [], not null
			}
			return a.printJSON(struct {
				replica.UploadResult
				Pulled int `json:"pulled"` // remote writes queued here
			}{res, pulled})
		}),
	}
	c.Flags().StringVar(&to, "to", "", "s3://BUCKET/PREFIX (default replica.to)")
	c.Flags().BoolVar(&verify, "verify", false, "first read back every object the remote CURRENT names and every remote manifest, and put back the damaged ones")
	return c
}

func (a *app) newUploader(s *snapshot.Store, client *objstore.Client, verify bool) *replica.Uploader {
	return replica.NewUploader(s, client, replica.UploadOptions{Keep: a.cfg.Replica.Keep, History: a.cfg.History.Options(), Verify: verify}, a.log)
}

// objClient is an S3 client for the s3:// URL raw, with the replica.*
// keys.
func (a *app) objClient(ctx context.Context, raw string) (*objstore.Client, error) {
	return a.objClientTries(ctx, raw, 0)
}

// objClientTries is objClient whose requests are tried attempts times in
// all (0: objstore's default, 3).
func (a *app) objClientTries(ctx context.Context, raw string, attempts int) (*objstore.Client, error) {
	loc, err := objstore.ParseURL(raw)
	if err != nil {
		return nil, usageError{err: err}
	}
	r := a.cfg.Replica
	return objstore.New(ctx, loc, objstore.Options{Endpoint: r.Endpoint, Region: r.Region,
		AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey, MaxAttempts: attempts}, a.log)
}

// replicateSchedule adds the daemon's replicate schedule to c when
// replica.to is set: each tick pulls the remote queue into the local
// queue, then uploads the new snapshots. A tick that finds the last one
// still running is skipped. Besides the schedule, an upload starts as soon
// as CURRENT changes (a publish by any process: the daemon's commits, a
// server's, 'memsnap commit'), so that a replica's lag is not the
// schedule's period; publishes during an upload are sent by one more
// upload after it. stop ends the watch and waits for an upload under way.
func (a *app) replicateSchedule(ctx context.Context, s *snapshot.Store, c *cron.Cron) (stop func(), err error) {
	stop = func() {}
	if a.cfg.Replica.To == "" || a.cfg.Replica.Schedule == "" {
		return stop, nil
	}
	sched, err := schedule.Parse(a.cfg.Replica.Schedule)
	if err != nil {
		return stop, fmt.Errorf("replica.schedule %q: %w", a.cfg.Replica.Schedule, err)
	}
	client, err := a.objClient(ctx, a.cfg.Replica.To)
	if err != nil {
		return stop, fmt.Errorf("replica.to: %w", err)
	}
	up := a.newUploader(s, client, false)
	log := a.log.With("component", "replicate")
	var mu sync.Mutex // one replication at a time
	work := context.WithoutCancel(ctx)
	upload := func() {
		res, err := up.Upload(work)
		switch {
		case errors.Is(err, snapshot.ErrNoSnapshot):
		case err != nil:
			log.Error("replication failed", "error", err)
		case len(res.Snapshots) > 0:
			log.Info("replicated", "snapshots", len(res.Snapshots), "current", res.Current, "objects", res.Objects, "bytes", res.Bytes, "ms", res.DurationMS)
		}
	}
	c.Schedule(sched, cron.FuncJob(func() {
		if ctx.Err() != nil || !mu.TryLock() {
			return
		}
		defer mu.Unlock()
		if n, err := replica.Pull(work, client, s, a.cfg.Reader.Verify, a.log); err != nil {
			log.Error("pull of the remote queue failed", "error", err)
		} else if n > 0 {
			log.Info("pulled remote writes", "jobs", n)
		}
		upload()
	}))
	log.Info("replicating", "to", client.Location().String(), "schedule", a.cfg.Replica.Schedule)
	return a.uploadOnPublish(ctx, s, &mu, upload), nil
}

// uploadOnPublish runs upload (holding mu) each time CURRENT changes, until
// ctx ends: changes during an upload are coalesced into one more. It
// returns the function that stops it and waits for an upload under way.
// Where CURRENT cannot be watched, it logs why and does nothing: the
// schedule alone replicates.
func (a *app) uploadOnPublish(ctx context.Context, s *snapshot.Store, mu *sync.Mutex, upload func()) func() {
	kick := make(chan struct{}, 1)
	stopWatch, err := s.WatchCurrent(func() {
		select {
		case kick <- struct{}{}:
		default: // one is pending already: it will see this publish too
		}
	})
	if err != nil {
		a.log.Warn("cannot watch CURRENT: replicating on replica.schedule only", "error", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				mu.Lock()
				if ctx.Err() == nil {
					upload()
				}
				mu.Unlock()
			}
		}
	}()
	return func() { stopWatch(); <-done }
}

// remoteReader is a command's remote location when it runs with --from.
type remoteReader struct {
	client *objstore.Client
	cache  *snapshot.Store
}

// fromRemote wraps run: with --from, it brings the remote CURRENT into the
// cache store (replica.cache_dir) and points the command at that store;
// with follow (the servers), a goroutine keeps it up to date on
// reader.refresh and forwards the cache's queued writes to the remote
// queue until the command ends.
func (a *app) fromRemote(follow bool, run runE) runE {
	return func(cmd *cobra.Command, args []string) error {
		from, _ := cmd.Flags().GetString("from")
		if from == "" && cmd.Flags().Changed("from") {
			return usagef(cmd, "--from is empty: give s3://BUCKET/PREFIX, or leave --from out to read the local store")
		}
		if from == "" {
			return run(cmd, args)
		}
		if f, ok := a.flags["store"]; ok && f.changed() {
			return usagef(cmd, "--store and --from name two different memories: give one (--from reads the remote through its cache in replica.cache_dir)")
		}
		ctx := cmd.Context()
		client, err := a.objClient(ctx, from)
		if err != nil {
			return err
		}
		dir := replica.CacheDir(a.cfg.Replica.CacheDir, client.Location())
		if err := os.MkdirAll(filepath.Dir(dir), fsutil.DirPerm); err != nil {
			return fmt.Errorf("replica cache: %w", err)
		}
		if at := cmd.Flag("at"); at != nil && at.Value.String() != "" {
			return a.remotePoint(cmd, client, filepath.Dir(dir), func() error { return run(cmd, args) })
		}
		cache, err := snapshot.Init(dir)
		if err == nil {
			err = cache.Queue().MakeFwdDir() // watched by the servers' reads
		}
		if err != nil {
			return cacheProblem(dir, err)
		}
		first := client
		if cur, _ := cache.Current(); cur > 0 && !follow {
			// A one-shot read with a cached snapshot to answer from tries
			// the remote once: against a server that stalls, three tries
			// of objstore's stall timeout kept it waiting a minute and a
			// half for an answer the cache had.
			if first, err = a.objClientTries(ctx, from, 1); err != nil {
				return err
			}
		}
		sy := replica.NewSyncer(first, cache, replica.SyncOptions{LockTimeout: a.cfg.Writer.LockTimeout}, a.log)
		if _, err := sy.Sync(ctx); err != nil {
			cur, _ := cache.Current()
			if cur == 0 || errors.Is(err, replica.ErrOtherStore) {
				if ce := cacheFault(dir, err); ce != nil {
					return ce
				}
				return fmt.Errorf("read %s: %w", client.Location(), err)
			}
			a.log.Warn("could not bring the remote snapshot: serving the cached one", "seq", cur, "error", err)
		}
		a.cfg.Store = cache.Dir()
		a.remote = &remoteReader{client: client, cache: cache}
		if follow {
			if err := a.followRemote(ctx, sy); err != nil {
				return err
			}
		}
		err = run(cmd, args)
		if follow {
			a.forwardBeforeExit(ctx)
		}
		return err
	}
}

// forwardBeforeExit sends the writes a --from server acknowledged and has
// not forwarded yet to the remote queue before the process exits (within
// forwardAtExit), as a local 'memsnap mcp' commits before it exits: a
// short session's writes would otherwise wait in the cache for the next
// --from server. What cannot go up stays queued in the cache, logged.
func (a *app) forwardBeforeExit(ctx context.Context) {
	if a.cfg.Replica.Writes != "on" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), forwardAtExit)
	defer cancel()
	n, err := replica.Forward(ctx, a.remote.client, a.remote.cache, a.log)
	if err != nil {
		a.log.Warn("could not forward writes to the remote queue before exiting: they stay queued in the cache and go up with the next --from server",
			"cache", a.remote.cache.Dir(), "error", err)
		return
	}
	if n > 0 {
		a.log.Info("forwarded writes to the remote queue before exiting", "jobs", n)
	}
}

// forwardAtExit bounds forwardBeforeExit.
const forwardAtExit = time.Minute

// followRemote syncs the cache and forwards its queued writes on
// reader.refresh until ctx ends.
func (a *app) followRemote(ctx context.Context, sy *replica.Syncer) error {
	if a.cfg.Reader.Refresh == "" {
		return nil
	}
	sched, err := schedule.Parse(a.cfg.Reader.Refresh)
	if err != nil {
		return fmt.Errorf("reader.refresh %q: %w", a.cfg.Reader.Refresh, err)
	}
	log := a.log.With("component", "replica")
	var mu sync.Mutex  // one pass at a time
	var lastErr string // the last failed sync's error; guarded by mu
	c := cron.New()
	c.Schedule(sched, cron.FuncJob(func() {
		if ctx.Err() != nil || !mu.TryLock() {
			return
		}
		defer mu.Unlock()
		if a.cfg.Replica.Writes == "on" {
			if n, err := replica.Forward(ctx, a.remote.client, a.remote.cache, log); err != nil {
				log.Warn("could not forward writes to the remote queue", "error", err)
			} else if n > 0 {
				log.Info("forwarded writes to the remote queue", "jobs", n)
			}
		}
		res, err := sy.Sync(ctx)
		switch {
		case err != nil && ctx.Err() == nil && err.Error() != lastErr:
			log.Warn("could not bring the remote snapshot: serving the one there is", "error", err)
			lastErr = err.Error() // said once until it changes
		case err != nil:
		case res.Changed:
			lastErr = ""
			log.Info("remote snapshot fetched", "seq", res.Seq, "fetched", res.Fetched, "bytes", res.Bytes, "reused", res.Reused)
		}
	}))
	c.Start()
	context.AfterFunc(ctx, func() { <-c.Stop().Done() })
	return nil
}

// errReplicaWritesOff is why a remote reader refuses writes with
// replica.writes off.
var errReplicaWritesOff = errors.New("replica.writes is off: this memory is a read-only replica; write where the store is, or set replica.writes on")

// remoteReadOnly is why the servers' store takes no writes because of
// --from: nil without --from or with replica.writes on.
func (a *app) remoteReadOnly() error {
	if a.remote != nil && a.cfg.Replica.Writes == "off" {
		return errReplicaWritesOff
	}
	return nil
}

// unlessRemote is commit, or nil with --from: a replica's cache publishes
// only what comes down from the remote; its writes go up to the remote
// queue instead.
func (a *app) unlessRemote(commit func(context.Context) (writer.Summary, bool, error)) func(context.Context) (writer.Summary, bool, error) {
	if a.remote != nil {
		return nil
	}
	return commit
}

// cacheError is a fault of a --from read's local cache (replica.cache_dir),
// not of the remote: a cache path that is not a directory, or a cache
// store whose CURRENT is damaged. The cure is to remove the cache
// directory, which the next --from read fills again from the remote; the
// store commands' advice (--store, 'memsnap snapshots repair') does not
// apply to it.
type cacheError struct {
	Dir  string // the cache store
	What string // what is wrong, in words
	Err  error
}

// cacheHint is what to do about a cacheError: the cache is a copy, never
// repaired (the hint of the error it wraps, the store's repair, does not
// apply).
const cacheHint = "remove it (the next --from read fills it again from the remote) or set replica.cache_dir to another directory"

func (e *cacheError) Error() string {
	return fmt.Sprintf("replica cache %s: %s; %s", e.Dir, e.What, cacheHint)
}

// ErrorHint is the cache's hint (snapshot.HintOf finds it before the
// wrapped error's).
func (e *cacheError) ErrorHint() string { return cacheHint }

func (e *cacheError) Unwrap() error { return e.Err }

// cacheProblem is err, about the cache store dir, as a *cacheError when
// it is one of the cache's own faults (cacheFault), else wrapped with
// "replica cache".
func cacheProblem(dir string, err error) error {
	if ce := cacheFault(dir, err); ce != nil {
		return ce
	}
	return fmt.Errorf("replica cache: %w", err)
}

// cacheFault is err as a *cacheError when it is a fault of the cache store
// dir itself (a path that is not a directory, a damaged CURRENT); nil
// otherwise.
func cacheFault(dir string, err error) *cacheError {
	var nd *snapshot.NotDirError
	var ce *snapshot.CurrentError
	switch {
	case errors.As(err, &nd) && nd.Parent != "":
		return &cacheError{Dir: nd.Parent, What: "it is " + nd.Kind + ", not a directory", Err: err}
	case errors.As(err, &nd):
		return &cacheError{Dir: dir, What: "it is " + nd.Kind + ", not a directory", Err: err}
	case errors.As(err, &ce):
		return &cacheError{Dir: dir, What: "its CURRENT file is damaged (" + ce.Err.Error() + ")", Err: err}
	case errors.Is(err, snapshot.ErrCurrentCorrupt):
		return &cacheError{Dir: dir, What: "its CURRENT file is damaged", Err: err}
	}
	return nil
}
