package replica

import "context"
import "errors"
import "fmt"
import "log/slog"
import "path/filepath"
import "slices"
import "testing"
import "time"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"
import "github.com/memsnap/memsnap/writer"

// TestRemoteRetentionKeepsEveryPointReachable runs a store whose history
// tiers thin every snapshot but the day's first and the newest (locally as
// the commits go, remotely at each upload; some points are thinned
// locally before they go up), against a real versitygw. Every point of the
// window then rebuilds from the remote (Mirror, then writer.BuildView, as
// restore --from --at does) with the content digest and counts it was
// served with. Then retention runs at an injected time that puts the
// window's start between two points: the points before its base are no
// longer reachable (snapshot.ErrNoPoint), every later one still is.
func TestRemoteRetentionKeepsEveryPointReachable(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	srv := testutil.StartS3(t)
	client := testClient(t, ctx, srv, "retain", log)
	store := snapshottest.NewStore(t)
	cfg := config.Default()
	cfg.Store = store.Dir()
	hist := snapshot.History{KeepFor: time.Hour} // no tier of every snapshot nor hourly: one per day
	opts := cfg.WriterOptions()
	opts.Keep, opts.History = 1, hist
	w := writer.New(store, opts, nil)
	now := time.Now()
	up := NewUploader(store, client, UploadOptions{Keep: 1, History: hist, Now: func() time.Time { return now }}, log)

	served := map[uint64]*snapshot.Manifest{} // the manifest of each point, as it was served
	for i := 1; i <= 8; i++ {
		job := fmt.Sprintf(`{"ops":[{"op":"create_entities","entities":[{"name":"e%d","entityType":"t","observations":["o%d"]}]},{"op":"kv_put","key":"k","value":"%d"}]}`, i, i, i)
		if err := store.Queue().Enqueue(queue.NewID(), []byte(job)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx, writer.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		m := snapshottest.CurrentManifest(t, store)
		served[m.Seq] = m
		if i == 5 || i == 6 {
			continue // thinned here before they go up: they go as history entries
		}
		now = time.Now()
		if _, err := up.Upload(ctx); err != nil {
			t.Fatalf("upload after commit %d: %v", i, err)
		}
	}
	full, thinned, err := remotePoints(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) > 3 || len(thinned) < 5 {
		t.Errorf("remote: %d snapshots kept in full, %d history entries; want the day's first and CURRENT (a third across midnight), the rest thinned", len(full), len(thinned))
	}
	seqs := slices.Sorted(func(yield func(uint64) bool) {
		for seq := range served {
			if !yield(seq) {
				return
			}
		}
	})
	for _, seq := range seqs {
		checkRemotePoint(t, client, opts, seq, served[seq], log)
	}

	// An injected time that puts the window's start between the 4th and
	// 5th points: the base is the newest snapshot kept in full at or before
	// it (the remote thinned the 4th already); every point from the base on
	// stays reachable, the 4th (CURRENT at the window's start) included.
	start := served[seqs[3]].CreatedAt.Add(served[seqs[4]].CreatedAt.Sub(served[seqs[3]].CreatedAt) / 2)
	var base uint64
	for seq := range full {
		if !served[seq].CreatedAt.After(start) {
			base = max(base, seq)
		}
	}
	now = start.Add(hist.KeepFor)
	retainAt(t, up, opts, served, seqs, base)
	// An hour and more after the last point: the window's base is CURRENT,
	// every point before it goes, with the history entries.
	now = served[seqs[len(seqs)-1]].CreatedAt.Add(hist.KeepFor + time.Second)
	full, thinned = retainAt(t, up, opts, served, seqs, seqs[len(seqs)-1])
	if len(full) != 1 || len(thinned) != 0 {
		t.Errorf("after the window passed: kept in full %v, history %v; want CURRENT alone", full, thinned)
	}
}

// retainAt runs remote retention at up's injected time and checks that
// base is kept in full, that every point before it is gone (Mirror says
// snapshot.ErrNoPoint) and that every point from it on still rebuilds as it
// was served; it returns the remote points kept in full and thinned.
func retainAt(t *testing.T, up *Uploader, opts writer.Options, served map[uint64]*snapshot.Manifest, seqs []uint64, base uint64) (full, thinned map[uint64]bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := up.retain(ctx, seqs[len(seqs)-1]); err != nil {
		t.Fatal(err)
	}
	full, thinned, err := remotePoints(ctx, up.client)
	if err != nil {
		t.Fatal(err)
	}
	if !full[base] {
		t.Errorf("the window's base %d is not kept in full (kept %v)", base, full)
	}
	for _, seq := range seqs {
		if seq >= base {
			checkRemotePoint(t, up.client, opts, seq, served[seq], up.log)
			continue
		}
		if full[seq] || thinned[seq] {
			t.Errorf("point %d, before the window's base %d, is still kept", seq, base)
		}
		if err := Mirror(ctx, up.client, snapshottest.NewStore(t), seq, up.log); !errors.Is(err, snapshot.ErrNoPoint) {
			t.Errorf("point %d, before the window's base %d: %v, want ErrNoPoint", seq, base, err)
		}
	}
	return full, thinned
}

// checkRemotePoint rebuilds point seq from the remote and fails unless it
// holds what want, the manifest it was served with, records.
func checkRemotePoint(t *testing.T, client *objstore.Client, opts writer.Options, seq uint64, want *snapshot.Manifest, log *slog.Logger) {
	t.Helper()
	ctx := context.Background()
	mirror := snapshottest.NewStore(t, snapshottest.SkipCheck("a mirror holds the history entries after its CURRENT, the point's base"))
	if err := Mirror(ctx, client, mirror, seq, log); err != nil {
		t.Fatalf("point %d: %v", seq, err)
	}
	view, err := writer.BuildView(ctx, mirror, opts, seq, filepath.Join(t.TempDir(), "view"), log)
	if err != nil {
		t.Fatalf("point %d: %v", seq, err)
	}
	got := snapshottest.CurrentManifest(t, view)
	if got.Seq != seq || got.Digest != want.Digest || got.Entities != want.Entities || got.KVKeys != want.KVKeys {
		t.Errorf("point %d rebuilt from the remote: seq %d, digest %s, %d entities, %d keys; served: digest %s, %d entities, %d keys",
			seq, got.Seq, got.Digest, got.Entities, got.KVKeys, want.Digest, want.Entities, want.KVKeys)
	}
}

// testClient is a client of prefix name in srv's bucket.
func testClient(t *testing.T, ctx context.Context, srv *testutil.S3Server, name string, log *slog.Logger) *objstore.Client {
	t.Helper()
	loc, err := objstore.ParseURL(srv.URL(name))
	if err != nil {
		t.Fatal(err)
	}
	client, err := objstore.New(ctx, loc, objstore.Options{Endpoint: srv.Endpoint, Region: "us-east-1",
		AccessKeyID: testutil.S3AccessKey, SecretAccessKey: testutil.S3SecretKey}, log)
	if err != nil {
		t.Fatal(err)
	}
	return client
}
