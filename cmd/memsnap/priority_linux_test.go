package main

import "os"
import "strconv"
import "strings"
import "testing"

// TestLowerPriorityReachesEveryThread checks that writer.nice applies to
// all of a process's threads, not only the one that asked (Linux keeps nice
// per thread).
func TestLowerPriorityReachesEveryThread(t *testing.T) {
	if err := lowerPriority(7); err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) < 2 {
		t.Fatalf("only %d threads: nothing to check", len(tasks))
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			continue // the thread has exited
		}
		// Fields after the command name (which ends with ')'): nice is the 19th
		// field of the line, the 17th after the name.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if nice, _ := strconv.Atoi(f[16]); nice < 7 {
			t.Errorf("thread %s runs at nice %d, want at least 7", task.Name(), nice)
		}
	}
}
