package linerpc

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "io"
import "strings"
import "testing"

import "github.com/modelcontextprotocol/go-sdk/jsonrpc"

// reply is an error line as the connection writes it.
type reply struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func newTestConn(out io.Writer) *conn {
	c, _ := (&Transport{In: strings.NewReader(""), Out: out}).Connect(context.Background())
	return c.(*conn)
}

// checkParse parses line and checks the JSON-RPC 2.0 rule: a message goes
// on with nothing written; anything else gets exactly one error line with
// code -32700 or -32600; a blank line gets nothing.
func checkParse(t *testing.T, line []byte) (jsonrpc.Message, *reply) {
	t.Helper()
	var out bytes.Buffer
	msg := newTestConn(&out).parse(line)
	if msg != nil {
		if out.Len() != 0 {
			t.Fatalf("%q: a message, and %q written", line, out.String())
		}
		return msg, nil
	}
	if len(bytes.TrimSpace(line)) == 0 {
		if out.Len() != 0 {
			t.Fatalf("blank line %q answered %q", line, out.String())
		}
		return nil, nil
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasSuffix(out.String(), "\n") {
		t.Fatalf("%q: want one error line, got %q", line, out.String())
	}
	var r reply
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatalf("%q: the error line is not JSON: %q", line, lines[0])
	}
	if r.JSONRPC != "2.0" || r.ID == nil || (r.Error.Code != jsonrpc.CodeParseError && r.Error.Code != jsonrpc.CodeInvalidRequest) {
		t.Fatalf("%q: bad error line %q", line, lines[0])
	}
	return nil, &r
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		line string
		code int64  // 0: a message
		id   string // the id of the error
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 0, ""},
		{`{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}` + "\r\n", 0, ""},
		{`{"jsonrpc":"2.0","method":"notifications/initialized"}`, 0, ""},
		{`{"jsonrpc":"2.0","id":3,"result":{}}`, 0, ""},
		{`{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}}`, 0, ""},
		{`hello`, -32700, "null"},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/li`, -32700, "null"},
		{`{}`, -32600, "null"},
		{`[]`, -32600, "null"},
		{`[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]`, -32600, "null"},
		{`42`, -32600, "null"},
		{`"x"`, -32600, "null"},
		{`null`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":[1],"method":"tools/list"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":true,"method":"tools/list"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":7,"method":7}`, -32600, "7"},
		{`{"jsonrpc":"1.0","id":"q","method":"tools/list"}`, -32600, `"q"`},
		{`{"id":8,"method":"tools/list"}`, -32600, "8"},
		{`{"jsonrpc":"2.0","id":9}`, -32600, "9"},
		{`{"jsonrpc":"2.0","result":{}}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":null,"result":{}}`, -32600, "null"},
		// Ids the reply would not carry back exactly, and null (MCP
		// forbids it): refused with id null.
		{`{"jsonrpc":"2.0","id":null,"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":1.0,"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":1e3,"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":-9007199254740993,"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":9007199254740992,"method":"ping"}`, 0, ""},
		{`{"jsonrpc":"2.0","id":-9007199254740992,"method":"ping"}`, 0, ""},
		{`{"jsonrpc":"2.0","id":0,"method":"ping"}`, 0, ""},
		{`{"jsonrpc":"2.0","id":"1.5","method":"ping"}`, 0, ""},
		// Text that Go's decoder would store as U+FFFD: a parse error.
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"name\":\"bad\xff\xfename\"}}", -32700, "null"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"k\xff\":1}}", -32700, "null"},
		{`{"jsonrpc":"2.0","id":1,"method":"m","params":{"s":"\ud800"}}`, -32700, "null"},
		{`{"jsonrpc":"2.0","id":1,"method":"m","params":{"s":"a\udc00b"}}`, -32700, "null"},
		{`{"jsonrpc":"2.0","id":1,"method":"m","params":{"s":"\ud800\u0041"}}`, -32700, "null"},
		{`{"jsonrpc":"2.0","id":1,"method":"m","params":{"\ud800":1}}`, -32700, "null"},
		{`{"jsonrpc":"2.0","id":1,"method":"m","params":{"s":"\ud83d\ude00 \u00e9 \\ud800 \"\\"}}`, 0, ""},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"s\":\"h\u00e9\U0001F600\"}}", 0, ""},
	} {
		msg, r := checkParse(t, []byte(c.line))
		switch {
		case c.code == 0 && msg == nil:
			t.Errorf("%s: refused, want a message", c.line)
		case c.code != 0 && r == nil:
			t.Errorf("%s: a message, want error %d", c.line, c.code)
		case c.code != 0 && (r.Error.Code != c.code || string(r.ID) != c.id):
			t.Errorf("%s: error %d id %s, want %d id %s", c.line, r.Error.Code, r.ID, c.code, c.id)
		}
	}
}

