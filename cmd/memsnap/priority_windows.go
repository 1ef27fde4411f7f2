//go:build windows

package main

import "fmt"

import "golang.org/x/sys/windows"

// lowerPriority puts this process in the below-normal priority class when
// n > 0 (Windows has classes, not nice levels: every n from 1 to 19 is the
// same class); n <= 0 changes nothing.
func lowerPriority(n int) error {
	if n <= 0 {
		return nil
	}
	if err := windows.SetPriorityClass(windows.CurrentProcess(), windows.BELOW_NORMAL_PRIORITY_CLASS); err != nil {
		return fmt.Errorf("set priority class below normal: %w", err)
	}
	return nil
}
