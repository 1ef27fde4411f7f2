//go:build windows

package bench

import "os"
import "os/exec"
import "syscall"

// newGroup starts cmd in a console process group of its own. Windows has
// no process group signals: killGroup and termGroup end only pid itself
// (the benchmark's children start no processes of their own).
func newGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// killGroup ends process pid (TerminateProcess).
func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// termKills: termGroup ends the process rather than asking it to stop.
const termKills = true

// termGroup ends process pid at once: Windows cannot ask a console-less
// process to stop, so it is killGroup.
func termGroup(pid int) error { return killGroup(pid) }
