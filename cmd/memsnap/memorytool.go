package main

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "os"
import "strings"
import "time"
import "unicode/utf8"

import "github.com/modelcontextprotocol/go-sdk/mcp"
import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/cmd/memsnap/internal/mcpserver"
import "github.com/memsnap/memsnap/cmd/memsnap/internal/oneline"
import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/buildinfo"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"

// The memory-tool commands (entities, relations, observations) call the
// MCP server's write tools in this process (mcpserver.Server.Call): the
// same argument checks, the same producer path (durable enqueue with the
// predicted outcome, producer.Acker), the same answers and the same
// rejections, worded as the reference server words them. Like a 'memsnap
// mcp' whose client leaves after one call, the command commits its write
// before it exits, through a 'memsnap commit --loop' child, unless another
// writer (a daemon, a server) holds the lock: that writer applies it.

// toolCommand describes one memory-tool command.
type toolCommand struct {
	use, short, long string
	tool             string // the MCP tool it calls
	key              string // the tool's list argument: "entities", "entityNames", ...
	// args checks the positional arguments of the flags form.
	args cobra.PositionalArgs
	// items builds the list argument's items from the flags form's
	// arguments and flags.
	items func(args []string) []any
}

// toolFlags are the flags every memory-tool command has.
type toolFlags struct {
	file   string
	asJSON bool
	wait   time.Duration
}

