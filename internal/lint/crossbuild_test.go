package lint

import "os"
import "os/exec"
import "slices"
import "strings"
import "testing"

// kuzuModule is the one dependency that cannot cross-compile to macOS here:
// go-kuzu needs a macOS C toolchain, which these machines lack.
const kuzuModule = "github.com/kuzudb/go-kuzu"

// mingw is the C compiler of Debian's gcc-mingw-w64-x86-64 ('make test'
// installs it when missing).
const mingw = "x86_64-w64-mingw32-gcc"

// goCmd runs the go command with env added to this process's environment
// and fails the test with its output if it fails.
func goCmd(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s go %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, out)
	}
}

// TestBuildsForMacOS builds every package that does not depend on go-kuzu
// for macOS without cgo: a Linux-only call (unix.Flock's siblings that
// macOS lacks, /proc, statx, FICLONE) outside a file with a build tag
// fails it.
func TestBuildsForMacOS(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds skipped with -short")
	}
	var pure []string
	for pkg, d := range deps(t) {
		if !slices.ContainsFunc(d, func(p string) bool { return strings.HasPrefix(p, kuzuModule) }) {
			pure = append(pure, pkg)
		}
	}
	if len(pure) < 10 {
		t.Fatalf("only %d packages without go-kuzu: %v", len(pure), pure)
	}
	slices.Sort(pure)
	goCmd(t, []string{"GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=0"}, append([]string{"build"}, pure...)...)
}

// TestVetsForWindows runs go vet on the whole module, tests included, for
// Windows with cgo through mingw, with and without the failpoints tag:
// every package, go-kuzu's included, must type-check there. It skips,
// saying why, when mingw is not installed.
func TestVetsForWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds skipped with -short")
	}
	if _, err := exec.LookPath(mingw); err != nil {
		t.Skipf("skipped: %s not found (Debian package gcc-mingw-w64-x86-64; 'make test' installs it)", mingw)
	}
	env := []string{"GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=1", "CC=" + mingw}
	goCmd(t, env, "vet", module+"/...")
	goCmd(t, env, "vet", "-tags", "memsnap_failpoints", module+"/...")
}
