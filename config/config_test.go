package config

import "errors"
import "os"
import "path/filepath"
import "runtime"
import "strings"
import "testing"
import "time"

import "github.com/spf13/viper"

import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/snapshot"

func TestDefaultsAreValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.LogLevel = "loud"
	c.Reader.BufferPoolMB = 1
	c.Reader.Refresh = "every now and then"
	c.Writer.MaxBatchJobs = 0
	c.GC.Keep = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"log_level", "reader.buffer_pool_mb", "reader.refresh", "writer.max_batch_jobs", "gc.keep"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestLoadFileEnvPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "memsnap.yaml")
	if err := os.WriteFile(file, []byte("store: /from/file\nwriter:\n  lock_timeout: 3s\n  max_batch_jobs: 50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEMSNAP_WRITER_MAX_BATCH_JOBS", "70")
	v := viper.New()
	v.Set("config", file)
	c, err := Load(v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != "/from/file" || c.Writer.LockTimeout != 3*time.Second {
		t.Errorf("file values not used: %+v", c)
	}
	if c.Writer.MaxBatchJobs != 70 {
		t.Errorf("env did not override file: %d", c.Writer.MaxBatchJobs)
	}
	if c.Reader.BufferPoolMB != 64 || c.GC.Keep != 3 {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestLoadRejectsBadEnv(t *testing.T) {
	t.Setenv("MEMSNAP_GC_KEEP", "0")
	if _, err := Load(viper.New()); err == nil || !strings.Contains(err.Error(), "gc.keep") {
		t.Fatalf("got %v", err)
	}
}

func TestDefaultStoreDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Setenv("LOCALAPPDATA", `C:\Users\A User\AppData\Local`)
		if got, want := DefaultStoreDir(), `C:\Users\A User\AppData\Local\memsnap`; got != want {
			t.Fatalf("%q, want %q", got, want)
		}
		return
	}
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if got := DefaultStoreDir(); got != "/xdg/memsnap" {
		t.Fatal(got)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := DefaultStoreDir(); got != "/home/u/.local/share/memsnap" {
		t.Fatal(got)
	}
}

// TestDefaultStoreDirWindows: %LOCALAPPDATA%\memsnap, whatever
// XDG_DATA_HOME says; the profile's AppData\Local without it.
func TestDefaultStoreDirWindows(t *testing.T) {
	env := map[string]string{"LOCALAPPDATA": `C:\Users\A User\AppData\Local`, "XDG_DATA_HOME": "/xdg"}
	if got, want := defaultStoreDir("windows", func(k string) string { return env[k] }, `C:\Users\A User`), filepath.Join(env["LOCALAPPDATA"], "memsnap"); got != want {
		t.Errorf("with LOCALAPPDATA: %q, want %q", got, want)
	}
	delete(env, "LOCALAPPDATA")
	if got, want := defaultStoreDir("windows", func(k string) string { return env[k] }, `C:\Users\A User`), filepath.Join(`C:\Users\A User`, "AppData", "Local", "memsnap"); got != want {
		t.Errorf("without LOCALAPPDATA: %q, want %q", got, want)
	}
	if got := defaultStoreDir("linux", func(k string) string { return env[k] }, "/home/u"); got != filepath.Join("/xdg", "memsnap") { // the separator is the build's
		t.Errorf("linux: %q", got)
	}
}

// TestLoadNamesKeyValueAndSource checks that a bad value's error names the
// key, the value as given and where it came from.
func TestLoadNamesKeyValueAndSource(t *testing.T) {
	cases := []struct {
		name  string
		file  string            // config file contents, if any
		env   map[string]string // environment
		set   map[string]any    // values a flag would give, with flagFor naming them
		want  string
		wantN int // problems reported
	}{
		{name: "env not an integer", env: map[string]string{"MEMSNAP_GC_KEEP": "abc"},
			want: `gc.keep: "abc" (from MEMSNAP_GC_KEEP) is not an integer`, wantN: 1},
		{name: "env not a duration", env: map[string]string{"MEMSNAP_WRITER_LOCK_TIMEOUT": "10"},
			want: `writer.lock_timeout: "10" (from MEMSNAP_WRITER_LOCK_TIMEOUT) is not a duration`, wantN: 1},
		{name: "env not a bool", env: map[string]string{"MEMSNAP_MCP_COMMIT_WHEN_IDLE": "maybe"},
			want: `mcp.commit_when_idle: "maybe" (from MEMSNAP_MCP_COMMIT_WHEN_IDLE) is not true or false`, wantN: 1},
		{name: "env invalid", env: map[string]string{"MEMSNAP_GC_KEEP": "0"},
			want: `gc.keep: 0 (from MEMSNAP_GC_KEEP) is below the minimum of 1`, wantN: 1},
		{name: "answer cap over the client's frame", env: map[string]string{"MEMSNAP_MCP_MAX_ANSWER_BYTES": "100GiB"},
			want: `mcp.max_answer_bytes: 107374182400 (from MEMSNAP_MCP_MAX_ANSWER_BYTES) is above the maximum of 8388608 (8 MiB: an MCP TypeScript client takes at most 10 MiB in one message)`, wantN: 1},
		{name: "file not an integer", file: "gc:\n  keep: many\n",
			want: `gc.keep: "many" (from config file FILE) is not an integer`, wantN: 1},
		{name: "file invalid", file: "writer:\n  nice: 40\n",
			want: `writer.nice: 40 (from config file FILE) is not between 0 and 19`, wantN: 1},
		{name: "env over file", file: "gc:\n  keep: 5\n", env: map[string]string{"MEMSNAP_GC_KEEP": "0"},
			want: `gc.keep: 0 (from MEMSNAP_GC_KEEP)`, wantN: 1},
		{name: "flag", set: map[string]any{"log_level": "loud"}, env: map[string]string{"MEMSNAP_LOG_LEVEL": "debug"},
			want: `log_level: "loud" (from --log_level flag) is not one of debug, info, warn, error`, wantN: 1},
		{name: "default", env: map[string]string{"MEMSNAP_JOB_MAX_BYTES": "100000000"},
			want: `writer.max_batch_bytes: 67108864 (the default) is smaller than job.max_bytes (100000000)`, wantN: 1},
		{name: "every problem at once", file: "writer:\n  nice: 40\n",
			env:  map[string]string{"MEMSNAP_GC_KEEP": "abc", "MEMSNAP_READER_QUERY_TIMEOUT": "soon", "MEMSNAP_READER_THREADS": "0"},
			want: `reader.threads: 0 (from MEMSNAP_READER_THREADS) is below the minimum of 1`, wantN: 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := viper.New()
			want := c.want
			if c.file != "" {
				file := filepath.Join(t.TempDir(), "memsnap.yaml")
				if err := os.WriteFile(file, []byte(c.file), 0o600); err != nil {
					t.Fatal(err)
				}
				v.Set("config", file)
				want = strings.ReplaceAll(want, "FILE", file)
			}
			for k, val := range c.env {
				t.Setenv(k, val)
			}
			for k, val := range c.set {
				v.Set(k, val)
			}
			_, err := LoadWithFlags(v, func(key string) string {
				if _, ok := c.set[key]; ok {
					return "--" + key
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v\nwant it to contain %s", err, want)
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("error does not start with \"config: \": %v", err)
			}
			if got := keyErrors(err); len(got) != c.wantN {
				t.Errorf("%d problems reported, want %d: %v", len(got), c.wantN, err)
			}
		})
	}
}

// keyErrors lists the *KeyError problems joined in err.
func keyErrors(err error) []*KeyError {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		var ke *KeyError
		if errors.As(err, &ke) {
			return []*KeyError{ke}
		}
		return nil
	}
	var out []*KeyError
	for _, e := range joined.Unwrap() {
		var ke *KeyError
		if errors.As(e, &ke) {
			out = append(out, ke)
		}
	}
	return out
}

func TestValidateErrorsAreKeyErrors(t *testing.T) {
	c := Default()
	c.GC.Keep = 0
	c.Reader.Verify = "sometimes"
	got := keyErrors(c.Validate())
	if len(got) != 2 || got[0].Key != "reader.verify" || got[0].Value != `"sometimes"` || got[1].Key != "gc.keep" || got[1].Value != "0" {
		t.Fatalf("got %+v", got)
	}
}

// A key of the config file (nested too) or a MEMSNAP_* variable that names
// no key is refused, naming the nearest valid key; the variables memsnap
// reads that are not keys (OtherEnv, the test harness's MEMSNAP_TEST_*)
// are not.
func TestLoadRefusesUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, file string
		env        map[string]string
		want       []string // each an *UnknownKeyError's Key -> Nearest, in the message
	}{
		{name: "nested file key", file: "mcp:\n  write-ack: applied\n",
			want: []string{`unknown key "mcp.write-ack" in config file`, `did you mean "mcp.write_ack"?`}},
		{name: "top-level file key", file: "stor: /x\ngc:\n  keep: 4\n",
			want: []string{`unknown key "stor"`, `did you mean "store"?`}},
		{name: "env", env: map[string]string{"MEMSNAP_WRITER_MINFREE_MB": "5"},
			want: []string{`unknown variable "MEMSNAP_WRITER_MINFREE_MB" in environment`, `did you mean "MEMSNAP_WRITER_MIN_FREE_MB"?`}},
		{name: "file and env at once", file: "gc:\n  kepp: 2\n", env: map[string]string{"MEMSNAP_LOGLEVEL": "debug"},
			want: []string{`"gc.kepp"`, `"gc.keep"`, `"MEMSNAP_LOGLEVEL"`, `"MEMSNAP_LOG_LEVEL"`}},
		{name: "allowed", file: "gc:\n  keep: 4\n", env: map[string]string{"MEMSNAP_FAILPOINT": "", "MEMSNAP_FSFAULT": "",
			"MEMSNAP_BENCH_REFERENCE": "x", "MEMSNAP_TEST_ROLE": "reader", "MEMSNAP_GC_MIN_AGE": "1s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, val := range c.env {
				t.Setenv(k, val)
			}
			v := viper.New()
			if c.file != "" {
				file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
				if err := os.WriteFile(file, []byte(c.file), 0o600); err != nil {
					t.Fatal(err)
				}
				v.Set("config", file)
			}
			_, err := Load(v)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var uk *UnknownKeyError
			if !errors.Is(err, ErrUnknownKey) || !errors.As(err, &uk) {
				t.Fatalf("not refused as an unknown key: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %s", err, w)
				}
			}
		})
	}
}

