// Package config holds memsnap's typed configuration, its defaults and its
// validation. Values come from a *viper.Viper instance (config file,
// MEMSNAP_* environment variables, command-line flags); there are no globals.
package config

import "errors"
import "fmt"
import "math"
import "net"
import "os"
import "path/filepath"
import "regexp"
import "runtime"
import "slices"
import "strconv"
import "strings"
import "time"

import "github.com/dustin/go-humanize"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/schedule"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/spf13/viper"

// Config is the whole configuration. The zero value is not valid; start from
// Default() or Load(). Every *_bytes key is a size in bytes, which a file or
// a variable may give with a unit ("1MiB", "64 KiB"; see isSize); every
// duration takes a unit, except 0.
type Config struct {
	// Store is the store directory. Default: DefaultStoreDir.
	Store string `mapstructure:"store"`
	// LogLevel is debug, info, warn or error. Default: info.
	LogLevel string `mapstructure:"log_level"`
	// MaxDBMB is the least maximum database size, in MiB, that Kuzu opens
	// a graph with, in readers, query workers and the writer: each open
	// takes the smallest power of two at least this and four times the
	// graph file (for the writer, the graph plus ten times the batch's job
	// bytes). Kuzu's own default, 8 TiB of reserved address space, made
	// every open take 9-73 s under Wine. 0: 1 TiB. Default: 1024.
	MaxDBMB int `mapstructure:"max_db_mb"`

	Reader ReaderConfig `mapstructure:"reader"`
	Writer WriterConfig `mapstructure:"writer"`
	GC     GCConfig     `mapstructure:"gc"`
	// History is the history window (history.*).
	History HistoryConfig `mapstructure:"history"`
	Job     JobConfig     `mapstructure:"job"`
	MCP     MCPConfig     `mapstructure:"mcp"`
	Serve   ServeConfig   `mapstructure:"serve"`
	// Replica configures replication through S3-compatible storage.
	Replica ReplicaConfig `mapstructure:"replica"`
}

// HistoryConfig configures the history window: how long every point of the
// memory stays readable (--at) and restorable (snapshots restore), and how
// full snapshots are thinned inside it (see snapshot.Retain).
type HistoryConfig struct {
	// KeepFor is the history window; 0 keeps no history (GC keeps gc.keep
	// and gc.min_age only). Default: 168h (7 days).
	KeepFor time.Duration `mapstructure:"keep_for"`
	// KeepAllFor keeps every snapshot younger than this in full. Default: 0
	// (snapshot.DefaultHistoryKeepAllFor says why).
	KeepAllFor time.Duration `mapstructure:"keep_all_for"`
	// HourlyFor keeps the oldest snapshot of each hour in full up to this
	// age; older ones, the oldest of each day. Default: 24h.
	HourlyFor time.Duration `mapstructure:"hourly_for"`
}

// Options returns the history window as the snapshot package takes it.
func (h HistoryConfig) Options() snapshot.History {
	return snapshot.History{KeepFor: h.KeepFor, KeepAllFor: h.KeepAllFor, HourlyFor: h.HourlyFor}
}

// ReplicaConfig configures replication through S3-compatible object
// storage ('memsnap replicate', the daemon's replicate schedule, --from on
// the read commands and servers, 'memsnap restore --from'). Endpoint,
// region and credentials left empty come from the standard AWS
// environment and shared config (AWS_ENDPOINT_URL, AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/...).
type ReplicaConfig struct {
	// To is the s3://BUCKET/PREFIX the daemon replicates to on Schedule
	// (and pulls replicas' writes from). Empty: the daemon does not
	// replicate. Default: empty.
	To string `mapstructure:"to"`
	// Schedule is the daemon's cron spec for replication. Default: "@every 5s".
	Schedule string `mapstructure:"schedule"`
	// Keep is how many newest snapshots always stay in full in the remote
	// location (besides the one its CURRENT names): the floor under the
	// history tiers (History), which remote retention follows as GC does.
	// Default: 10.
	Keep int `mapstructure:"keep"`
	// Endpoint is the S3-compatible server's URL (with it, path-style
	// addressing). Default: empty (AWS S3, or AWS_ENDPOINT_URL).
	Endpoint string `mapstructure:"endpoint"`
	// Region is the signing region. Default: empty (AWS_REGION, the
	// profile's, else us-east-1).
	Region string `mapstructure:"region"`
	// AccessKeyID and SecretAccessKey are static credentials. Default:
	// empty (the standard AWS credential chain).
	AccessKeyID     string `mapstructure:"access_key_id"`
	SecretAccessKey string `mapstructure:"secret_access_key"`
	// CacheDir is where remote readers keep their local copies, one store
	// per remote location. Default: memsnap/ under the user's cache
	// directory ($XDG_CACHE_HOME, else ~/.cache, on Linux).
	CacheDir string `mapstructure:"cache_dir"`
	// Writes is "on" (a remote reader's writes go to the remote queue,
	// which the writer's daemon pulls) or "off" (they are refused).
	// Default: on.
	Writes string `mapstructure:"writes"`
}

// DefaultCacheDir is replica.cache_dir's default: memsnap/ under
// os.UserCacheDir, or under the temporary directory when there is none.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "memsnap")
	}
	return filepath.Join(os.TempDir(), "memsnap-cache")
}

