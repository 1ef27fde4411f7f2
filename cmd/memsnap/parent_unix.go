//go:build unix

package main

import "os"

// parentGone reports whether the process that started this one (pid
// parent) has exited: this process was handed to another parent.
func parentGone(parent int) bool { return os.Getppid() != parent }
