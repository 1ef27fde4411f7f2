package mcpserver

import "context"
import "encoding/json"
import "errors"
import "fmt"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// ErrUnknownTool is returned by Call for a name no tool is registered under.
var ErrUnknownTool = errors.New("mcpserver: unknown tool")

// Tools lists the tools a Server registers, in registration order, with
// their names, titles, descriptions and schemas: what tools/list answers.
// It opens no store; the command line builds its help from it.
func Tools() []*mcp.Tool {
	s := &Server{mcp: mcp.NewServer(&mcp.Implementation{Name: "memory-server"}, nil)}
	s.register()
	return s.toolList
}

// Call runs the tool name in this process with args, its arguments as
// tools/call carries them (a JSON object), exactly as a tools/call that
// comes without a session runs it: the same argument checks, the same
// producer path for writes (durable enqueue with the predicted outcome, or
// the wait for the applied one, as mcp.write_ack says), the same answer.
// A tool that fails answers with IsError set and the reason as its text,
// as over MCP; the error is for a call that could not run at all
// (ErrUnknownTool for a name no tool has). Call Start first when writes
// are to be committed by this server.
func (s *Server) Call(ctx context.Context, name string, args json.RawMessage) (*mcp.CallToolResult, error) {
	h := s.tools[name]
	if h == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownTool, name)
	}
	return h(ctx, &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: name, Arguments: args}})
}
