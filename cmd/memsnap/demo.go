package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/snapshot"
)

type demoOptions struct {
	producers, readers, jobs int
	commit                   string
	pace                     time.Duration
}

func (a *app) newDemoCommand() *cobra.Command {
	var o demoOptions
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a daemon, producer and reader processes on the store and print a summary",
		Long: "The main job on one store: a daemon commits on a schedule while producer processes enqueue\n" +
			"memories and reader processes query all the while. Every process is a real memsnap process.\n" +
			"Prints jobs applied, snapshots published, reader queries and reader errors; exits 1 if any\n" +
			"reader failed or any memory is missing.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), a, o)
		},
	}
	c.Flags().IntVar(&o.producers, "producers", 3, "producer processes at a time")
	c.Flags().IntVar(&o.readers, "readers", 3, "reader processes at a time")
	c.Flags().IntVar(&o.jobs, "jobs", 20, "jobs per producer")
	c.Flags().DurationVar(&o.pace, "pace", 200*time.Millisecond, "pause between one producer's jobs")
	c.Flags().StringVar(&o.commit, "commit", "@every 1s", "the daemon's commit schedule")
	return c
}

func runDemo(ctx context.Context, a *app, o demoOptions) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: find own binary: %w", err)
	}
	s, err := snapshot.Init(a.cfg.Store)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "demo store: %s\n", s.Dir())
	base := []string{"--store", s.Dir(), "--log-level", "warn"}
	command := func(ctx context.Context, args ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, exe, append(base, args...)...)
		c.Env = append(os.Environ(), "MEMSNAP_WRITER_COMMIT="+o.commit)
		return c
	}
	start := time.Now()
	daemon := command(context.WithoutCancel(ctx), "daemon")
	daemon.Stderr = a.stderr
	if err := daemon.Start(); err != nil {
		return fmt.Errorf("demo: start daemon: %w", err)
	}
	defer func() {
		if daemon.ProcessState == nil {
			_ = daemon.Process.Kill()
			_ = daemon.Wait()
		}
	}()

	var enqueued, queries, readerErrs atomic.Int64
	var firstErr atomic.Value
	readCtx, stopReaders := context.WithCancel(ctx)
	var readers sync.WaitGroup
	for r := 0; r < o.readers; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for readCtx.Err() == nil {
				out, err := command(context.WithoutCancel(readCtx), "query", "--json",
					"MATCH (e:Entity) OPTIONAL MATCH (e)-[r:Relation]->() RETURN count(DISTINCT e), count(r)").CombinedOutput()
				if err != nil {
					if errors.Is(err, exec.ErrNotFound) || !bytes.Contains(out, []byte("nothing published yet")) {
						readerErrs.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%v: %s", err, bytes.TrimSpace(out)))
					}
				}
				queries.Add(1)
			}
		}()
	}
	var producers sync.WaitGroup
	for p := 0; p < o.producers; p++ {
		producers.Add(1)
		go func() {
			defer producers.Done()
			for k := 0; k < o.jobs && ctx.Err() == nil; k++ {
				job := demoJob(p, k)
				c := command(ctx, "enqueue")
				c.Stdin = bytes.NewReader(job)
				if out, err := c.CombinedOutput(); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Sprintf("enqueue: %v: %s", err, bytes.TrimSpace(out)))
					continue
				}
				enqueued.Add(1)
				time.Sleep(o.pace)
			}
		}()
	}
	producers.Wait()
	// Let the daemon catch up on its own schedule, then stop it cleanly.
	want := enqueued.Load()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if q, err := s.Queue().Counts(); err == nil && q.Waiting() == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	stopReaders()
	readers.Wait()
	_ = daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		return fmt.Errorf("demo: daemon exited badly: %w", err)
	}
	// Anything the daemon had not reached yet: one last commit.
	if out, err := command(ctx, "commit").CombinedOutput(); err != nil {
		return fmt.Errorf("demo: final commit: %v: %s", err, bytes.TrimSpace(out))
	}
	out, err := command(ctx, "query", "--json", "MATCH (e:Entity) WHERE e.entityType = 'memory' RETURN count(e)").Output()
	if err != nil {
		return fmt.Errorf("demo: final query: %w", err)
	}
	var res struct {
		Snapshot uint64  `json:"snapshot"`
		Rows     [][]any `json:"rows"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Rows) != 1 {
		return fmt.Errorf("demo: final query answer %q: %v", out, err)
	}
	memories := int64(res.Rows[0][0].(float64))
	fmt.Fprintf(a.stdout, "jobs enqueued:       %d (%d producers)\n", want, o.producers)
	fmt.Fprintf(a.stdout, "jobs applied:        %d memories in the graph\n", memories)
	fmt.Fprintf(a.stdout, "snapshots published: %d\n", res.Snapshot)
	fmt.Fprintf(a.stdout, "reader queries:      %d (%d reader processes at a time)\n", queries.Load(), o.readers)
	fmt.Fprintf(a.stdout, "reader errors:       %d\n", readerErrs.Load())
	fmt.Fprintf(a.stdout, "elapsed:             %s\n", time.Since(start).Round(time.Millisecond))
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(a.stderr, "first error: %s\n", e)
	}
	if readerErrs.Load() > 0 || memories != want || want != int64(o.producers*o.jobs) {
		return fmt.Errorf("demo failed: %d of %d memories applied, %d reader errors", memories, o.producers*o.jobs, readerErrs.Load())
	}
	return nil
}

// demoJob is one memory a producer records: an entity, a link to its
// producer's hub entity, and a KV note.
func demoJob(p, k int) []byte {
	hub := fmt.Sprintf("producer-%d", p)
	name := fmt.Sprintf("memory-%d-%d", p, k)
	job := map[string]any{"ops": []map[string]any{
		{"op": "create_entities", "entities": []map[string]any{
			{"name": hub, "entityType": "producer", "observations": []string{}},
			{"name": name, "entityType": "memory", "observations": []string{fmt.Sprintf("noted by %s at step %d", hub, k)}},
		}},
		{"op": "create_relations", "relations": []map[string]any{{"from": hub, "to": name, "relationType": "remembers"}}},
		{"op": "kv_put", "key": hub + "/last", "value": name},
	}}
	b, _ := json.Marshal(job)
	return b
}
