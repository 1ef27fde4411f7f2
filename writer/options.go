package writer

import "time"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"

// Options configures a Writer, GC and Rollback. The command line fills it
// from the writer.*, job.* and gc.* config keys; library users start from
// DefaultOptions. Every field is used as given.
type Options struct {
	// Limits caps what one job may contain (job.*).
	Limits model.Limits
	// MaxBatchJobs caps the jobs applied in one snapshot.
	MaxBatchJobs int
	// MaxBatchBytes caps the job bytes applied in one snapshot, in bytes.
	MaxBatchBytes int64
	// MaxRounds caps the batches one Commit applies when the batch limits
	// leave queued jobs behind.
	MaxRounds int
	// LockTimeout is how long a writer waits for the store lock; zero fails
	// at once naming the holder.
	LockTimeout time.Duration
	// BufferPoolMB is the least page cache, in MiB, Kuzu gets while
	// applying (see bufferPool for how it grows with the graph).
	BufferPoolMB int
	// MaxDBMB is the least maximum database size, in MiB, Kuzu opens the
	// staged graph with; it grows with the graph and the batch (see
	// graphdb.MaxDBSize). 0: 1 TiB.
	MaxDBMB int
	// CopyThreshold: a batch creating at least this many entities loads
	// them with Kuzu's bulk COPY FROM; 0 never uses COPY.
	CopyThreshold int
	// MinFreeMB is the free space, in MiB, beyond the staging copy and room
	// for the batch, that a writer insists on before it starts; 0 disables
	// the check.
	MinFreeMB int
	// Keep is how many newest snapshots GC always keeps (at least 1). Every
	// Commit ends with a GC by Keep and MinAge; 0 leaves that out (GC
	// alone then keeps 1). Recycling needs Keep of at least 2.
	Keep int
	// MinAge keeps any snapshot younger than this from GC.
	MinAge time.Duration
	// History is the history window (history.*): GC and recycling keep
	// what snapshot.Retain keeps for it. Zero keeps no history.
	History snapshot.History
	// NoRecycle stages every batch by reflink or a full copy of CURRENT's
	// graph, never by recycling an older snapshot's (see
	// snapshot.StageOptions); default false. It is the path before
	// recycling existed, kept for comparison and as a way out.
	NoRecycle bool
	// RecycleMinMB: a graph smaller than this many MiB is staged by a
	// copy, not by recycling (see snapshot.StageOptions.RecycleMinBytes).
	RecycleMinMB int
	// Verifier, if set, checks CURRENT before a commit builds on it and
	// remembers what it checked and what this writer published, so that a
	// process running commit after commit (the warm writer) reads only
	// what changed (see snapshot.Verifier). Nil: each Commit reads CURRENT
	// in full once.
	Verifier *snapshot.Verifier
}

// DefaultOptions returns the config's defaults (config.Default's
// WriterOptions) but for History, which is zero here: no history window,
// so GC and recycling go by Keep and MinAge alone, where the config's
// default keeps a window of history.keep_for (168h). Tests and benchmarks
// that build a writer without a config use it, and count on that.
func DefaultOptions() Options {
	return Options{
		Limits:       model.Limits{MaxBytes: 1 << 20, MaxOps: 1000, MaxStringBytes: 64 << 10, MaxValueBytes: 512 << 10},
		MaxBatchJobs: 10000, MaxBatchBytes: 64 << 20, MaxRounds: 8, LockTimeout: 10 * time.Second,
		BufferPoolMB: 256, MaxDBMB: 1024, CopyThreshold: 1000, MinFreeMB: 16, Keep: 3, RecycleMinMB: 32,
	}
}

// gcOptions is what GC keeps by o.
func (o Options) gcOptions() snapshot.GCOptions {
	return snapshot.GCOptions{Keep: o.Keep, MinAge: o.MinAge, History: o.History}
}