// Replies keep the SDK's error codes, and a code 0 (a plain Go error from
// the SDK) becomes -32600 before initialize succeeded and -32603 after.
func TestErrorCodeZeroIsMapped(t *testing.T) {
	pr, pw := io.Pipe()
	in := `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{}}` + "\n"
	c, err := (&Transport{In: io.MultiReader(strings.NewReader(in), pr), Out: io.Discard}).Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(); pw.Close() }()
	ctx := context.Background()
	if _, err := c.Read(ctx); err != nil { // the initialize request is known to the connection
		t.Fatal(err)
	}
	cn := c.(*conn)
	code := func(resp *jsonrpc.Response) int64 {
		var we *jsonrpc.Error
		if !errors.As(cn.validCode(resp).Error, &we) {
			t.Fatalf("%v: not a JSON-RPC error", resp.Error)
		}
		return we.Code
	}
	plain := func(id string) *jsonrpc.Response {
		return &jsonrpc.Response{ID: sid(id), Error: errors.New(`method "tools/list" is invalid during session initialization`)}
	}
	if got := code(plain("a")); got != jsonrpc.CodeInvalidRequest {
		t.Errorf("code 0 before initialize: %d, want -32600", got)
	}
	if got := code(&jsonrpc.Response{ID: sid("b"), Error: &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "x"}}); got != jsonrpc.CodeMethodNotFound {
		t.Errorf("a valid code: %d, want it kept (-32601)", got)
	}
	cn.validCode(&jsonrpc.Response{ID: sid("init"), Result: json.RawMessage(`{}`)})
	if got := code(plain("c")); got != jsonrpc.CodeInternalError {
		t.Errorf("code 0 after initialize: %d, want -32603", got)
	}
}

func sid(s string) jsonrpc.ID {
	id, _ := jsonrpc.MakeID(s)
	return id
}

// checkCase is a message and the error code a check gives it (0: none).
type checkCase struct {
	body string
	code int64
}

// wantCodes runs check, named name, on every case.
func wantCodes(t *testing.T, name string, check func([]byte) *jsonrpc.Error, cases []checkCase) {
	t.Helper()
	for _, c := range cases {
		e := check([]byte(c.body))
		switch {
		case c.code == 0 && e != nil:
			t.Errorf("%s %q: %v, want nil", name, c.body, e)
		case c.code != 0 && (e == nil || e.Code != c.code):
			t.Errorf("%s %q: %v, want code %d", name, c.body, e, c.code)
		}
	}
}

func TestCheck(t *testing.T) {
	wantCodes(t, "Check", Check, []checkCase{
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, 0},
		{`{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, -32600},
		{`{"jsonrpc":"2.0","id":null,"method":"ping"}`, -32600},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\xff\"}", -32700},
		{`{"jsonrpc":"2.0","id":1,"method":"m","params":{"s":"\udfff"}}`, -32700},
		{`{"jsonrpc":"2.0","id":1,"method":7}`, 0}, // the id is known: the caller answers it
		{`hello`, -32700},
	})
	checkBody := func(b []byte) *jsonrpc.Error { e, _ := CheckBody(b); return e }
	wantCodes(t, "CheckBody", checkBody, []checkCase{
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, 0},
		{`hello`, -32700}, // the SDK answered it in plain text
		{`{"jsonrpc":"2.0","id":1,"method":"ping"`, -32700},
		{``, -32700},
		{` [ ] `, -32600},
		{`[1]`, -32600},
		{`1`, -32600},
		{`"x"`, -32600},
		{`null`, -32600},
		{`{}`, -32600},
		{`{"jsonrpc":"1.0","id":1,"method":"ping"}`, -32600},
		{`{"jsonrpc":"2.0","id":7}`, -32600},
		{`{"jsonrpc":"2.0","id":7,"result":{}}`, 0},                   // a response to the server's request
		{`{"jsonrpc":"2.0","method":"notifications/initialized"}`, 0}, // a notification
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":3}]`, -32600},
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, 0}, // the SDK takes batches from older clients
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2.5,"method":"ping"}]`, -32600},
		{`{"jsonrpc":"2.0","id":null,"method":"ping"}`, -32600},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\xff\"}", -32700},
		{`{"jsonrpc":"2.0","id":1,"method":"m","params":{"s":"\ud800x"}}`, -32700},
	})
	var r reply
	if err := json.Unmarshal(ErrorReply(&jsonrpc.Error{Code: -32700, Message: "m"}, nil), &r); err != nil || string(r.ID) != "null" || r.Error.Code != -32700 {
		t.Errorf("ErrorReply: %+v %v", r, err)
	}
	// The id of a message of the wrong shape comes back when it is valid.
	if e, id := CheckBody([]byte(`{"jsonrpc":"1.0","id":"a","method":"ping"}`)); e == nil || string(id) != `"a"` {
		t.Errorf("CheckBody of a 1.0 message: %v, id %s", e, id)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`hello`, `{}`, `[]`, `{"jsonrpc":"2.0","id":1,"method":"m"}`, `{"jsonrpc":"2.0","id":{"a":1},"method":"m"}`,
		`{"jsonrpc":"2.0","id":1,"result":null}`, `{"jsonrpc":"2.0","id":-1.5e3,"method":"m","params":[1]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkParse(t, line) })
}

