//go:build windows

package queryworker

import "fmt"
import "os/exec"
import "strconv"
import "sync"
import "unsafe"

import "golang.org/x/sys/windows"

// raiseDataLimit does nothing on Windows: the cap there is a Job Object's
// process memory limit (limitData), which Kuzu's reserved but unused
// address space does not count against.
func raiseDataLimit() {}

var (
	jobOnce sync.Once
	job     windows.Handle
	jobErr  error
)

// limitData puts the worker in a Job Object (once) whose process memory
// limit, the memory the worker may commit, is capBytes: an allocation past
// it fails and the worker dies, and the parent reports a crash. pool is
// not subtracted: on Windows the buffer pool is committed only as it is
// used.
func limitData(capBytes, pool int64) error {
	jobOnce.Do(func() {
		job, jobErr = windows.CreateJobObject(nil, nil)
		if jobErr != nil {
			jobErr = fmt.Errorf("CreateJobObject: %w", jobErr)
			return
		}
		if err := windows.AssignProcessToJobObject(job, windows.CurrentProcess()); err != nil {
			jobErr = fmt.Errorf("AssignProcessToJobObject: %w", err)
		}
	})
	if jobErr != nil {
		return jobErr
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_PROCESS_MEMORY
	info.ProcessMemoryLimit = uintptr(capBytes)
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		return fmt.Errorf("SetInformationJobObject: %w", err)
	}
	return nil
}

// processMemoryCounters is PROCESS_MEMORY_COUNTERS (psapi.h).
type processMemoryCounters struct {
	cb                         uint32
	pageFaultCount             uint32
	peakWorkingSetSize         uintptr
	workingSetSize             uintptr
	quotaPeakPagedPoolUsage    uintptr
	quotaPagedPoolUsage        uintptr
	quotaPeakNonPagedPoolUsage uintptr
	quotaNonPagedPoolUsage     uintptr
	pagefileUsage              uintptr
	peakPagefileUsage          uintptr
}

var procGetProcessMemoryInfo = windows.NewLazySystemDLL("kernel32.dll").NewProc("K32GetProcessMemoryInfo")

// residentBytes is process pid's working set (GetProcessMemoryInfo), what
// the parent's watchdog compares with the cap.
func residentBytes(pid int) (int64, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return 0, fmt.Errorf("OpenProcess %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	c := processMemoryCounters{cb: uint32(unsafe.Sizeof(processMemoryCounters{}))}
	if r, _, err := procGetProcessMemoryInfo.Call(uintptr(h), uintptr(unsafe.Pointer(&c)), uintptr(c.cb)); r == 0 {
		return 0, fmt.Errorf("GetProcessMemoryInfo %d: %w", pid, err)
	}
	return int64(c.workingSetSize), nil
}

// exitHow says how a worker ended: its exit status (Windows has no
// signals; an access violation shows as status 0xC0000005).
func exitHow(ee *exec.ExitError) string {
	return "exited with status 0x" + strconv.FormatUint(uint64(uint32(ee.ExitCode())), 16)
}
