package tests

import "context"
import "encoding/json"
import "os/exec"
import "path/filepath"
import "runtime"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// Issue 30, done-when 3: 'make install PREFIX=...' ends by printing the MCP
// client configuration, Claude Desktop's and VS Code's, with the installed
// binary's absolute path; started from that configuration by a client whose
// PATH has no entry for PREFIX/bin, 'memsnap mcp' answers initialize and
// tools/list. make install copies bin/memsnap, so a fresh one is not built
// again.
func TestInstallPrintsClientConfig(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("make install builds the Linux tree")
	}
	dir := t.TempDir()
	prefix := filepath.Join(dir, "prefix")
	out := makeInstall(t, prefix)
	installed := filepath.Join(prefix, "bin", "memsnap")
	for _, shape := range []struct {
		header, key, typ string
	}{
		{"\nClaude Desktop (", "mcpServers", ""},
		{"\nVS Code (", "servers", "stdio"},
	} {
		_, rest, ok := strings.Cut(string(out), shape.header)
		if !ok {
			t.Fatalf("make install printed no %q configuration:\n%s", strings.TrimSpace(shape.header), out)
		}
		var conf map[string]map[string]struct {
			Type    string   `json:"type"`
			Command string   `json:"command"`
			Args    []string `json:"args"`
		}
		if err := json.NewDecoder(strings.NewReader(rest[strings.Index(rest, "{"):])).Decode(&conf); err != nil {
			t.Fatalf("the %s configuration is not JSON: %v\n%s", shape.key, err, rest)
		}
		server, ok := conf[shape.key]["memory"]
		if !ok || server.Command != installed || server.Type != shape.typ || !slices.Equal(server.Args, []string{"mcp"}) {
			t.Fatalf("the %s configuration is %+v, want command %s, type %q, args [mcp]", shape.key, conf, installed, shape.typ)
		}
		// The client: PATH without PREFIX/bin, HOME and the store in the
		// test's directory (never the user's store).
		home := filepath.Join(dir, "home-"+shape.key)
		c := exec.Command(server.Command, server.Args...)
		c.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "MEMSNAP_STORE=" + filepath.Join(home, "store"), "MEMSNAP_LOG_LEVEL=warn"}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		client := mcp.NewClient(&mcp.Implementation{Name: "install-test", Version: "1"}, nil)
		cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: c}, nil)
		if err != nil {
			cancel()
			t.Fatalf("start memsnap mcp from the %s configuration: %v", shape.key, err)
		}
		tools, err := cs.ListTools(ctx, &mcp.ListToolsParams{})
		cs.Close()
		cancel()
		if err != nil {
			t.Fatalf("tools/list from the %s configuration: %v", shape.key, err)
		}
		var names []string
		for _, tool := range tools.Tools {
			names = append(names, tool.Name)
		}
		if !slices.Contains(names, "create_entities") || !slices.Contains(names, "recent_changes") {
			t.Errorf("tools/list from the %s configuration: %v", shape.key, names)
		}
	}
}
