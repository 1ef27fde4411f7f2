// Package sysinfo asks the operating system what memsnap sizes itself by:
// the machine's memory, a filesystem's free space, and whether a process
// still runs. One file per system family holds the calls.
package sysinfo

// TotalRAM is the machine's physical memory in bytes, or 0 if it cannot
// be told (Linux: sysinfo(2); macOS: sysctl hw.memsize; Windows:
// GlobalMemoryStatusEx).
func TotalRAM() uint64 { return totalRAM() }

// FreeBytes is the free space, in bytes, that an unprivileged user can
// fill on the filesystem holding dir (Unix: statfs f_bavail; Windows:
// GetDiskFreeSpaceEx's bytes available to the caller, which counts quotas).
func FreeBytes(dir string) (int64, error) { return freeBytes(dir) }

// ProcessAlive reports whether process pid runs on this machine. It is
// advice for diagnostics (a pid can be reused); ok is false when it cannot
// tell (Unix: kill(pid, 0), where EPERM means alive; Windows: OpenProcess
// and GetExitCodeProcess).
func ProcessAlive(pid int) (alive, ok bool) { return processAlive(pid) }
