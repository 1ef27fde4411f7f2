package tests

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memsnap/memsnap/config"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

var compete = flag.Duration("compete", 0, "run TestCompetingWriters for this long (make crashtest COMPETE=1 runs 2m)")

// Competing writers: two daemons and a loop of manual commits on one store,
// with a producer enqueueing all along. No job may be applied twice, every
// snapshot must build on the one before it (none lost, no fork), and each
// writer that had to wait for the lock says so in its log.
func TestCompetingWriters(t *testing.T) {
	if *compete == 0 {
		t.Skip("skipped: a soak; run with -compete=2m (make crashtest COMPETE=1)")
	}
	store := newStore(t)
	s, err := snapshot.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	env := []string{"MEMSNAP_WRITER_COMMIT=@every 100ms", "MEMSNAP_GC_KEEP=1000000", "MEMSNAP_GC_SCHEDULE=@every 1h"}
	var daemons []*exec.Cmd
	var logs []*bytes.Buffer
	for i := 0; i < 2; i++ {
		d := exec.CommandContext(ctx, bin, "--store", store, "--log-level", "info", "daemon")
		d.Env = append(os.Environ(), env...)
		log := &bytes.Buffer{}
		d.Stderr = log
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		daemons, logs = append(daemons, d), append(logs, log)
	}
	lim := config.Default().Job.Limits()
	last, acked := -1, 0
	manual := &bytes.Buffer{}
	end := time.Now().Add(*compete)
	for k := 0; time.Now().Before(end); k++ {
		if _, err := writer.Enqueue(s, linkJob("w", k, last), lim); err != nil {
			t.Fatal(err)
		}
		last, acked = k, acked+1
		if k%10 == 0 {
			c := exec.Command(bin, "--store", store, "--log-level", "info", "commit")
			c.Stderr = manual
			if err := c.Run(); err != nil {
				t.Fatalf("manual commit: %v: %s", err, manual.String())
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, d := range daemons {
		_ = d.Process.Signal(syscall.SIGTERM)
		_ = d.Wait()
	}
	sum := commit(t, store)
	if sum.Duplicates != 0 {
		t.Fatalf("a job was applied twice: %+v", sum)
	}
	q := query(t, store, "MATCH (e:Entity) RETURN e.name")
	if len(q.Rows) != 1 || q.Rows[0][0] != chainEntity("w", last) {
		t.Fatalf("after %d jobs the graph holds %v: a job was lost or applied twice", acked, q.Rows)
	}
	seqs, err := s.Seqs()
	if err != nil {
		t.Fatal(err)
	}
	var wm uint64
	for i, seq := range seqs {
		m, err := s.Manifest(seq)
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i+1) || (i > 0 && m.Parent != seqs[i-1]) || m.Watermark < wm {
			t.Fatalf("snapshot %d (parent %d, watermark %d) does not follow %v: a snapshot was lost or forked", seq, m.Parent, m.Watermark, seqs[:i])
		}
		wm = m.Watermark
	}
	waits := 0
	for _, l := range append(logs, manual) {
		waits += strings.Count(l.String(), "waited for the writer lock")
		if strings.Contains(l.String(), "level=ERROR") {
			t.Errorf("a writer logged an error:\n%s", l.String())
		}
	}
	if waits == 0 {
		t.Fatalf("no writer ever logged waiting for the lock: the writers never competed")
	}
	t.Logf("%s: %d jobs, %d snapshots in one unbroken line, %d lock waits logged, no job applied twice", *compete, acked, len(seqs), waits)
}
