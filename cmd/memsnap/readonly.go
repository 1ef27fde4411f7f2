package main

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/snapshot"

// servingRunE is the body of mcp and serve: ro is nil on a store they can
// write, else why they cannot.
type servingRunE = func(cmd *cobra.Command, s *snapshot.Store, ro error, args []string) error

// onServingStore is onNewStore for the servers (mcp, serve): they create the
// store when it is missing, and serve a store that exists but cannot be
// written (a read-only filesystem, no write permission) read-only, as the
// read commands do, instead of failing on its LOCK.
func (a *app) onServingStore(run servingRunE) runE {
	return func(cmd *cobra.Command, args []string) error {
		s, err := snapshot.Init(a.cfg.Store)
		if err == nil {
			return run(cmd, s, a.remoteReadOnly(), args)
		}
		s, oerr := snapshot.Open(a.cfg.Store)
		if oerr != nil {
			return err
		}
		ro := storeWritable(s)
		if ro == nil {
			return err // writable, yet Init failed: its own error
		}
		a.log.Warn("the store is read-only: serving reads, refusing writes", "store", s.Dir(), "reason", ro)
		return run(cmd, s, ro, args)
	}
}
