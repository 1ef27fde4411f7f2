// Package buildinfo is the one source of memsnap's version and of the
// versions it was built with. It imports nothing of memsnap, so any package
// may use it.
package buildinfo

import "runtime"
import "runtime/debug"
import "strings"

// Version is memsnap's version: "dev" unless set at link time with
//
//	go build -ldflags "-X github.com/memsnap/memsnap/internal/buildinfo.Version=v1.2.3"
//
// as 'make build' does (from git describe). Manifests record it and the MCP
// server reports it.
var Version = "dev"

// kuzuModule is the Go binding of Kuzu. It has no Go function for the
// library's version; each of its releases ships the Kuzu library of the
// same version, so the module version is the library version.
const kuzuModule = "github.com/kuzudb/go-kuzu"

// KuzuVersion is the version of the Kuzu library linked in (e.g. "0.11.3"),
// read from the binary's build information, or "unknown" when the binary
// does not carry it (as in a test binary that does not link Kuzu).
func KuzuVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return moduleVersion(bi, kuzuModule)
}

// moduleVersion is the version of module path among bi's dependencies,
// following a replace directive, without the leading "v".
func moduleVersion(bi *debug.BuildInfo, path string) string {
	for _, d := range bi.Deps {
		if d.Path != path {
			continue
		}
		if d.Replace != nil {
			d = d.Replace
		}
		if d.Version == "" || d.Version == "(devel)" {
			return "unknown"
		}
		return strings.TrimPrefix(d.Version, "v")
	}
	return "unknown"
}

// GoVersion is the Go release the binary was built with (e.g. "go1.26.0").
func GoVersion() string { return runtime.Version() }
