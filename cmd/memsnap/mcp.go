package main

import (
	"context"
	"fmt"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/cmd/memsnap/internal/mcpserver"
	"github.com/memsnap/memsnap/internal/buildinfo"
	"github.com/memsnap/memsnap/snapshot"
)

func (a *app) newMCPCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "mcp",
		Short: "Serve the memory to an AI tool over MCP (stdio); many may run at once",
		Long: "Serve the store over the Model Context Protocol on standard input and output, with the\n" +
			"tools of the reference knowledge-graph memory server (create_entities, create_relations,\n" +
			"add_observations, delete_entities, delete_observations, delete_relations, read_graph,\n" +
			"search_nodes, open_nodes) and neighbors, query, kv_get, kv_put, kv_scan, memory_status.\n" +
			"Any number of 'memsnap mcp' processes can share one store (it is created if missing). A write\n" +
			"tool waits until its job is applied or rejected, up to mcp.write_timeout, and runs the writer\n" +
			"itself when no other writer holds the lock (mcp.commit_when_idle). Logs go to standard error only.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := snapshot.Init(a.cfg.Store)
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("mcp: find own binary: %w", err)
			}
			srv := mcpserver.New(mcpserver.Options{
				Store: s, Config: a.cfg, Log: a.log, Version: buildinfo.Version,
				Commit: func(ctx context.Context) error {
					_, _, err := runCommitChild(ctx, exe, s, a)
					return err
				},
			})
			a.log.Info("mcp server running on stdio", "store", s.Dir())
			return srv.Run(cmd.Context(), &mcp.StdioTransport{})
		},
	}
}
