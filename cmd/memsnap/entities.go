package main

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/internal/model"

// The entities command: create_entities and delete_entities of the MCP
// server, from the command line (memorytool.go).

func (a *app) newEntitiesCommand() *cobra.Command {
	c := &cobra.Command{Use: "entities", Short: "Create or delete entities (the MCP tools create_entities and delete_entities)"}
	var typ string
	var obs []string
	c.AddCommand(a.newToolCommand(toolCommand{
		use:   "create [--type T] [--obs TEXT]... NAME... | --file FILE",
		short: "Create entities (create_entities): names that exist are skipped",
		long: `Create the named entities, each of type T with the observations given (--obs, repeated), as
the MCP tool create_entities does: a name that exists already is skipped (its type and
observations stay as they are), and the answer lists the entities created.`,
		tool: "create_entities", key: "entities", args: minArgs("NAME"),
		items: func(args []string) []any {
			var out []any
			for _, name := range args {
				out = append(out, model.Entity{Name: name, EntityType: typ, Observations: model.NonNil(obs)})
			}
			return out
		},
	}, func(c *cobra.Command) {
		c.Flags().StringVar(&typ, "type", "", "the entities' type (entityType)")
		c.Flags().StringArrayVar(&obs, "obs", nil, "an observation of each entity (repeat for more)")
	}))
	c.AddCommand(a.newToolCommand(toolCommand{
		use:   "delete NAME... | --file FILE",
		short: "Delete entities and their relations (delete_entities)",
		long: `Delete the named entities and every relation touching them, as the MCP tool delete_entities
does; names that do not exist are said in the answer ("Not found: ...").`,
		tool: "delete_entities", key: "entityNames", args: minArgs("NAME"),
		items: func(args []string) []any {
			out := make([]any, len(args))
			for i, name := range args {
				out[i] = name
			}
			return out
		},
	}, nil))
	return c
}
