package main

import "slices"
import "strings"
import "testing"

import "github.com/spf13/cobra"
import "github.com/spf13/viper"

func TestJoinOptionalValues(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"enqueue --wait 30s", "enqueue --wait=30s"},
		{"--store s --log-level warn enqueue --wait 1m30s -f j", "--store s --log-level warn enqueue --wait=1m30s -f j"},
		{"enqueue -f j --wait 30s", "enqueue -f j --wait=30s"},
		{"enqueue --wait", "enqueue --wait"},
		{"enqueue --wait -f j", "enqueue --wait -f j"},
		{"enqueue --wait -5s", "enqueue --wait=-5s"}, // refused later: not positive
		{"enqueue --wait 30", "enqueue --wait=30"},   // refused later: no unit
		{"enqueue --wait file.json", "enqueue --wait file.json"},
		{"enqueue --wait=30s", "enqueue --wait=30s"},
		{"enqueue -- --wait 30s", "enqueue -- --wait 30s"},
		{"import --wait 30s", "import --wait 30s"}, // a bool flag: no value to join
		{"commit --lock-timeout 5s", "commit --lock-timeout 5s"},
	} {
		root := (&app{flags: map[string]boundFlag{}}).testRoot(t)
		got := joinOptionalValues(root, strings.Fields(c.in))
		if !slices.Equal(got, strings.Fields(c.want)) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// testRoot builds the command tree as run does.
func (a *app) testRoot(t *testing.T) *cobra.Command {
	t.Helper()
	a.v = viper.New()
	return a.newRootCommand()
}
