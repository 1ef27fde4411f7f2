package main

import "errors"
import "fmt"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

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

// atStore returns the store a read command reads: s itself without --at
// (point false, done does nothing), else a store holding the point --at
// names (writer.ViewPoint), which done removes. Open a point's store with
// reader.Options.ForPoint.
func (a *app) atStore(cmd *cobra.Command, s *snapshot.Store) (_ *snapshot.Store, point bool, done func(), _ error) {
	f := cmd.Flag("at")
	if f == nil || f.Value.String() == "" {
		return s, false, func() {}, nil
	}
	seq, err := s.ParsePoint(f.Value.String(), time.Now())
	if errors.Is(err, snapshot.ErrBadPoint) {
		return nil, false, nil, usagef(cmd, "--at: %w", err)
	}
	if err != nil {
		return nil, false, nil, fmt.Errorf("--at: %w", err)
	}
	view, done, err := writer.ViewPoint(cmd.Context(), s, a.cfg.WriterOptions(), seq)
	if err != nil {
		return nil, false, nil, fmt.Errorf("--at %s: %w", f.Value.String(), err)
	}
	return view, true, done, nil
}