// ReaderConfig configures read-only snapshot access.
type ReaderConfig struct {
	// BufferPoolMB is the least Kuzu page cache per open snapshot, raised to
	// four times the graph file (up to half the machine's memory). Default: 64.
	BufferPoolMB int `mapstructure:"buffer_pool_mb"`
	// Threads caps threads per query. Default: 1.
	Threads int `mapstructure:"threads"`
	// Refresh is the cron spec on which long-lived readers look for a newer
	// snapshot. Default: "@every 2s". Empty disables scheduled refresh.
	Refresh string `mapstructure:"refresh"`
	// Watch makes long-lived readers also refresh as soon as CURRENT is
	// replaced (file watching), besides Refresh. Default: true.
	Watch bool `mapstructure:"watch"`
	// QueryTimeout interrupts a query that runs longer; a query worker
	// that has not stopped half a second later is killed. Default: 30s.
	QueryTimeout time.Duration `mapstructure:"query_timeout"`
	// QueryWorkers is how many query worker processes run user-written
	// Cypher (the query command and MCP tool) at once, each kept warm
	// with the snapshot open; a query waiting for a free one counts the
	// wait against QueryTimeout. Default: 4 (an idle worker holds about
	// 55 MB resident, measured on an empty store with Kuzu v0.11.3).
	QueryWorkers int `mapstructure:"query_workers"`
	// QueryMaxMemoryMB caps a query worker's memory, in MiB: an
	// allocation past it fails inside Kuzu, and a worker whose resident
	// set passes it is killed (peak at most 64 MiB over; see package
	// queryworker, "Memory cap"). Default: 1024. At least 128.
	QueryMaxMemoryMB int `mapstructure:"query_max_memory_mb"`
	// QueryMaxRows caps the rows a query answers; the answer says it was
	// truncated. Default: 10000.
	QueryMaxRows int `mapstructure:"query_max_rows"`
	// QueryMaxBytes caps the JSON bytes of a query answer's rows; the
	// answer says it was truncated. Default: 4 MiB (an answer fits an MCP
	// client's 10 MiB frame).
	QueryMaxBytes int `mapstructure:"query_max_bytes"`
	// Verify is what a reader checks before it serves a snapshot: "full"
	// (every file's size and CRC-32C against the manifest), "size" (sizes
	// only: cheaper on very large stores, catches truncation but not flipped
	// bytes) or "off". A snapshot that fails is refused and the reader keeps
	// serving the one it has. With full, a long-lived reader reads only the
	// chunks it cannot trust from an earlier check (snapshot.Verifier).
	// Default: full.
	Verify string `mapstructure:"verify"`
	// Scrub is how often a long-lived reader re-reads the whole snapshot it
	// serves at low priority, to find damage done to the disk after its
	// chunks were verified (with Verify full). 0 turns it off. Default: 1h.
	Scrub time.Duration `mapstructure:"scrub"`
	// SearchWordHits caps the entities a search returns that hold every
	// query word but not the query itself (the reference server's substring
	// rule): the best-ranked that many are kept; every substring match is
	// always returned. 0: no cap. Default: 20.
	SearchWordHits int `mapstructure:"search_word_hits"`
	// QueuedWrites makes reads (search_nodes, open_nodes, read_graph,
	// neighbors and the search, open and graph commands) answer from the
	// snapshot plus every acknowledged job still in the queue, so that a
	// write is readable at once by every process. Default: true.
	QueuedWrites bool `mapstructure:"queued_writes"`
}

// WriterConfig configures the writer cycle.
type WriterConfig struct {
	// MaxBatchJobs caps the jobs applied in one snapshot. Default: 10000.
	MaxBatchJobs int `mapstructure:"max_batch_jobs"`
	// MaxBatchBytes caps the job bytes applied in one snapshot. Default: 64 MiB.
	MaxBatchBytes int64 `mapstructure:"max_batch_bytes"`
	// MaxRounds caps the batches one commit run applies when the batch
	// limits leave queued jobs behind (jobs queued during a commit wait for
	// the next one). Default: 8.
	MaxRounds int `mapstructure:"max_rounds"`
	// LockTimeout is how long a writer waits for the store lock. Zero fails at
	// once with the holder's identity. Default: 10s.
	LockTimeout time.Duration `mapstructure:"lock_timeout"`
	// BufferPoolMB is the least page cache Kuzu gets while applying; the
	// writer raises it to twice the sum of the graph's size and ten times
	// the batch's job bytes (up to half the machine's memory). Default: 256.
	BufferPoolMB int `mapstructure:"buffer_pool_mb"`
	// Commit is the daemon's cron spec for commits. Default: "@every 1s".
	Commit string `mapstructure:"commit"`
	// CopyThreshold: a batch creating at least this many entities (or
	// relations) loads them with Kuzu's bulk COPY FROM instead of UNWIND
	// CREATE. 0 never uses COPY. Default: 1000.
	CopyThreshold int `mapstructure:"copy_threshold"`
	// MinFreeMB is the free space, beyond the staging copy and room for the
	// batch, that a writer insists on before it starts; with less it stops
	// with a clear "no space left" error instead of letting the database
	// engine run out mid-write. 0 disables the check. Default: 16.
	MinFreeMB int `mapstructure:"min_free_mb"`
	// RecycleMinMB: the writer stages a graph smaller than this by copying
	// it, a larger one by recycling an older snapshot's copy and replaying
	// the batches it missed (fewer bytes written). Measured in one writer
	// process committing one job at a time: 19 MiB graph (1k entities)
	// copy 165-310 ms, recycle 167-420 ms; 37 MiB (10k) copy 240-265 ms,
	// recycle 170-195 ms. Default: 32.
	RecycleMinMB int `mapstructure:"recycle_min_mb"`
	// CommitDelay is the group commit window: a process that commits queued
	// jobs as they arrive (the daemon, 'memsnap mcp') waits this long after
	// it notices a new job before it commits, so that every job arriving
	// meanwhile goes into the same snapshot. Default: 10ms.
	CommitDelay time.Duration `mapstructure:"commit_delay"`
	// Nice is the CPU priority (0-19, as nice(1)) that 'memsnap commit'
	// processes, the daemon's included, run at, so that readers keep the
	// CPU when they compete with a writer. Default: 5, chosen by measurement
	// (docs/BENCHMARKS.md, "writer.nice"): at 10 the writer starved beside
	// busy readers, at 0 the readers' p99 under write was the worst.
	Nice int `mapstructure:"nice"`
}

