package tests

import "bufio"
import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "os"
import "os/exec"
import "strings"
import "testing"

// rawMCP is a 'memsnap mcp' process spoken to line by line, without an MCP
// client, so that a test can send what no client would.
type rawMCP struct {
	t       *testing.T
	ctx     context.Context
	in      io.WriteCloser
	replies chan rpcReply
	cmd     *exec.Cmd
}

// rpcReply is one line the server wrote.
type rpcReply struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Method string `json:"method"` // a notification from the server
	raw    string
}

func startRawMCP(t *testing.T, ctx context.Context, store string, env ...string) *rawMCP {
	t.Helper()
	cmd := exec.Command(bin, "--store", store, "--log-level", "error", "mcp")
	cmd.Env = append(append(os.Environ(), "MEMSNAP_MCP_WRITE_TIMEOUT=30m"), env...)
	cmd.Stderr = os.Stderr
	in := pipe(t, cmd.StdinPipe)
	out := pipe(t, cmd.StdoutPipe)
	mustStart(t, cmd)
	r := &rawMCP{t: t, ctx: ctx, in: in, replies: make(chan rpcReply, 64), cmd: cmd}
	go func() {
		defer close(r.replies)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var rep rpcReply
			if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
				rep.raw = "not JSON: " + sc.Text()
			} else {
				rep.raw = sc.Text()
			}
			r.replies <- rep
		}
	}()
	t.Cleanup(func() {
		_ = in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("memsnap mcp did not end cleanly at the end of its input: %v", err)
		}
	})
	return r
}

// send writes lines, each followed by a newline.
func (r *rawMCP) send(lines ...string) {
	r.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(r.in, l+"\n"); err != nil {
			r.t.Fatalf("write to memsnap mcp: %v", err)
		}
	}
}

// expect reads replies until it has one for each id in ids (a JSON id, or
// "null" for an error whose id could not be told) and returns them by id;
// the null ones in the order they came. It fails on any reply not expected
// and if the server ends first.
func (r *rawMCP) expect(what string, ids ...string) (byID map[string]rpcReply, nulls []rpcReply) {
	r.t.Helper()
	byID = map[string]rpcReply{}
	want := map[string]int{}
	for _, id := range ids {
		want[id]++
	}
	for len(want) > 0 {
		select {
		case rep, ok := <-r.replies:
			if !ok {
				r.t.Fatalf("%s: memsnap mcp ended before answering %v", what, want)
			}
			if rep.Method != "" && len(rep.ID) == 0 { // a notification
				continue
			}
			id := string(rep.ID)
			if id == "" {
				id = "(none)"
			}
			if want[id] == 0 {
				r.t.Fatalf("%s: unexpected reply %s", what, rep.raw)
			}
			if want[id]--; want[id] == 0 {
				delete(want, id)
			}
			if id == "null" {
				nulls = append(nulls, rep)
			} else {
				byID[id] = rep
			}
		case <-r.ctx.Done():
			r.t.Fatalf("%s: no reply for %v", what, want)
		}
	}
	return byID, nulls
}

func toolCall(id int, tool string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, id, tool)
}

