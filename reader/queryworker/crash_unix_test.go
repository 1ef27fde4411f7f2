//go:build unix

package queryworker

import "os"
import "syscall"

// crashSelf ends the test worker as a crash in Kuzu would: SIGSEGV.
func crashSelf() { _ = syscall.Kill(os.Getpid(), syscall.SIGSEGV) }
