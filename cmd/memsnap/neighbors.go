package main

import "fmt"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"

func (a *app) newNeighborsCommand() *cobra.Command {
	var nopts reader.NeighborsOptions
	neighbors := a.graphCommand("neighbors [--json] [--depth N] [--type T] [--limit N] NAME", "Entities within N hops of NAME (relations followed both ways) and the relations followed",
		exactArgs("NAME"), func(cmd *cobra.Command, r *reader.Reader, args []string) (*reader.Graph, error) {
			if nopts.Depth == 0 { // the library's default; on the command line, a mistake
				return nil, usagef(cmd, "--depth must be 1..%d", reader.MaxDepth)
			}
			return r.Neighbors(cmd.Context(), args[0], nopts)
		})
	neighbors.Flags().IntVar(&nopts.Depth, "depth", 1, fmt.Sprintf("hops to follow (1..%d)", reader.MaxDepth))
	neighbors.Flags().StringVar(&nopts.RelationType, "type", "", "follow only relations of this type")
	neighbors.Flags().IntVar(&nopts.Limit, "limit", 0, "at most N entities (0: no cap)")
	return neighbors
}
