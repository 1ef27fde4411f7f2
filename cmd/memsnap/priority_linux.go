//go:build linux

package main

import "errors"
import "fmt"
import "os"
import "strconv"

import "golang.org/x/sys/unix"

// lowerPriority sets every thread of this process to nice level n (threads
// started later inherit it from the thread that starts them). Linux keeps
// the nice value per thread, so the process's main thread alone is not
// enough. A thread started by one not yet lowered keeps the old level, so
// the threads are listed again until a pass finds none it has not set: a
// thread started before its starter was lowered exists by the end of the
// pass that lowered the starter, and the next pass finds it.
func lowerPriority(n int) error {
	if n == 0 {
		return nil
	}
	done := map[int]bool{}
	for {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("list threads: %w", err)
		}
		found := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || done[tid] {
				continue
			}
			found, done[tid] = true, true
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, n); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("set nice %d on thread %d: %w", n, tid, err)
			}
		}
		if !found {
			return nil
		}
	}
}
