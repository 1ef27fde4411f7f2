package lint

import "go/ast"
import "go/parser"
import "go/token"
import "io/fs"
import "path/filepath"
import "regexp"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/config"

// TestEnvNamesAreKnown checks that every MEMSNAP_* variable the product
// code names (outside tests) is one config.Load accepts: the EnvName of a
// key, or listed in config.OtherEnv. A variable read by the code but not
// listed would make every command refuse to start when it is set.
func TestEnvNamesAreKnown(t *testing.T) {
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[config.EnvName(k)] = true
	}
	for name := range config.OtherEnv {
		known[name] = true
	}
	re := regexp.MustCompile(`^"(MEMSNAP_[A-Z0-9_]+)`)
	root := filepath.Join("..", "..")
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata" || d.Name() == "tests" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0) // string literals only, not comments
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			for _, m := range re.FindAllStringSubmatch(lit.Value, -1) {
				found++
				if name := m[1]; !known[name] && !strings.HasPrefix(name, config.TestEnvPrefix) {
					t.Errorf("%s names %s, which config.Load refuses: add it to config.OtherEnv", path, name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no MEMSNAP_* names found: the walk is broken")
	}
}
