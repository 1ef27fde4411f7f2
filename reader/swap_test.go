package reader

import "bytes"
import "context"
import "errors"
import "fmt"
import "log/slog"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/sysinfo"
import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

type fixture struct {
	store *snapshot.Store
	opts  Options
	wopts writer.Options
	w     *writer.Writer
	n     int
}

// newFixture is newBenchStore for a test; opts adjust its store's check
// (snapshottest.SkipCheck for a test that damages it).
func newFixture(t *testing.T, opts ...snapshottest.Option) *fixture {
	t.Helper()
	f := &fixture{}
	f.store, f.opts, f.wopts, f.w = newBenchStore(t, opts...)
	return f
}

func newBenchStore(t testing.TB, opts ...snapshottest.Option) (*snapshot.Store, Options, writer.Options, *writer.Writer) {
	t.Helper()
	s := snapshottest.NewStore(t, opts...)
	wopts := writer.DefaultOptions()
	wopts.Keep = 1
	return s, DefaultOptions(), wopts, writer.New(s, wopts, nil)
}

// open opens a reader on the fixture's store with its options, closed
// when the test ends (Close is idempotent: a test may close it first).
func (f *fixture) open(t testing.TB) *Reader { return f.openWith(t, f.opts, nil) }

// openWith is open with other options and a logger (nil: none).
func (f *fixture) openWith(t testing.TB, opts Options, log *slog.Logger) *Reader {
	t.Helper()
	r, err := Open(context.Background(), f.store, opts, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// addEntity enqueues one new entity and commits it, publishing a snapshot.
func (f *fixture) addEntity(t testing.TB) {
	t.Helper()
	job := fmt.Sprintf(`{"ops":[{"op":"create_entities","entities":[{"name":"e%d","entityType":"t","observations":[]}]},{"op":"kv_put","key":"n","value":"%d"}]}`, f.n, f.n)
	if _, err := producer.Enqueue(f.store, []byte(job), f.wopts.Limits); err != nil {
		t.Fatal(err)
	}
	if sum, err := f.w.Commit(context.Background(), writer.CommitOptions{}); err != nil || sum.Batches != 1 {
		t.Fatalf("commit: %+v %v", sum, err)
	}
	f.n++
}

func countOn(t *testing.T, ctx context.Context, h *handle) int64 {
	t.Helper()
	c, err := h.conn()
	if err != nil {
		t.Fatal(err)
	}
	defer h.putConn(c)
	res, err := c.Query(ctx, "MATCH (e:Entity) RETURN count(e)", nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Rows[0][0].(int64)
}

// openFDs counts this process's open file descriptors, or returns -1
// where they cannot be counted: without /proc/self/fd (Windows), and under
// Wine, where /proc/self/fd is the Wine process's Linux descriptors, not
// its Windows handles (with the queue watch's directory handles, 3 more
// were open there after Close, though fsnotify's Close had returned).
func openFDs(t *testing.T) int {
	t.Helper()
	if testutil.OnWine() {
		return -1
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// Done-when 5: a long-lived reader keeps answering across many refreshes;
// queries in flight on the old snapshot finish on it; old snapshots close
// (file descriptors return to their starting count); GC removes unpinned old
// snapshots and never a pinned one.
func TestSwapKeepsAnsweringAndReleasesOldSnapshots(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.addEntity(t)
	fdStart := openFDs(t)
	r := f.open(t)
	fdOpen := openFDs(t)
	const refreshes = 25
	for i := 0; i < refreshes; i++ {
		inflight, err := r.acquire() // a query that started before the swap
		if err != nil {
			t.Fatal(err)
		}
		oldSeq := inflight.seq
		f.addEntity(t)
		if swapped, err := r.Refresh(ctx); err != nil || !swapped {
			t.Fatalf("refresh %d: swapped=%v err=%v", i, swapped, err)
		}
		res, err := r.Query(ctx, "MATCH (e:Entity) RETURN count(e)", nil)
		if err != nil {
			t.Fatalf("query after refresh %d: %v", i, err)
		}
		if res.Snapshot != oldSeq+1 || res.Rows[0][0].(int64) != int64(f.n) {
			t.Fatalf("after refresh %d: snapshot %d count %v, want %d and %d", i, res.Snapshot, res.Rows[0][0], oldSeq+1, f.n)
		}
		// The in-flight query finishes on the snapshot it started on.
		if n := countOn(t, ctx, inflight); n != int64(f.n-1) {
			t.Fatalf("in-flight query on snapshot %d saw %d entities, want %d", oldSeq, n, f.n-1)
		}
		// Pinned by the in-flight query: GC must keep it.
		gc, err := writer.GC(ctx, f.store, f.wopts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(gc.Removed, oldSeq) || !slices.Contains(gc.Pinned, oldSeq) {
			t.Fatalf("gc with snapshot %d pinned: %+v", oldSeq, gc)
		}
		inflight.unref() // the query ends: the old snapshot closes
		r.waitClosed(func(*handle) bool { return true })
		if inflight.refs.Load() != 0 {
			t.Fatalf("old handle still has %d refs", inflight.refs.Load())
		}
		gc, err = writer.GC(ctx, f.store, f.wopts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(gc.Removed, oldSeq) {
			t.Fatalf("gc after the last query on snapshot %d ended: %+v", oldSeq, gc)
		}
		if fds := openFDs(t); fdOpen >= 0 && fds > fdOpen+8 {
			t.Fatalf("after %d refreshes %d fds are open, %d with one snapshot: old snapshots leak", i+1, fds, fdOpen)
		}
	}
	if got := r.Refreshes(); got != refreshes {
		t.Fatalf("refreshes: %d", got)
	}
	if seqs, _ := f.store.Seqs(); len(seqs) != 1 {
		t.Fatalf("snapshots left after gc: %v", seqs)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if fdStart < 0 {
		t.Log("file descriptors not counted here (see openFDs)")
	} else if fds := openFDs(t); fds != fdStart {
		t.Fatalf("fds after close: %d, before open: %d", fds, fdStart)
	}
}

// A failed refresh keeps serving the old snapshot and says why.
func TestFailedRefreshKeepsServing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, snapshottest.SkipCheck("a snapshot's graph is removed on purpose"))
	f.addEntity(t)
	r := f.open(t)
	f.addEntity(t)
	// Damage the new snapshot: its graph file is gone.
	if err := os.Remove(filepath.Join(f.store.SnapshotDir(2), snapshot.GraphFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Refresh(ctx); err == nil {
		t.Fatal("refresh onto a damaged snapshot succeeded")
	}
	if r.LastRefreshError() == nil {
		t.Fatal("the failed refresh is not reported")
	}
	res, err := r.Query(ctx, "MATCH (e:Entity) RETURN count(e)", nil)
	if err != nil || res.Snapshot != 1 {
		t.Fatalf("after a failed refresh: %+v %v", res, err)
	}
}

// Scheduled refresh picks up new snapshots on its own.
func TestScheduledRefresh(t *testing.T) {
	f := newFixture(t)
	f.opts.Refresh = "@every 1s"
	f.opts.WatchCurrent = false // the schedule alone
	f.addEntity(t)
	r := f.open(t)
	if err := r.StartRefresh(); err != nil {
		t.Fatal(err)
	}
	f.addEntity(t)
	waitServes(t, r, 2, "a scheduled refresh")
}

// waitServes waits until r serves snapshot want, failing the test after
// 20 s: what names what should have moved it.
func waitServes(t *testing.T, r *Reader, want uint64, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.Seq() != want {
		if time.Now().After(deadline) {
			t.Fatalf("no move to snapshot %d by %s within 20s (serving %d)", want, what, r.Seq())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// With WatchCurrent and no schedule, a reader moves to a new snapshot
// because CURRENT was replaced, and Close stops the watch.
func TestRefreshWhenCurrentChanges(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.opts.Refresh, f.opts.WatchCurrent = "", true
	f.addEntity(t)
	r := f.open(t)
	if err := r.StartRefresh(); err != nil {
		t.Fatal(err)
	}
	for want := uint64(2); want <= 3; want++ {
		f.addEntity(t)
		waitServes(t, r, want, "the watch of CURRENT")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	f.addEntity(t) // no watch left to refresh a closed reader
	if _, err := r.Refresh(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("refresh after Close: %v, want ErrClosed", err)
	}
}

// WaitFor returns a job's outcome once a published snapshot holds it.
func TestWaitForSeesCommit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.addEntity(t)
	r := f.open(t)
	id, err := producer.Enqueue(f.store, []byte(`{"ops":[{"op":"kv_put","key":"w","value":"1"}]}`), f.wopts.Limits)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := r.Job(ctx, id); err != nil || o.Status != "pending" {
		t.Fatalf("queued job: %+v %v", o, err)
	}
	done := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, err := f.w.Commit(ctx, writer.CommitOptions{})
		done <- err
	}()
	o, err := r.WaitFor(ctx, id)
	if err != nil || o.Status != "applied" || o.Snapshot != 2 {
		t.Fatalf("WaitFor: %+v %v", o, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, ok, seq, err := r.KVGet(ctx, "w"); err != nil || !ok || v != "1" || seq != 2 {
		t.Fatalf("read-your-writes: %q %v %d %v", v, ok, seq, err)
	}
	if o, err := r.WaitFor(ctx, "01ARZ3NDEKTSV4RRFFQ69G5FAV"); err != nil || o.Status != "unknown" {
		t.Fatalf("WaitFor of a job nobody enqueued: %+v %v", o, err)
	}
}

// JobOutcome opens only the snapshot's key-value store: it answers while
// the graph file is damaged, and refuses a damaged key-value file.
func TestJobOutcomeReadsOnlyTheKeyValueStore(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, snapshottest.SkipCheck("a snapshot is damaged on purpose"))
	id, err := producer.Enqueue(f.store, []byte(`{"ops":[{"op":"kv_put","key":"j","value":"1"}]}`), f.wopts.Limits)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := JobOutcome(ctx, f.store, f.opts.Verify, id); err != nil || o.Status != "pending" {
		t.Fatalf("before any snapshot: %+v %v", o, err)
	}
	if _, err := f.w.Commit(ctx, writer.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := f.store.Manifest(1)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(rel string) {
		t.Helper()
		testutil.FlipByte(t, filepath.Join(f.store.SnapshotDir(1), filepath.FromSlash(rel)), testutil.Middle)
	}
	flip(snapshot.GraphFile)
	if o, err := JobOutcome(ctx, f.store, f.opts.Verify, id); err != nil || o.Status != "applied" {
		t.Fatalf("with the graph damaged: %+v %v", o, err)
	}
	for _, file := range m.Files {
		if strings.HasPrefix(file.Path, snapshot.KVDir+"/") && file.Size > 0 {
			flip(file.Path)
			break
		}
	}
	if _, err := JobOutcome(ctx, f.store, f.opts.Verify, id); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("with a key-value file damaged: %v", err)
	}
	if _, err := JobOutcome(ctx, f.store, f.opts.Verify, "../x"); err == nil {
		t.Fatal("a job id with a path in it was accepted")
	}
}

// A scrub re-reads the snapshot being served and finds damage that a check
// trusting earlier reads would not: here a byte flipped in the served
// graph file after the reader verified it.
func TestScrubFindsDamage(t *testing.T) {
	f := newFixture(t, snapshottest.SkipCheck("a snapshot's graph is damaged on purpose"))
	f.addEntity(t)
	var logs bytes.Buffer
	r := f.openWith(t, f.opts, slog.New(slog.NewTextHandler(&logs, nil)))
	defer r.Close()
	if p := r.Scrub(nil); p != nil {
		t.Fatalf("scrub of an intact snapshot: %v", p)
	}
	// The file's last byte: no query of this test reads it.
	testutil.FlipByte(t, filepath.Join(f.store.SnapshotDir(1), snapshot.GraphFile), testutil.Last)
	p := r.Scrub(nil)
	if len(p) != 1 || !strings.Contains(p[0].Error(), "checksum mismatch") {
		t.Fatalf("scrub of a damaged snapshot: %v", p)
	}
	if scrubs, damaged := r.ScrubStats(); scrubs != 2 || damaged != 1 {
		t.Errorf("scrub stats %d, %d; want 2 scrubs, 1 damaged", scrubs, damaged)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "scrub found damage") {
		t.Errorf("damage not logged as an error: %s", logs.String())
	}
}

// A snapshot opens with a buffer pool of at least reader.buffer_pool_mb,
// four times its graph when that is more, and never over half the
// machine's memory.
func TestBufferPoolFollowsTheGraph(t *testing.T) {
	m := func(graph int64) *snapshot.Manifest {
		return &snapshot.Manifest{Files: []snapshot.FileSum{{Path: "kv/000001.sst", Size: 1 << 40}, {Path: snapshot.GraphFile, Size: graph}}}
	}
	if got := bufferPool(64<<20, m(1<<20)); got != 64<<20 {
		t.Errorf("small graph: pool %d, want the least, %d", got, 64<<20)
	}
	if got := bufferPool(64<<20, m(100<<20)); got != 400<<20 {
		t.Errorf("100 MiB graph: pool %d, want %d", got, 400<<20)
	}
	half := sysinfo.TotalRAM() / 2
	if half == 0 {
		t.Skip("the machine's memory is unknown here")
	}
	if got := bufferPool(64<<20, m(1<<50)); got != half {
		t.Errorf("huge graph: pool %d, want half the memory, %d", got, half)
	}
}

// Seqs only grow: a CURRENT moved back to an older snapshot than the one
// served is not followed. Refresh keeps serving, fails with
// snapshot.ErrCurrentBehind naming the repair, and LastRefreshError holds it.
func TestRefreshRefusesCurrentMovedBack(t *testing.T) {
	f := newFixture(t)
	f.wopts.Keep = 10
	f.w = writer.New(f.store, f.wopts, nil)
	f.addEntity(t)
	f.addEntity(t)
	r := f.open(t)
	served := r.Seq()
	tmp := f.store.Path("CURRENT.test")
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", served-1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.store.Path(snapshot.CurrentFile)); err != nil {
		t.Fatal(err)
	}
	swapped, err := r.Refresh(context.Background())
	if swapped || !errors.Is(err, snapshot.ErrCurrentBehind) || !strings.Contains(err.Error(), snapshot.RepairCommand) {
		t.Fatalf("Refresh with CURRENT moved back: swapped %v, %v; want ErrCurrentBehind naming the repair", swapped, err)
	}
	if r.Seq() != served || !errors.Is(r.LastRefreshError(), snapshot.ErrCurrentBehind) {
		t.Fatalf("serving %d (want %d), LastRefreshError %v", r.Seq(), served, r.LastRefreshError())
	}
	if _, found, seq, err := r.KVGet(context.Background(), "n"); err != nil || !found || seq != served {
		t.Fatalf("KVGet after the refused refresh: found %v at %d, %v", found, seq, err)
	}
	// Repaired back to the snapshot served: the error clears.
	if err := f.store.PointCurrent(served); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Refresh(context.Background()); err != nil || r.LastRefreshError() != nil {
		t.Fatalf("Refresh after the repair: %v; LastRefreshError %v", err, r.LastRefreshError())
	}
}
