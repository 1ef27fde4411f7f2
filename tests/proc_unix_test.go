//go:build unix

package tests

import "os/exec"
import "syscall"

// newProcessGroup starts cmd in a process group of its own, so that
// killProcessGroup ends it with its children.
func newProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killProcessGroup SIGKILLs process group pid.
func killProcessGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

// killPID SIGKILLs process pid.
func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// setRecvBuffer sets a socket's receive buffer to n bytes.
func setRecvBuffer(fd uintptr, n int) {
	_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
