//go:build unix

package main

import "fmt"

import "golang.org/x/sys/unix"

import "github.com/memsnap/memsnap/snapshot"

// storeWritable returns nil when this process may write the store's
// directories a server writes into (the store itself and the queue's), else
// why not: EROFS on a read-only filesystem, EACCES without permission
// (its queue directories are checked through queue/new). It
// asks access(2), which knows of read-only mounts even for root.
func storeWritable(s *snapshot.Store) error {
	for _, d := range []string{s.Dir(), s.Queue().NewDir()} {
		if err := unix.Access(d, unix.W_OK); err != nil {
			if d == s.Dir() {
				return err
			}
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}
