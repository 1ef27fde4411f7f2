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
//   - a line that is not valid UTF-8, or whose strings hold an unpaired
//     surrogate escape ("\ud800", which Go's decoder would turn into
//     U+FFFD): -32700, id null. RFC 8259 section 8.1: JSON text exchanged
//     between systems is UTF-8; memsnap enqueue refuses the same input;
//   - JSON that is not a request, notification or response ({}, a number,
//     an id that is an object or array, a method that is not a string, no
//     "jsonrpc":"2.0"): -32600 Invalid Request, with the id when it is a
//     valid one, else null;
//   - an id the reply would not carry back exactly, or null: -32600, id
//     null. The SDK decodes a numeric id as a float64 and keeps it as an
//     int64, so a fraction (1.5), an exponent (1e3), or an integer beyond
//     2^53 in magnitude would come back changed (1.5 as 1, colliding with
//     another request); MCP forbids a null id (basic/index, "Requests");
//   - an array (a batch): -32600, id null. MCP removed batching in its
//     2025-06-18 revision, and the SDK refuses batches from then on;
//   - a line longer than MaxLine bytes: skipped up to its newline without
//     being held in memory (at most one read buffer of it is), -32600 with
//     id null;
//   - an empty or blank line: ignored.
//
// A reply the SDK gives with error code 0 (it returns a plain Go error, as
// for a call before initialize) is written with a valid code instead:
// -32600 before the session's initialize succeeded, -32603 Internal error
// after.
package linerpc

import "bufio"
import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "strconv"
import "sync"
import "sync/atomic"
import "time"
import "unicode/utf8"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/modelcontextprotocol/go-sdk/jsonrpc"
import "github.com/modelcontextprotocol/go-sdk/mcp"

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
		initIDs:  map[jsonrpc.ID]bool{},
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

	// initMu guards initIDs: the ids of initialize requests read and not
	// yet answered. initialized is set by a successful reply to one.
	initMu      sync.Mutex
	initIDs     map[jsonrpc.ID]bool
	initialized atomic.Bool
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
	if resp, ok := msg.(*jsonrpc.Response); ok {
		msg = c.validCode(resp)
	}
	data, err := encodeMessage(msg)
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