// Issue 25, item 2: the README gives the byte caps as 64 MiB, 1 MiB, 64 KiB
// and 512 KiB; those are accepted (file and environment), plain integers
// are still bytes, a bare 0 is a duration in every file format, and what
// is none of these is refused naming the key.
func TestLoadSizesAndZeroDurations(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string { return testutil.WriteFile(t, filepath.Join(dir, name), body) }
	for _, f := range []string{
		write("sizes.yaml", "job:\n  max_bytes: 1MiB\n  max_string_bytes: 64 KiB\n  max_value_bytes: 524288\ngc:\n  min_age: 0\n"),
		write("sizes.toml", "[job]\nmax_bytes = \"1 MiB\"\nmax_string_bytes = \"64KiB\"\nmax_value_bytes = 524288\n[gc]\nmin_age = 0\n"),
		write("sizes.json", `{"job":{"max_bytes":"1MiB","max_string_bytes":"64kib","max_value_bytes":524288},"gc":{"min_age":0}}`),
	} {
		t.Setenv("MEMSNAP_WRITER_MAX_BATCH_BYTES", "64 MiB")
		t.Setenv("MEMSNAP_SERVE_MAX_BODY_BYTES", "4MB")
		v := viper.New()
		v.Set("config", f)
		c, err := Load(v)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		if c.Job.MaxBytes != 1<<20 || c.Job.MaxStringBytes != 64<<10 || c.Job.MaxValueBytes != 512<<10 ||
			c.Writer.MaxBatchBytes != 64<<20 || c.Serve.MaxBodyBytes != 4_000_000 || c.GC.MinAge != 0 {
			t.Errorf("%s: %+v %+v %+v %+v", filepath.Base(f), c.Job, c.Writer.MaxBatchBytes, c.Serve.MaxBodyBytes, c.GC.MinAge)
		}
	}
	for _, c := range []struct{ file, want string }{
		{"job:\n  max_bytes: 1 parsec\n", `job.max_bytes: "1 parsec" (from config file FILE) is not a size in bytes`},
		{"job:\n  max_bytes: 1.5\n", `job.max_bytes: 1.5 (from config file FILE) is not a size in bytes`},
		{"gc:\n  min_age: 10\n", `gc.min_age: 10 (from config file FILE) is not a duration`},
	} {
		f := write("bad.yaml", c.file)
		v := viper.New()
		v.Set("config", f)
		if _, err := Load(v); err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(c.want, "FILE", f)) {
			t.Errorf("%q: %v, want %s", c.file, err, c.want)
		}
	}
}

