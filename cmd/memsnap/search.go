package main

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"

func (a *app) newSearchCommand() *cobra.Command {
	var limit int
	search := a.graphCommand("search [--json] [--limit N] QUERY", "Ranked search of entity names, types and observations: the matches and every relation touching them",
		exactArgs("QUERY"), func(cmd *cobra.Command, r *reader.Reader, args []string) (*reader.Graph, error) {
			if limit < 0 {
				return nil, usagef(cmd, "--limit %d is negative (0: all matches)", limit)
			}
			return r.SearchNodes(cmd.Context(), args[0], reader.SearchOptions{Limit: limit})
		})
	search.Flags().IntVar(&limit, "limit", 0, "at most N entities (0: all matches)")
	return search
}