// validCode notes a successful reply to initialize, and returns resp with
// a valid error code where the SDK left code 0 (a plain Go error): -32600
// Invalid Request before the session was initialized (the SDK refuses every
// call but initialize and ping then), -32603 Internal error after.
func (c *conn) validCode(resp *jsonrpc.Response) *jsonrpc.Response {
	c.initMu.Lock()
	isInit := c.initIDs[resp.ID]
	delete(c.initIDs, resp.ID)
	c.initMu.Unlock()
	if resp.Error == nil {
		if isInit {
			c.initialized.Store(true)
		}
		return resp
	}
	var we *jsonrpc.Error
	if errors.As(resp.Error, &we) && we.Code != 0 {
		return resp
	}
	code := int64(jsonrpc.CodeInternalError)
	if !c.initialized.Load() {
		code = jsonrpc.CodeInvalidRequest
	}
	fixed := *resp
	fixed.Error = &jsonrpc.Error{Code: code, Message: resp.Error.Error()}
	return &fixed
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

// idBefore returns the id of the JSON-RPC request whose line starts with
// prefix, when the id stands before the value the prefix cuts (a client
// writes "jsonrpc", "id" and "method" before "params"), so that a line
// too long to read is refused under its request's id and the client's
// call ends; nil (refused with id null) when it does not, or the id is not
// a string or a number.
func idBefore(prefix []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(prefix))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil // the value the prefix cuts
		}
		if key == "id" {
			if len(v) > 0 && (v[0] == '"' || v[0] == '-' || '0' <= v[0] && v[0] <= '9') {
				return v
			}
			return nil
		}
	}
	return nil
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
				line = append(line, frag...)
				c.refuse(idBefore(line), jsonrpc.CodeInvalidRequest, fmt.Sprintf("a line is longer than %d bytes: skipped", maxLine))
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
			c.refuse(idBefore(append(line, frag...)), jsonrpc.CodeInvalidRequest, fmt.Sprintf("a line is longer than %d bytes: skipped", maxLine))
			line = line[:0]
		} else {
			line = append(line, frag...)
			if msg := c.parse(line); msg != nil {
				if req, ok := msg.(*jsonrpc.Request); ok && req.IsCall() {
					c.pendingMu.Lock()
					c.pending[req.ID] = struct{}{}
					c.pendingMu.Unlock()
					if req.Method == "initialize" {
						c.initMu.Lock()
						c.initIDs[req.ID] = true
						c.initMu.Unlock()
					}
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
	if e := Check(line); e != nil {
		c.refuse(nil, e.Code, e.Message)
		return nil
	}
	var w wire
	_ = json.Unmarshal(line, &w) // Check decoded it already
	id := validID(w.ID)
	invalid := func(why string) jsonrpc.Message {
		c.refuse(id, jsonrpc.CodeInvalidRequest, "Invalid Request: "+why)
		return nil
	}
	if why := w.shapeFault(); why != "" {
		return invalid(why)
	}
	msg, err := jsonrpc.DecodeMessage(line)
	if err != nil {
		return invalid(err.Error())
	}
	return msg
}

// shapeFault says what makes w no JSON-RPC 2.0 request, notification or
// response ("" when nothing does): the faults that leave its id known.
func (w *wire) shapeFault() string {
	switch {
	case w.JSONRPC == nil || *w.JSONRPC != "2.0":
		return `"jsonrpc" must be "2.0"`
	case w.Method != nil && (len(w.Method) == 0 || w.Method[0] != '"'):
		return `"method" must be a string`
	case w.Method == nil && (w.Result == nil && w.Error == nil || w.ID == nil):
		return `a request needs "method"; a response needs "id" and "result" or "error"`
	}
	return ""
}

// Check returns the JSON-RPC error that msg, one whole message (a line of
// stdio, or the body of an HTTP POST), gets for the faults that leave its
// id unknown, or nil when it has none of them:
//   - not valid UTF-8, or a string with an unpaired surrogate escape:
//     -32700 Parse error;
//   - not JSON: -32700;
//   - a batch (an array), or JSON that is not an object: -32600 Invalid
//     Request;
//   - an id that is neither a string nor an integer the SDK carries back
//     exactly (see maxExactID), null included: -32600.
//
// The error's id is null in each case. Faults that leave the id known (no
// "jsonrpc":"2.0", a method that is not a string) are not checked here.
func Check(msg []byte) *jsonrpc.Error {
	msg = bytes.TrimSpace(msg)
	if err := checkText(msg); err != nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "Parse error: " + err.Error()}
	}
	if !json.Valid(msg) {
		return &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "Parse error: the message is not JSON"}
	}
	switch msg[0] {
	case '{':
	case '[':
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: batches (JSON arrays) are not supported (MCP 2025-06-18 removed them)"}
	default:
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: a message is a JSON object"}
	}
	var w wire
	if err := json.Unmarshal(msg, &w); err != nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: " + err.Error()}
	}
	return idError(w.ID)
}