// Keys that differ only in case are refused (viper lower-cases them and one
// silently won); a section given a value says it takes keys.
func TestLoadRefusesCaseTwinsAndScalarSections(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, body, want string }{
		{"twins.json", `{"reader":{"query_max_rows":5,"QUERY_MAX_ROWS":7}}`,
			`keys reader.QUERY_MAX_ROWS and reader.query_max_rows in config file FILE differ only in case`},
		{"twins.yaml", "Store: /a\nstore: /b\n", `keys Store and store in config file FILE differ only in case`},
		{"section.yaml", "reader: 5\n", `reader: 5 (from config file FILE) is a section, not a value: give its keys (reader.buffer_pool_mb,`},
	} {
		f := filepath.Join(dir, c.name)
		if err := os.WriteFile(f, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		v := viper.New()
		v.Set("config", f)
		_, err := Load(v)
		if want := strings.ReplaceAll(c.want, "FILE", f); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant it to contain %s", c.name, err, want)
		}
		if strings.Contains(c.name, "twins") && !errors.Is(err, ErrCaseDuplicate) {
			t.Errorf("%s: %v is not ErrCaseDuplicate", c.name, err)
		}
	}
	// One key in capitals alone is still the key.
	f := filepath.Join(dir, "caps.yaml")
	if err := os.WriteFile(f, []byte("reader:\n  QUERY_MAX_ROWS: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.Set("config", f)
	if c, err := Load(v); err != nil || c.Reader.QueryMaxRows != 7 {
		t.Errorf("QUERY_MAX_ROWS alone: %v %d", err, c.Reader.QueryMaxRows)
	}
}

// A Windows path in a config file: written in single quotes, bare, with
// forward slashes or doubled backslashes it is read as written; in double
// quotes its backslashes are escapes, which fail to parse (\U) or turn into
// control characters (\t, \n): both errors say what to write instead.
func TestWindowsPathsInConfigFiles(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                string // Store, or "" for an error
		wantErr             string
	}{
		{"yaml single quotes", "m.yaml", `store: 'C:\Users\me\My Memory'` + "\n", `C:\Users\me\My Memory`, ""},
		{"yaml bare", "m.yaml", `store: C:\Users\me\temp` + "\n", `C:\Users\me\temp`, ""},
		{"yaml doubled", "m.yaml", `store: "C:\\Users\\me"` + "\n", `C:\Users\me`, ""},
		{"toml single quotes", "m.toml", `store = 'C:\Users\me'` + "\n", `C:\Users\me`, ""},
		{"json doubled", "m.json", `{"store": "C:\\Users\\me"}`, `C:\Users\me`, ""},
		{"yaml double quotes, \\U", "m.yaml", `store: "C:\Users\me"` + "\n", "", "single quotes"},
		{"toml double quotes, \\U", "m.toml", `store = "C:\Users\me"` + "\n", "", "single quotes"},
		{"json, \\U", "m.json", `{"store": "C:\Users\me"}`, "", "each backslash doubled"},
		{"yaml double quotes, \\t and \\n", "m.yaml", `store: "C:\temp\nmem"` + "\n", "", "control character U+0009"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), tc.file)
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			v := viper.New()
			v.Set("config", file)
			c, err := Load(v)
			if tc.wantErr == "" {
				if err != nil || c.Store != tc.want {
					t.Fatalf("store %q, error %v; want %q", c.Store, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v; want one line containing %q", err, tc.wantErr)
			}
		})
	}
}

