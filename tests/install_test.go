package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 15, done-when 1: 'make install PREFIX=...' gives a tree that runs
// from anywhere: moved elsewhere, its memsnap still finds the Kuzu library
// (a RUNPATH relative to the binary, none into the module cache), prints
// its versions and answers a query.
func TestInstallIsRelocatable(t *testing.T) {
	for _, tool := range []string{"make", "patchelf", "readelf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed ('make patchelf' installs patchelf; readelf is in binutils)", tool)
		}
	}
	dir := t.TempDir()
	prefix := filepath.Join(dir, "prefix")
	cmd := exec.Command("make", "--no-print-directory", "install", "PREFIX="+prefix)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	moved := filepath.Join(dir, "elsewhere", "memsnap")
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(prefix, moved); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(moved, "bin", "memsnap")
	out, err := exec.Command("readelf", "-d", exe).CombinedOutput()
	if err != nil {
		t.Fatalf("readelf: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "RUNPATH") || strings.Contains(line, "RPATH") {
			if !strings.Contains(line, "[$ORIGIN/../lib/memsnap]") {
				t.Errorf("the binary's search path is not relative to it: %s", strings.TrimSpace(line))
			}
		}
	}
	run := func(args ...string) string {
		t.Helper()
		c := exec.Command(exe, args...)
		c.Env = append(os.Environ(), "LD_LIBRARY_PATH=")
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("moved memsnap %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if v := run("version"); !strings.Contains(v, "kuzu    0.11.3") {
		t.Errorf("version: %s", v)
	}
	store := filepath.Join(dir, "store")
	run("--store", store, "init")
	if q := run("--store", store, "query", "RETURN 40 + 2"); !strings.Contains(q, "42") {
		t.Errorf("query: %s", q)
	}
}
