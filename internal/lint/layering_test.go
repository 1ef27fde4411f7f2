package lint

import "os/exec"
import "strings"
import "testing"

const module = "github.com/memsnap/memsnap"

// rule forbids packages under one tree to depend, directly or not, on
// packages under others.
type rule struct {
	from   string   // package path prefix, relative to the module
	not    []string // forbidden dependency prefixes, relative to the module
	reason string
}

// rules is the layering of docs/ARCHITECTURE.md ("Layering"): the read and
// write paths never import each other, the producer side builds on the
// writer and never the reverse, the library packages never import config
// (the command line builds their Options), and the engine rooms under
// internal/ know nothing of the flow. A rule's from covers the packages
// below it: "writer" holds writer/producer too.
var rules = []rule{
	{"reader", []string{"writer", "config", "cmd"}, "the read path never depends on the write path or on config"},
	{"writer", []string{"reader", "config", "cmd"}, "the write path never depends on the read path or on config"},
	{"writer", []string{"writer/producer"}, "the producer side builds on the writer, never the reverse"},
	{"snapshot", []string{"reader", "writer", "config", "cmd"}, "the store layout knows no reader, writer or config"},
	{"internal/", []string{"reader", "writer", "snapshot", "config", "cmd"}, "engine rooms know nothing of the flow"},
}

// deps maps every package of the module to its dependencies, as go list
// -deps sees them (test files excluded).
func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[f[0]] = f[1:]
	}
	return m
}

// under reports whether pkg is the module package rel or inside it ("internal/"
// matches every package below internal).
func under(pkg, rel string) bool {
	p := module + "/" + rel
	if strings.HasSuffix(rel, "/") {
		return strings.HasPrefix(pkg, p)
	}
	return pkg == p || strings.HasPrefix(pkg, p+"/")
}

func TestLayering(t *testing.T) {
	all := deps(t)
	checked := 0
	for pkg, ds := range all {
		for _, r := range rules {
			if !under(pkg, r.from) {
				continue
			}
			checked++
			for _, d := range ds {
				for _, bad := range r.not {
					if under(d, bad) {
						t.Errorf("%s depends on %s: %s", strings.TrimPrefix(pkg, module+"/"), strings.TrimPrefix(d, module+"/"), r.reason)
					}
				}
			}
		}
	}
	if checked < 8 {
		t.Fatalf("checked only %d packages: go list found %d; is the module path right?", checked, len(all))
	}
}

// The domain model is shared by both paths and imports nothing of memsnap.
func TestModelImportsNothingOfMemsnap(t *testing.T) {
	for _, d := range deps(t)[module+"/internal/model"] {
		if strings.HasPrefix(d, module) {
			t.Errorf("internal/model depends on %s", d)
		}
	}
}

// The rules catch what they are meant to: a fake graph where reader
// imports writer breaks the first rule.
func TestUnder(t *testing.T) {
	for _, c := range []struct {
		pkg, rel string
		want     bool
	}{
		{module + "/reader", "reader", true},
		{module + "/readers", "reader", false},
		{module + "/internal/model", "internal/", true},
		{module + "/cmd/memsnap/internal/bench", "internal/", false},
		{module + "/writer", "reader", false},
		{module + "/writer/producer", "writer", true},
		{module + "/writer", "writer/producer", false},
	} {
		if got := under(c.pkg, c.rel); got != c.want {
			t.Errorf("under(%s, %s) = %v", c.pkg, c.rel, got)
		}
	}
}
