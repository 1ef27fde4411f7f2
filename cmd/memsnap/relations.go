package main

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/internal/model"

// The relations command: create_relations and delete_relations of the MCP
// server, from the command line (memorytool.go).

func (a *app) newRelationsCommand() *cobra.Command {
	c := &cobra.Command{Use: "relations", Short: "Create or delete relations (the MCP tools create_relations and delete_relations)"}
	relation := func(args []string) []any {
		return []any{model.Relation{From: args[0], RelationType: args[1], To: args[2]}}
	}
	c.AddCommand(a.newToolCommand(toolCommand{
		use:   "create FROM TYPE TO | --file FILE",
		short: "Create a relation FROM -[TYPE]-> TO (create_relations): exact duplicates are skipped",
		long: `Create the relation FROM -[TYPE]-> TO (in active voice: "memsnap uses Kuzu" is
'memsnap relations create memsnap uses Kuzu'), as the MCP tool create_relations does: both
entities must exist (else "Entity with name X not found" and nothing is queued), an exact
duplicate is skipped, and the answer lists the relations created.`,
		tool: "create_relations", key: "relations", args: exactArgs("FROM", "TYPE", "TO"), items: relation,
	}, nil))
	c.AddCommand(a.newToolCommand(toolCommand{
		use:   "delete FROM TYPE TO | --file FILE",
		short: "Delete the relation FROM -[TYPE]-> TO (delete_relations)",
		long: `Delete the relation FROM -[TYPE]-> TO, as the MCP tool delete_relations does; one that does
not exist is a no-op, said in the answer.`,
		tool: "delete_relations", key: "relations", args: exactArgs("FROM", "TYPE", "TO"), items: relation,
	}, nil))
	return c
}
