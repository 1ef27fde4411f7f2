package main

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"

func (a *app) newOpenCommand() *cobra.Command {
	return a.graphCommand("open [--json] NAME...", "The named entities and every relation touching them (either end among them)",
		minArgs("NAME"), func(cmd *cobra.Command, r *reader.Reader, args []string) (*reader.Graph, error) {
			return r.OpenNodes(cmd.Context(), args)
		})
}
