package sysinfo

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

func TestTotalRAMAndFreeBytes(t *testing.T) {
	if runtime.GOOS == "linux" && TotalRAM() == 0 {
		t.Fatal("TotalRAM is 0 on Linux")
	}
	free, err := FreeBytes(t.TempDir())
	if err != nil || free <= 0 {
		t.Fatalf("FreeBytes = %d, %v", free, err)
	}
	if _, err := FreeBytes("/no/such/dir"); err == nil {
		t.Fatal("FreeBytes of a missing directory: no error")
	}
}

// TestProcessAlive: this process runs; a child that exited and was waited
// for does not.
func TestProcessAlive(t *testing.T) {
	if alive, ok := ProcessAlive(os.Getpid()); !alive || !ok {
		t.Fatalf("ProcessAlive(self) = %v, %v", alive, ok)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if alive, ok := ProcessAlive(cmd.Process.Pid); alive || !ok {
		t.Fatalf("ProcessAlive(exited child) = %v, %v", alive, ok)
	}
}
