package main

import "context"
import "fmt"
import "os"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/linerpc"
import "github.com/memsnap/memsnap/cmd/memsnap/internal/mcpserver"
import "github.com/memsnap/memsnap/internal/buildinfo"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// The mcp command: it serves the memory to one AI tool over stdio, and
// leaves every commit to a warm writer (see warm.go).

func (a *app) newMCPCommand() *cobra.Command {
	c := withToolList(&cobra.Command{
		Use:   "mcp",
		Short: "Serve the memory to an AI tool over MCP (stdio); many may run at once",
		Long: `Serve the store over the Model Context Protocol on standard input and output, with the
tools of the reference knowledge-graph memory server and memsnap's own (listed below).
Any number of 'memsnap mcp' processes can share one store (it is created if missing). A write
tool answers once its job is durable in the queue, with the outcome the writer will give
(mcp.write_ack durable; with applied it waits until the job is applied, up to
mcp.write_timeout). The server commits queued jobs as they arrive, batching those that arrive
within writer.commit_delay, through a 'memsnap commit' child process (kept up between
commits) whenever no other writer holds the lock (mcp.commit_when_idle). A read answers from the snapshot
plus every acknowledged job still queued, this server's and other processes' (reader.queued_writes); query,
kv_get, kv_scan, recent_changes and windowed reads wait until the snapshot holds the server's own writes. No answer is larger than mcp.max_answer_bytes (256 KiB): past it, the
best-ranked part, a nextCursor for the rest and a note saying how many more. On a store it cannot write (a read-only filesystem, no write
permission) it serves reads and answers every write with "the store ... is read-only".
Logs go to standard error only. A line that is not a JSON-RPC message
is answered with a JSON-RPC error (-32700 not JSON, or not UTF-8, or holding an unpaired
surrogate escape; -32600 not a request, a batch array, or an id that is null or not a string
or an integer within 2^53; id null where it cannot be told), as is a line longer than serve.max_body_bytes (default
four times job.max_bytes), which is skipped unread (answered under its id when the id stands before the long
value, as clients write it); the session goes on with the next line.
When the input ends, the replies still due are written (for up to a minute) before it exits.

` + toolListMark,
		Args: noArgs,
		RunE: a.fromRemote(true, a.onServingStore(func(cmd *cobra.Command, s *snapshot.Store, ro error, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("mcp: find own binary: %w", err)
			}
			ww := a.newWarmWriter(exe, s)
			defer ww.Close(10 * time.Second)
			pool := a.newQueryPool(exe, s)
			defer pool.Close()
			srv := mcpserver.New(mcpserver.Options{
				Store: s, Config: a.cfg, Log: a.log, Version: buildinfo.Version, QueryRunner: pool, ReadOnly: ro,
				// A commit under way when the client leaves runs to its end.
				Commit: a.unlessRemote(func(ctx context.Context) (writer.Summary, bool, error) {
					return ww.Commit(context.WithoutCancel(ctx))
				}),
				PointView: a.pointView(),
			})
			a.log.Info("mcp server running on stdio", "store", s.Dir())
			// The framing is our own: a bad line is answered and skipped, never
			// the end of the session (see linerpc).
			return srv.Run(cmd.Context(), &linerpc.Transport{In: os.Stdin, Out: os.Stdout,
				MaxLine: int(a.cfg.BodyCap()), Log: a.log.With("component", "mcp")})
		})),
	})
	addFromFlag(c)
	return c
}
