package bench

import "context"
import "encoding/json"
import "fmt"
import "log/slog"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "sync"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// referenceScript is where 'make reference' installs the reference server's
// entry script, relative to the repository root.
var referenceScript = filepath.Join(".reference", "node_modules", "@modelcontextprotocol", "server-memory", "dist", "index.js")

// referenceHowTo says how to get the reference column.
const referenceHowTo = "run 'make reference' (npm installs @modelcontextprotocol/server-memory@2026.8.31 into .reference/) " +
	"or pass --reference PATH/dist/index.js"

// findReference returns the reference server's entry script to run with
// node, or "" and a note saying why there is none. An explicit path wins;
// otherwise .reference/ is looked for under the working directory and beside
// the directory holding the memsnap binary (bin/memsnap -> .reference/).
func findReference(explicit, exe string) (script, note string) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", "reference column skipped: node is not on PATH (install Node.js 18+, then " + referenceHowTo + ")"
	}
	if explicit != "" {
		if !fileExists(explicit) {
			return "", fmt.Sprintf("reference column skipped: %s does not exist (%s)", explicit, referenceHowTo)
		}
		abs, err := filepath.Abs(explicit)
		if err != nil {
			return "", fmt.Sprintf("reference column skipped: %v", err)
		}
		return abs, ""
	}
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if exe != "" {
		dirs = append(dirs, filepath.Dir(filepath.Dir(exe)))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, referenceScript); fileExists(p) {
			return p, ""
		}
	}
	return "", "reference column skipped: the reference server is not installed; " + referenceHowTo
}

// tailBuffer keeps the last bytes a child process wrote to stderr, for error
// messages; it is safe to read while the process still writes.
type tailBuffer struct {
	mu sync.Mutex // guards b
	b  []byte
}

const tailMax = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append([]byte(nil), t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

// lastLine is the last non-empty line written.
func (t *tailBuffer) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// mcpServer is one MCP server child process and the harness's client
// session with it (the official Go SDK over stdio).
type mcpServer struct {
	name   string
	cmd    *exec.Cmd
	cs     *mcp.ClientSession
	stderr *tailBuffer
	log    *slog.Logger
}

// startMCP starts cmd as an MCP server in its own process group and connects
// to it.
func startMCP(ctx context.Context, log *slog.Logger, name string, cmd *exec.Cmd) (*mcpServer, error) {
	s := &mcpServer{name: name, cmd: cmd, stderr: &tailBuffer{}, log: log}
	cmd.Stderr = s.stderr
	newGroup(cmd)
	cmd.WaitDelay = 5 * time.Second // a grandchild holding stderr must not stall Wait
	client := mcp.NewClient(&mcp.Implementation{Name: "memsnap-bench", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 3 * time.Second}, nil)
	if err != nil {
		if cmd.Process != nil {
			_ = killGroup(cmd.Process.Pid)
		}
		return nil, fmt.Errorf("connect to %s: %w (stderr: %s)", name, err, s.stderr.lastLine())
	}
	s.cs = cs
	return s, nil
}

// close ends the session (stdin closed, then SIGTERM, then SIGKILL, as the
// SDK does) and, should that not finish within a minute or leave the process
// running, kills its process group by the pid the harness started.
func (s *mcpServer) close() {
	done := make(chan error, 1)
	go func() { done <- s.cs.Close() }()
	select {
	case err := <-done:
		if err != nil {
			s.log.Debug("mcp server closed with an error", "server", s.name, "error", err, "stderr", s.stderr.lastLine())
		}
		if s.cmd.ProcessState != nil {
			return
		}
	case <-time.After(time.Minute):
	}
	_ = killGroup(s.cmd.Process.Pid)
}

// call runs one tool and returns its text; a protocol error or a tool error
// is an error naming the server and the tool.
func (s *mcpServer) call(ctx context.Context, tool string, args any) (string, error) {
	_, text, err := s.callResult(ctx, tool, args)
	return text, err
}

// callResult is call that also returns the whole result (nil on a protocol
// error), for the size of the answer as sent.
func (s *mcpServer) callResult(ctx context.Context, tool string, args any) (*mcp.CallToolResult, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res, err := s.cs.CallTool(cctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w (stderr: %s)", s.name, tool, err, s.stderr.lastLine())
	}
	var text strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	if res.IsError {
		return res, text.String(), fmt.Errorf("%s %s: tool error: %s", s.name, tool, truncate(text.String(), 200))
	}
	return res, text.String(), nil
}

// timedCall is call measured client-side, in milliseconds.
func (s *mcpServer) timedCall(ctx context.Context, tool string, args any) (float64, error) {
	t := time.Now()
	if _, err := s.call(ctx, tool, args); err != nil {
		return 0, err
	}
	return float64(time.Since(t).Microseconds()) / 1000, nil
}

// hasEntity asks the server (open_nodes) whether entity name exists.
func (s *mcpServer) hasEntity(ctx context.Context, name string) (bool, error) {
	text, err := s.call(ctx, "open_nodes", map[string]any{"names": []string{name}})
	if err != nil {
		return false, err
	}
	var g struct {
		Entities []struct {
			Name string `json:"name"`
		} `json:"entities"`
	}
	if err := json.Unmarshal([]byte(text), &g); err != nil {
		return false, fmt.Errorf("%s open_nodes: answer is not a graph: %w: %s", s.name, err, truncate(text, 200))
	}
	for _, e := range g.Entities {
		if e.Name == name {
			return true, nil
		}
	}
	return false, nil
}
