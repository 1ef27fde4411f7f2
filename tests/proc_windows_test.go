//go:build windows

package tests

import "os"
import "os/exec"
import "syscall"

// newProcessGroup starts cmd in a console process group of its own.
func newProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// killProcessGroup ends process pid (TerminateProcess). Windows has no
// group kill: the children of pid live on until they exit by themselves.
func killProcessGroup(pid int) error { return killPID(pid) }

// killPID ends process pid (TerminateProcess).
func killPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// setRecvBuffer sets a socket's receive buffer to n bytes.
func setRecvBuffer(fd uintptr, n int) {
	_ = syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
