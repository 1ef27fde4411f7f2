//go:build unix

package bench

import "os/exec"
import "syscall"

// newGroup starts cmd in a process group of its own, so that killGroup
// ends it with every process it started.
func newGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup SIGKILLs process group pid.
func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

// termKills: termGroup asks the processes to stop (SIGTERM); an exit
// status they give then is theirs.
const termKills = false

// termGroup SIGTERMs process group pid.
func termGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGTERM) }
