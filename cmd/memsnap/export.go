package main

import "bufio"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "os"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"

func (a *app) newExportCommand() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export [-o FILE]",
		Short: "Write CURRENT's graph as a reference memory server JSONL file",
		Args:  noArgs,
		RunE: a.onReader(func(cmd *cobra.Command, r *reader.Reader, _ []string) error {
			w := a.stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("export: %w", err)
				}
				defer f.Close()
				w = f
			}
			return writeMemoryFile(cmd.Context(), r, w)
		}),
	}
	c.Flags().StringVarP(&out, "output", "o", "-", "file to write, or - for standard output")
	addReadFlags(c, false)
	return c
}

// writeMemoryFile writes the graph r reads as a reference JSONL memory file:
// the entities, a page at a time, then the relations.
func writeMemoryFile(ctx context.Context, r *reader.Reader, w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	cursor := ""
	var rels []reader.Relation
	for {
		g, err := r.ReadGraph(ctx, reader.ReadGraphOptions{Limit: 5000, Cursor: cursor})
		if err != nil {
			return err
		}
		for _, e := range g.Entities {
			obs := e.Observations
			if err := enc.Encode(memoryLine{Type: "entity", Name: e.Name, EntityType: &e.EntityType, Observations: &obs}); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		rels = append(rels, g.Relations...)
		if cursor = g.NextCursor; cursor == "" {
			break
		}
	}
	for _, rel := range rels {
		if err := enc.Encode(memoryLine{Type: "relation", From: rel.From, To: rel.To, RelationType: rel.RelationType}); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
