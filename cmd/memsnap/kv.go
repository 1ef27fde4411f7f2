package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newKVCommand() *cobra.Command {
	kv := &cobra.Command{Use: "kv", Short: "Read the KV store of CURRENT"}
	var asJSON bool
	get := &cobra.Command{
		Use:   "get KEY",
		Short: "Print a key's value (exit 1 if absent)",
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openReader(cmd)
			if err != nil {
				return err
			}
			defer r.Close()
			v, found, seq, err := r.KVGet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("key %q not found in snapshot %d", args[0], seq)
			}
			if asJSON {
				return a.printJSON(map[string]any{"snapshot": seq, "key": args[0], "value": v})
			}
			fmt.Fprintln(a.stdout, v)
			return nil
		},
	}
	var limit int
	scan := &cobra.Command{
		Use:   "scan PREFIX",
		Short: "Print the keys starting with PREFIX and their values",
		Args:  exactArgs("PREFIX"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openReader(cmd)
			if err != nil {
				return err
			}
			defer r.Close()
			pairs, seq, err := r.KVScan(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"snapshot": seq, "pairs": pairs})
			}
			for _, p := range pairs {
				fmt.Fprintf(a.stdout, "%s\t%s\n", p.Key, p.Value)
			}
			return nil
		},
	}
	scan.Flags().IntVar(&limit, "limit", 0, "at most this many keys (0 = all)")
	kv.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	kv.AddCommand(get, scan)
	return kv
}
