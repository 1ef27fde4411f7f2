package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/memsnap/memsnap/config"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// Exit codes of the CLI contract.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	// exitLocked: another writer holds the store's writer lock (and the
	// command could not wait for it). The daemon and MCP servers learn from
	// it that a child commit left the work to that writer.
	exitLocked = 3
)

// usageError marks errors in how memsnap was called (exit code 2).
type usageError struct{ err error }

// Error returns the underlying message.
func (u usageError) Error() string { return u.err.Error() }

// Unwrap exposes the underlying error.
func (u usageError) Unwrap() error { return u.err }

// app is what every command needs: configuration, a logger, the streams.
type app struct {
	v      *viper.Viper
	cfg    config.Config
	log    *slog.Logger
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{v: viper.New(), stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.newRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "memsnap: %s\n", oneLine(err.Error()))
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	if errors.Is(err, writer.ErrLocked) {
		return exitLocked
	}
	return exitError
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func (a *app) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "memsnap",
		Short:         "A memory store many AI tools read at once while writes keep flowing in",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.load()
		},
	}
	f := root.PersistentFlags()
	f.String("store", "", "store directory (default $XDG_DATA_HOME/memsnap or ~/.local/share/memsnap)")
	f.String("config", "", "config file (yaml, toml or json)")
	f.String("log-level", "", "debug, info, warn or error")
	_ = a.v.BindPFlag("store", f.Lookup("store"))
	_ = a.v.BindPFlag("config", f.Lookup("config"))
	_ = a.v.BindPFlag("log_level", f.Lookup("log-level"))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(a.newInitCommand(), a.newEnqueueCommand(), a.newCommitCommand(), a.newQueryCommand(),
		a.newKVCommand(), a.newJobCommand(), a.newSnapshotsCommand(), a.newStatusCommand(),
		a.newDaemonCommand(), a.newDemoCommand(), a.newMCPCommand(), a.newBenchCommand(), a.newBenchWorkerCommand())
	root.AddCommand(a.newMemoryCommands()...)
	wrapArgs(root)
	return root
}

// wrapArgs makes argument-count errors usage errors (exit 2).
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	if c.RunE == nil && c.HasSubCommands() {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return usageError{fmt.Errorf("%s needs a subcommand", cmd.CommandPath())}
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

func (a *app) load() error {
	cfg, err := config.Load(a.v)
	if err != nil {
		return usageError{err}
	}
	a.cfg = cfg
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
	return nil
}

// store opens the configured, initialised store.
func (a *app) store() (*snapshot.Store, error) {
	return snapshot.Open(a.cfg.Store)
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	return enc.Encode(v)
}