// CheckBody is Check for the body of an HTTP POST, which the SDK's
// streamable HTTP handler parses itself: it returns the errors the SDK
// would not give, or would give as plain text a client cannot parse
// ("malformed payload: ..."), with the same codes as Check: text that is
// not UTF-8 or holds an unpaired surrogate escape, or is not JSON (-32700);
// JSON that is no message (a number, a string, null), an empty batch or a
// batch holding something other than objects, an id the reply would not
// carry back exactly, or null (-32600), in the message or in any message of
// a batch (which the SDK still takes from clients of protocol revisions
// before 2025-06-18); and a message that is no JSON-RPC 2.0 request,
// notification or response (-32600, under its id when that is valid: id).
func CheckBody(body []byte) (e *jsonrpc.Error, id json.RawMessage) {
	body = bytes.TrimSpace(body)
	if err := checkText(body); err != nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "Parse error: " + err.Error()}, nil
	}
	if !json.Valid(body) {
		return &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "Parse error: the body is not JSON"}, nil
	}
	invalid := func(why string) *jsonrpc.Error {
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "Invalid Request: " + why}
	}
	var batch []json.RawMessage
	switch body[0] {
	case '{':
		batch = []json.RawMessage{body}
	case '[':
		if json.Unmarshal(body, &batch) != nil || len(batch) == 0 {
			return invalid("an empty batch"), nil
		}
	default:
		return invalid("a message is a JSON object"), nil
	}
	for _, m := range batch {
		var w wire
		if len(m) == 0 || m[0] != '{' || json.Unmarshal(m, &w) != nil {
			return invalid("a batch holds JSON objects"), nil
		}
		if e := idError(w.ID); e != nil {
			return e, nil
		}
		if why := w.shapeFault(); why != "" {
			return invalid(why), validID(w.ID)
		}
	}
	return nil, nil
}

// idError is the error for an id that is present and not valid (see
// validID), else nil.
func idError(raw json.RawMessage) *jsonrpc.Error {
	if raw != nil && validID(raw) == nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest,
			Message: `Invalid Request: "id" must be a string or an integer from -2^53 to 2^53 (not null, a fraction or an exponent)`}
	}
	return nil
}

// ErrorReply is the JSON-RPC error response with id (null when nil):
// {"jsonrpc":"2.0","id":null,"error":e} for a message whose id could not be
// told.
func ErrorReply(e *jsonrpc.Error, id json.RawMessage) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	data, _ := json.Marshal(errorReply{JSONRPC: "2.0", ID: id, Error: *e})
	return data
}

// maxExactID is the largest magnitude of a numeric id the SDK carries back
// exactly: it decodes ids through float64, whose integers are exact up to
// 2^53.
const maxExactID = 1 << 53

// validID returns raw if it is an id the reply carries back exactly: a
// string, or an integer written without fraction or exponent whose
// magnitude is at most 2^53. Anything else (null, 1.5, 1e3, 2^63) gives nil.
func validID(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '"' {
		return raw
	}
	n, err := strconv.ParseInt(string(raw), 10, 64) // refuses 1.5, 1.0, 1e3 and beyond int64
	if err != nil || n > maxExactID || n < -maxExactID {
		return nil
	}
	return raw
}

// checkText returns an error if msg is not valid UTF-8, or if one of its
// strings holds a surrogate escape (\uD800-\uDFFF) that is not a high one
// directly followed by a low one (model.CheckSurrogates, the rule every job
// path shares): Go's decoder would store either as U+FFFD.
func checkText(msg []byte) error {
	if !utf8.Valid(msg) {
		return errors.New("the message is not valid UTF-8 (RFC 8259: JSON text exchanged between systems is UTF-8)")
	}
	return model.CheckSurrogates(msg)
}

// encodeMessage is jsonrpc.EncodeMessage(msg), the same bytes; a
// successful response is written around its result as it is (the SDK
// made it compact JSON), without compacting it again: for a large answer
// that pass cost as much as encoding it.
func encodeMessage(msg jsonrpc.Message) ([]byte, error) {
	resp, ok := msg.(*jsonrpc.Response)
	if !ok || resp.Error != nil || len(resp.Result) == 0 || !resp.ID.IsValid() {
		return jsonrpc.EncodeMessage(msg)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as the SDK encodes a message
	if err := enc.Encode(resp.ID.Raw()); err != nil {
		return nil, fmt.Errorf("encode the id of a response: %w", err)
	}
	id := bytes.TrimRight(buf.Bytes(), "\n")
	data := make([]byte, 0, len(resp.Result)+len(id)+32)
	data = append(append(append(data, `{"jsonrpc":"2.0","id":`...), id...), `,"result":`...)
	return append(append(data, resp.Result...), '}'), nil
}
