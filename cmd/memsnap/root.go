package main

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "os"
import "os/signal"
import "path/filepath"
import "syscall"

import "github.com/spf13/cobra"
import "github.com/spf13/viper"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/oneline"
import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// Exit codes of the CLI contract.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	// exitLocked: another writer holds the store's writer lock (and the
	// command could not wait for it). The daemon and MCP servers learn from
	// it that a child commit left the work to that writer.
	exitLocked = 3
	// exitBrokenPipe: the reader of standard output went away (| head).
	// SIGPIPE is ignored so that a cut read cleans up (main); the command
	// then ends as the signal would have ended it, with the shell's status
	// for it (128+13) and no message.
	exitBrokenPipe = 141
)

// app is what every command needs: configuration, a logger, the streams.
type app struct {
	v      *viper.Viper
	cfg    config.Config
	log    *slog.Logger
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// flags are the command-line flags bound to config keys, by key.
	flags map[string]boundFlag
	// remote is the remote location a command reads with --from (nil
	// without; see replicate.go).
	remote *remoteReader
}

// boundFlag is a command-line flag bound to a config key.
type boundFlag struct {
	name    string      // "--log-level"
	changed func() bool // whether the command line gave it
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{v: viper.New(), stdin: stdin, stdout: stdout, stderr: stderr, flags: map[string]boundFlag{}}
	root := a.newRootCommand()
	root.SetArgs(moveNegativeArgs(root, joinOptionalValues(root, args)))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, syscall.EPIPE) {
		return exitBrokenPipe
	}
	prefix, code := "memsnap", exitError
	var u usageError
	if errors.As(err, &u) {
		code = exitUsage
		if u.path != "" {
			prefix = u.path
		}
	}
	if code == exitError && errors.Is(err, writer.ErrLocked) {
		code = exitLocked
	}
	fmt.Fprintf(stderr, "%s: %s\n", prefix, oneline.Message(err))
	return code
}

func (a *app) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "memsnap",
		Short: "A memory store many AI tools read at once while writes keep flowing in",
		Long: `A memory store many AI tools read at once while writes keep flowing in.

Configuration comes from defaults, then the --config file, then MEMSNAP_* environment
variables (MEMSNAP_GC_KEEP sets gc.keep), then flags. Exit codes: 0 ok, 1 error, 2 usage
(a bad command, argument, flag or config value), 3 another writer holds the store's
writer lock. Each error is one line on standard error,
where the logs go too.`,
		Args:          cobra.ArbitraryArgs, // wrapArgs reports unknown commands
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := refuseFrom(root, cmd); err != nil {
			return err
		}
		return a.load()
	}
	f := root.PersistentFlags()
	f.String("store", "", "store directory (default "+config.DefaultStoreHelp()+")")
	f.String("config", "", "config file (yaml, toml or json)")
	f.String("log-level", "", "debug, info, warn or error (default info)")
	a.bindFlag("store", root, "store")
	a.bindFlag("config", root, "config")
	a.bindFlag("log_level", root, "log-level")
	addRefusedFrom(root)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{path: cmd.CommandPath(), err: err}
	})
	root.AddCommand(a.newVersionCommand(), a.newInitCommand(), a.newEnqueueCommand(), a.newCommitCommand(), a.newQueryCommand(),
		a.newKVCommand(), a.newJobCommand(), a.newJobsCommand(), a.newSnapshotsCommand(), a.newStatusCommand(),
		a.newDaemonCommand(), a.newDemoCommand(), a.newMCPCommand(), a.newServeCommand(), a.newBenchCommand(), a.newBenchWorkerCommand(), a.newQueryWorkerCommand(),
		a.newSearchCommand(), a.newOpenCommand(), a.newNeighborsCommand(), a.newGraphCommand(), a.newImportCommand(), a.newExportCommand(),
		a.newEntitiesCommand(), a.newRelationsCommand(), a.newObservationsCommand(),
		a.newReplicateCommand(), a.newRestoreCommand())
	wrapArgs(root)
	return root
}

