package main

import "fmt"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/reader"

func (a *app) newKVCommand() *cobra.Command {
	kv := &cobra.Command{Use: "kv", Short: "Read the KV store of CURRENT"}
	get := &cobra.Command{
		Use:   "get KEY",
		Short: "Print a key's value (exit 1 if absent)",
		Args:  exactArgs("KEY"),
		RunE: a.onReader(func(cmd *cobra.Command, r *reader.Reader, args []string) error {
			v, found, seq, err := r.KVGet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("key %q not found in snapshot %d", args[0], seq)
			}
			return a.output(cmd, map[string]any{"snapshot": seq, "key": args[0], "value": v}, func() error {
				fmt.Fprintln(a.stdout, v)
				return nil
			})
		}),
	}
	var limit int
	scan := &cobra.Command{
		Use:   "scan PREFIX",
		Short: "Print the keys starting with PREFIX and their values",
		Args:  exactArgs("PREFIX"),
		RunE: a.onReader(func(cmd *cobra.Command, r *reader.Reader, args []string) error {
			pairs, seq, err := r.KVScan(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			return a.output(cmd, map[string]any{"snapshot": seq, "pairs": pairs}, func() error {
				for _, p := range pairs {
					fmt.Fprintf(a.stdout, "%s\t%s\n", p.Key, p.Value)
				}
				return nil
			})
		}),
	}
	scan.Flags().IntVar(&limit, "limit", 0, "at most this many keys (0 = all)")
	kv.PersistentFlags().Bool("json", false, "print JSON")
	addReadFlags(kv, true)
	kv.AddCommand(get, scan)
	return kv
}
