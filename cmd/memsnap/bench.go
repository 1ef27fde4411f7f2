package main

import "encoding/json"
import "errors"
import "fmt"
import "os"
import "slices"
import "strings"
import "time"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/bench"

func (a *app) newBenchCommand() *cobra.Command {
	var quick, asJSON, smoke bool
	var only []string
	var dir, reference, versitygw string
	var mcpSizes []int
	var mcpCalls, referenceMax int
	var serveThink time.Duration
	c := &cobra.Command{
		Use:   "bench [--quick] [--json] [--only NAME,...] [--mcp-sizes N,...] [--reference FILE]",
		Short: "Measure memsnap beside direct Kuzu use and the disk's limits; prints a table",
		Long: `Run the benchmark harness: real reader, writer and producer processes on scratch stores
(never the configured store). Benchmarks: readers_under_write, apply, publish, enqueue,
visibility, swap, rss, scaling, query, mcp, serve, footprint (bytes on disk after import and
30 writes at default retention, beside the reference's JSONL file). --quick takes a few minutes; the full run takes longer and
publishes stores up to 1 GB. Progress goes to stderr; the result to stdout.

mcp times the write tools, then the read tools (search_nodes, open_nodes, read_graph,
neighbors), through a real MCP client against 'memsnap mcp' and, side by side, the reference
server @modelcontextprotocol/server-memory (installed by 'make reference' into .reference/, or
named by --reference / MEMSNAP_BENCH_REFERENCE; without it the reference column is left out
with a note), on stores of N entities (3 observations each) and N relations: --mcp-sizes,
e.g. 1000,10000,100000,1000000. The reference runs up to --reference-max entities.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range only {
				if !slices.Contains(bench.Names, n) {
					return usagef(cmd, "unknown benchmark %q for --only (have %s)", n, strings.Join(bench.Names, ", "))
				}
			}
			if mcpCalls < 0 {
				return usagef(cmd, "--mcp-calls must not be negative")
			}
			if referenceMax < 0 {
				return usagef(cmd, "--reference-max must not be negative")
			}
			for _, n := range mcpSizes {
				if n < bench.MinMCPEntities {
					return usagef(cmd, "--mcp-sizes: %d is below %d entities", n, bench.MinMCPEntities)
				}
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find own binary: %w", err)
			}
			rep, err := bench.Run(cmd.Context(), bench.Options{Exe: exe, Dir: dir, Quick: quick, Smoke: smoke,
				Only: only, MCPSizes: mcpSizes, MCPCalls: mcpCalls, ServeThink: serveThink, Reference: reference, ReferenceMax: referenceMax, Versitygw: versitygw, Progress: a.stderr, Log: a.log})
			if rep != nil {
				if asJSON {
					out := struct {
						*bench.Report
						Goals []bench.Goal `json:"goals"`
					}{rep, rep.Goals()}
					enc := json.NewEncoder(a.stdout)
					enc.SetIndent("", "  ")
					if perr := enc.Encode(out); perr != nil {
						return errors.Join(err, perr)
					}
				} else if perr := rep.WriteTable(a.stdout); perr != nil {
					return errors.Join(err, perr)
				}
			}
			return err
		},
	}
	c.Flags().BoolVar(&quick, "quick", false, "the short run (a few minutes)")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
	c.Flags().StringSliceVar(&only, "only", nil, "run only these benchmarks (comma-separated)")
	c.Flags().StringVar(&dir, "dir", "", "scratch directory for the benchmark stores (default: the system temp dir)")
	c.Flags().IntSliceVar(&mcpSizes, "mcp-sizes", nil, "store sizes (entities) of the mcp benchmark, e.g. 1000,10000,100000 (default: 1000,10000,100000; 1000 with --quick)")
	c.Flags().DurationVar(&serveThink, "serve-think", 0, "pause between one client's calls in the serve benchmark (default 100ms: 50 clients offer 500 calls/s)")
	c.Flags().IntVar(&mcpCalls, "mcp-calls", 0, "timed calls per write tool and server in the mcp benchmark (default 15)")
	c.Flags().StringVar(&reference, "reference", os.Getenv("MEMSNAP_BENCH_REFERENCE"),
		"the reference MCP memory server's dist/index.js (default: $MEMSNAP_BENCH_REFERENCE, else .reference/ from 'make reference')")
	c.Flags().StringVar(&versitygw, "versitygw", "", "the S3-compatible server the replicate benchmark runs (default: versitygw on PATH, else .tools/bin/versitygw from 'make versitygw')")
	c.Flags().IntVar(&referenceMax, "reference-max", bench.DefaultReferenceMax,
		"the largest mcp store (entities) the reference runs on: it reads its whole file on every call")
	c.Flags().BoolVar(&smoke, "smoke", false, "tiny sizes, to check the harness itself (figures mean nothing)")
	_ = c.Flags().MarkHidden("smoke")
	return c
}
