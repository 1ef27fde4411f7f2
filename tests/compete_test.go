package tests

import "flag"
import "os"
import "os/exec"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer/producer"

var compete = flag.Duration("compete", 2*time.Second, "run TestCompetingWriters for at least this long (make test: 2s; make crashtest COMPETE=1 runs 2m)")

// competeWaitCap bounds how long TestCompetingWriters goes on past
// -compete waiting for the first writer that had to wait for the lock.
const competeWaitCap = 2 * time.Minute

// lockedBuffer is a bytes.Buffer a process writes to while the test reads.
type lockedBuffer = testutil.LockedBuffer

// Competing writers: two daemons and a loop of manual commits on one store,
// with a producer enqueueing all along. No job may be applied twice, every
// snapshot must build on the one before it (none lost, no fork), and each
// writer that had to wait for the lock says so in its log. make test runs
// a short form (-compete=2s, going on until some writer waited for the
// lock); make crashtest COMPETE=1 the 2-minute soak.
func TestCompetingWriters(t *testing.T) {
	store := newStore(t)
	s, err := snapshot.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	env := []string{"MEMSNAP_WRITER_COMMIT=@every 100ms"}
	// Every snapshot stays, for every writer (the manual and final commits
	// too, which otherwise collect all but gc.keep): the line is checked
	// whole at the end.
	t.Setenv("MEMSNAP_GC_KEEP", "1000000")
	t.Setenv("MEMSNAP_GC_SCHEDULE", "@every 1h")
	var daemons []*exec.Cmd
	var logs []*lockedBuffer
	for i := 0; i < 2; i++ {
		d := exec.CommandContext(ctx, bin, "--store", store, "--log-level", "info", "daemon")
		d.Env = append(os.Environ(), env...)
		log := &lockedBuffer{}
		d.Stderr = log
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		daemons, logs = append(daemons, d), append(logs, log)
	}
	lim := config.Default().Job.Limits()
	last, acked := -1, 0
	manual := &lockedBuffer{}
	waits := func() int {
		n := 0
		for _, l := range append(logs, manual) {
			n += strings.Count(l.String(), "waited for the writer lock")
		}
		return n
	}
	start := time.Now()
	for k := 0; time.Since(start) < *compete || (waits() == 0 && time.Since(start) < competeWaitCap); k++ {
		if _, err := producer.Enqueue(s, linkJob("w", k, last), lim); err != nil {
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
	for _, l := range append(logs, manual) {
		if strings.Contains(l.String(), "level=ERROR") {
			t.Errorf("a writer logged an error:\n%s", l.String())
		}
	}
	if waits() == 0 {
		t.Fatalf("no writer ever logged waiting for the lock: the writers never competed")
	}
	t.Logf("%s: %d jobs, %d snapshots in one unbroken line, %d lock waits logged, no job applied twice", time.Since(start).Round(time.Second), acked, len(seqs), waits())
}
