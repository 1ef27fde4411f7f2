package main

import "context"
import "fmt"
import "log/slog"
import "os"
import "path/filepath"
import "time"

import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// inProcessAck measures what the demo's write latency leaves out: a
// process started per write. It submits the same jobs the producers wrote
// (demoJob) through one producer.Acker in this process, as an MCP server
// acknowledges a write tool's job (prediction against the snapshot plus
// the pending jobs, then the durable enqueue: file written, fsynced,
// renamed, directory fsynced), and returns each Submit's duration. It runs
// on a scratch store with an empty first snapshot, removed at the end, so
// that the demo's store is left as the producers made it.
func (d *demo) inProcessAck(ctx context.Context) (took []time.Duration, err error) {
	tmp, err := os.MkdirTemp("", "memsnap-demo-ack-")
	if err != nil {
		return nil, fmt.Errorf("demo: scratch store: %w", err)
	}
	defer os.RemoveAll(tmp)
	s, err := snapshot.Init(filepath.Join(tmp, "store"))
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler) // the scratch store's snapshot is not the demo's news
	if _, _, err := writer.New(s, d.a.cfg.WriterOptions(), quiet).PublishEmpty(ctx); err != nil {
		return nil, fmt.Errorf("demo: scratch store: %w", err)
	}
	r, err := reader.Open(ctx, s, d.a.cfg.ReaderOptions(), quiet)
	if err != nil {
		return nil, fmt.Errorf("demo: scratch store: %w", err)
	}
	defer r.Close()
	acker := producer.NewAcker(s, d.a.cfg.Job.Limits(), r.State)
	for k := 0; k < d.o.jobs; k++ {
		for p := 0; p < d.o.producers; p++ {
			job := demoJob(p, k)
			start := time.Now()
			if _, err := acker.Submit(ctx, job); err != nil {
				return took, fmt.Errorf("demo: in-process acknowledgement: %w", err)
			}
			took = append(took, time.Since(start))
		}
	}
	return took, nil
}
