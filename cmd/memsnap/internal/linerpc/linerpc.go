// Package linerpc frames JSON-RPC 2.0 messages as lines (newline-delimited
// JSON, as MCP's stdio transport) for the MCP Go SDK, and survives its
// input: a line that is not a JSON-RPC message is answered with the error
// JSON-RPC 2.0 gives it and the connection goes on with the next line.
//
// The SDK's own stdio transport ends the session on the first such line
// (and drops the replies still due); the protocol itself stays the SDK's:
// this package only reads lines, checks their shape and writes replies.
//
// What each input gets (https://www.jsonrpc.org/specification):
//   - a line that is not JSON (hello, a truncated object): -32700 Parse
//     error, id null;
//   - JSON that is not a request, notification or response ({}, a number,
//     an id that is an object or array, a method that is not a string, no
//     "jsonrpc":"2.0"): -32600 Invalid Request, with the id when it is a
//     valid one, else null;
//   - an array (a batch): -32600, id null. MCP removed batching in its
//     2025-06-18 revision, and the SDK refuses batches from then on;
//   - a line longer than MaxLine bytes: skipped up to its newline without
//     being held in memory (at most one read buffer of it is), -32600 with
//     id null;
//   - an empty or blank line: ignored.
package linerpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// DefaultMaxLine is the line cap when Transport.MaxLine is 0: 16 MiB, the
// MCP Go SDK's own default (mcp.DefaultMaxLineLength).
const DefaultMaxLine = mcp.DefaultMaxLineLength

// DefaultDrain is how long a connection whose input ended waits for the
// replies still due when Transport.Drain is 0.
const DefaultDrain = time.Minute

// Transport is an mcp.Transport over a reader of lines and a writer of
// lines (a process's stdin and stdout).
type Transport struct {
	In  io.Reader
	Out io.Writer
	// MaxLine caps one line, in bytes, without its newline. 0:
	// DefaultMaxLine.
	MaxLine int
	// Drain bounds how long the connection, once In ended, still waits for
	// the replies to requests it already read before it reports the end to
	// the SDK (which then cancels what still runs). 0: DefaultDrain.
	Drain time.Duration
	// Log gets one warning per refused line. nil: discard.
	Log *slog.Logger
}

var _ mcp.Transport = (*Transport)(nil)

// Connect implements mcp.Transport. It starts the goroutine that reads In.
func (t *Transport) Connect(context.Context) (mcp.Connection, error) {
	maxLine := t.MaxLine
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	drain := t.Drain
	if drain <= 0 {
		drain = DefaultDrain
	}
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &conn{
		out:      t.Out,
		log:      log,
		drain:    drain,
		incoming: make(chan jsonrpc.Message),
		closed:   make(chan struct{}),
		pending:  map[jsonrpc.ID]struct{}{},
		answered: make(chan struct{}, 1),
	}
	go c.readLoop(bufio.NewReaderSize(t.In, 64<<10), maxLine)
	return c, nil
}

// conn is one mcp.Connection.
type conn struct {
	out   io.Writer
	log   *slog.Logger
	drain time.Duration

	writeMu sync.Mutex // serializes writes to out: one whole line at a time

	incoming chan jsonrpc.Message // from readLoop to Read; closed when readLoop stops
	readErr  error                // why readLoop stopped; set before incoming closes

	// pendingMu guards pending: the ids of requests handed to the SDK and
	// not yet answered, so that the end of input can wait for their replies.
	pendingMu sync.Mutex
	pending   map[jsonrpc.ID]struct{}
	answered  chan struct{} // a token after each reply that empties pending

	closeOnce sync.Once
	closed    chan struct{}
}

func (c *conn) SessionID() string { return "" }

// Read implements mcp.Connection: the next valid message. Once the input
// ended, it first waits (up to Drain) until every request read was answered.
func (c *conn) Read(ctx context.Context) (jsonrpc.Message, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closed:
		return nil, io.EOF
	case m, ok := <-c.incoming:
		if ok {
			return m, nil
		}
	}
	// The input ended: let the replies already due go out first.
	deadline := time.NewTimer(c.drain)
	defer deadline.Stop()
	for {
		c.pendingMu.Lock()
		n := len(c.pending)
		c.pendingMu.Unlock()
		if n == 0 {
			return nil, c.readErr
		}
		select {
		case <-c.answered:
		case <-deadline.C:
			return nil, c.readErr
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, io.EOF
		}
	}
}

// Write implements mcp.Connection: one message, one line.
func (c *conn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return fmt.Errorf("encode a JSON-RPC message: %w", err)
	}
	if err := c.writeLine(data); err != nil {
		return err
	}
	if resp, ok := msg.(*jsonrpc.Response); ok && resp.ID.IsValid() {
		c.pendingMu.Lock()
		delete(c.pending, resp.ID)
		c.pendingMu.Unlock()
		select {
		case c.answered <- struct{}{}:
		default:
		}
	}
	return nil
}

