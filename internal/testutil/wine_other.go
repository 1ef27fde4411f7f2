//go:build !windows

package testutil

// onWine is false off Windows: Wine runs Windows binaries only.
func onWine() bool { return false }
