package main

import "errors"
import "fmt"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"

// printGraph prints a graph as readable lines.
func (a *app) printGraph(g *reader.Graph) error {
	queued := ""
	if g.Queued > 0 {
		queued = fmt.Sprintf(" and %d queued jobs", g.Queued)
	}
	if g.QueuedLeft > 0 {
		queued += fmt.Sprintf(" (%d more queued jobs not shown: a read applies the first %d)", g.QueuedLeft, reader.MaxOverlayJobs)
	}
	fmt.Fprintf(a.stdout, "snapshot %d%s: %d entities, %d relations\n", g.Snapshot, queued, len(g.Entities), len(g.Relations))
	for _, e := range g.Entities {
		fmt.Fprintf(a.stdout, "%s (%s)\n", e.Name, e.EntityType)
		for _, o := range e.Observations {
			fmt.Fprintf(a.stdout, "  - %s\n", o)
		}
	}
	for _, r := range g.Relations {
		fmt.Fprintf(a.stdout, "%s -[%s]-> %s\n", r.From, r.RelationType, r.To)
	}
	if g.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: --cursor %s\n", g.NextCursor)
	}
	for i, s := range g.Suggestions {
		if i == 0 {
			fmt.Fprintln(a.stdout, "no match; did you mean:")
		}
		fmt.Fprintf(a.stdout, "  %s (%s), similarity %.2f\n", s.Name, s.EntityType, s.Similarity)
	}
	return nil
}

// graphCommand builds a read command that prints the graph read returns.
func (a *app) graphCommand(use, short string, args cobra.PositionalArgs,
	read func(cmd *cobra.Command, r *reader.Reader, args []string) (*reader.Graph, error)) *cobra.Command {
	c := &cobra.Command{
		Use: use, Short: short, Args: args,
		RunE: a.onReader(func(cmd *cobra.Command, r *reader.Reader, args []string) error {
			g, err := read(cmd, r, args)
			if errors.Is(err, reader.ErrBadOption) {
				return usagef(cmd, "%v", err) // a bad flag value
			}
			if err != nil {
				return err
			}
			return a.output(cmd, g, func() error { return a.printGraph(g) })
		}),
	}
	c.Flags().Bool("json", false, `print {"snapshot": seq, "entities": [...], "relations": [...]}, and "queued": the acknowledged jobs applied over the snapshot, when any`)
	addReadFlags(c, false)
	return c
}
