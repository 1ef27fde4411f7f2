package main

import "fmt"
import "slices"
import "strings"
import "time"

import "github.com/spf13/cobra"
import "github.com/spf13/pflag"

// usageError marks errors in how memsnap was called (exit code 2). The
// line printed for it starts with the command path ("memsnap job: ...")
// when path is set, else with "memsnap: ".
type usageError struct {
	path string // the command called wrongly, e.g. "memsnap job"; may be empty
	err  error
}

// Error returns the underlying message, without the command path.
func (u usageError) Error() string { return u.err.Error() }

// Unwrap exposes the underlying error.
func (u usageError) Unwrap() error { return u.err }

// usagef returns a usage error of cmd.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	return usageError{path: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// The argument validators below name the arguments a command takes; wrapArgs
// turns their errors into usage errors that name the command.

// noArgs accepts no arguments.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("takes no arguments, got %d (%s)", len(args), quoted(args))
	}
	return nil
}

// exactArgs accepts exactly the named arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return fmt.Errorf("needs exactly %s (%s), got %d", count(len(names)), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// minArgs accepts one or more of the named argument.
func minArgs(name string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("needs at least 1 argument (%s), got 0", name)
		}
		return nil
	}
}

// optionalArg accepts the named argument or nothing.
func optionalArg(name string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 1 {
			return fmt.Errorf("takes at most 1 argument (%s), got %d (%s)", name, len(args), quoted(args))
		}
		return nil
	}
}

func count(n int) string {
	if n == 1 {
		return "1 argument"
	}
	return fmt.Sprintf("%d arguments", n)
}

func quoted(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}

// optionalValue is the annotation of a flag whose value may be left out
// ("--wait") or given as the next argument ("--wait 30s") as well as after
// an equals sign ("--wait=30s"). pflag alone knows only the first and last
// forms: it would take "30s" for an argument.
const optionalValue = "memsnap_optional_value"

// waitValue is the value of enqueue's --wait: a duration, or "durable".
type waitValue struct {
	d       time.Duration
	durable bool
}

func (w *waitValue) String() string {
	if w.durable {
		return "durable"
	}
	return w.d.String()
}

func (w *waitValue) Set(s string) error {
	if s == "durable" {
		w.durable, w.d = true, 0
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%w (want a duration such as 30s, or durable)", err)
	}
	w.durable, w.d = false, d
	return nil
}

func (w *waitValue) Type() string { return "duration|durable" }

// waitFlag defines --name on c taking a duration or the word "durable":
// left out, *p is zero; given alone, its duration is bare.
func waitFlag(c *cobra.Command, p *waitValue, name string, bare time.Duration, usage string) {
	c.Flags().Var(p, name, usage)
	f := c.Flags().Lookup(name)
	f.NoOptDefVal = bare.String()
	_ = c.Flags().SetAnnotation(name, optionalValue, []string{"duration", "durable"})
}

// optionalDurationFlag defines --name on c: left out, *p is 0; given alone,
// *p is bare; given a duration, *p is that duration.
func optionalDurationFlag(c *cobra.Command, p *time.Duration, name string, bare time.Duration, usage string) {
	c.Flags().DurationVar(p, name, 0, usage)
	f := c.Flags().Lookup(name)
	f.NoOptDefVal = bare.String()
	_ = c.Flags().SetAnnotation(name, optionalValue, []string{"duration"})
}

// joinOptionalValues rewrites "--name VALUE" as "--name=VALUE" for the
// optionalValue flags of the command args call, when VALUE parses as the
// flag's value (a duration). Arguments after "--" are left alone, and so is
// anything else: cobra reports what it cannot parse.
func joinOptionalValues(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil {
		return args
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		out = append(out, arg)
		if arg == "--" {
			return append(out, args[i+1:]...)
		}
		name, ok := strings.CutPrefix(arg, "--")
		if !ok || strings.Contains(name, "=") || i+1 == len(args) {
			continue
		}
		f := cmd.Flags().Lookup(name)
		if f == nil || f.Annotations[optionalValue] == nil {
			continue
		}
		next := args[i+1]
		word := slices.Contains(f.Annotations[optionalValue], next) // a word the flag takes, e.g. "durable"
		if _, err := time.ParseDuration(next); err == nil || looksLikeNumber(next) || word {
			// A number that is not a duration ("30", "-1s", "5S") is
			// still meant as the flag's value: joined, pflag says why it is
			// not a duration instead of taking it for an argument.
			out[len(out)-1] = arg + "=" + next
			i++
		}
	}
	return out
}

// negativeArgs is the annotation of a command whose positional argument
// may be a negative duration ('snapshots restore -10m'), see
// moveNegativeArgs.
const negativeArgs = "memsnap/negative-args"

// moveNegativeArgs moves, for a command annotated negativeArgs, each
// argument that starts with a dash and a digit ("-10m") and is not the
// value of the flag before it to the end, after "--", where pflag takes it
// for a positional argument rather than the shorthand flags -1, -0 and -m.
// No flag of memsnap is a digit, so nothing meant as a flag moves.
func moveNegativeArgs(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd.Annotations[negativeArgs] == "" || slices.Contains(args, "--") {
		return args
	}
	var out, moved []string
	for i, arg := range args {
		if strings.HasPrefix(arg, "-") && len(arg) > 1 && arg[1] >= '0' && arg[1] <= '9' && (i == 0 || !takesValue(cmd, args[i-1])) {
			moved = append(moved, arg)
			continue
		}
		out = append(out, arg)
	}
	if moved == nil {
		return args
	}
	return append(append(out, "--"), moved...)
}

// takesValue reports whether arg is a flag of cmd, without "=VALUE", that
// takes the next argument as its value.
func takesValue(cmd *cobra.Command, arg string) bool {
	var f *pflag.Flag
	switch {
	case strings.HasPrefix(arg, "--"):
		f = cmd.Flags().Lookup(arg[2:])
	case len(arg) == 2 && arg[0] == '-':
		f = cmd.Flags().ShorthandLookup(arg[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}

// looksLikeNumber reports whether s starts like a number: a digit, or a
// sign or point followed by one.
func looksLikeNumber(s string) bool {
	s = strings.TrimLeft(s, "+-.")
	return s != "" && s[0] >= '0' && s[0] <= '9'
}
