package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/reader"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// The --at flag of the read commands: the memory as it was at a point of
// history (history.keep_for), rebuilt in a store of its own under the
// store's history/views/ and removed when the command ends; CURRENT never
// changes.

// atUsage is the help of --at.
const atUsage = "read the memory as it was at snapshot SEQ, or at TIME (RFC 3339, or a duration ago such as -10m), within history.keep_for"

// addAtFlag adds --at to a read command (persistent: a command group's
// subcommands share it).
func addAtFlag(c *cobra.Command, persistent bool) {
	if persistent {
		c.PersistentFlags().String("at", "", atUsage)
		return
	}
	c.Flags().String("at", "", atUsage)
}

// parsePoint resolves SEQ|TIME (as --at and 'snapshots restore' take it)
// to a point of s's history: a decimal seq as it is; an RFC 3339 time, or
// a negative duration from now (-10m, -2h30m), to the point CURRENT named
// then (snapshot.Store.PointAt).
func parsePoint(s *snapshot.Store, at string, now time.Time) (uint64, error) {
	if seq, err := strconv.ParseUint(at, 10, 64); err == nil && seq > 0 {
		return seq, nil
	}
	var t time.Time
	if strings.HasPrefix(at, "-") {
		d, err := time.ParseDuration(at)
		if err != nil {
			return 0, fmt.Errorf("%q is not a snapshot number, an RFC 3339 time or a duration ago such as -10m", at)
		}
		t = now.Add(d)
	} else {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return 0, fmt.Errorf("%q is not a snapshot number, an RFC 3339 time or a duration ago such as -10m", at)
		}
	}
	return s.PointAt(t)
}

// atStore returns the store a read command reads: s itself without --at
// (point false, done does nothing), else a store holding the point --at
// names, rebuilt by writer.BuildView, which done removes. Open a point's
// store with pointOptions.
func (a *app) atStore(cmd *cobra.Command, s *snapshot.Store) (_ *snapshot.Store, point bool, done func(), _ error) {
	f := cmd.Flag("at")
	if f == nil || f.Value.String() == "" {
		return s, false, func() {}, nil
	}
	seq, err := parsePoint(s, f.Value.String(), time.Now())
	if err != nil {
		return nil, false, nil, usagef(cmd, "--at: %w", err)
	}
	dir, err := viewDir(s)
	if err != nil {
		return nil, false, nil, err
	}
	done = func() { _ = os.RemoveAll(dir) }
	view, err := writer.BuildView(cmd.Context(), s, a.cfg.WriterOptions(), seq, dir, nil) // its commit is no news
	if err != nil {
		done()
		return nil, false, nil, fmt.Errorf("--at %s: %w", f.Value.String(), err)
	}
	return view, true, done, nil
}

// pointOptions are the reader options o for a point of history: it is read
// as it is, without the queued writes, refreshes or scrubs of CURRENT's
// readers, and checked by size (it was checksummed as it was built).
func pointOptions(o reader.Options) reader.Options {
	o.QueuedWrites, o.Refresh, o.WatchCurrent, o.Scrub, o.Verify = false, "", false, 0, "size"
	return o
}

// viewDir makes a new directory for a rebuilt point: under the store's
// history/views/, or the system's temporary directory when the store
// cannot be written.
func viewDir(s *snapshot.Store) (string, error) {
	parent := s.Path(snapshot.HistoryDir, snapshot.ViewsDir)
	if err := os.MkdirAll(parent, 0o700); err == nil {
		if dir, err := os.MkdirTemp(parent, "view-"); err == nil {
			return dir, nil
		}
	}
	dir, err := os.MkdirTemp("", "memsnap-view-")
	if err != nil {
		return "", fmt.Errorf("--at: %w", err)
	}
	return dir, nil
}
