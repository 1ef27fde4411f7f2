package config

import "encoding/json"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strings"

import "github.com/agnivade/levenshtein"
import "github.com/pelletier/go-toml/v2"
import "github.com/spf13/viper"
import "go.yaml.in/yaml/v3"

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
	"MEMSNAP_CPUPROFILE":      "measuring: each memsnap process writes a CPU profile (pprof) to this path plus .PID",
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
		if slices.Contains(keys, k) {
			continue
		}
		if under := sectionKeys(k, keys); len(under) > 0 {
			errs = append(errs, &KeyError{Key: k, Value: show(fv.Get(k)), Source: "config file " + f,
				Err: fmt.Errorf("is a section, not a value: give its keys (%s)", strings.Join(under, ", "))})
			continue
		}
		errs = append(errs, &UnknownKeyError{Key: k, Source: "config file " + f, Nearest: nearest(k, keys)})
	}
	dups, err := caseDuplicates(f)
	if err != nil {
		return nil, err
	}
	errs = append(errs, dups...)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs, nil
}

// sectionKeys returns the keys under section ("reader.threads" under
// "reader"), none if section is not one.
func sectionKeys(section string, keys []string) []string {
	var under []string
	for _, k := range keys {
		if strings.HasPrefix(k, section+".") {
			under = append(under, k)
		}
	}
	return under
}

// ErrCaseDuplicate is what a *CaseDuplicateError wraps.
var ErrCaseDuplicate = errors.New("config: keys that differ only in case")

// CaseDuplicateError is two keys of one table of the config file that
// differ only in case ("query_max_rows" and "QUERY_MAX_ROWS"): keys are
// not case-sensitive (viper lower-cases them), so one would silently win.
type CaseDuplicateError struct {
	// Keys are the keys as the file spells them, with their section
	// ("reader.query_max_rows", "reader.QUERY_MAX_ROWS"), sorted.
	Keys []string
	// Source is "config file PATH".
	Source string
}

func (e *CaseDuplicateError) Error() string {
	return fmt.Sprintf("keys %s in %s differ only in case (keys are not case-sensitive): keep one",
		strings.Join(e.Keys, " and "), e.Source)
}

// Unwrap returns ErrCaseDuplicate.
func (e *CaseDuplicateError) Unwrap() error { return ErrCaseDuplicate }

// caseDuplicates returns a *CaseDuplicateError for each set of keys of the
// same table of the config file f that differ only in case. It reads YAML,
// TOML and JSON files (by extension, as viper does); other formats are not
// checked.
func caseDuplicates(f string) ([]error, error) {
	var decode func([]byte, any) error
	switch strings.ToLower(filepath.Ext(f)) {
	case ".yaml", ".yml":
		decode = yaml.Unmarshal
	case ".toml":
		decode = toml.Unmarshal
	case ".json":
		decode = json.Unmarshal
	default:
		return nil, nil
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", f, err)
	}
	var doc map[string]any
	if err := decode(data, &doc); err != nil {
		return nil, fmt.Errorf("config: read %s: %w", f, err)
	}
	var errs []error
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		byLower := map[string][]string{}
		for k, v := range m {
			byLower[strings.ToLower(k)] = append(byLower[strings.ToLower(k)], prefix+k)
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
			}
		}
		for _, same := range byLower {
			if len(same) > 1 {
				slices.Sort(same)
				errs = append(errs, &CaseDuplicateError{Keys: same, Source: "config file " + f})
			}
		}
	}
	walk("", doc)
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
