// Package snapshottest gives the tests of other packages a fresh store, as
// net/http/httptest gives them a server. snapshot's own tests have theirs
// (newTestStore): they cannot import this package.
package snapshottest

import "path/filepath"
import "testing"

import "github.com/memsnap/memsnap/snapshot"

// NewStore initialises an empty store (no snapshot, empty queue) in the
// directory "store" under tb.TempDir(), removed when the test ends, and
// fails tb if it cannot.
func NewStore(tb testing.TB) *snapshot.Store {
	tb.Helper()
	s, err := snapshot.Init(filepath.Join(tb.TempDir(), "store"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// CurrentManifest returns the manifest of the snapshot CURRENT names, and
// fails tb if it cannot read it (or there is none yet).
func CurrentManifest(tb testing.TB, s *snapshot.Store) *snapshot.Manifest {
	tb.Helper()
	cur, err := s.Current()
	if err != nil {
		tb.Fatal(err)
	}
	m, err := s.Manifest(cur)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
