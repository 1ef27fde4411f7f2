//go:build !memsnap_failpoints

package fsutil

// fault is the fault-injection hook; without the memsnap_failpoints build
// tag it never injects anything and compiles away.
func fault(op, path string) error { return nil }