// Close implements mcp.Connection. It stops Read; the reading goroutine
// ends at the next line or at the end of input.
func (c *conn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *conn) writeLine(data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	select {
	case <-c.closed:
		return mcp.ErrConnectionClosed
	default:
	}
	line := make([]byte, 0, len(data)+1)
	line = append(append(line, data...), '\n')
	if _, err := c.out.Write(line); err != nil {
		return fmt.Errorf("write a JSON-RPC message: %w", err)
	}
	return nil
}

// errorReply is a JSON-RPC error response whose id may be null (the SDK's
// encoder leaves out an id it cannot tell, which the specification does not
// allow for these errors).
type errorReply struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   jsonrpc.Error   `json:"error"`
}

// refuse answers a line that is not a message and logs it.
func (c *conn) refuse(id json.RawMessage, code int64, msg string) {
	if id == nil {
		id = json.RawMessage("null")
	}
	c.log.Warn("refused a line of input", "code", code, "error", msg)
	data, err := json.Marshal(errorReply{JSONRPC: "2.0", ID: id, Error: jsonrpc.Error{Code: code, Message: msg}})
	if err != nil { // cannot happen: every field is plain
		return
	}
	_ = c.writeLine(data) // a closed output ends the session through Read
}

// readLoop reads lines until the input ends or the connection closes,
// hands each valid message to Read and answers the others itself.
func (c *conn) readLoop(r *bufio.Reader, maxLine int) {
	var err error
	defer func() {
		if errors.Is(err, io.EOF) || err == nil {
			err = io.EOF
		}
		c.readErr = err
		close(c.incoming)
	}()
	var line []byte
	for {
		var frag []byte
		frag, err = r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if len(line)+len(frag) > maxLine {
				c.refuse(nil, jsonrpc.CodeInvalidRequest, fmt.Sprintf("a line is longer than %d bytes: skipped", maxLine))
				line = line[:0]
				if err = skipLine(r); err != nil {
					return
				}
				continue
			}
			line = append(line, frag...)
			continue
		case err != nil && !errors.Is(err, io.EOF):
			err = fmt.Errorf("read input: %w", err)
			return
		}
		atEOF := err != nil
		if len(line)+len(bytes.TrimRight(frag, "\r\n")) > maxLine {
			c.refuse(nil, jsonrpc.CodeInvalidRequest, fmt.Sprintf("a line is longer than %d bytes: skipped", maxLine))
			line = line[:0]
		} else {
			line = append(line, frag...)
			if msg := c.parse(line); msg != nil {
				if req, ok := msg.(*jsonrpc.Request); ok && req.IsCall() {
					c.pendingMu.Lock()
					c.pending[req.ID] = struct{}{}
					c.pendingMu.Unlock()
				}
				select {
				case c.incoming <- msg:
				case <-c.closed:
					err = io.EOF
					return
				}
			}
			line = line[:0]
			if cap(line) > 1<<20 { // do not keep a large line's buffer
				line = nil
			}
		}
		if atEOF {
			return
		}
	}
}

// skipLine reads and drops the rest of a line, one buffer at a time.
func skipLine(r *bufio.Reader) error {
	for {
		_, err := r.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// wire is a message's fields as sent, to check their shapes before the SDK
// decodes them.
type wire struct {
	JSONRPC *string         `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  json.RawMessage `json:"method"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

// parse returns the message on line, or answers the line and returns nil.
func (c *conn) parse(line []byte) jsonrpc.Message {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	if !json.Valid(line) {
		c.refuse(nil, jsonrpc.CodeParseError, "Parse error: the line is not JSON")
		return nil
	}
	switch line[0] {
	case '{':
	case '[':
		c.refuse(nil, jsonrpc.CodeInvalidRequest, "Invalid Request: batches (JSON arrays) are not supported (MCP 2025-06-18 removed them)")
		return nil
	default:
		c.refuse(nil, jsonrpc.CodeInvalidRequest, "Invalid Request: a message is a JSON object")
		return nil
	}
	var w wire
	if err := json.Unmarshal(line, &w); err != nil {
		c.refuse(nil, jsonrpc.CodeInvalidRequest, "Invalid Request: "+err.Error())
		return nil
	}
	id := validID(w.ID)
	invalid := func(why string) jsonrpc.Message {
		c.refuse(id, jsonrpc.CodeInvalidRequest, "Invalid Request: "+why)
		return nil
	}
	switch {
	case w.JSONRPC == nil || *w.JSONRPC != "2.0":
		return invalid(`"jsonrpc" must be "2.0"`)
	case w.ID != nil && id == nil:
		return invalid(`"id" must be a string, a number or null`)
	case w.Method != nil && (len(w.Method) == 0 || w.Method[0] != '"'):
		return invalid(`"method" must be a string`)
	case w.Method == nil && (w.Result == nil && w.Error == nil || w.ID == nil || string(w.ID) == "null"):
		return invalid(`a request needs "method"; a response needs "id" and "result" or "error"`)
	}
	msg, err := jsonrpc.DecodeMessage(line)
	if err != nil {
		return invalid(err.Error())
	}
	return msg
}

// validID returns raw if it is a valid JSON-RPC id (a string, a number or
// null), else nil.
func validID(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return raw
	}
	return nil
}