// Issue 25, done-when 1 (stdio) and 8: every malformed line gets the
// JSON-RPC error it deserves (-32700 or -32600, id null where it cannot be
// told), the replies to the calls sent just before it still come, and the
// next call is answered; a 64 MiB line is skipped without being held. An unknown resource URI
// is answered -32602 by resources/subscribe and resources/read.
func TestStdioSurvivesMalformedInput(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	r := startRawMCP(t, ctx, store)
	r.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if got, _ := r.expect("initialize", "1"); got["1"].Error != nil {
		t.Fatalf("initialize: %s", got["1"].raw)
	}
	id := 10
	for _, c := range []struct {
		name, line string
		code       int64
		idBack     string // the id the error names; "null" where it cannot be told
	}{
		{"not JSON", `hello`, -32700, "null"},
		{"empty object", `{}`, -32600, "null"},
		{"batch", `[{"jsonrpc":"2.0","id":99,"method":"tools/list"}]`, -32600, "null"},
		{"empty batch", `[]`, -32600, "null"},
		{"id an object", `{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}`, -32600, "null"},
		{"truncated object", `{"jsonrpc":"2.0","id":98,"method":"tools/li`, -32700, "null"},
		{"a number", `42`, -32600, "null"},
		{"method not a string", `{"jsonrpc":"2.0","id":97,"method":7}`, -32600, "97"},
		{"no jsonrpc tag", `{"id":96,"method":"tools/list"}`, -32600, "96"},
	} {
		before, after := id, id+1
		id += 2
		r.send(toolCall(before, "read_graph"), c.line, toolCall(after, "memory_status"))
		got, nulls := r.expect(c.name, fmt.Sprint(before), c.idBack, fmt.Sprint(after))
		errRep := got[c.idBack]
		if c.idBack == "null" {
			errRep = nulls[0]
		}
		if errRep.Error == nil || errRep.Error.Code != c.code {
			t.Errorf("%s (%s): got %s, want error %d", c.name, c.line, errRep.raw, c.code)
		}
		for _, n := range []int{before, after} {
			if rep := got[fmt.Sprint(n)]; rep.Error != nil || len(rep.Result) == 0 {
				t.Errorf("%s: call %d around it: %s", c.name, n, rep.raw)
			}
		}
	}

	// A 64 MiB line (over the SDK's own 16 MiB cap and memsnap's 4 MiB),
	// streamed: the server skips it without holding it (its peak resident
	// memory grows by less than half of it).
	hwm := func() int64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
				return kb << 10
			}
		}
		t.Fatal("no VmHWM in /proc/PID/status")
		return 0
	}
	before := hwm()
	r.send(toolCall(50, "read_graph"))
	if _, err := io.WriteString(r.in, `{"jsonrpc":"2.0","id":51,"method":"tools/call","params":{"name":"kv_get","arguments":{"key":"`); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for range 64 {
		if _, err := r.in.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	r.send(`"}}}`, toolCall(52, "memory_status"))
	// Refused under its own id, which stands before the value too long to
	// read: the client's call 51 ends instead of waiting for its timeout.
	got, _ := r.expect("64 MiB line", "50", "51", "52")
	if e := got["51"].Error; e == nil || e.Code != -32600 || !strings.Contains(e.Message, "longer than") {
		t.Errorf("64 MiB line: %s, want -32600 saying it is too long, under id 51", got["51"].raw)
	}
	if got["50"].Error != nil || got["52"].Error != nil {
		t.Errorf("calls around the long line: %s, %s", got["50"].raw, got["52"].raw)
	}
	// An id after the value too long to read cannot be told: id null.
	if _, err := io.WriteString(r.in, `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"kv_get","arguments":{"key":"`+strings.Repeat("b", 5<<20)+`"}},"id":53}`+"\n"); err != nil {
		t.Fatal(err)
	}
	r.send(toolCall(54, "memory_status"))
	if _, nulls := r.expect("a long line with its id last", "null", "54"); nulls[0].Error == nil || nulls[0].Error.Code != -32600 {
		t.Errorf("long line, id last: %s, want -32600 under id null", nulls[0].raw)
	}
	grew := hwm() - before
	t.Logf("peak resident memory grew by %d KiB over the 64 MiB line", grew>>10)
	if grew >= 32<<20 {
		t.Errorf("the peak resident memory grew by %d MiB over the 64 MiB line: it was held", grew>>20)
	}

	// Issue 25, item 8: an unknown resource URI is invalid params.
	r.send(`{"jsonrpc":"2.0","id":60,"method":"resources/subscribe","params":{"uri":"memory://nothing"}}`,
		`{"jsonrpc":"2.0","id":61,"method":"resources/read","params":{"uri":"memory://nothing"}}`,
		`{"jsonrpc":"2.0","id":62,"method":"resources/subscribe","params":{"uri":"memory://knowledge-graph"}}`)
	got, _ = r.expect("unknown resource", "60", "61", "62")
	for _, n := range []string{"60", "61"} {
		if e := got[n].Error; e == nil || e.Code != -32602 {
			t.Errorf("unknown resource URI, call %s: %s, want error -32602", n, got[n].raw)
		}
	}
	if got["62"].Error != nil {
		t.Errorf("subscribe to the knowledge graph: %s", got["62"].raw)
	}
}

