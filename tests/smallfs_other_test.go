//go:build !linux

package tests

import "fmt"

// smallFS needs a Linux mount namespace (see smallfs_test.go).
func smallFS(dir, memsnapBin string) int {
	fmt.Println("FAIL: the small-filesystem helper runs on Linux only")
	return 1
}
