package tests

import "bytes"
import "os"
import "os/exec"
import "path/filepath"
import "runtime"
import "strings"
import "testing"

// refsuiteModules is where 'make refsuite-deps' installs the reference
// suite's npm packages (make test installs them first, when npm can).
var refsuiteModules = filepath.Join("..", ".refsuite", "node_modules")

// Issue 28, Done when 2: the reference memory server's own vitest suite
// (testdata/third_party/refsuite/__tests__, its files unchanged), run against the memsnap
// binary under test through the official TypeScript MCP client: every
// applicable test passes, and the tests excluded as not applicable are
// exactly those testdata/third_party/refsuite/excluded.json lists with its reasons
// (run.sh fails otherwise). Each test of the suite gets fresh stores; a
// second manager on the same memory file is a second 'memsnap mcp' process
// on the same store, which reads what the first one acknowledged. Skips,
// saying why, without node or the suite's packages ('make refsuite-deps'
// installs them; make test runs it).
func TestReferenceSuite(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the suite runs through testdata/third_party/refsuite/run.sh, a POSIX sh script")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: cannot run the reference suite (install Node.js 20+, then 'make refsuite-deps')")
	}
	if _, err := os.Stat(filepath.Join(refsuiteModules, "vitest", "vitest.mjs")); err != nil {
		t.Skipf("the reference suite's npm packages are not installed (%v): run 'make refsuite-deps'", err)
	}
	ctx := testContext(t)
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.CommandContext(ctx, "sh", filepath.Join("..", "testdata", "third_party", "refsuite", "run.sh"), bin, refsuiteModules, report)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	// run.sh ends with counts.mjs's summary (failures, problems, counts)
	// after vitest's own output, which is shown only on failure.
	summary := out.String()
	if i := strings.LastIndex(summary, "== refsuite summary\n"); i >= 0 {
		summary = summary[i:]
	}
	if err != nil {
		t.Fatalf("the reference suite failed (%v):\n%s\n%s", err, out.String(), summary)
	}
	t.Log(summary)
}