// Issue 25, done-when 1 (stdio): replies due when the input ends are still
// written before the server exits.
func TestStdioAnswersWhatWasAskedBeforeTheEnd(t *testing.T) {
	store := newStore(t)
	var in strings.Builder
	in.WriteString(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}` + "\n")
	in.WriteString(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")
	for i := 2; i < 6; i++ {
		in.WriteString(toolCall(i, "read_graph") + "\n")
	}
	in.WriteString("hello\n")
	res := memsnap(t, store, []byte(in.String()), nil, "mcp")
	if res.code != 0 {
		t.Fatalf("memsnap mcp exited %d: %s", res.code, res.stderr)
	}
	for i := 1; i < 6; i++ {
		if !strings.Contains(res.stdout, fmt.Sprintf(`"id":%d,"result"`, i)) {
			t.Errorf("no reply to call %d in:\n%s", i, res.stdout)
		}
	}
	if !strings.Contains(res.stdout, `"id":null,"error":{"code":-32700`) {
		t.Errorf("no parse error for hello in:\n%s", res.stdout)
	}
}

// Issue 25, item 2 (stdio): an id the reply would not carry back exactly
// (1.5 came back as 1, 2^53+1 as 2^53, a 30-digit one as -2^63) or a null
// one (which got no reply and the call did not run) is refused -32600 with
// id null; a line that is not UTF-8, or holds an unpaired surrogate escape,
// is refused -32700 (the SDK stored both as U+FFFD, while memsnap enqueue
// refuses them); a call before initialize gets -32600, not code 0.
func TestStdioRefusesWhatItWouldChange(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	r := startRawMCP(t, ctx, store)
	r.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if got, _ := r.expect("before initialize", "1"); got["1"].Error == nil || got["1"].Error.Code != -32600 {
		t.Errorf("tools/list before initialize: %s, want error -32600", got["1"].raw)
	}
	r.send(`{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if got, _ := r.expect("initialize", "2"); got["2"].Error != nil {
		t.Fatalf("initialize: %s", got["2"].raw)
	}
	call := func(id, tool, args string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, id, tool, args)
	}
	id := 10
	for _, c := range []struct {
		name, line string
		code       int64
	}{
		{"fraction id", call("1.5", "memory_status", "{}"), -32600},
		{"exponent id", call("2e1", "memory_status", "{}"), -32600},
		{"id beyond int64", call("123456789012345678901234567890", "memory_status", "{}"), -32600},
		{"id beyond 2^53", call("9007199254740993", "memory_status", "{}"), -32600},
		{"null id on ping", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, -32600},
		{"null id on a call", call("null", "memory_status", "{}"), -32600},
		{"name not UTF-8", call("900", "create_entities", "{\"entities\":[{\"name\":\"bad\xff\xfename\",\"entityType\":\"t\",\"observations\":[]}]}"), -32700},
		{"key not UTF-8", call("901", "kv_put", "{\"key\":\"k\xff\",\"value\":\"v\"}"), -32700},
		{"lone surrogate", call("902", "kv_put", `{"key":"k\ud800","value":"v"}`), -32700},
	} {
		before, after := id, id+1
		id += 2
		r.send(toolCall(before, "memory_status"), c.line, toolCall(after, "memory_status"))
		got, nulls := r.expect(c.name, fmt.Sprint(before), "null", fmt.Sprint(after))
		if e := nulls[0].Error; e == nil || e.Code != c.code {
			t.Errorf("%s: got %s, want error %d with id null", c.name, nulls[0].raw, c.code)
		}
		for _, n := range []int{before, after} {
			if rep := got[fmt.Sprint(n)]; rep.Error != nil || len(rep.Result) == 0 {
				t.Errorf("%s: call %d around it: %s", c.name, n, rep.raw)
			}
		}
	}
	// The largest exact id comes back as sent.
	r.send(call("9007199254740992", "memory_status", "{}"), call(`"s1.5"`, "memory_status", "{}"))
	r.expect("largest exact id", "9007199254740992", `"s1.5"`)
}
