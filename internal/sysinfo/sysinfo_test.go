package sysinfo

import "os"
import "runtime"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"

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
	if alive, ok := ProcessAlive(testutil.ExitedPID(t)); alive || !ok {
		t.Fatalf("ProcessAlive(exited child) = %v, %v", alive, ok)
	}
}
