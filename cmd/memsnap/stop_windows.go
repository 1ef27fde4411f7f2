//go:build windows

package main

import "os"

// stopKills is true on Windows: a process without a console cannot be
// asked to stop, so stopProcess kills it (TerminateProcess) and its exit
// status says nothing.
const stopKills = true

func stopProcess(p *os.Process) error { return p.Kill() }
