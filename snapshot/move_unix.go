//go:build !windows

package snapshot

// releaseBeforeMove: see moveUnpinned.
const releaseBeforeMove = false
