package main

import "fmt"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/internal/model"

// The observations command: add_observations and delete_observations of
// the MCP server, from the command line (memorytool.go).

func (a *app) newObservationsCommand() *cobra.Command {
	c := &cobra.Command{Use: "observations", Short: "Add or delete observations (the MCP tools add_observations and delete_observations)"}
	entityAndTexts := func(_ *cobra.Command, args []string) error {
		if len(args) < 2 {
			return fmt.Errorf("needs an entity and at least one observation (ENTITY TEXT...), got %d arguments", len(args))
		}
		return nil
	}
	c.AddCommand(a.newToolCommand(toolCommand{
		use:   "add ENTITY TEXT... | --file FILE",
		short: "Add observations to an entity (add_observations): those it has are skipped",
		long: `Add each TEXT as an observation of ENTITY, as the MCP tool add_observations does: the entity
must exist (else "Entity with name X not found" and nothing is queued), observations it has
already are skipped, and the answer lists those added.`,
		tool: "add_observations", key: "observations", args: entityAndTexts,
		items: func(args []string) []any {
			return []any{model.ObservationAdd{EntityName: args[0], Contents: args[1:]}}
		},
	}, nil))
	c.AddCommand(a.newToolCommand(toolCommand{
		use:   "delete ENTITY TEXT... | --file FILE",
		short: "Delete observations of an entity (delete_observations)",
		long: `Delete each TEXT from ENTITY's observations, as the MCP tool delete_observations does; what
is not there is a no-op, said in the answer.`,
		tool: "delete_observations", key: "deletions", args: entityAndTexts,
		items: func(args []string) []any {
			return []any{model.ObservationDelete{EntityName: args[0], Observations: args[1:]}}
		},
	}, nil))
	return c
}