// Limits returns the job limits in the form the job decoder takes.
func (c JobConfig) Limits() model.Limits {
	return model.Limits{MaxBytes: c.MaxBytes, MaxOps: c.MaxOps, MaxStringBytes: c.MaxStringBytes, MaxValueBytes: c.MaxValueBytes}
}

// GCConfig configures snapshot garbage collection.
type GCConfig struct {
	// Schedule is the daemon's cron spec for GC. Default: "@every 1m".
	Schedule string `mapstructure:"schedule"`
	// Keep is how many newest snapshots GC always keeps. Default: 3, minimum 1.
	Keep int `mapstructure:"keep"`
	// MinAge keeps any snapshot younger than this. Default: 0.
	MinAge time.Duration `mapstructure:"min_age"`
}

// JobConfig caps what one job may contain.
type JobConfig struct {
	// MaxBytes caps a job's encoded size. Default: 1 MiB.
	MaxBytes int64 `mapstructure:"max_bytes"`
	// MaxOps caps the ops in one job. Default: 1000.
	MaxOps int `mapstructure:"max_ops"`
	// MaxStringBytes caps any one name, type, observation or key.
	// Default: 64 KiB.
	MaxStringBytes int `mapstructure:"max_string_bytes"`
	// MaxValueBytes caps one KV value (kv_put). Default: 512 KiB.
	MaxValueBytes int `mapstructure:"max_value_bytes"`
}

// MCPConfig tunes 'memsnap mcp'.
type MCPConfig struct {
	// WriteTimeout bounds how long a write tool waits for its job to be
	// applied before answering with an error that says it is still queued.
	// Default: 30s.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// CommitWhenIdle makes a write tool run the writer itself (as a child
	// process) when no other writer holds the lock, so writes land even
	// without a daemon. Default: true.
	CommitWhenIdle bool `mapstructure:"commit_when_idle"`
	// WriteAck is when a write tool answers: "durable" (default) once its job
	// is validated against the newest snapshot plus this server's own queued
	// jobs and fsynced into the queue, with the answer the writer will give;
	// "applied" once a published snapshot holds the job (up to
	// write_timeout). Either way the job applies exactly once.
	WriteAck string `mapstructure:"write_ack"`
	// MaxAnswerBytes caps a tool's answer as sent (its structured content
	// and its text, an escaped JSON string, together), in bytes; a size
	// with a unit ("4MiB") is taken. An answer that would be larger holds
	// the best-ranked part that fits, a nextCursor for the rest and a note
	// saying how many more there are. Default: 256 KiB. An agent's client
	// cuts or refuses far smaller answers than the 10 MiB an MCP
	// TypeScript client takes in one message (16 MiB for the Go SDK):
	// Claude Code's default limit is 25,000 tokens, about 100 KB of text,
	// so a larger answer only costs time. 256 KiB still holds whole the
	// reference server's answer for a memory of a thousand entities (a
	// search finding 234 of them: 216 KiB) and every answer of a small
	// memory; a client wanting more sets the key or pages with
	// nextCursor. At least 16 KiB, at most 8 MiB.
	MaxAnswerBytes int `mapstructure:"max_answer_bytes"`
}

// MinAnswerBytes is the smallest mcp.max_answer_bytes: 16 KiB.
const MinAnswerBytes = 16 << 10

// MaxAnswerBytesLimit is the largest mcp.max_answer_bytes: 8 MiB, under
// the 10 MiB an MCP TypeScript client takes in one message, with room for
// the JSON-RPC envelope and a write's echo; a larger cap would let a broad
// search end that client's connection again.
const MaxAnswerBytesLimit = 8 << 20

// ServeConfig tunes 'memsnap serve', which also takes the mcp keys.
type ServeConfig struct {
	// Addr is the host:port it listens on. Default: 127.0.0.1:8765.
	Addr string `mapstructure:"addr"`
	// MaxBodyBytes caps an HTTP request body; a larger one gets 413. It
	// also caps a line 'memsnap mcp' reads: a longer one is skipped and
	// answered -32600.
	// Default 0: four times job.max_bytes (a largest job, escaped as an MCP
	// call's JSON, fits). See BodyCap.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// MaxConns caps the open connections. A connection accepted at the cap
	// closes the oldest one that never carried the token (idle, waiting for
	// its headers, or in a request); if every one did, the oldest idle one;
	// if none is idle, the new one. Default: 256.
	MaxConns int `mapstructure:"max_conns"`
	// MaxStreams caps the event streams open at once (/events, the MCP
	// sessions' GET streams and MCP 2026-07-28 subscriptions/listen
	// requests); one more gets 503 (/events, subscriptions/listen) or 405
	// (an MCP GET stream: the session goes on without notifications).
	// Default: 64.
	MaxStreams int `mapstructure:"max_streams"`
	// HeaderTimeout is how long a connection may take to send a request's
	// headers, the first request's included (http.Server.ReadHeaderTimeout):
	// a connection that sends nothing is closed after it. Default: 10s.
	HeaderTimeout time.Duration `mapstructure:"header_timeout"`
	// ReadTimeout is how long a request body may take to arrive, plus one
	// second per 64 KiB it declares (a minimum rate of 64 KiB/s); a body
	// not there in time ends its connection. Default: 10s.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout bounds each write of an answer (each event of a stream
	// included): a client that stops reading is dropped after it.
	// Default: 30s.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// IdleTimeout closes a kept-alive connection with no request for that
	// long (http.Server.IdleTimeout). A connection that never carried the
	// token serves one request and is closed. Default: 2m.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// CookieMaxAge is how long a browser keeps the dashboard's token
	// cookie after opening the printed link (its Max-Age, whole seconds):
	// past it, or after the token changes, the link is needed again.
	// Default: 720h (30 days).
	CookieMaxAge time.Duration `mapstructure:"cookie_max_age"`
}

