package buildinfo

import "runtime/debug"
import "testing"

func TestModuleVersion(t *testing.T) {
	bi := &debug.BuildInfo{Deps: []*debug.Module{
		{Path: "example.com/other", Version: "v9.9.9"},
		{Path: kuzuModule, Version: "v0.11.3"},
	}}
	if got := moduleVersion(bi, kuzuModule); got != "0.11.3" {
		t.Errorf("got %q, want 0.11.3", got)
	}
	bi.Deps[1].Replace = &debug.Module{Path: "../go-kuzu", Version: ""}
	if got := moduleVersion(bi, kuzuModule); got != "unknown" {
		t.Errorf("local replace: got %q, want unknown", got)
	}
	bi.Deps[1].Replace = &debug.Module{Path: "example.com/fork", Version: "v0.11.4"}
	if got := moduleVersion(bi, kuzuModule); got != "0.11.4" {
		t.Errorf("replaced: got %q, want 0.11.4", got)
	}
	if got := moduleVersion(&debug.BuildInfo{}, kuzuModule); got != "unknown" {
		t.Errorf("absent: got %q, want unknown", got)
	}
}