// %NAME% in a path, as cmd.exe expands it (ExpandHome does on Windows).
func TestExpandPercent(t *testing.T) {
	env := map[string]string{"LOCALAPPDATA": `C:\Users\me\AppData\Local`, "X": "x", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for in, want := range map[string]string{
		`%LOCALAPPDATA%\memsnap`:  `C:\Users\me\AppData\Local\memsnap`,
		`C:\a%X%b\%X%`:            `C:\axb\x`,
		`%UNSET%\memsnap`:         `%UNSET%\memsnap`,
		`100% sure\%X%`:           `100% sure\x`,
		`%%X%`:                    `%x`,
		`a%EMPTY%b`:               `ab`,
		`%`:                       `%`,
		`C:\no percent`:           `C:\no percent`,
		`%UNSET%%LOCALAPPDATA%\m`: `%UNSET%C:\Users\me\AppData\Local\m`,
	} {
		if got := expandPercent(in, lookup); got != want {
			t.Errorf("expandPercent(%q) = %q, want %q", in, got, want)
		}
	}
}

// The history.* keys reach the writer's options (GC and recycling keep what
// they keep): their defaults, a file's values, and 0 turning history off;
// a negative window is refused naming the key.
func TestHistoryKeys(t *testing.T) {
	c, err := Load(viper.New())
	if err != nil {
		t.Fatal(err)
	}
	want := snapshot.History{KeepFor: 7 * 24 * time.Hour, HourlyFor: 24 * time.Hour}
	if got := c.WriterOptions().History; got != want {
		t.Errorf("defaults: %+v, want %+v", got, want)
	}
	f := filepath.Join(t.TempDir(), "h.yaml")
	if err := os.WriteFile(f, []byte("history:\n  keep_for: 48h\n  keep_all_for: 0\n  hourly_for: 6h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.Set("config", f)
	if c, err = Load(v); err != nil {
		t.Fatal(err)
	}
	if got := c.WriterOptions().History; got != (snapshot.History{KeepFor: 48 * time.Hour, HourlyFor: 6 * time.Hour}) {
		t.Errorf("from a file: %+v", got)
	}
	t.Setenv("MEMSNAP_HISTORY_KEEP_FOR", "0")
	if c, err = Load(viper.New()); err != nil || c.WriterOptions().History.KeepFor != 0 {
		t.Errorf("MEMSNAP_HISTORY_KEEP_FOR=0: %+v %v", c.History, err)
	}
	t.Setenv("MEMSNAP_HISTORY_KEEP_FOR", "-1h")
	if _, err := Load(viper.New()); err == nil || !strings.Contains(err.Error(), "history.keep_for") {
		t.Errorf("a negative window: %v", err)
	}
}

// mcp.max_answer_bytes is 256 KiB unless set (issue 28: the reference's
// whole answer for a memory of a thousand entities, 216 KiB, fits; a
// multi-megabyte answer only costs time in an agent's client), and a
// client wanting whole answers of several MiB sets it, with a unit.
func TestAnswerCapDefaultAndOverride(t *testing.T) {
	v := viper.New()
	c, err := Load(v)
	if err != nil {
		t.Fatal(err)
	}
	if c.MCP.MaxAnswerBytes != 256<<10 || Default().MCP.MaxAnswerBytes != 256<<10 {
		t.Errorf("mcp.max_answer_bytes %d (Default %d), want 262144", c.MCP.MaxAnswerBytes, Default().MCP.MaxAnswerBytes)
	}
	t.Setenv("MEMSNAP_MCP_MAX_ANSWER_BYTES", "4MiB")
	if c, err = Load(viper.New()); err != nil || c.MCP.MaxAnswerBytes != 4<<20 {
		t.Errorf("MEMSNAP_MCP_MAX_ANSWER_BYTES=4MiB: %d, %v", c.MCP.MaxAnswerBytes, err)
	}
}
