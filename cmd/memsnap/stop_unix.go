//go:build unix

package main

import "os"
import "syscall"

// stopKills is false on Unix: stopProcess asks the process to stop
// (SIGTERM) and it exits cleanly.
const stopKills = false

func stopProcess(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