// BodyCap is the request body cap serve applies, in bytes: MaxBodyBytes, or
// four times job.max_bytes when it is 0.
func (c Config) BodyCap() int64 {
	if c.Serve.MaxBodyBytes > 0 {
		return c.Serve.MaxBodyBytes
	}
	return 4 * c.Job.MaxBytes
}

// Write acknowledgement modes of MCPConfig.WriteAck.
const (
	AckDurable = "durable"
	AckApplied = "applied"
)

// ExpandHome expands a leading "~" or "~/" (on Windows also "~\") in path
// to the user's home directory, as a shell would, and on Windows each
// %NAME% of a set environment variable to its value, as cmd.exe would
// (%LOCALAPPDATA%\memsnap); MCP clients pass configured paths to the
// server with no shell. Any other path, or one when the home directory is
// unknown, is returned as it is; an unset %NAME% stays as written, as in
// cmd.exe.
func ExpandHome(path string) string {
	if runtime.GOOS == "windows" {
		path = expandPercent(path, os.LookupEnv)
	}
	if path != "~" && !strings.HasPrefix(path, "~/") && !strings.HasPrefix(path, "~"+string(filepath.Separator)) {
		return path
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return path
	}
	return filepath.Join(home, path[1:])
}

// expandPercent replaces each %NAME% in s for which lookup finds a value
// by that value; other text, an unset %NAME% and a lone % stay as they are.
func expandPercent(s string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			break
		}
		name := s[i+1 : i+1+j]
		if v, ok := lookup(name); ok && name != "" {
			b.WriteString(s[:i])
			b.WriteString(v)
			s = s[i+2+j:]
			continue
		}
		b.WriteString(s[:i+1]) // keep this %; the next may open a name
		s = s[i+1:]
	}
	b.WriteString(s)
	return b.String()
}

// DefaultStoreHelp is DefaultStoreDir as help texts show it: the rule, not
// this user's path.
func DefaultStoreHelp() string {
	if runtime.GOOS == "windows" {
		return `%LOCALAPPDATA%\memsnap`
	}
	return "$XDG_DATA_HOME/memsnap or ~/.local/share/memsnap"
}

// DefaultStoreDir is the store's home when none is given: on Windows
// %LOCALAPPDATA%\memsnap (the user's own, not roaming, application data),
// elsewhere $XDG_DATA_HOME/memsnap, else ~/.local/share/memsnap.
func DefaultStoreDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		home = ""
	}
	return defaultStoreDir(runtime.GOOS, os.Getenv, home)
}

// defaultStoreDir is DefaultStoreDir for system goos, environment getenv
// and home directory home ("" if unknown).
func defaultStoreDir(goos string, getenv func(string) string, home string) string {
	if goos == "windows" {
		if d := getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "memsnap")
		}
		if home != "" {
			return filepath.Join(home, "AppData", "Local", "memsnap")
		}
		return filepath.Join(os.TempDir(), "memsnap")
	}
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "memsnap")
	}
	if home == "" {
		return filepath.Join(os.TempDir(), "memsnap")
	}
	return filepath.Join(home, ".local", "share", "memsnap")
}

// Default returns the configuration with every default filled in.
func Default() Config {
	return Config{
		Store:    DefaultStoreDir(),
		LogLevel: "info",
		MaxDBMB:  1024,
		Reader: ReaderConfig{BufferPoolMB: 64, Threads: 1, Refresh: "@every 2s", Watch: true, QueryTimeout: 30 * time.Second, Verify: "full", Scrub: time.Hour,
			SearchWordHits: reader.DefaultSearchWordHits, QueryWorkers: 4, QueryMaxMemoryMB: 1024, QueryMaxRows: 10000, QueryMaxBytes: 4 << 20, QueuedWrites: true},
		Writer: WriterConfig{MaxBatchJobs: 10000, MaxBatchBytes: 64 << 20, MaxRounds: 8,
			LockTimeout: 10 * time.Second, BufferPoolMB: 256, Commit: "@every 1s", CopyThreshold: 1000, MinFreeMB: 16, Nice: 5,
			CommitDelay: 10 * time.Millisecond, RecycleMinMB: 32},
		GC: GCConfig{Schedule: "@every 1m", Keep: 3},
		History: HistoryConfig{KeepFor: snapshot.DefaultHistoryKeepFor, KeepAllFor: snapshot.DefaultHistoryKeepAllFor,
			HourlyFor: snapshot.DefaultHistoryHourlyFor},
		Job: JobConfig{MaxBytes: 1 << 20, MaxOps: 1000, MaxStringBytes: 64 << 10, MaxValueBytes: 512 << 10},
		MCP: MCPConfig{WriteTimeout: 30 * time.Second, CommitWhenIdle: true, WriteAck: AckDurable, MaxAnswerBytes: 256 << 10},
		Serve: ServeConfig{Addr: "127.0.0.1:8765", MaxConns: 256, MaxStreams: 64, HeaderTimeout: 10 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
			CookieMaxAge: 30 * 24 * time.Hour},
		Replica: ReplicaConfig{Schedule: "@every 5s", Keep: 10, CacheDir: DefaultCacheDir(), Writes: "on"},
	}
}

// field ties a configuration key to its field in a Config.
type field struct {
	key string
	ptr any // *string, *int, *int64, *bool or *time.Duration
}

