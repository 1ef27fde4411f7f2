//go:build !linux

package fsutil

import "os"

// clone always answers ErrNoReflink outside Linux: memsnap uses no
// clonefile (macOS) or block cloning (ReFS) yet, so staging copies.
func clone(out, in *os.File) error { return ErrNoReflink }
