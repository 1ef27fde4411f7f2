//go:build windows

package main

import "fmt"
import "os"

import "github.com/memsnap/memsnap/snapshot"

// storeWritable returns nil when this process may write the store's
// directories a server writes into (the store itself and queue/new), else
// why not. Windows has no access(2) that knows of ACLs and read-only
// volumes together, so it creates and removes a temporary file in each.
func storeWritable(s *snapshot.Store) error {
	for _, d := range []string{s.Dir(), s.Queue().NewDir()} {
		f, err := os.CreateTemp(d, ".writable-*")
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		f.Close()
		_ = os.Remove(f.Name())
	}
	return nil
}