// newToolCommand builds the command tc describes; flags adds its own flags.
func (a *app) newToolCommand(tc toolCommand, flags func(c *cobra.Command)) *cobra.Command {
	var tf toolFlags
	c := &cobra.Command{
		Use: tc.use, Short: tc.short,
		Long: tc.long + `

With --file FILE (- for standard input), the items come from FILE instead of the arguments:
the tool's arguments as one JSON object (` + toolArgExample(tc.key) + `), a JSON array of the
items, or JSON Lines, one item per line, each item as the MCP tool takes it. The answer is the
MCP tool's: its text (the reference server's answer), or with --json its structured content.
The write is acknowledged once durable in the queue with the outcome the writer will give
(mcp.write_ack); a write the writer would reject is refused (exit 1), with the reference's
wording, and nothing is queued. Before it exits, the command commits the queue, unless
another writer holds the lock (a daemon or a server, which applies it); with --wait it answers
only once the write is applied, up to DUR (1m with --wait alone); when DUR passes first, the
write is still committed before exit and the command says how it then stands (exit 1). A
store that does not exist yet is made first, as 'memsnap init' makes it.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The items first: bad arguments or a bad file make no store.
			if cmd.Flags().Changed("wait") && tf.wait <= 0 {
				return usagef(cmd, "--wait %s: the wait must be positive", tf.wait)
			}
			var items []json.RawMessage
			switch {
			case tf.file != "" && len(args) > 0:
				return usagef(cmd, "takes its items from --file or from arguments, not both")
			case tf.file != "" && itemFlagSet(cmd) != "":
				return usagef(cmd, "takes its items from --file or from arguments and --%s, not both", itemFlagSet(cmd))
			case tf.file != "":
				var err error
				if items, err = a.readToolItems(tf.file, tc.key); err != nil {
					return err
				}
			default:
				if err := tc.args(cmd, args); err != nil {
					return usageError{path: cmd.CommandPath(), err: err}
				}
				if err := argsUTF8(cmd, args); err != nil {
					return err
				}
				for _, it := range tc.items(args) {
					items = append(items, marshalPlain(it))
				}
			}
			toolArgs := marshalPlain(map[string]any{tc.key: items})
			return a.onStoreOrInit(func(cmd *cobra.Command, s *snapshot.Store, _ []string) error {
				return a.runTool(cmd.Context(), s, tc.tool, toolArgs, tf)
			})(cmd, args)
		},
	}
	c.Flags().StringVarP(&tf.file, "file", "f", "", "read the items from `FILE` (JSON or JSON Lines; - for standard input)")
	c.Flags().BoolVar(&tf.asJSON, "json", false, "print the MCP tool's structured answer (JSON) instead of its text")
	optionalDurationFlag(c, &tf.wait, "wait", time.Minute, "answer once the write is applied, waiting up to `DUR` (--wait alone: 1m)")
	if flags != nil {
		flags(c)
	}
	return c
}

// itemFlagSet returns the name of a flag of cmd's own that builds items
// from the arguments (--type, --obs), given on the command line, or "".
func itemFlagSet(cmd *cobra.Command) string {
	for _, name := range []string{"type", "obs"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			return name
		}
	}
	return ""
}

// argsUTF8 refuses (a usage error) an argument or a --type/--obs value
// that is not valid UTF-8, naming it: stored, it would read as U+FFFD
// (the README: invalid UTF-8 is refused, as DecodeJob refuses it).
func argsUTF8(cmd *cobra.Command, args []string) error {
	for i, arg := range args {
		if !utf8.ValidString(arg) {
			return usagef(cmd, "argument %d (%q) is not valid UTF-8", i+1, arg)
		}
	}
	for _, name := range []string{"type", "obs"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed && !utf8.ValidString(f.Value.String()) {
			return usagef(cmd, "--%s %q is not valid UTF-8", name, f.Value.String())
		}
	}
	return nil
}

// toolArgExample is an example of a tool's arguments with list key.
func toolArgExample(key string) string { return fmt.Sprintf(`{"%s": [...]}`, key) }

// readToolItems reads the items of a tool's list argument from file (or
// standard input for "-"), at most serve.max_body_bytes of it: one JSON
// object holding key (the tool's whole arguments), one JSON array (the
// items), or JSON values one after another (JSON Lines: each an item).
// The items are checked by the tool, as over MCP.
func (a *app) readToolItems(file, key string) ([]json.RawMessage, error) {
	in := a.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("read items: %w", err)
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, a.cfg.BodyCap()+1))
	if err != nil {
		return nil, fmt.Errorf("read items from %s: %w", file, err)
	}
	if int64(len(data)) > a.cfg.BodyCap() {
		return nil, fmt.Errorf("read items from %s: more than %d bytes (serve.max_body_bytes); split it, or use 'memsnap import' for a memory file", file, a.cfg.BodyCap())
	}
	vals, err := model.JSONValues(data)
	if err != nil {
		return nil, fmt.Errorf("read items from %s: %w", file, err)
	}
	values := make([]json.RawMessage, len(vals))
	for i, v := range vals {
		values[i] = json.RawMessage(v)
	}
	if len(values) == 1 {
		var args map[string]json.RawMessage
		var items []json.RawMessage
		if json.Unmarshal(values[0], &args) == nil && args[key] != nil {
			if len(args) > 1 {
				return nil, fmt.Errorf("read items from %s: the arguments hold more than %q", file, key)
			}
			if err := json.Unmarshal(args[key], &items); err != nil {
				return nil, fmt.Errorf("read items from %s: %q is not a list: %w", file, key, err)
			}
			return items, nil
		}
		if json.Unmarshal(values[0], &items) == nil {
			return items, nil
		}
	}
	if len(values) == 0 {
		return nil, fmt.Errorf("read items from %s: no items", file)
	}
	return values, nil
}

// runTool calls the MCP tool with args (its JSON arguments) through an MCP
// server of this process on store s, prints its answer, and commits the
// queue before it returns (the server's own stop, as 'memsnap mcp' does
// when its input ends). A write acknowledged on durability that the
// commit then rejects is reported (exit 1).
func (a *app) runTool(ctx context.Context, s *snapshot.Store, tool string, args []byte, tf toolFlags) error {
	cfg := a.cfg
	if tf.wait > 0 {
		cfg.MCP.WriteAck, cfg.MCP.WriteTimeout = config.AckApplied, tf.wait
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%s: find own binary: %w", tool, err)
	}
	ww := a.newWarmWriter(exe, s)
	defer ww.Close(10 * time.Second)
	ro := storeWritable(s)
	srv := mcpserver.New(mcpserver.Options{Store: s, Config: cfg, Log: a.log, Version: buildinfo.Version, ReadOnly: ro,
		Commit: ww.Commit})
	stop := srv.Start(ctx)
	res, err := srv.Call(ctx, tool, args)
	stop() // commits this server's acknowledged write, or one whose wait timed out
	if err != nil {
		return err
	}
	if late := srv.TimedOut(); res.IsError && len(late) > 0 {
		wait := fmt.Sprintf("%s (--wait)", tf.wait)
		if tf.wait == 0 { // waited for the writer's answer (producer.ErrUncertain, or mcp.write_ack applied)
			wait = fmt.Sprintf("%s (mcp.write_timeout)", cfg.MCP.WriteTimeout)
		}
		return a.waitTimedOut(ctx, s, late[len(late)-1], wait)
	}
	if err := a.printToolAnswer(res, tf.asJSON); err != nil {
		return err
	}
	if job, _ := res.Meta["memsnap/job"].(string); job != "" && res.Meta["memsnap/jobStatus"] == model.StatusPending {
		return a.lateRejection(ctx, s, job)
	}
	return nil
}

// printToolAnswer prints a tool's answer: its text items one per line, or
// with asJSON its structured content on stdout and the text items after
// the answer (notes, warnings) on stderr. A tool error is returned, on one
// line.
func (a *app) printToolAnswer(res *mcp.CallToolResult, asJSON bool) error {
	var texts []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			texts = append(texts, t.Text)
		}
	}
	if res.IsError {
		return errors.New(oneline.Fold(strings.Join(texts, "; ")))
	}
	if !asJSON {
		for _, t := range texts {
			fmt.Fprintln(a.stdout, t)
		}
		return nil
	}
	var structured bytes.Buffer
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	if err := json.Compact(&structured, b); err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	fmt.Fprintln(a.stdout, structured.String())
	for _, t := range texts[min(1, len(texts)):] {
		fmt.Fprintln(a.stderr, t)
	}
	return nil
}

// waitTimedOut reports job, whose wait (its length and what set it, as
// "3s (--wait)") timed out, as it stands after the commit made before
// exit: applied, rejected, or still queued (another writer holds the lock,
// or the commit failed).
func (a *app) waitTimedOut(ctx context.Context, s *snapshot.Store, job, wait string) error {
	o, err := reader.JobOutcome(ctx, s, a.cfg.Reader.Verify, job)
	switch {
	case err == nil && o.Status == model.StatusApplied:
		return fmt.Errorf("job %s was not applied within %s; the commit made before exit applied it", job, wait)
	case err == nil && o.Status == model.StatusRejected:
		reason := o.Reason
		if o.Rejection != nil {
			reason = o.Rejection.Message()
		}
		return fmt.Errorf("job %s was not applied within %s; the commit made before exit rejected it: %s", job, wait, reason)
	}
	return fmt.Errorf("job %s was not applied within %s and is still queued (another writer holds the lock, or the commit failed); it will apply: check with 'memsnap job %s'", job, wait, job)
}

// lateRejection reports job, acknowledged on durability, if the commit
// made before exit rejected it (another process changed the memory first).
// A job still queued (another writer holds the lock) is left to it.
func (a *app) lateRejection(ctx context.Context, s *snapshot.Store, job string) error {
	o, err := reader.JobOutcome(ctx, s, a.cfg.Reader.Verify, job)
	if err != nil || o.Status != model.StatusRejected {
		return nil // the answer stands; 'memsnap job ID' tells the rest
	}
	reason := o.Reason
	if o.Rejection != nil {
		reason = o.Rejection.Message()
	}
	return fmt.Errorf("job %s was acknowledged but then rejected when applied, because another process changed the memory first: %s; nothing of it took effect", job, reason)
}
