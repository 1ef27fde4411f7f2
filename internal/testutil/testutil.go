// Package testutil holds the few helpers tests share across packages.
//
// TempDir is t.TempDir that also cleans up under Wine: with Go 1.26,
// os.RemoveAll fails under Wine 8.0 ("unlinkat ...: Invalid function": it
// deletes through NtSetInformationFile with POSIX semantics, which Wine 8
// refuses with a status Go does not fall back on), and so does t.TempDir's
// own cleanup. os.Remove of a file or of an empty directory works there, so
// under Wine TempDir first removes the tree deepest first. On Linux, macOS and
// real Windows it is t.TempDir, nothing more. (make wintest also builds with an
// overlay of Go that makes os.RemoveAll work under Wine; TempDir serves test
// binaries built without it.)
package testutil

import "errors"
import "io/fs"
import "os"
import "os/exec"
import "path/filepath"
import "runtime"
import "slices"
import "sync"
import "testing"

var (
	// mu guards cleaned.
	mu sync.Mutex
	// cleaned holds the tests whose temp root already has a cleanup.
	cleaned = map[testing.TB]bool{}
)

// OnWine reports whether the process runs under Wine (Windows builds only;
// false elsewhere). It looks for ntdll.dll's wine_get_version export, which
// Windows' ntdll lacks.
func OnWine() bool { return onWine() }

// TempDir returns t.TempDir(). Under Wine it also registers, once per test, a
// cleanup that removes the test's temp root (the parent of every directory
// t.TempDir gives that test) deepest first with os.Remove. t.Cleanup runs
// cleanups last-registered first, so this one runs before t.TempDir's own
// RemoveAll, which then finds nothing left. Files still open when the test
// ends cannot be deleted on Windows: the cleanup reports them as errors.
func TempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if !OnWine() {
		return dir
	}
	mu.Lock()
	done := cleaned[t]
	cleaned[t] = true
	mu.Unlock()
	if !done {
		root := filepath.Dir(dir)
		t.Cleanup(func() {
			mu.Lock()
			delete(cleaned, t)
			mu.Unlock()
			if err := RemoveTree(root); err != nil {
				t.Errorf("testutil: removing %s under Wine: %v", root, err)
			}
		})
	}
	return dir
}

// RemoveTree removes path and everything under it with os.Remove, children
// before their directory, so it needs no more of the system than deleting one
// file or one empty directory. A missing path is not an error; otherwise it
// returns the first error met (and goes on removing what it can).
func RemoveTree(path string) error {
	var paths []string
	err := filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p) // a directory comes before its entries
		return nil
	})
	if os.IsNotExist(err) && len(paths) == 0 {
		return nil
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if rerr := os.Remove(paths[i]); rerr != nil && !os.IsNotExist(rerr) && err == nil {
			err = rerr
		}
	}
	return err
}

// Symlink makes newname a symbolic link to oldname, or skips the test, saying
// why, where the system makes none: on Windows creating one needs a privilege
// (or Developer Mode) that a test may lack, and under Wine 8.0
// CreateSymbolicLinkW reports success and creates nothing (the link then is
// "File not found"). Elsewhere a failure fails the test.
func Symlink(t testing.TB, oldname, newname string) {
	t.Helper()
	if err := os.Symlink(oldname, newname); err != nil {
		if runtime.GOOS == "windows" {
			t.Skipf("this system makes no symlink (%v): the symlink check is not tested here", err)
		}
		t.Fatal(err)
	}
	if _, err := os.Lstat(newname); errors.Is(err, fs.ErrNotExist) && OnWine() {
		t.Skipf("Wine reported the symlink %s made, but there is none (Wine 8.0's CreateSymbolicLinkW creates nothing): the symlink check is not tested here", newname)
	} else if err != nil {
		t.Fatalf("the symlink just made: %v", err)
	}
}

// SkipKuzuExecErrorOnWine skips t under Wine, saying why: there a Kuzu error
// raised while a query executes (a duplicate primary key, a failed cast, a
// timeout or an interrupt) ends the whole process ("unable to dispatch
// exception") instead of returning an error; errors Kuzu finds before
// execution return normally. what names the error the test raises. Real
// Windows was not tried.
func SkipKuzuExecErrorOnWine(t testing.TB, what string) {
	t.Helper()
	if OnWine() {
		t.Skipf("under Wine a Kuzu error raised during query execution (here: %s) ends the process (\"unable to dispatch exception\"): not tested under Wine", what)
	}
}

// SameElements reports whether a and b hold the same strings, each as
// many times, in any order.
func SameElements(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Map returns f of each element of s, in order (an empty slice for an
// empty s).
func Map[T, U any](s []T, f func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// ExitedPID starts the running test binary to run no test, waits for it to
// exit and returns its pid: the pid of a process that has ended (and that
// the system is unlikely to give to another process during the test).
func ExitedPID(t testing.TB) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// FlipByte inverts one byte of the file at path in place, as bit rot
// would: the byte at offset at(size), size being the file's.
func FlipByte(t testing.TB, path string, at func(size int64) int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	off := at(info.Size())
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// Middle is the offset of the middle byte of a file of size bytes, for
// FlipByte; Last that of its last byte.
func Middle(size int64) int64 { return size / 2 }

// Last: see Middle.
func Last(size int64) int64 { return size - 1 }

// WriteFile writes content to the file at path (created 0600, or
// truncated) and returns path; it fails t if it cannot.
func WriteFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
