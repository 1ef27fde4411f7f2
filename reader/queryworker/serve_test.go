package queryworker

import "context"
import "encoding/json"
import "io"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/snapshot/snapshottest"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// servedWorker runs Serve in this process on a store of one snapshot and
// returns a function that sends one request and reads its answer.
func servedWorker(t *testing.T) (ask func(request) response, seq uint64) {
	t.Helper()
	s := snapshottest.NewStore(t)
	wopts := writer.DefaultOptions()
	job := `{"ops":[{"op":"create_entities","entities":[{"name":"a","entityType":"t","observations":["x"]}]}]}`
	if _, err := producer.Enqueue(s, []byte(job), wopts.Limits); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.New(s, wopts, nil).Commit(context.Background(), writer.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	seq, err := s.Current()
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), inR, outW, s, WorkerOptions{BufferPoolMB: 16}, nil) }()
	t.Cleanup(func() {
		inW.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return func(req request) response {
		t.Helper()
		if err := writeFrame(inW, req); err != nil {
			t.Fatal(err)
		}
		var ack, resp response
		if err := readFrame(outR, 64<<20, &ack); err != nil {
			t.Fatal(err)
		}
		if !ack.Ack || ack.ID != req.ID {
			t.Fatalf("the worker's first frame for query %d: %+v, want its acknowledgement", req.ID, ack)
		}
		if err := readFrame(outR, 64<<20, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}, seq
}

func TestServeCapsRowsAndBytes(t *testing.T) {
	ask, seq := servedWorker(t)
	const many = "UNWIND range(1, 1000) AS x RETURN x"
	for _, c := range []struct {
		req    request
		rows   int
		reason string
	}{
		{request{Cypher: many, MaxRows: 10}, 10, "more than 10 rows (reader.query_max_rows)"},
		{request{Cypher: many, MaxBytes: 100}, -1, "more than 100 bytes of rows (reader.query_max_bytes)"},
		{request{Cypher: many, MaxRows: 1000, MaxBytes: 1 << 20}, 1000, ""},
		{request{Cypher: "MATCH (e:Entity) WHERE e.name = $n RETURN e.name, $k + 1", Params: json.RawMessage(`{"n":"a","k":41}`)}, 1, ""},
	} {
		c.req.ID, c.req.Seq = 7, seq
		resp := ask(c.req)
		var rows [][]any
		if resp.Error != "" || json.Unmarshal(resp.Rows, &rows) != nil {
			t.Fatalf("%+v: %+v", c.req, resp)
		}
		if resp.ID != 7 || resp.Snapshot != seq || resp.Truncated != (c.reason != "") || resp.TruncatedReason != c.reason ||
			c.rows >= 0 && len(rows) != c.rows || len(rows) == 0 {
			t.Errorf("%s (rows %d, bytes %d): %d rows, truncated %v %q; want %d rows, %q",
				c.req.Cypher, c.req.MaxRows, c.req.MaxBytes, len(rows), resp.Truncated, resp.TruncatedReason, c.rows, c.reason)
		}
		if c.req.MaxBytes > 0 && len(resp.Rows) > c.req.MaxBytes {
			t.Errorf("%d bytes of rows, over the cap of %d", len(resp.Rows), c.req.MaxBytes)
		}
	}
	if resp := ask(request{ID: 8, Seq: seq, Cypher: "RETURN $k + 1", Params: json.RawMessage(`{"k":41}`)}); string(resp.Rows) != "[[42]]" {
		t.Errorf("an integer parameter: %s %s", resp.Rows, resp.Error)
	}
	if resp := ask(request{ID: 9, Seq: seq, Cypher: "MATCH (e:Nope) RETURN e"}); resp.Kind != kindQuery || !strings.Contains(resp.Error, "Nope") {
		t.Errorf("a query Kuzu refuses: %+v", resp)
	}
	if resp := ask(request{ID: 10, Seq: seq + 100, Cypher: "RETURN 1"}); resp.Kind != kindOpen {
		t.Errorf("a snapshot that does not exist: %+v", resp)
	}
}
