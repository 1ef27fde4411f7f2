package mcpserver

import "bytes"
import "context"
import "encoding/json"
import "testing"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"

// oddStrings are strings encoding/json escapes in every way it can.
var oddStrings = []string{"", "plain", `"q" \ back`, "<a> & b", "line\nbreak\r\ttab", "\x01\x1f ctl",
	"\u2028 \u2029 seps", "bad \xff utf-8", "héllo wörld ✓ 𝄞", "\xe2\x80", "ends with \xe2"}

// The result encodeOnce hands the SDK is byte for byte what the SDK's own
// encoding of it gives (json.Marshal of the CallToolResult), for answers
// holding every kind of escape, with notes, metadata and errors; results
// it cannot write itself are left to the SDK.
func TestWireResultIsTheSDKs(t *testing.T) {
	g := chain(4, 20)
	for i, s := range oddStrings {
		g.Entities[i%4].Observations = append(g.Entities[i%4].Observations, s)
		g.Entities[(i+1)%4].Name += s
	}
	structured, text, err := encodeAnswer(graphOut{Entities: g.Entities, Relations: g.Relations})
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]*mcp.CallToolResult{
		"answer": {StructuredContent: json.RawMessage(structured), Content: []mcp.Content{&mcp.TextContent{Text: text}}},
		"with note and meta": {StructuredContent: json.RawMessage(structured), Meta: mcp.Meta{"memsnap/snapshot": 7, "z<": "&"},
			Content: []mcp.Content{&mcp.TextContent{Text: text}, &mcp.TextContent{Text: "a note <&>\u2028"}}},
		"error":         {IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "no such entity \"x\" \xff"}}},
		"empty":         {Content: []mcp.Content{}},
		"structured {}": {StructuredContent: json.RawMessage(`{}`), Content: []mcp.Content{&mcp.TextContent{Text: "{}"}}},
	}
	for _, s := range oddStrings {
		results["text "+s] = &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
	}
	for name, r := range results {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := wireResult(r)
		if !ok {
			t.Errorf("%s: not written", name)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: written\n%.300s\nthe SDK's\n%.300s", name, got, want)
		}
		if viaSDK, _ := json.Marshal(encodedResult{CallToolResult: r, raw: got}); !bytes.Equal(viaSDK, want) {
			t.Errorf("%s: encodedResult marshals as\n%.300s", name, viaSDK)
		}
	}
	for name, r := range map[string]*mcp.CallToolResult{
		"annotated":      {Content: []mcp.Content{&mcp.TextContent{Text: "x", Annotations: &mcp.Annotations{Priority: 1}}}},
		"image":          {Content: []mcp.Content{&mcp.ImageContent{Data: []byte("x"), MIMEType: "image/png"}}},
		"map structured": {StructuredContent: map[string]any{"a": 1}},
		"nil content":    {},
	} {
		if _, ok := wireResult(r); ok {
			t.Errorf("%s: written, want left to the SDK", name)
		}
	}
}

// appendIndented writes what json.Indent writes for json.Marshal's output:
// nested and empty objects and arrays, every escape, numbers, null.
func TestAppendIndentedIsJSONIndent(t *testing.T) {
	values := []any{
		map[string]any{}, []any{}, nil, 1.5, "s", oddStrings,
		map[string]any{"a": []any{}, "b": map[string]any{}, "c": []any{1, "x", nil, true, map[string]any{"d": oddStrings}}},
		graphOut{Entities: []reader.Entity{{Name: `"{[,:]}"`, Observations: oddStrings}}, Relations: model.NonNil[reader.Relation](nil)},
		queryOut{Rows: [][]any{{1, "a"}, {}}},
	}
	for _, v := range values {
		compact, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for base, prefix := range []string{"", "  ", "    "} {
			var want bytes.Buffer
			if err := json.Indent(&want, compact, prefix, "  "); err != nil {
				t.Fatal(err)
			}
			if got := appendIndented(nil, compact, base); !bytes.Equal(got, want.Bytes()) {
				t.Errorf("%s (prefix %q): indented\n%s\nwant\n%s", compact, prefix, got, want.Bytes())
			}
		}
	}
}

// encodeOnce hands the SDK a tools/call result encoded (the SDK's bytes)
// and leaves other methods' results and results it cannot write alone.
func TestEncodeOnceWrapsToolResults(t *testing.T) {
	s := &Server{}
	answer := &mcp.CallToolResult{StructuredContent: json.RawMessage(`{"a":"<"}`), Content: []mcp.Content{&mcp.TextContent{Text: "{\n  \"a\": \"\\u003c\"\n}"}}}
	image := &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{Data: []byte("x")}}}
	for _, c := range []struct {
		method  string
		res     mcp.Result
		wrapped bool
	}{{"tools/call", answer, true}, {"tools/call", image, false}, {"resources/read", &mcp.ReadResourceResult{}, false}} {
		got, err := s.encodeOnce(func(context.Context, string, mcp.Request) (mcp.Result, error) { return c.res, nil })(context.Background(), c.method, nil)
		if err != nil {
			t.Fatal(err)
		}
		enc, wrapped := got.(encodedResult)
		if wrapped != c.wrapped {
			t.Errorf("%s %T: wrapped %v, want %v", c.method, c.res, wrapped, c.wrapped)
			continue
		}
		if wrapped {
			want, _ := json.Marshal(c.res)
			if sent, _ := json.Marshal(got); !bytes.Equal(sent, want) || enc.CallToolResult != c.res {
				t.Errorf("sent %s, want %s", sent, want)
			}
		}
	}
}
