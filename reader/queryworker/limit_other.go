//go:build !linux && !windows

package queryworker

import "errors"
import "os/exec"
import "strconv"

// raiseDataLimit does nothing here: the data limit (RLIMIT_DATA) is the
// Linux cap (see limit_linux.go).
func raiseDataLimit() {}

// limitData sets no cap outside Linux and Windows: reader.query_max_memory_mb
// is not enforced there (the query timeout and row caps still are).
func limitData(capBytes, pool int64) error { return nil }

// residentBytes is not measured outside Linux and Windows, so the resident
// set watchdog stays idle.
func residentBytes(pid int) (int64, error) {
	return 0, errors.New("resident set not measured on this system")
}

// exitHow says how a worker ended: its exit status.
func exitHow(ee *exec.ExitError) string { return "exited with status " + strconv.Itoa(ee.ExitCode()) }
