package main

import "os"
import "os/exec"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/reader/queryworker"
import "github.com/memsnap/memsnap/snapshot"

// newQueryWorkerCommand is the process a query pool starts (see package
// queryworker): framed requests on stdin, answers on stdout, logs on
// stderr. It ends when stdin ends or its parent dies.
func (a *app) newQueryWorkerCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "query-worker",
		Short:  "A query worker of a memsnap process (framed requests on stdin, answers on stdout)",
		Hidden: true,
		Args:   noArgs,
		RunE: a.onStore(func(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
			go exitWithParent(os.Getppid())
			r := a.cfg.Reader
			return queryworker.Serve(cmd.Context(), a.stdin, a.stdout, s, queryworker.WorkerOptions{
				BufferPoolMB: r.BufferPoolMB, Threads: r.Threads, MaxMemoryMB: r.QueryMaxMemoryMB, MaxDBMB: a.cfg.MaxDBMB}, a.log)
		}),
	}
}

// exitWithParent ends a query worker whose parent has died (it is then
// re-parented on Unix; see parentGone), even in the middle of a query that
// ignores interrupts.
func exitWithParent(parent int) {
	for range time.Tick(time.Second) {
		if parentGone(parent) {
			os.Exit(exitError)
		}
	}
}

// newQueryPool returns the query worker pool of a process on store s:
// 'exe query-worker' with this process's store, config and log level, as
// the reader.query_* keys say. The workers' log lines go to this
// process's stderr. The caller closes it.
func (a *app) newQueryPool(exe string, s *snapshot.Store) *queryworker.Pool {
	r := a.cfg.Reader
	return queryworker.New(queryworker.Options{
		Size: r.QueryWorkers, Timeout: r.QueryTimeout, MaxMemoryBytes: int64(r.QueryMaxMemoryMB) << 20,
		MaxRows: r.QueryMaxRows, MaxBytes: r.QueryMaxBytes, Log: a.log,
		Command: func() *exec.Cmd {
			args := []string{"--store", s.Dir(), "--log-level", a.cfg.LogLevel}
			if f := a.v.GetString("config"); f != "" {
				args = append(args, "--config", f)
			}
			cmd := exec.Command(exe, append(args, "query-worker")...)
			cmd.Stderr = a.stderr
			return cmd
		},
	})
}

// isolatedReaderOptions are the reader options of a process that runs
// user-written Cypher: the queries go to pool.
func (a *app) isolatedReaderOptions(pool *queryworker.Pool) reader.Options {
	o := a.cfg.ReaderOptions()
	o.Runner = pool
	return o
}