// fields lists every key of c with a pointer to its field. It is the one
// list of keys: defaults, loading and error messages all walk it.
func (c *Config) fields() []field {
	return []field{
		{"store", &c.Store},
		{"log_level", &c.LogLevel},
		{"max_db_mb", &c.MaxDBMB},
		{"reader.buffer_pool_mb", &c.Reader.BufferPoolMB},
		{"reader.threads", &c.Reader.Threads},
		{"reader.refresh", &c.Reader.Refresh},
		{"reader.watch", &c.Reader.Watch},
		{"reader.query_timeout", &c.Reader.QueryTimeout},
		{"reader.query_workers", &c.Reader.QueryWorkers},
		{"reader.query_max_memory_mb", &c.Reader.QueryMaxMemoryMB},
		{"reader.query_max_rows", &c.Reader.QueryMaxRows},
		{"reader.query_max_bytes", &c.Reader.QueryMaxBytes},
		{"reader.verify", &c.Reader.Verify},
		{"reader.scrub", &c.Reader.Scrub},
		{"reader.search_word_hits", &c.Reader.SearchWordHits},
		{"reader.queued_writes", &c.Reader.QueuedWrites},
		{"writer.max_batch_jobs", &c.Writer.MaxBatchJobs},
		{"writer.max_batch_bytes", &c.Writer.MaxBatchBytes},
		{"writer.max_rounds", &c.Writer.MaxRounds},
		{"writer.lock_timeout", &c.Writer.LockTimeout},
		{"writer.buffer_pool_mb", &c.Writer.BufferPoolMB},
		{"writer.commit", &c.Writer.Commit},
		{"writer.copy_threshold", &c.Writer.CopyThreshold},
		{"writer.min_free_mb", &c.Writer.MinFreeMB},
		{"writer.nice", &c.Writer.Nice},
		{"writer.commit_delay", &c.Writer.CommitDelay},
		{"writer.recycle_min_mb", &c.Writer.RecycleMinMB},
		{"gc.schedule", &c.GC.Schedule},
		{"gc.keep", &c.GC.Keep},
		{"gc.min_age", &c.GC.MinAge},
		{"history.keep_for", &c.History.KeepFor},
		{"history.keep_all_for", &c.History.KeepAllFor},
		{"history.hourly_for", &c.History.HourlyFor},
		{"job.max_bytes", &c.Job.MaxBytes},
		{"job.max_ops", &c.Job.MaxOps},
		{"job.max_string_bytes", &c.Job.MaxStringBytes},
		{"job.max_value_bytes", &c.Job.MaxValueBytes},
		{"mcp.write_timeout", &c.MCP.WriteTimeout},
		{"mcp.commit_when_idle", &c.MCP.CommitWhenIdle},
		{"mcp.write_ack", &c.MCP.WriteAck},
		{"mcp.max_answer_bytes", &c.MCP.MaxAnswerBytes},
		{"serve.addr", &c.Serve.Addr},
		{"serve.max_body_bytes", &c.Serve.MaxBodyBytes},
		{"serve.max_conns", &c.Serve.MaxConns},
		{"serve.max_streams", &c.Serve.MaxStreams},
		{"serve.header_timeout", &c.Serve.HeaderTimeout},
		{"serve.read_timeout", &c.Serve.ReadTimeout},
		{"serve.write_timeout", &c.Serve.WriteTimeout},
		{"serve.idle_timeout", &c.Serve.IdleTimeout},
		{"serve.cookie_max_age", &c.Serve.CookieMaxAge},
		{"replica.to", &c.Replica.To},
		{"replica.schedule", &c.Replica.Schedule},
		{"replica.keep", &c.Replica.Keep},
		{"replica.endpoint", &c.Replica.Endpoint},
		{"replica.region", &c.Replica.Region},
		{"replica.access_key_id", &c.Replica.AccessKeyID},
		{"replica.secret_access_key", &c.Replica.SecretAccessKey},
		{"replica.cache_dir", &c.Replica.CacheDir},
		{"replica.writes", &c.Replica.Writes},
	}
}

// get returns the value a field pointer points at.
func get(ptr any) any {
	switch p := ptr.(type) {
	case *string:
		return *p
	case *int:
		return *p
	case *int64:
		return *p
	case *bool:
		return *p
	case *time.Duration:
		return *p
	}
	panic(fmt.Sprintf("config: field of type %T", ptr))
}

// set stores val (of the field's own type, as get returns it) through ptr.
func set(ptr, val any) {
	switch p := ptr.(type) {
	case *string:
		*p = val.(string)
	case *int:
		*p = val.(int)
	case *int64:
		*p = val.(int64)
	case *bool:
		*p = val.(bool)
	case *time.Duration:
		*p = val.(time.Duration)
	default:
		panic(fmt.Sprintf("config: field of type %T", ptr))
	}
}

