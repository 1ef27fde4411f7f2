package lint

import "io/fs"
import "os"
import "path/filepath"
import "strings"
import "testing"

// TestFileInfoSysIsSyscallStat checks that no code asserts os.FileInfo.Sys()
// to x/sys/unix's Stat_t: Sys() holds a *syscall.Stat_t, so such an
// assertion always fails and the check behind it (a file's owner) is
// silently skipped, as it once was for the store's and job files' owners.
func TestFileInfoSysIsSyscallStat(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), ".Sys().(*"+"unix.Stat_t)") { // split: not to find itself
			t.Errorf("%s asserts FileInfo.Sys() to *unix.Stat_t, which it never is: use *syscall.Stat_t", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