// bindFlag binds the flag name of c (its own or a persistent one) to the
// config key, and remembers it so that a bad value names the flag.
func (a *app) bindFlag(key string, c *cobra.Command, name string) {
	f := c.Flag(name)
	_ = a.v.BindPFlag(key, f)
	a.flags[key] = boundFlag{name: "--" + name, changed: func() bool { return f.Changed }}
}

// wrapArgs makes argument errors usage errors (exit 2) that name the
// command, and makes a command that only groups others report an unknown
// or missing subcommand.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{path: cmd.CommandPath(), err: err}
			}
			return nil
		}
	}
	if c.RunE == nil && c.HasSubCommands() {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				if cmd.SuggestionsMinimumDistance <= 0 {
					cmd.SuggestionsMinimumDistance = 2
				}
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					return usagef(cmd, "unknown command %q (did you mean %q?)", args[0], s[0])
				}
				return usagef(cmd, "unknown command %q (see '%s --help')", args[0], cmd.CommandPath())
			}
			return usagef(cmd, "needs a command (see '%s --help')", cmd.CommandPath())
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

func (a *app) load() error {
	cfg, err := config.LoadWithFlags(a.v, func(key string) string {
		if f, ok := a.flags[key]; ok && f.changed() {
			return f.name
		}
		return ""
	})
	if err != nil {
		return usageError{err: err}
	}
	a.cfg = cfg
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
	// A relative store path is resolved once, here, against the working
	// directory, and said: the processes memsnap starts (a daemon's
	// writer, an MCP server's commit child) get the absolute path.
	if a.cfg.Store != "" && !filepath.IsAbs(a.cfg.Store) {
		abs, err := filepath.Abs(a.cfg.Store)
		if err != nil {
			return fmt.Errorf("store %s: %w", a.cfg.Store, err)
		}
		a.log.Info("relative store path resolved", "store", a.cfg.Store, "path", abs)
		a.cfg.Store = abs
	}
	return nil
}

// runE is the RunE of a command.
type runE = func(cmd *cobra.Command, args []string) error

// storeRunE is the body of a command that works on the store.
type storeRunE = func(cmd *cobra.Command, s *snapshot.Store, args []string) error

// onStore is a RunE that opens the configured, initialised store and runs
// run on it.
func (a *app) onStore(run storeRunE) runE { return a.storeRunE(snapshot.Open, run) }

// onNewStore is onStore for the commands that create the store when it is
// missing.
func (a *app) onNewStore(run storeRunE) runE { return a.storeRunE(snapshot.Init, run) }

func (a *app) storeRunE(open func(dir string) (*snapshot.Store, error), run storeRunE) runE {
	return func(cmd *cobra.Command, args []string) error {
		s, err := open(a.cfg.Store)
		if err != nil {
			return err
		}
		return run(cmd, s, args)
	}
}

// onReader is a RunE that opens a reader on the store's current snapshot,
// or on the point of history --at names (see atStore), runs run on it and
// closes it; with --from, the store is the remote's local cache
// (fromRemote).
func (a *app) onReader(run func(cmd *cobra.Command, r *reader.Reader, args []string) error) runE {
	return a.fromRemote(false, a.onStore(func(cmd *cobra.Command, s *snapshot.Store, args []string) error {
		s, point, done, err := a.atStore(cmd, s)
		if err != nil {
			return err
		}
		defer done()
		r, err := a.openReader(cmd, s, a.cfg.ReaderOptions(), point)
		if err != nil {
			return err
		}
		defer r.Close()
		return run(cmd, r, args)
	}))
}

// openReader opens a reader on s with opts, made for a point of history
// (reader.Options.ForPoint) when point is set, as atStore says.
func (a *app) openReader(cmd *cobra.Command, s *snapshot.Store, opts reader.Options, point bool) (*reader.Reader, error) {
	if point {
		opts = opts.ForPoint()
	}
	return reader.Open(cmd.Context(), s, opts, a.log)
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	return enc.Encode(v)
}

// output prints v as JSON when the command's --json flag is set, and calls
// text to print it for people otherwise.
func (a *app) output(cmd *cobra.Command, v any, text func() error) error {
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		return a.printJSON(v)
	}
	return text()
}
