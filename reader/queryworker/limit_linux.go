//go:build linux

package queryworker

import "fmt"
import "os"
import "os/exec"
import "strconv"
import "strings"
import "syscall"

import "golang.org/x/sys/unix"

// raiseDataLimit lifts the worker's data limit to its hard limit before a
// snapshot opens (Kuzu reserves its address space then).
func raiseDataLimit() {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_DATA, &lim) == nil && lim.Cur != lim.Max {
		lim.Cur = lim.Max
		_ = unix.Setrlimit(unix.RLIMIT_DATA, &lim)
	}
}

// limitData sets the data limit to what is mapped now plus what the cap
// leaves once the resident set and the buffer pool are counted.
func limitData(capBytes, pool int64) error {
	st, err := readStatus(os.Getpid())
	if err != nil {
		return err
	}
	room := capBytes - st.rss - pool
	if room < 32<<20 {
		room = 32 << 20
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_DATA, &lim); err != nil {
		return err
	}
	want := uint64(st.data + room)
	if lim.Max != unix.RLIM_INFINITY && want > lim.Max {
		want = lim.Max
	}
	lim.Cur = want
	return unix.Setrlimit(unix.RLIMIT_DATA, &lim)
}

type procStatus struct{ rss, data int64 } // bytes

// readStatus reads VmRSS and VmData of process pid.
func readStatus(pid int) (procStatus, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procStatus{}, err
	}
	var st procStatus
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			st.rss = n << 10
		case "VmData":
			st.data = n << 10
		}
	}
	return st, nil
}

// residentBytes is process pid's resident set, from /proc/PID/statm.
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("statm of %d: %q", pid, b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()), err
}

// exitHow says how a worker ended: the signal that crashed it, or its
// exit status.
func exitHow(ee *exec.ExitError) string {
	if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
		return "crashed with signal " + st.Signal().String()
	}
	return "exited with status " + strconv.Itoa(ee.ExitCode())
}
