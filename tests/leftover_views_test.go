package tests

import "bufio"
import "encoding/json"
import "io"
import "os"
import "path/filepath"
import "strings"
import "syscall"
import "testing"
import "time"

// TestLeftoverViews: an --at read builds its point of history under
// history/views/ and holds it while it reads (issue 29 trial, finding 7).
// One SIGKILLed mid-answer leaves its view; 'snapshots verify' names it,
// and the next --at read removes it once it is a minute old, but never
// the view of a read still under way, however old. A read whose output is
// cut (the reader of its pipe goes away) ends by its normal path and
// removes its own view.
func TestLeftoverViews(t *testing.T) {
	store := newStore(t)
	job, err := json.Marshal(bulkJob("view", 3000))
	if err != nil {
		t.Fatal(err)
	}
	point := historyWrite(t, store, string(job))
	historyWrite(t, store, `{"ops":[{"op":"create_entities","entities":[{"name":"later","entityType":"t"}]}]}`)
	views := filepath.Join(store, "history", "views")

	// Two exports of the point, each stopped after its first line: the
	// rest of the answer does not fit the pipe, so each waits with its
	// view built.
	start := func() (out io.ReadCloser, kill func()) {
		cmd := execMemsnap(store, historyEnv, "export", "--at", jsonNumber(point))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kill = func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() }
		t.Cleanup(kill)
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			t.Fatalf("first line of export --at: %v", err)
		}
		return out, kill
	}
	_, kill := start()
	live, _ := start()
	listViews := func() []string {
		dirs, err := filepath.Glob(filepath.Join(views, "view-*"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range dirs {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				out = append(out, d)
			}
		}
		return out
	}
	if n := len(listViews()); n != 2 {
		t.Fatalf("%d views while two --at reads wait, want 2", n)
	}
	kill()
	// Both views an hour old: only the killed read's is a leftover.
	old := time.Now().Add(-time.Hour)
	for _, d := range listViews() {
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
	}
	v := memsnap(t, store, nil, historyEnv, "snapshots", "verify")
	if v.code != 0 || !strings.Contains(v.stderr, "1 rebuilt point(s) of history left by --at reads") {
		t.Fatalf("snapshots verify with a killed read's view: exit %d: %s; want a warning naming one leftover", v.code, v.stderr)
	}
	historyRun(t, store, nil, "graph", "--json", "--at", jsonNumber(point))
	if n := len(listViews()); n != 1 {
		t.Fatalf("%d views after the next --at read, want 1: the live read's", n)
	}
	// The live read's output is cut: it ends and removes its view.
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(listViews()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the view of a read whose output was cut is still there: %v", listViews())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsonNumber(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestCutOutputEndsQuietly: a read whose standard output is closed after
// its first line (| head) ends with the shell's status for SIGPIPE (141)
// and no message, as it did before SIGPIPE was ignored for the cleanup of
// --at reads.
func TestCutOutputEndsQuietly(t *testing.T) {
	store := newStore(t)
	job, err := json.Marshal(bulkJob("cut", 3000))
	if err != nil {
		t.Fatal(err)
	}
	historyWrite(t, store, string(job))
	cmd := execMemsnap(store, historyEnv, "export")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("first line of export: %v", err)
	}
	out.Close() // the rest (several MB) does not fit the pipe
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 141 || stderr.Len() != 0 {
		t.Fatalf("export with its output cut: exit %d (%v), stderr %q; want 141 and nothing", code, err, stderr.String())
	}
}
