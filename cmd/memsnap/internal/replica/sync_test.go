package replica

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "log/slog"
import "os"
import "testing"

import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"
import "github.com/memsnap/memsnap/writer"

// syncFixture is a writer's store replicated to a real versitygw and a
// replica cache synced from it, all in this process.
type syncFixture struct {
	t      *testing.T
	ctx    context.Context
	src    *snapshot.Store
	cache  *snapshot.Store
	client *objstore.Client
	up     *Uploader
	log    *slog.Logger
	n      int // jobs committed so far
}

// newSyncFixture is a source store with 3000 entities, a cache store and
// an uploader; opts adjust both stores' check (snapshottest.NewStore).
func newSyncFixture(t *testing.T, opts ...snapshottest.Option) *syncFixture {
	srv := testutil.StartS3(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	src, cache := snapshottest.NewStore(t, opts...), snapshottest.NewStore(t, opts...)
	client := testClient(t, ctx, srv, "sync", log)
	f := &syncFixture{t: t, ctx: ctx, src: src, cache: cache, client: client, log: log,
		up: NewUploader(src, client, UploadOptions{}, log)}
	// Enough entities that the graph spans many chunks, so that a one-job
	// commit changes only some of them.
	ents := make([]map[string]any, 3000)
	for i := range ents {
		ents[i] = map[string]any{"name": fmt.Sprintf("entity-%05d", i), "entityType": "thing",
			"observations": []string{fmt.Sprintf("observation %d of a generated entity", i)}}
	}
	f.commit(map[string]any{"ops": []any{map[string]any{"op": "create_entities", "entities": ents}}})
	return f
}

// commit queues job, commits it on the writer's store and uploads the new
// snapshot; it returns the writer's CURRENT.
func (f *syncFixture) commit(job any) uint64 {
	f.t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.src.Queue().Enqueue(queue.NewID(), b); err != nil {
		f.t.Fatal(err)
	}
	sum, err := writer.New(f.src, writer.DefaultOptions(), nil).Commit(f.ctx, writer.CommitOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.up.Upload(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	f.n++
	return sum.Current
}

// oneJob commits a one-entity job.
func (f *syncFixture) oneJob() uint64 {
	f.t.Helper()
	return f.commit(map[string]any{"ops": []any{map[string]any{"op": "create_entities", "entities": []any{
		map[string]any{"name": fmt.Sprintf("added-%d", f.n), "entityType": "thing", "observations": []string{"one job"}}}}}})
}

// sameFiles fails unless the cache's snapshot seq holds, file for file,
// the bytes of the writer's snapshot seq.
func (f *syncFixture) sameFiles(seq uint64) {
	f.t.Helper()
	m, err := f.src.Manifest(seq)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, fs := range m.Files {
		want, err := os.ReadFile(f.src.SnapshotFile(seq, fs.Path))
		if err != nil {
			f.t.Fatal(err)
		}
		got, err := os.ReadFile(f.cache.SnapshotFile(seq, fs.Path))
		if err != nil {
			f.t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			f.t.Fatalf("the replica's snapshot %d: %s differs from the writer's (%d bytes, want %d)", seq, fs.Path, len(got), len(want))
		}
	}
	if problems := f.cache.Verify(seq); len(problems) > 0 {
		f.t.Fatalf("the replica's snapshot %d: %v", seq, problems)
	}
}

// TestSyncRecyclesGraph: once the cache holds a snapshot older than its
// CURRENT, each sync assembles the new snapshot in that snapshot's graph
// (the same file: no whole graph written), downloads and rewrites only the
// chunks that differ, reads back for its check only those, and the result
// is byte for byte the writer's snapshot.
func TestSyncRecyclesGraph(t *testing.T) {
	f := newSyncFixture(t)
	sy := NewSyncer(f.client, f.cache, SyncOptions{}, f.log)
	var prevGraph os.FileInfo // the graph of the snapshot before CURRENT
	var curGraph os.FileInfo
	for i := range 5 {
		seq := f.oneJob()
		m, err := f.src.Manifest(seq)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := graphOf(m)
		read := sy.verifier.BytesRead()
		res, err := sy.Sync(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || res.Seq != seq {
			t.Fatalf("sync %d: %+v, want snapshot %d", i, res, seq)
		}
		f.sameFiles(seq)
		info, err := os.Stat(f.cache.SnapshotFile(seq, snapshot.GraphFile))
		if err != nil {
			t.Fatal(err)
		}
		if prevGraph != nil {
			if res.Recycled == 0 || !os.SameFile(info, prevGraph) {
				t.Fatalf("sync %d of snapshot %d: recycled %d, same file as the older cached graph %v; want its graph recycled",
					i, seq, res.Recycled, os.SameFile(info, prevGraph))
			}
			if res.Fetched >= len(g.Chunks)/2 {
				t.Fatalf("sync %d: fetched %d objects for a one-job commit of a %d-chunk graph", i, res.Fetched, len(g.Chunks))
			}
			if n := sy.verifier.BytesRead() - read; n >= g.Size/2 {
				t.Fatalf("sync %d: its check read %d bytes, the graph is %d: the recycled graph was read in full", i, n, g.Size)
			}
		}
		prevGraph, curGraph = curGraph, info
	}
}

// TestSyncRecycledGraphDamaged: a recycled graph that fails its check (a
// chunk damaged on the cache's disk, found by a syncer that has not
// checked that file before) is not published: the snapshot is fetched
// again without it, and is the writer's byte for byte.
func TestSyncRecycledGraphDamaged(t *testing.T) {
	f := newSyncFixture(t)
	var seqs []uint64
	for range 2 {
		seqs = append(seqs, f.oneJob())
		if _, err := NewSyncer(f.client, f.cache, SyncOptions{}, f.log).Sync(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The older cached graph is the one the next sync recycles: damage
	// every chunk of it, those the sync will rewrite and those it keeps.
	old := f.cache.SnapshotFile(seqs[0], snapshot.GraphFile)
	b, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += 64 << 10 {
		b[i+100] ^= 0xff
	}
	if err := os.WriteFile(old, b, 0o600); err != nil {
		t.Fatal(err)
	}
	seq := f.oneJob()
	res, err := NewSyncer(f.client, f.cache, SyncOptions{}, f.log).Sync(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Seq != seq || res.Recycled != 0 {
		t.Fatalf("sync over a damaged recycled graph: %+v, want snapshot %d fetched afresh", res, seq)
	}
	f.sameFiles(seq)
}
