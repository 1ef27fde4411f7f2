//go:build windows

package main

import "github.com/memsnap/memsnap/internal/sysinfo"

// parentGone reports whether the process that started this one (pid
// parent) has exited. Windows never hands a process to another parent, so
// it asks whether pid parent still runs (a reused pid keeps the worker
// until its stdin closes, which also ends it).
func parentGone(parent int) bool {
	alive, known := sysinfo.ProcessAlive(parent)
	return known && !alive
}
