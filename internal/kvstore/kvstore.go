// Package kvstore is memsnap's door to Pebble: it opens a snapshot's kv/
// directory read-write (writer staging) or read-only (readers), defines the
// key layout, and encodes job outcomes.
//
// Key layout: user keys live under "u/", job outcomes under "j/<job id>", so a
// user key can never collide with memsnap's own records.
package kvstore

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

const (
	userPrefix = "u/"
	jobPrefix  = "j/"
)

// UserKey is the Pebble key of a user KV key.
func UserKey(k string) []byte { return []byte(userPrefix + k) }

// JobKey is the Pebble key of a job's outcome.
func JobKey(id string) []byte { return []byte(jobPrefix + id) }

// OpenRW opens (or creates) a Pebble database for the writer's staging copy.
// The WAL is off: the writer flushes before closing and fsyncs every file at
// publish, so the WAL would only cost time.
func OpenRW(dir string, log *slog.Logger) (*pebble.DB, error) {
	db, err := pebble.Open(dir, &pebble.Options{DisableWAL: true, Logger: slogLogger{log}})
	if err != nil {
		return nil, fmt.Errorf("open kv %s read-write: %w", dir, err)
	}
	return db, nil
}

// OpenRO opens a published snapshot's Pebble database read-only. Pebble takes
// an exclusive lock even when read-only, which would let only one reader
// process in; the FS wrapper makes Lock a no-op. That is safe only because a
// published snapshot is never opened read-write by anyone.
func OpenRO(dir string, log *slog.Logger) (*pebble.DB, error) {
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
	return db, nil
}

// Get returns the value of key, or found=false.
func Get(db *pebble.DB, key []byte) (val []byte, found bool, err error) {
	v, closer, err := db.Get(key)
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
// (0 = no limit).
func ScanUser(db *pebble.DB, prefix string, limit int) ([]Pair, error) {
	lower := UserKey(prefix)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return nil, fmt.Errorf("kv scan: %w", err)
	}
	defer it.Close()
	var out []Pair
	for it.First(); it.Valid(); it.Next() {
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

// CountUser counts user keys.
func CountUser(db *pebble.DB) (int64, error) {
	lower := []byte(userPrefix)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return 0, fmt.Errorf("kv count: %w", err)
	}
	defer it.Close()
	var n int64
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	return n, it.Error()
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

// Errorf logs a Pebble error.
func (s slogLogger) Errorf(format string, args ...any) {
	if s.l != nil {
		s.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

// Fatalf panics: Pebble calls it only on unrecoverable internal errors.
func (s slogLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
