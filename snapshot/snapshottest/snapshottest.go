// Package snapshottest gives the tests of other packages a fresh store, as
// net/http/httptest gives them a server, checked when the test ends as
// bbolt's btesting checks every test database. snapshot's own tests have
// theirs (newTestStore): they cannot import this package.
package snapshottest

import "context"
import "path/filepath"
import "testing"

import "github.com/memsnap/memsnap/snapshot"

// Option changes what NewStore does.
type Option func(*options)

type options struct {
	skip string // why the check is off; empty: it runs
}

// SkipCheck turns NewStore's check at cleanup off, for a test that leaves
// the store damaged on purpose, or fills it with what is not a store at
// rest (a replica.Mirror's history after its CURRENT); reason says which
// (it documents the call).
func SkipCheck(reason string) Option {
	return func(o *options) { o.skip = reason }
}

// NewStore initialises an empty store (no snapshot, empty queue) in the
// directory "store" under tb.TempDir(), removed when the test ends, and
// fails tb if it cannot. When the test ends (tb.Cleanup, after the
// cleanups the test registers later, such as closing its readers) it
// runs Check on the store (see Check), unless the test failed already or
// passed SkipCheck.
func NewStore(tb testing.TB, opts ...Option) *snapshot.Store {
	tb.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	s, err := snapshot.Init(filepath.Join(tb.TempDir(), "store"))
	if err != nil {
		tb.Fatal(err)
	}
	if o.skip == "" {
		tb.Cleanup(func() { Check(tb, s) })
	}
	return s
}

// Check runs snapshot's Store.Check on s with no writer at work (the
// test's writers have returned) and reports every finding as a test
// error: CURRENT verifies, the lineage applies no job twice, the history
// log is intact, staging/ is empty, no queued job was applied. It does not
// compare the graph's content digest (CheckOptions.Content: this package
// opens no graph; the black-box tests' store check does). A test that has
// failed already is not checked.
func Check(tb testing.TB, s *snapshot.Store) {
	tb.Helper()
	if tb.Failed() {
		return
	}
	r, err := s.Check(context.Background(), snapshot.CheckOptions{Idle: snapshot.NoWriter})
	if err != nil {
		tb.Errorf("store check: %v", err)
		return
	}
	for _, f := range r.Findings {
		tb.Errorf("store check: %v", f)
	}
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
