package main

import "context"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/replica"
import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// --from on the command line: every read command (query, search, open,
// neighbors, graph, export, kv get/scan) and both servers (mcp, serve)
// read a replica location through a local cache (fromRemote, in
// replicate.go). Every other command works on a local store and refuses
// --from with one sentence (refuseFrom): the write commands do not
// forward to the remote queue; 'memsnap mcp --from' and 'memsnap serve
// --from' do.

// fromUsage is the help of --from.
const fromUsage = "read s3://BUCKET/PREFIX through a local cache (replica.cache_dir) instead of the store"

// addReadFlags adds --at and --from to a read command (persistent: a
// command group's subcommands share them).
func addReadFlags(c *cobra.Command, persistent bool) {
	addAtFlag(c, persistent)
	if persistent {
		c.PersistentFlags().String("from", "", fromUsage)
		return
	}
	addFromFlag(c)
}

// addFromFlag adds --from to a read command or server.
func addFromFlag(c *cobra.Command) {
	c.Flags().String("from", "", fromUsage)
}

// addRefusedFrom adds to root a hidden persistent --from, which every
// command without one of its own inherits, so that refuseFrom can refuse
// it in a sentence instead of cobra's "unknown flag".
func addRefusedFrom(root *cobra.Command) {
	root.PersistentFlags().String("from", "", "")
	_ = root.PersistentFlags().MarkHidden("from")
}

// refuseFrom is the usage error of a command given --from that has no
// --from of its own (root's, see addRefusedFrom); nil otherwise.
func refuseFrom(root, cmd *cobra.Command) error {
	f := cmd.Flag("from")
	if f == nil || !f.Changed || f != root.PersistentFlags().Lookup("from") {
		return nil
	}
	return usagef(cmd, "--from: this command works on a local store and does not read or write a replica location; "+
		"the read commands (query, search, open, neighbors, graph, export, kv) take --from, and the writes of 'memsnap mcp --from' and 'memsnap serve --from' go to the remote queue")
}

// remotePoint runs a read command with --at and --from: it resolves --at
// against the remote's history (replica.ResolvePoint), brings what
// rebuilding that point needs into a store of its own under root
// (replica.Mirror: the snapshot kept in full it starts from and the
// history entries after it), points the command at that store with --at
// set to the point's seq, runs it (atStore rebuilds the point there), and
// removes the store. The store is held while in use (snapshot.NewHeldDir):
// what a killed or cut-short read left under root is removed by the next
// one. The cache store is left as it is.
func (a *app) remotePoint(cmd *cobra.Command, client *objstore.Client, root string, run func() error) error {
	at := cmd.Flag("at")
	snapshot.PruneHeldDirs(root, atPrefix, time.Now(), time.Hour)
	dir, release, err := snapshot.NewHeldDir(root, atPrefix)
	if err != nil {
		return fmt.Errorf("--at with --from: %w", err)
	}
	defer release()
	defer os.RemoveAll(dir)
	seq, err := a.mirrorPoint(cmd, client, at.Value.String(), dir)
	if err != nil {
		return err
	}
	if err := at.Value.Set(fmt.Sprint(seq)); err != nil {
		return err
	}
	a.cfg.Store = dir
	return run()
}

// atPrefix starts the name of a remote point's store under the cache root.
const atPrefix = "at-"

// mirrorPoint resolves point at (SEQ|TIME) of client's remote history and
// mirrors what rebuilding it needs into a new store in dir
// (mirrorSeq); it returns the point's seq. A value that names no
// point is a usage error.
func (a *app) mirrorPoint(cmd *cobra.Command, client *objstore.Client, at, dir string) (uint64, error) {
	seq, err := replica.ResolvePoint(cmd.Context(), client, at, time.Now())
	if errors.Is(err, snapshot.ErrBadPoint) {
		return 0, usagef(cmd, "--at: %w", err)
	}
	if err != nil {
		return 0, fmt.Errorf("--at %s of %s: %w", at, client.Location(), err)
	}
	if _, err := a.mirrorSeq(cmd.Context(), client, seq, dir); err != nil {
		return 0, fmt.Errorf("--at %s: %w", at, err)
	}
	return seq, nil
}

// mirrorSeq makes dir a new store holding what rebuilding point seq of
// client's remote history needs (replica.Mirror) and returns it.
func (a *app) mirrorSeq(ctx context.Context, client *objstore.Client, seq uint64, dir string) (*snapshot.Store, error) {
	mirror, err := snapshot.Init(dir)
	if err != nil {
		return nil, err
	}
	if err := replica.Mirror(ctx, client, mirror, seq, a.log); err != nil {
		return nil, fmt.Errorf("%s: %w", client.Location(), err)
	}
	return mirror, nil
}

// remoteView is a --from server's mcpserver.Options.PointView: it resolves
// at (SEQ|TIME) against the remote history (replica.ResolvePoint), as
// 'memsnap graph --from URL --at P' does, and rebuilds the point from the
// cache's own history when the cache holds it, else from a mirror of what
// the point needs in a directory next to the cache (mirrorSeq). done
// removes the view and the mirror. A value that names no remote point
// wraps snapshot.ErrBadPoint or snapshot.ErrNoPoint.
func (a *app) remoteView(ctx context.Context, at string) (view *snapshot.Store, done func(), err error) {
	rr := a.remote
	seq, err := replica.ResolvePoint(ctx, rr.client, at, time.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("point %s of %s: %w", at, rr.client.Location(), err)
	}
	view, done, err = writer.ViewPoint(ctx, rr.cache, a.cfg.WriterOptions(), seq)
	if !errors.Is(err, snapshot.ErrNoPoint) {
		return view, done, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(rr.cache.Dir()), "at-")
	if err != nil {
		return nil, nil, fmt.Errorf("point %d of %s: %w", seq, rr.client.Location(), err)
	}
	removeDir := func() { _ = os.RemoveAll(dir) }
	mirror, err := a.mirrorSeq(ctx, rr.client, seq, dir)
	var viewDone func()
	if err == nil {
		view, viewDone, err = writer.ViewPoint(ctx, mirror, a.cfg.WriterOptions(), seq)
	}
	if err != nil {
		removeDir()
		return nil, nil, fmt.Errorf("point %d: %w", seq, err)
	}
	return view, func() { viewDone(); removeDir() }, nil
}

// pointView is the servers' mcpserver.Options.PointView: remoteView with
// --from, nil (the store's own history) without.
func (a *app) pointView() func(ctx context.Context, at string) (*snapshot.Store, func(), error) {
	if a.remote == nil {
		return nil
	}
	return a.remoteView
}
