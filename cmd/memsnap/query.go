package main

import "encoding/json"
import "fmt"
import "os"
import "strings"
import "text/tabwriter"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"

// The query command: read-only Cypher on the current snapshot, run in a
// query worker process.

func (a *app) newQueryCommand() *cobra.Command {
	var params []string
	c := &cobra.Command{
		Use:   "query [--json] [--param k=v]... CYPHER",
		Short: "Run read-only Cypher on CURRENT",
		Long: `Run a read-only Cypher query on the current snapshot. Statements that write, touch files or
other databases (COPY, EXPORT, ATTACH, LOAD, INSTALL, ...) are refused. A --param value that
parses as JSON is passed as that value (number, bool, list), otherwise as a string.
The query runs in a query worker process capped by reader.query_timeout,
reader.query_max_memory_mb, reader.query_max_rows and reader.query_max_bytes; an answer cut
at a cap says so ("truncated" in --json, a note on standard error).`,
		Args: minArgs("CYPHER"),
		RunE: a.fromRemote(false, func(cmd *cobra.Command, args []string) error {
			p, err := parseParams(params)
			if err != nil {
				return usagef(cmd, "%w", err)
			}
			return a.onStore(func(cmd *cobra.Command, s *snapshot.Store, args []string) error {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("query: find own binary: %w", err)
				}
				s, point, done, err := a.atStore(cmd, s)
				if err != nil {
					return err
				}
				defer done()
				pool := a.newQueryPool(exe, s)
				defer pool.Close()
				r, err := a.openReader(cmd, s, a.isolatedReaderOptions(pool), point)
				if err != nil {
					return err
				}
				defer r.Close()
				res, err := r.Query(cmd.Context(), strings.Join(args, " "), p)
				if err != nil {
					return err
				}
				if res.Truncated {
					fmt.Fprintf(a.stderr, "memsnap: note: the answer is truncated: %s\n", res.TruncatedReason)
				}
				return a.output(cmd, res, func() error { return a.printTable(res) })
			})(cmd, args)
		}),
	}
	c.Flags().Bool("json", false, `print {"snapshot": seq, "columns": [...], "rows": [[...]]}`)
	c.Flags().StringArrayVar(&params, "param", nil, "query parameter k=v (repeatable)")
	addReadFlags(c, false)
	return c
}

// printTable prints a query's answer as aligned columns under a header.
func (a *app) printTable(res *reader.Result) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func parseParams(kvs []string) (map[string]any, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want name=value", kv)
		}
		var j any
		if err := json.Unmarshal([]byte(v), &j); err == nil {
			switch x := j.(type) {
			case float64:
				if x == float64(int64(x)) {
					j = int64(x)
				}
			case nil, map[string]any:
				j = v
			}
			out[k] = j
		} else {
			out[k] = v
		}
	}
	return out, nil
}

func cell(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}
