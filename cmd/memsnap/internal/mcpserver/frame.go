package mcpserver

import "bytes"
import "encoding/json"
import "fmt"
import "unicode/utf8"

// An answer's size as sent counts the text content (the answer indented,
// as a JSON string) and the structured content together (sentSize); it is
// capped by mcp.max_answer_bytes (Server.answerCap), under the 10 MiB of
// the TypeScript SDK's stdio and the reference clients' limit. The rows of
// a user query go in both copies, so its answer is one that can pass it:
// reader.query_max_bytes caps only the compact rows.

// frameFitter is an answer that can be cut to fit a byte budget.
type frameFitter interface {
	// fitFrame returns the answer cut so that, as sent, it takes at most
	// budget bytes (see sentSize), or the answer itself if it cannot be cut.
	fitFrame(budget int) any
}

// encodeAnswer is the structured content (compact JSON) of out and the
// text content that goes with it (the same JSON, indented by two as the
// reference server does: what json.Indent writes, in one pass).
func encodeAnswer(out any) ([]byte, string, error) {
	outJSON, err := json.Marshal(out)
	if err != nil {
		return nil, "", fmt.Errorf("encode the answer: %w", err)
	}
	return outJSON, string(appendIndented(make([]byte, 0, len(outJSON)+len(outJSON)/2), outJSON, 0)), nil
}

// sentAnswer is an answer as encodeAnswer encodes it: Structured is its
// compact JSON, Text the same indented by two.
type sentAnswer struct {
	Structured []byte
	Text       string
}

// size is the answer's size as sent (sentSize), in bytes.
func (a *sentAnswer) size() int { return sentSize(a.Structured, a.Text) }

// encodeSent is encodeAnswer's result as a sentAnswer.
func encodeSent(out any) (*sentAnswer, error) {
	structured, text, err := encodeAnswer(out)
	if err != nil {
		return nil, err
	}
	return &sentAnswer{Structured: structured, Text: text}, nil
}

// preEncoded is an answer that may carry its own encoding, made by the fit
// check that sized it (nil when it does not).
type preEncoded interface {
	encoded() *sentAnswer
}

func (o graphOut) encoded() *sentAnswer { return o.sent }

// answerOf is the structured and text content of a tool's answer out, as
// encodeAnswer gives them: the encoding out carries when it does (the
// very same bytes, encoded once), else out encoded now.
func answerOf(out any) ([]byte, string, error) {
	if p, ok := out.(preEncoded); ok {
		if a := p.encoded(); a != nil {
			return a.Structured, a.Text, nil
		}
	}
	return encodeAnswer(out)
}

// sentSize is how many bytes structured and text take in the message:
// the structured content as is, the text as a JSON string.
func sentSize(structured []byte, text string) int {
	return len(structured) + jsonStringLen(text)
}

// jsonStringLen is the length of s encoded as a JSON string by
// encoding/json (which the MCP SDK uses): quotes, two-byte escapes for
// " \ \n \r \t, six-byte ones for other control characters, < > & (HTML
// escaping), U+2028, U+2029 and each invalid UTF-8 byte.
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// frameReason is TruncatedReason of a query answer cut to
// mcp.max_answer_bytes.
const frameReason = "more than mcp.max_answer_bytes as sent over MCP (rows go as text and as structured content)"

// fitFrame keeps the first rows that fit budget as sent, marking the
// answer truncated if any are cut. Each row's share is estimated from its
// own encoding (compact, and indented at its depth in the answer); the
// caller checks the whole answer again.
func (o queryOut) fitFrame(budget int) any {
	cut := o
	cut.Rows, cut.Truncated, cut.TruncatedReason = [][]any{}, true, frameReason
	base, text, err := encodeAnswer(cut)
	if err != nil {
		return o
	}
	left := budget - sentSize(base, text)
	k := 0
	for ; k < len(o.Rows); k++ {
		rb, err := json.Marshal(o.Rows[k])
		if err != nil {
			break
		}
		var ind bytes.Buffer
		if json.Indent(&ind, rb, "    ", "  ") != nil {
			break
		}
		// The row and its comma, compact and in the text, where the comma,
		// line break and indent before it are ",\\n    " in the string.
		left -= len(rb) + 1 + jsonStringLen(ind.String()) - 2 + len(",\\n    ")
		if left < 0 {
			break
		}
	}
	cut.Rows = o.Rows[:k]
	return cut
}
