package mcpserver

// A tool's answer as sent, encoded once. The MCP Go SDK would encode a
// tools/call result three times over: CallToolResult.MarshalJSON escapes
// the text content and compacts the structured content again, the JSON-RPC
// layer compacts the whole result once more (encoding/json checks every
// json.Marshaler's output), and the transport compacts the whole message
// a third time. For a broad search (2 MiB as sent at 10k entities) that was
// most of the server's time per call. encodeOnce writes the result's bytes
// itself (the same bytes json.Marshal gives: TestWireResultIsTheSDKs), so
// that the SDK's JSON-RPC layer compacts them once, and linerpc writes the
// message around them without a further pass.

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "unicode/utf8"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// encodedResult is a tools/call result with its encoding made: raw is
// json.Marshal of the embedded result, written by wireResult.
type encodedResult struct {
	*mcp.CallToolResult
	raw []byte
}

// MarshalJSON implements json.Marshaler: the encoding made.
func (r encodedResult) MarshalJSON() ([]byte, error) { return r.raw, nil }

// encodeOnce is the receiving middleware that hands the SDK each
// tools/call result already encoded (wireResult); a result it cannot
// encode goes as it is.
func (s *Server) encodeOnce(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		if err != nil || method != "tools/call" {
			return res, err
		}
		if r, ok := res.(*mcp.CallToolResult); ok && r != nil {
			if r.IsError {
				r = fitError(r, s.answerCap())
			}
			if raw, ok := wireResult(r); ok {
				return encodedResult{CallToolResult: r, raw: raw}, nil
			}
		}
		return res, err
	}
}

// contentPrefix starts the encoding of a CallToolResult with no _meta and
// an empty content list: its other fields follow.
var contentPrefix = []byte(`{"content":[]`)

// wireResult is json.Marshal(r), written in one pass over its text and
// structured content, for a result whose structured content is the
// json.RawMessage json.Marshal made (compact, HTML-escaped: what addTool
// sets) or absent, and whose content is text alone (no annotations or
// _meta; a nil list is left to the SDK, which writes null). ok is false
// for any other result.
func wireResult(r *mcp.CallToolResult) (raw []byte, ok bool) {
	structured, isRaw := r.StructuredContent.(json.RawMessage)
	if r.Content == nil || r.StructuredContent != nil && (!isRaw || len(structured) == 0) {
		return nil, false
	}
	size := len(structured) + 64
	for _, c := range r.Content {
		t, ok := c.(*mcp.TextContent)
		if !ok || t == nil || t.Meta != nil || t.Annotations != nil {
			return nil, false
		}
		size += len(t.Text) + len(t.Text)/8 + 32
	}
	// The other fields (isError, resultType, ...) as the SDK writes them:
	// encode the result without _meta, content and structured content.
	rest := *r
	rest.Meta, rest.Content, rest.StructuredContent = nil, []mcp.Content{}, nil
	skeleton, err := json.Marshal(&rest)
	if err != nil || !bytes.HasPrefix(skeleton, contentPrefix) {
		return nil, false
	}
	out := make([]byte, 0, size+len(skeleton))
	out = append(out, '{')
	if len(r.Meta) > 0 {
		meta, err := json.Marshal(r.Meta)
		if err != nil {
			return nil, false
		}
		out = append(append(append(out, `"_meta":`...), meta...), ',')
	}
	out = append(out, `"content":[`...)
	for i, c := range r.Content {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"type":"text","text":`...)
		out = appendJSONString(out, c.(*mcp.TextContent).Text)
		out = append(out, '}')
	}
	out = append(out, ']')
	if structured != nil {
		out = append(append(out, `,"structuredContent":`...), structured...)
	}
	return append(out, skeleton[len(contentPrefix):]...), true
}

// appendJSONString appends s as json.Marshal encodes a string (HTML
// escaping on). A string whose only bytes to escape are " \ and line
// breaks, valid UTF-8 without U+2028 or U+2029 (an answer's text: the
// indented encoding of its structured content), is escaped in one pass;
// any other goes through json.Marshal.
func appendJSONString(dst []byte, s string) []byte {
	if !plainText(s) {
		b, _ := json.Marshal(s) // a string always encodes
		return append(dst, b...)
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '"':
			esc = `\"`
		case '\\':
			esc = `\\`
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		case '\t':
			esc = `\t`
		default:
			continue
		}
		dst = append(append(dst, s[start:i]...), esc...)
		start = i + 1
	}
	return append(append(dst, s[start:]...), '"')
}

// plainText says whether s needs no escape but " \ \n \r \t as a JSON
// string: no other control character, no < > & (HTML escaping), valid
// UTF-8 without U+2028 or U+2029.
func plainText(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf:
			ascii = false
			if c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
				return false
			}
		case c < 0x20 && c != '\n' && c != '\r' && c != '\t', c == '<', c == '>', c == '&':
			return false
		}
	}
	return ascii || utf8.ValidString(s)
}

// appendIndented appends compact (the compact JSON json.Marshal made) as
// json.Indent(dst, compact, prefix, "  ") writes it with prefix base times
// "  " (0: none), in one pass: strings are copied as they are, an empty
// object or array stays on its line.
func appendIndented(dst, compact []byte, base int) []byte {
	depth := base
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(compact); i++ {
		switch c := compact[i]; c {
		case '"':
			j := i + 1
			for ; j < len(compact) && compact[j] != '"'; j++ {
				if compact[j] == '\\' {
					j++
				}
			}
			j = min(j, len(compact)-1)
			dst = append(dst, compact[i:j+1]...)
			i = j
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(compact) && (compact[i+1] == '}' || compact[i+1] == ']') {
				dst = append(dst, compact[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// fitError returns the tool error r cut to at most max bytes as sent: its
// longest text cut (at a rune boundary) with a word of how long it was, as
// often as it takes. The SDK's check of a tool's arguments echoes the
// value it refuses ("maxLength: \"xxx...\" contains 3000000 Unicode code
// points"), so an error could be as large as the request; mcp.max_answer_bytes
// bounds every answer. r is not changed.
func fitError(r *mcp.CallToolResult, max int) *mcp.CallToolResult {
	for range 8 {
		raw, err := json.Marshal(r)
		if err != nil || len(raw) <= max {
			return r
		}
		longest := -1
		for i, c := range r.Content {
			if t, ok := c.(*mcp.TextContent); ok && (longest < 0 || len(t.Text) > len(r.Content[longest].(*mcp.TextContent).Text)) {
				longest = i
			}
		}
		if longest < 0 {
			return r
		}
		t := *r.Content[longest].(*mcp.TextContent)
		// Keep the text's share of what fits, less the note, with room for
		// escapes growing it.
		keep := len(t.Text) * (max - 256) / len(raw) / 2
		for keep > 0 && !utf8.RuneStart(t.Text[keep]) {
			keep--
		}
		t.Text = fmt.Sprintf("%s... (cut: the error was %d bytes; mcp.max_answer_bytes is %d)", t.Text[:keep], len(t.Text), max)
		cut := *r
		cut.Content = append([]mcp.Content(nil), r.Content...)
		cut.Content[longest] = &t
		r = &cut
	}
	return r
}
