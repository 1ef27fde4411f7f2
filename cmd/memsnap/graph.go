package main

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"

func (a *app) newGraphCommand() *cobra.Command {
	var gopts reader.ReadGraphOptions
	graph := a.graphCommand("graph [--json] [--limit N] [--cursor C] [--type T]", "The whole graph, or a page of it",
		noArgs, func(cmd *cobra.Command, r *reader.Reader, _ []string) (*reader.Graph, error) {
			return r.ReadGraph(cmd.Context(), gopts)
		})
	graph.Flags().IntVar(&gopts.Limit, "limit", 0, "entities per page (0: all)")
	graph.Flags().StringVar(&gopts.Cursor, "cursor", "", "continue after the page that printed this cursor")
	graph.Flags().StringVar(&gopts.EntityType, "type", "", "only entities of this type")
	return graph
}
