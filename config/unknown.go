package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/spf13/viper"
)

// ErrUnknownKey is what an *UnknownKeyError wraps: a key in the config
// file, or a MEMSNAP_* environment variable, that names no configuration
// key (a typo is refused rather than silently ignored).
var ErrUnknownKey = errors.New("config: unknown key")

// OtherEnv lists the MEMSNAP_* environment variables that are not
// configuration keys but that memsnap reads anyway, with who reads them.
// Load refuses every other MEMSNAP_* variable that is not EnvName of a key.
// It is the one list of them: a new variable is added here.
var OtherEnv = map[string]string{
	"MEMSNAP_CONFIG":          "the --config flag (a config file)",
	"MEMSNAP_FAILPOINT":       "crash tests: kill the process at a named point (failpoints build only)",
	"MEMSNAP_FSFAULT":         "fault tests: fail filesystem calls (failpoints build only)",
	"MEMSNAP_FSLOG":           "durability tests: log the filesystem seam's calls to a file (failpoints build only)",
	"MEMSNAP_BENCH_REFERENCE": "memsnap bench: the reference MCP memory server",
}

// TestEnvPrefix is reserved for the black-box test harness (tests/), whose
// helper processes pass MEMSNAP_TEST_* variables to one another; memsnap
// ignores them.
const TestEnvPrefix = "MEMSNAP_TEST_"

// UnknownKeyError is a key in the config file, or a MEMSNAP_* environment
// variable, that names no configuration key.
type UnknownKeyError struct {
	// Key is the key as the file spells it ("mcp.write-ack"), or the
	// variable ("MEMSNAP_WRITER_MINFREE_MB").
	Key string
	// Source is "config file PATH" or "environment".
	Source string
	// Nearest is the valid key (or variable) closest to Key by edit
	// distance.
	Nearest string
}

// Error reads as `unknown key "mcp.write-ack" in config file x.yaml (did
// you mean "mcp.write_ack"?)`.
func (e *UnknownKeyError) Error() string {
	what := "key"
	if e.Source == "environment" {
		what = "variable"
	}
	return fmt.Sprintf("unknown %s %q in %s (did you mean %q?)", what, e.Key, e.Source, e.Nearest)
}

// Unwrap returns ErrUnknownKey.
func (e *UnknownKeyError) Unwrap() error { return ErrUnknownKey }

// Keys returns every configuration key ("gc.keep"), in the order of the
// README's table.
func Keys() []string {
	var c Config
	fs := c.fields()
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	return keys
}

// nearest returns the candidate closest to s by Levenshtein distance (the
// first of equals).
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := levenshtein.ComputeDistance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// unknownFileKeys returns an *UnknownKeyError for each key of the config
// file f (nested keys flattened with dots, as viper reads them) that is not
// a configuration key.
func unknownFileKeys(f string) ([]error, error) {
	fv := viper.New()
	fv.SetConfigFile(f)
	if err := fv.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("config: read %s: %w", f, err)
	}
	keys := Keys()
	var errs []error
	for _, k := range fv.AllKeys() {
		if !slices.Contains(keys, k) {
			errs = append(errs, &UnknownKeyError{Key: k, Source: "config file " + f, Nearest: nearest(k, keys)})
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs, nil
}

// unknownEnv returns an *UnknownKeyError for each MEMSNAP_* variable of
// environ that is neither EnvName of a key, nor in OtherEnv, nor under
// TestEnvPrefix.
func unknownEnv(environ []string) []error {
	var valid []string
	for _, k := range Keys() {
		valid = append(valid, EnvName(k))
	}
	known := slices.Clone(valid)
	for name := range OtherEnv {
		known = append(known, name)
	}
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "MEMSNAP_") || strings.HasPrefix(name, TestEnvPrefix) || slices.Contains(known, name) {
			continue
		}
		errs = append(errs, &UnknownKeyError{Key: name, Source: "environment", Nearest: nearest(name, valid)})
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}