// The connection reads every line through: error lines for the bad ones,
// in order, messages for the good ones; an over-long line is skipped and
// the next one is read.
func TestConnSkipsBadLines(t *testing.T) {
	long := `{"jsonrpc":"2.0","id":5,"method":"m","params":"` + strings.Repeat("x", 1000) + `"}`
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"a"}`, `hello`, `{}`, long, ``, `{"jsonrpc":"2.0","id":2,"method":"b"}`,
	}, "\n") // the last line has no newline: the end of input ends it
	pr, pw := io.Pipe()
	var out bytes.Buffer
	tr := &Transport{In: strings.NewReader(in), Out: pw, MaxLine: 200}
	c, err := tr.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 10)
	go func() {
		defer close(lines)
		buf := make([]byte, 1<<16)
		for {
			n, err := pr.Read(buf)
			out.Write(buf[:n])
			for {
				i := bytes.IndexByte(out.Bytes(), '\n')
				if i < 0 {
					break
				}
				lines <- string(out.Next(i + 1))
			}
			if err != nil {
				return
			}
		}
	}()
	ctx := context.Background()
	var methods []string
	for range 2 {
		m, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		methods = append(methods, m.(*jsonrpc.Request).Method)
	}
	if strings.Join(methods, ",") != "a,b" {
		t.Errorf("messages %v, want a,b", methods)
	}
	var codes []int64
	for range 3 {
		var r reply
		if err := json.Unmarshal([]byte(<-lines), &r); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, r.Error.Code)
	}
	if codes[0] != -32700 || codes[1] != -32600 || codes[2] != -32600 {
		t.Errorf("error codes %v, want -32700 -32600 -32600", codes)
	}
	// Requests 1 and 2 are not answered yet: the end of input waits for
	// their replies.
	ended := make(chan error, 1)
	go func() { _, err := c.Read(ctx); ended <- err }()
	for _, id := range []int64{1, 2} {
		select {
		case err := <-ended:
			t.Fatalf("the end of input came before request %d was answered: %v", id, err)
		default:
		}
		resp, _ := jsonrpc.DecodeMessage([]byte(`{"jsonrpc":"2.0","id":` + string(rune('0'+id)) + `,"result":{}}`))
		if err := c.Write(ctx, resp); err != nil {
			t.Fatal(err)
		}
		<-lines
	}
	if err := <-ended; err != io.EOF {
		t.Errorf("after the replies: %v, want io.EOF", err)
	}
	c.Close()
	pw.Close()
}

// encodeMessage writes the very bytes jsonrpc.EncodeMessage writes: a
// result around numeric and string ids (with characters HTML escaping
// would change), an error, a request and a notification.
func TestEncodeMessageIsTheSDKs(t *testing.T) {
	num, _ := jsonrpc.MakeID(float64(42))
	str, _ := jsonrpc.MakeID(`id <&> "q" é`)
	result := json.RawMessage(`{"content":[{"type":"text","text":"a \u003c b\n"}],"structuredContent":{"x":[1,{}]}}`)
	msgs := []jsonrpc.Message{
		&jsonrpc.Response{ID: num, Result: result},
		&jsonrpc.Response{ID: str, Result: result},
		&jsonrpc.Response{ID: num, Result: json.RawMessage(`{}`)},
		&jsonrpc.Response{ID: num, Error: &jsonrpc.Error{Code: -32603, Message: "boom <&>"}},
		&jsonrpc.Request{ID: str, Method: "tools/call", Params: json.RawMessage(`{"name":"x"}`)},
		&jsonrpc.Request{Method: "notifications/initialized"},
	}
	for _, m := range msgs {
		want, err := jsonrpc.EncodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeMessage(m)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("encoded %s (%v), want %s", got, err, want)
		}
	}
}
