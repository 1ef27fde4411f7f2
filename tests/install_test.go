package tests

import "archive/zip"
import "bytes"
import "debug/pe"
import "io"
import "maps"
import "os"
import "os/exec"
import "path/filepath"
import "runtime"
import "slices"
import "strings"
import "testing"

// Issue 15, done-when 1: 'make install PREFIX=...' gives a tree that runs
// from anywhere: moved elsewhere, its memsnap still finds the Kuzu library
// (a RUNPATH relative to the binary, none into the module cache), prints
// its versions and answers a query.
func TestInstallIsRelocatable(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "prefix")
	makeInstall(t, prefix, "readelf")
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

// makeInstall runs 'make install PREFIX=prefix' from the repository's root
// and returns what it printed. It skips t when make, patchelf (which make
// install runs) or one of the other tools the test needs is not installed.
func makeInstall(t *testing.T, prefix string, tools ...string) []byte {
	t.Helper()
	for _, tool := range append([]string{"make", "patchelf"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed ('make patchelf' installs patchelf; readelf is in binutils)", tool)
		}
	}
	cmd := exec.Command("make", "--no-print-directory", "install", "PREFIX="+prefix)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	return out
}

// Issue 26, done-when 1: 'make dist-windows' (part of make dist) gives a
// zip holding memsnap\memsnap.exe, a PE32+ amd64 executable whose manifest
// sets UTF-8 as its code page, with kuzu_shared.dll beside it.
func TestWindowsDist(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Windows cross-build runs on Linux")
	}
	for _, tool := range []string{"make", "x86_64-w64-mingw32-gcc", "x86_64-w64-mingw32-windres"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed ('make mingw' installs Debian's gcc-mingw-w64-x86-64)", tool)
		}
	}
	dist := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "dist-windows", "DISTDIR="+dist, "VERSION=test")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist-windows: %v\n%s", err, out)
	}
	zr, err := zip.OpenReader(filepath.Join(dist, "memsnap-test-windows-amd64.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	if files["memsnap/kuzu_shared.dll"] == nil || files["memsnap/memsnap.exe"] == nil {
		t.Fatalf("zip holds %v, want memsnap/memsnap.exe and memsnap/kuzu_shared.dll", slices.Sorted(maps.Keys(files)))
	}
	rc, err := files["memsnap/memsnap.exe"].Open()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := pe.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatalf("memsnap.exe is not a PE file: %v", err)
	}
	if _, ok := pf.OptionalHeader.(*pe.OptionalHeader64); !ok || pf.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
		t.Errorf("memsnap.exe: machine %#x, optional header %T; want PE32+ for amd64", pf.Machine, pf.OptionalHeader)
	}
	rsrc := pf.Section(".rsrc")
	if rsrc == nil {
		t.Fatal("memsnap.exe has no resources: its manifest is missing")
	}
	data, err := rsrc.Data()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("<activeCodePage")) || !bytes.Contains(data, []byte(">UTF-8</activeCodePage>")) {
		t.Error("memsnap.exe's manifest does not set UTF-8 as the active code page")
	}
}