// decode sets f's field from v. A size key given as a string takes a unit
// (see isSize); any other value must convert without loss (plainValue).
func decode(v *viper.Viper, f field) error {
	if s, ok := v.Get(f.key).(string); ok && isSize(f.key) {
		n, err := humanize.ParseBytes(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		if p, ok := f.ptr.(*int); ok && n <= math.MaxInt {
			*p = int(n)
			return nil
		}
		if p, ok := f.ptr.(*int64); ok && n <= math.MaxInt64 {
			*p = int64(n)
			return nil
		}
		return errors.New("size out of range")
	}
	if err := v.UnmarshalKey(f.key, f.ptr); err != nil {
		return err
	}
	if !plainValue(v.Get(f.key), f.ptr) {
		return errors.New("lossy conversion")
	}
	return nil
}

// isSize reports whether key is a size in bytes: every key named *_bytes.
// Its value may be an integer (bytes) or a string with a unit, as
// github.com/dustin/go-humanize reads it: "64MiB", "1 MiB", "64KiB",
// "512kib" (powers of 1024), "1MB", "64 kB" (powers of 1000), "1048576".
func isSize(key string) bool { return strings.HasSuffix(key, "_bytes") }

// plainValue reports whether raw, a value as the config file, the
// environment or a flag gave it, converts into ptr's type without loss of
// meaning: a duration must be written with its unit (a bare number would
// be read as nanoseconds), except 0, the same in every unit; an integer
// must have no fraction.
func plainValue(raw, ptr any) bool {
	switch ptr.(type) {
	case *time.Duration:
		switch r := raw.(type) {
		case string, time.Duration:
			return true
		case int:
			return r == 0
		case int64:
			return r == 0
		case float64:
			return r == 0
		}
		return false
	case *int, *int64:
		if f, ok := raw.(float64); ok {
			return f == float64(int64(f))
		}
	}
	return true
}

// notA says what a value of key that does not decode into ptr's type is
// not.
func notA(key string, ptr any) error {
	if isSize(key) {
		return errors.New("is not a size in bytes (such as 1048576, 64KiB or 1 MiB)")
	}
	switch ptr.(type) {
	case *int, *int64:
		return errors.New("is not an integer")
	case *bool:
		return errors.New("is not true or false")
	case *time.Duration:
		return errors.New("is not a duration (such as 500ms, 30s or 1m30s)")
	}
	return errors.New("is not a string")
}

// show formats a value for an error message: strings quoted, the rest as Go
// prints them (durations as 1m30s).
func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// EnvName is the environment variable that sets key: MEMSNAP_GC_KEEP for
// gc.keep.
func EnvName(key string) string {
	return "MEMSNAP_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// SourceDefault is KeyError.Source for a value nobody set.
const SourceDefault = "default"

// KeyError is a problem with the value of one configuration key. Load
// returns every problem at once, each as a *KeyError, joined.
type KeyError struct {
	// Key is the key, e.g. "gc.keep".
	Key string
	// Value is the value as given, ready to print ("\"abc\"", "0"); empty
	// when there is none to show.
	Value string
	// Source is where the value came from: an environment variable
	// ("MEMSNAP_GC_KEEP"), "config file PATH", a flag ("--log-level flag"),
	// SourceDefault, or empty when unknown.
	Source string
	// Err says what is wrong ("is not an integer").
	Err error
}

// Error reads as `gc.keep: "abc" (from MEMSNAP_GC_KEEP) is not an integer`.
func (e *KeyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Key + ":")
	if e.Value != "" {
		b.WriteString(" " + e.Value)
	}
	switch e.Source {
	case "":
	case SourceDefault:
		b.WriteString(" (the default)")
	default:
		b.WriteString(" (from " + e.Source + ")")
	}
	return b.String() + " " + e.Err.Error()
}

// Unwrap returns what is wrong.
func (e *KeyError) Unwrap() error { return e.Err }

// SetDefaults registers every default on v, so env vars and files can
// override any key.
func SetDefaults(v *viper.Viper) {
	d := Default()
	for _, f := range d.fields() {
		v.SetDefault(f.key, get(f.ptr))
	}
}

// Load reads configuration from v: defaults, then the file named by
// "config" (if set), then MEMSNAP_* environment variables (MEMSNAP_WRITER_LOCK_TIMEOUT
// for writer.lock_timeout), then any flags bound to v. It validates the
// result and reports every bad value at once, each naming its key, the value
// and where it came from. A key of the file, or a MEMSNAP_* variable, that
// names no key (nor one of OtherEnv) is refused first, each as an
// *UnknownKeyError naming the nearest valid key.
func Load(v *viper.Viper) (Config, error) { return LoadWithFlags(v, nil) }

// LoadWithFlags is Load for a command line that binds flags to v: flagFor
// returns the name of the flag that set key ("--log-level"), or "" when no
// flag did, so that errors can name it. flagFor may be nil.
func LoadWithFlags(v *viper.Viper, flagFor func(key string) string) (Config, error) {
	SetDefaults(v)
	v.SetEnvPrefix("MEMSNAP")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	unknown := unknownEnv(os.Environ())
	if f := ExpandHome(v.GetString("config")); f != "" {
		v.SetConfigFile(f)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, readError(f, err)
		}
		inFile, err := unknownFileKeys(f)
		if err != nil {
			return Config{}, err
		}
		unknown = append(inFile, unknown...)
	}
	if len(unknown) > 0 {
		// A typo is refused, not ignored: the value meant for the key
		// would otherwise silently not apply.
		return Config{}, fmt.Errorf("config: %w", errors.Join(unknown...))
	}
	source := func(key string) string {
		if flagFor != nil {
			if f := flagFor(key); f != "" {
				return f + " flag"
			}
		}
		if val, ok := os.LookupEnv(EnvName(key)); ok && val != "" { // viper skips empty variables
			return EnvName(key)
		}
		if v.InConfig(key) {
			return "config file " + v.ConfigFileUsed()
		}
		return ""
	}
	c, d := Default(), Default()
	defaults := d.fields()
	var errs []error
	undecoded := map[string]bool{}
	for i, f := range c.fields() {
		err := decode(v, f)
		if err != nil {
			// The field keeps its default, so that validation finds only
			// the other problems.
			set(f.ptr, get(defaults[i].ptr))
			undecoded[f.key] = true
			errs = append(errs, &KeyError{Key: f.key, Value: show(v.Get(f.key)), Source: source(f.key), Err: notA(f.key, f.ptr)})
		}
	}
	// MCP clients start servers with no shell: a "~" in the store path
	// reaches memsnap as it is written.
	c.Store = ExpandHome(c.Store)
	for _, p := range c.problems() {
		if undecoded[p.Key] {
			continue
		}
		if p.Source = source(p.Key); p.Source == "" && get(c.ptr(p.Key)) == get(d.ptr(p.Key)) {
			p.Source = SourceDefault
		}
		errs = append(errs, p)
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return c, nil
}

// ptr returns the pointer to key's field in c.
func (c *Config) ptr(key string) any {
	for _, f := range c.fields() {
		if f.key == key {
			return f.ptr
		}
	}
	panic("config: no key " + key)
}

// Validate reports every problem with c at once, joined into one error; each
// is a *KeyError.
func (c Config) Validate() error {
	problems := c.problems()
	if len(problems) == 0 {
		return nil
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return fmt.Errorf("config: %w", errors.Join(errs...))
}

// problems lists every problem with c, each naming its key and value but
// not yet its source.
func (c Config) problems() []*KeyError {
	checks := []struct {
		key string
		err error // nil: the value is fine
	}{
		{"store", storePath(c.Store)},
		{"log_level", oneOf(c.LogLevel, "debug", "info", "warn", "error")},
		{"max_db_mb", when(c.MaxDBMB != 0 && c.MaxDBMB < 64, "must be 0 (1 TiB) or at least 64")},
		{"reader.buffer_pool_mb", atLeast(c.Reader.BufferPoolMB, 8, "")},
		{"reader.threads", atLeast(c.Reader.Threads, 1, "")},
		{"reader.query_timeout", notNegative(c.Reader.QueryTimeout, "")},
		{"reader.query_workers", atLeast(c.Reader.QueryWorkers, 1, "")},
		{"reader.query_max_memory_mb", atLeast(c.Reader.QueryMaxMemoryMB, 128, "")},
		{"reader.query_max_rows", atLeast(c.Reader.QueryMaxRows, 1, "")},
		{"reader.query_max_bytes", atLeast(c.Reader.QueryMaxBytes, 1024, "")},
		{"reader.scrub", notNegative(c.Reader.Scrub, " (0 turns the scrub off)")},
		{"reader.search_word_hits", notNegative(c.Reader.SearchWordHits, " (0: no cap)")},
		{"reader.verify", when(!slices.Contains([]string{"full", "size", "off"}, c.Reader.Verify), "is not full, size or off")},
		{"reader.refresh", cronSpec(c.Reader.Refresh)},
		{"writer.commit", cronSpec(c.Writer.Commit)},
		{"gc.schedule", cronSpec(c.GC.Schedule)},
		{"mcp.write_timeout", when(c.MCP.WriteTimeout <= 0, "must be positive")},
		{"mcp.write_ack", oneOf(c.MCP.WriteAck, AckDurable, AckApplied)},
		{"mcp.max_answer_bytes", errors.Join(atLeast(c.MCP.MaxAnswerBytes, MinAnswerBytes, ""),
			atMost(c.MCP.MaxAnswerBytes, MaxAnswerBytesLimit, " (8 MiB: an MCP TypeScript client takes at most 10 MiB in one message)"))},
		{"serve.addr", hostPort(c.Serve.Addr)},
		{"serve.max_body_bytes", when(c.Serve.MaxBodyBytes != 0 && c.Serve.MaxBodyBytes < c.Job.MaxBytes,
			fmt.Sprintf("is smaller than job.max_bytes (%d), which no write could then fit (0: four times job.max_bytes)", c.Job.MaxBytes))},
		{"serve.max_conns", atLeast(c.Serve.MaxConns, 2, "")},
		{"serve.max_streams", atLeast(c.Serve.MaxStreams, 1, "")},
		{"serve.header_timeout", when(c.Serve.HeaderTimeout <= 0, "must be positive")},
		{"serve.read_timeout", when(c.Serve.ReadTimeout <= 0, "must be positive")},
		{"serve.write_timeout", when(c.Serve.WriteTimeout <= 0, "must be positive")},
		{"serve.idle_timeout", when(c.Serve.IdleTimeout <= 0, "must be positive")},
		{"serve.cookie_max_age", when(c.Serve.CookieMaxAge < time.Second, "must be at least 1s")},
		{"writer.commit_delay", notNegative(c.Writer.CommitDelay, "")},
		{"writer.recycle_min_mb", notNegative(c.Writer.RecycleMinMB, " (0 recycles whatever the size)")},
		{"writer.max_batch_jobs", atLeast(c.Writer.MaxBatchJobs, 1, "")},
		{"writer.max_batch_bytes", when(c.Writer.MaxBatchBytes < c.Job.MaxBytes,
			fmt.Sprintf("is smaller than job.max_bytes (%d)", c.Job.MaxBytes))},
		{"writer.max_rounds", atLeast(c.Writer.MaxRounds, 1, "")},
		{"writer.lock_timeout", notNegative(c.Writer.LockTimeout, "")},
		{"writer.nice", when(c.Writer.Nice < 0 || c.Writer.Nice > 19, "is not between 0 and 19")},
		{"writer.min_free_mb", notNegative(c.Writer.MinFreeMB, " (0 disables the check)")},
		{"writer.copy_threshold", notNegative(c.Writer.CopyThreshold, " (0 disables COPY)")},
		{"writer.buffer_pool_mb", atLeast(c.Writer.BufferPoolMB, 16, "")},
		{"gc.keep", atLeast(c.GC.Keep, 1, " (CURRENT is always kept)")},
		{"gc.min_age", notNegative(c.GC.MinAge, "")},
		{"history.keep_for", notNegative(c.History.KeepFor, " (0 keeps no history)")},
		{"history.keep_all_for", notNegative(c.History.KeepAllFor, "")},
		{"history.hourly_for", notNegative(c.History.HourlyFor, "")},
		{"job.max_bytes", atLeast(c.Job.MaxBytes, 256, "")},
		{"job.max_ops", atLeast(c.Job.MaxOps, 1, "")},
		{"job.max_string_bytes", atLeast(c.Job.MaxStringBytes, 16, "")},
		{"job.max_value_bytes", atLeast(c.Job.MaxValueBytes, 16, "")},
		{"replica.to", when(c.Replica.To != "" && !strings.HasPrefix(c.Replica.To, "s3://"), "is not an s3://BUCKET/PREFIX URL")},
		{"replica.endpoint", when(c.Replica.Endpoint != "" && !strings.HasPrefix(c.Replica.Endpoint, "http://") && !strings.HasPrefix(c.Replica.Endpoint, "https://"),
			"has no scheme: give http://HOST:PORT or https://HOST")},
		{"replica.schedule", cronSpec(c.Replica.Schedule)},
		{"replica.keep", atLeast(c.Replica.Keep, 1, "")},
		{"replica.cache_dir", when(c.Replica.CacheDir == "", "must not be empty")},
		{"replica.writes", oneOf(c.Replica.Writes, "on", "off")},
	}
	var errs []*KeyError
	for _, ch := range checks {
		if ch.err != nil {
			errs = append(errs, &KeyError{Key: ch.key, Value: show(get(c.ptr(ch.key))), Err: ch.err})
		}
	}
	return errs
}

// The checks of problems: each returns what is wrong with a value, or nil.

// storePath checks the store path: not empty, and no control character,
// which no one means in a path and which a Windows path written in double
// quotes in a config file gets from its backslashes ("C:\temp" holds a tab).
func storePath(p string) error {
	if p == "" {
		return errors.New("must not be empty")
	}
	if runtime.GOOS == "windows" {
		if m := unsetPercent.FindString(p); m != "" {
			return fmt.Errorf("names the environment variable %s, which is not set (the store would land in a folder named %s)", m, m)
		}
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("holds the control character %U: %s", r, backslashAdvice)
		}
	}
	return nil
}

// backslashAdvice is what to do about a backslash that a config file's
// double-quoted string read as an escape.
const backslashAdvice = `in a double-quoted value of a YAML, TOML or JSON file a backslash starts an escape ("C:\temp" is C:, a tab, "emp"): ` +
	`write a Windows path in single quotes (YAML, TOML), with forward slashes, or with each backslash doubled`

// unsetPercent matches a %NAME% that ExpandHome left in a path on Windows:
// a variable that is not set.
var unsetPercent = regexp.MustCompile(`%[A-Za-z_][A-Za-z0-9_()]*%`)

// quotedBackslash matches a double-quoted string holding a backslash.
var quotedBackslash = regexp.MustCompile(`"[^"\n]*\\[^"\n]*"`)

// readError is the error of reading config file f: err, and where f holds
// a double-quoted string with a backslash, what to do about it (the YAML,
// TOML and JSON parsers' own messages name an escape, not the path).
func readError(f string, err error) error {
	if b, rerr := os.ReadFile(f); rerr == nil && quotedBackslash.Match(b) {
		return fmt.Errorf("config: read %s: %w (%s)", f, err, backslashAdvice)
	}
	return fmt.Errorf("config: read %s: %w", f, err)
}

func when(bad bool, why string) error {
	if bad {
		return errors.New(why)
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	return when(!slices.Contains(allowed, v), "is not one of "+strings.Join(allowed, ", "))
}

func atLeast[T int | int64](v, minimum T, note string) error {
	return when(v < minimum, fmt.Sprintf("is below the minimum of %d%s", minimum, note))
}

func atMost[T int | int64](v, maximum T, note string) error {
	return when(v > maximum, fmt.Sprintf("is above the maximum of %d%s", maximum, note))
}

// hostPort checks a listen address: host:port, the host possibly empty
// (every interface), the port 0-65535 (0: any free one).
func hostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not host:port (such as 127.0.0.1:8765)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("has no port number 0-65535 (such as 127.0.0.1:8765)")
	}
	return nil
}

