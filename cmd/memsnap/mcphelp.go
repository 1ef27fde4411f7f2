package main

import "fmt"
import "strings"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/mcpserver"

// toolListMark stands in a command's Long text for the MCP server's tool
// list, which withToolList writes there when the help is shown.
const toolListMark = "{{mcp tools}}"

// withToolList makes c's help list the MCP server's tools where its Long
// text has toolListMark, from the server's own registration
// (mcpserver.Tools), so that the help names every tool tools/list answers
// and no other. The list is built only when the help is shown.
func withToolList(c *cobra.Command) *cobra.Command {
	c.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		cmd.Long = strings.Replace(cmd.Long, toolListMark, mcpToolList(), 1)
		cmd.Root().HelpFunc()(cmd, args)
	})
	return c
}

// mcpToolList is the MCP server's tools, one per line: name, whether it
// writes, and description.
func mcpToolList() string {
	tools := mcpserver.Tools()
	width := 0
	for _, t := range tools {
		width = max(width, len(t.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Tools (%d; tools/list gives their argument and answer schemas):\n", len(tools))
	for _, t := range tools {
		kind := "read "
		if t.Annotations == nil || !t.Annotations.ReadOnlyHint {
			kind = "write"
		}
		fmt.Fprintf(&b, "  %-*s  %s  %s\n", width, t.Name, kind, t.Description)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
