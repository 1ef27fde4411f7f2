//go:build unix && !linux

package main

import "fmt"

import "golang.org/x/sys/unix"

// lowerPriority sets this process's nice level to n (these systems keep it
// per process).
func lowerPriority(n int) error {
	if n == 0 {
		return nil
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, n); err != nil {
		return fmt.Errorf("set nice %d: %w", n, err)
	}
	return nil
}
