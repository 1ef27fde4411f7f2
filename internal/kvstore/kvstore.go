// Package kvstore is memsnap's only door to Pebble: it opens a snapshot's
// kv/ directory read-write (writer staging) or read-only (readers) and
// defines the key layout; callers never see a Pebble type.
//
// Key layout: user keys live under "u/", job outcomes under "j/<job id>", so a
// user key can never collide with memsnap's own records.
package kvstore

import "bytes"
import "context"
import "fmt"
import "io"
import "log/slog"

import "github.com/cockroachdb/pebble/v2"
import "github.com/cockroachdb/pebble/v2/vfs"

const (
	userPrefix = "u/"
	jobPrefix  = "j/"
)

func userKey(k string) []byte { return []byte(userPrefix + k) }

func jobKey(id string) []byte { return []byte(jobPrefix + id) }

// DB is an open key-value store of one snapshot (or of the writer's stage).
type DB struct {
	db *pebble.DB
}

// Close closes the store. It returns Pebble's error, if any.
func (d *DB) Close() error { return d.db.Close() }

// Flush writes the memtable to sstables: the writer calls it before Close,
// since the WAL is off. Each commit's flush makes one small sstable (an
// outcome per job, a few hundred bytes, in a 4 KiB block on disk); see
// l0FileThreshold for how many of them a store keeps.
func (d *DB) Flush() error {
	if err := d.db.Flush(); err != nil {
		return fmt.Errorf("flush kv: %w", err)
	}
	return nil
}

// l0FileThreshold is Pebble's L0CompactionFileThreshold for the writer:
// level 0 is compacted once it holds this many sstables. Pebble's default,
// 500, let a store of small commits keep one sstable per commit up to 500
// (2 MiB of 4 KiB blocks for about 350 KiB of outcomes): the flushes of
// successive commits hold increasing job ids, so they never overlap and
// Pebble's other trigger (overlapping sublevels) never fires. Measured
// with Pebble v2.1.7, 300 commits of one outcome each: 300 sstables by
// default, 30 with 16 (TestSmallCommitsKeepFewTables). Pebble moves
// non-overlapping files down without merging them on a manual Compact, so
// that is no help here.
const l0FileThreshold = 16

// GetUser returns the value of user key k, or found=false.
func (d *DB) GetUser(k string) (val []byte, found bool, err error) { return d.get(userKey(k)) }

// GetJob returns the stored outcome of job id (encoded, see
// model.DecodeOutcome), or found=false.
func (d *DB) GetJob(id string) (val []byte, found bool, err error) { return d.get(jobKey(id)) }

// Batch collects writes that Commit applies at once.
type Batch struct {
	b *pebble.Batch
}

// NewBatch starts a batch of writes.
func (d *DB) NewBatch() *Batch { return &Batch{b: d.db.NewBatch()} }

// SetUser sets user key k to v.
func (b *Batch) SetUser(k string, v []byte) error {
	if err := b.b.Set(userKey(k), v, nil); err != nil {
		return fmt.Errorf("kv put: %w", err)
	}
	return nil
}

// DeleteUser deletes user key k.
func (b *Batch) DeleteUser(k string) error {
	if err := b.b.Delete(userKey(k), nil); err != nil {
		return fmt.Errorf("kv delete: %w", err)
	}
	return nil
}

// SetJob records job id's encoded outcome.
func (b *Batch) SetJob(id string, outcome []byte) error {
	if err := b.b.Set(jobKey(id), outcome, nil); err != nil {
		return fmt.Errorf("record outcome: %w", err)
	}
	return nil
}

// Commit applies the batch without fsync: the writer fsyncs every file
// when it publishes the snapshot.
func (b *Batch) Commit() error {
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("commit kv batch: %w", err)
	}
	return nil
}

// Close releases the batch.
func (b *Batch) Close() error { return b.b.Close() }

// OpenRW opens (or creates) a Pebble database for the writer's staging copy.
// The WAL is off: the writer flushes before closing and fsyncs every file at
// publish, so the WAL would only cost time.
func OpenRW(dir string, log *slog.Logger) (*DB, error) {
	db, err := pebble.Open(dir, &pebble.Options{DisableWAL: true, Logger: slogLogger{log}, L0CompactionFileThreshold: l0FileThreshold})
	if err != nil {
		return nil, fmt.Errorf("open kv %s read-write: %w", dir, err)
	}
	return &DB{db: db}, nil
}

// OpenRO opens a published snapshot's Pebble database read-only. Pebble takes
// an exclusive lock even when read-only, which would let only one reader
// process in; the FS wrapper makes Lock a no-op. That is safe only because a
// published snapshot is never opened read-write by anyone.
func OpenRO(dir string, log *slog.Logger) (*DB, error) {
	db, err := pebble.Open(dir, &pebble.Options{
		ReadOnly: true,
		FS:       noLockFS{vfs.Default},
		Logger:   slogLogger{log},
		// Small caches: a reader mostly serves the graph.
		CacheSize: 8 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("open kv %s read-only: %w", dir, err)
	}
	return &DB{db: db}, nil
}

func (d *DB) get(key []byte) (val []byte, found bool, err error) {
	v, closer, err := d.db.Get(key)
	if err == pebble.ErrNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("kv get: %w", err)
	}
	defer closer.Close()
	return bytes.Clone(v), true, nil
}

// Pair is one user key and its value.
type Pair struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ScanUser returns user keys starting with prefix, in key order, at most limit
// (0 = no limit). It stops with ctx's error (wrapped) once ctx ends.
func (d *DB) ScanUser(ctx context.Context, prefix string, limit int) ([]Pair, error) {
	lower := userKey(prefix)
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return nil, fmt.Errorf("kv scan: %w", err)
	}
	defer it.Close()
	var out []Pair
	for it.First(); it.Valid(); it.Next() {
		if len(out)%256 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("kv scan: %w", ctx.Err())
		}
		out = append(out, Pair{Key: string(it.Key()[len(userPrefix):]), Value: string(it.Value())})
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("kv scan: %w", err)
	}
	return out, nil
}

func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

type noLockFS struct{ vfs.FS }

// Lock does nothing: see OpenRO for why that is safe.
func (noLockFS) Lock(string) (io.Closer, error) { return nopCloser{}, nil }

type nopCloser struct{}

// Close does nothing.
func (nopCloser) Close() error { return nil }

type slogLogger struct{ l *slog.Logger }

// Infof logs Pebble's chatter at debug level.
func (s slogLogger) Infof(format string, args ...any) {
	if s.l != nil {
		s.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

// Errorf logs a Pebble error at warning level: what Pebble reports this
// way (a failed background flush or compaction, say for lack of space) also
// fails the operation that needs it, whose error is the one line a user
// gets at --log-level error.
func (s slogLogger) Errorf(format string, args ...any) {
	if s.l != nil {
		s.l.Warn(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

// Fatalf panics: Pebble calls it only on unrecoverable internal errors.
func (s slogLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