func notNegative[T int | int64 | time.Duration](v T, note string) error {
	return when(v < 0, "must not be negative"+note)
}

// cronSpec checks an optional cron spec (empty turns its schedule off).
func cronSpec(spec string) error {
	if spec == "" {
		return nil
	}
	if _, err := schedule.Parse(spec); err != nil {
		return fmt.Errorf("is not a cron spec (e.g. \"@every 2s\"): %w", err)
	}
	return nil
}

// ReaderOptions returns the reader.* keys as the reader package takes them.
func (c Config) ReaderOptions() reader.Options {
	r := c.Reader
	return reader.Options{BufferPoolMB: r.BufferPoolMB, MaxDBMB: c.MaxDBMB, Threads: r.Threads, Refresh: r.Refresh,
		WatchCurrent: r.Watch, QueryTimeout: r.QueryTimeout, Verify: r.Verify, Scrub: r.Scrub,
		SearchWordHits: r.SearchWordHits, QueuedWrites: r.QueuedWrites, JobLimits: c.Job.Limits()}
}

// WriterOptions returns the writer.*, job.*, gc.* and history.* keys as the writer
// package takes them.
func (c Config) WriterOptions() writer.Options {
	w := c.Writer
	return writer.Options{Limits: c.Job.Limits(), MaxBatchJobs: w.MaxBatchJobs, MaxBatchBytes: w.MaxBatchBytes,
		MaxRounds: w.MaxRounds, LockTimeout: w.LockTimeout, BufferPoolMB: w.BufferPoolMB, MaxDBMB: c.MaxDBMB,
		CopyThreshold: w.CopyThreshold, MinFreeMB: w.MinFreeMB, Keep: c.GC.Keep, MinAge: c.GC.MinAge,
		History: c.History.Options(), RecycleMinMB: w.RecycleMinMB}
}
