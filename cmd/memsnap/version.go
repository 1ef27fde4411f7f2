package main

import "fmt"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/internal/buildinfo"

// versions is the answer of 'memsnap version --json'.
type versions struct {
	Memsnap string `json:"memsnap"`
	Kuzu    string `json:"kuzu"`
	Go      string `json:"go"`
}

func (a *app) newVersionCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the versions of memsnap, of the Kuzu library it links and of Go",
		Args:  noArgs,
		// No configuration needed: the version prints even when it is bad.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versions{Memsnap: buildinfo.Version, Kuzu: buildinfo.KuzuVersion(), Go: buildinfo.GoVersion()}
			return a.output(cmd, v, func() error {
				fmt.Fprintf(a.stdout, "memsnap %s\nkuzu    %s\ngo      %s\n", v.Memsnap, v.Kuzu, v.Go)
				return nil
			})
		},
	}
	c.Flags().Bool("json", false, `print {"memsnap": ..., "kuzu": ..., "go": ...}`)
	return c
}
