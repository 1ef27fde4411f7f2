//go:build !linux

package reader

// hasBirthTime is false outside Linux: the Verifier there trusts nothing
// it read before (see snapshot's idof_other.go).
func hasBirthTime(string) bool { return false }
