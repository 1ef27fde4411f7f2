package tests

import "bytes"
import "encoding/json"
import "fmt"
import "io"
import "os"
import "os/exec"
import "strings"
import "sync"
import "testing"

import "github.com/modelcontextprotocol/go-sdk/mcp"

// frameReader passes a stdio MCP stream through and keeps the size of the
// largest newline-delimited message in it.
type frameReader struct {
	r       io.ReadCloser
	mu      sync.Mutex // guards cur and largest
	cur     int
	largest int
}

func (f *frameReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	for rest := p[:n]; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			f.cur += len(rest)
			break
		}
		f.largest = max(f.largest, f.cur+i)
		f.cur, rest = 0, rest[i+1:]
	}
	return n, err
}

func (f *frameReader) Close() error { return f.r.Close() }

// take returns the largest message since the last call.
func (f *frameReader) take() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.largest
	f.largest = 0
	return n
}

// An MCP query answer fits mcp.max_answer_bytes (256 KiB by default, at
// most 4 MiB here; an MCP client takes 10 MiB in a message), however wide
// or escaped its rows: the rows go
// twice (indented text and structured content), which took 25 MB before;
// rows are cut and the answer says so.
func TestMCPQueryAnswerFitsAFrame(t *testing.T) {
	ctx := testContext(t)
	store := newStore(t)
	cmd := exec.Command(bin, "--store", store, "--log-level", "warn", "mcp")
	cmd.Stderr = os.Stderr
	in := pipe(t, cmd.StdinPipe)
	out := pipe(t, cmd.StdoutPipe)
	mustStart(t, cmd)
	t.Cleanup(func() { _ = in.Close(); _ = cmd.Wait() })
	frames := &frameReader{r: out}
	client := mcp.NewClient(&mcp.Implementation{Name: "memsnap-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.IOTransport{Reader: frames, Writer: in, MaxLineLength: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	columns := func(n int) string {
		var c []string
		for i := range n {
			c = append(c, fmt.Sprintf("0 AS c%d", i))
		}
		return strings.Join(c, ", ")
	}
	for _, c := range []struct {
		cypher string
		rows   int // the query's rows
	}{
		{"UNWIND range(1,10000) AS x RETURN " + columns(300), 10000},
		{"UNWIND range(1,10000) AS x RETURN " + columns(100), 10000},
		{"UNWIND range(1,20) AS x RETURN repeat('\"', 100000) AS q", 20},
		{"UNWIND range(1,3) AS x RETURN x", 3},
	} {
		text, res := call(t, ctx, cs, "query", map[string]any{"cypher": c.cypher})
		size := frames.take()
		if res.IsError {
			t.Fatalf("%.60s: %s", c.cypher, text)
		}
		var got struct {
			Rows            [][]any `json:"rows"`
			Truncated       bool    `json:"truncated"`
			TruncatedReason string  `json:"truncated_reason"`
		}
		if err := json.Unmarshal([]byte(text), &got); err != nil {
			t.Fatalf("%.60s: %v", c.cypher, err)
		}
		t.Logf("%.60s: %d rows of %d, message %d bytes, truncated %v (%s)", c.cypher, len(got.Rows), c.rows, size, got.Truncated, got.TruncatedReason)
		// mcp.max_answer_bytes (256 KiB by default, 4 MiB before) caps
		// the answer; the JSON-RPC envelope and _meta take a few hundred
		// bytes more.
		if size == 0 || size > 4<<20+1024 {
			t.Errorf("%.60s: a %d-byte message, want at most 4 MiB and the envelope", c.cypher, size)
		}
		if len(got.Rows) < c.rows && !got.Truncated {
			t.Errorf("%.60s: %d rows of %d, not marked truncated", c.cypher, len(got.Rows), c.rows)
		}
		if c.rows == 3 && (len(got.Rows) != 3 || got.Truncated) {
			t.Errorf("small answer: %d rows, truncated %v", len(got.Rows), got.Truncated)
		}
	}
}
