package reader

import "context"
import "errors"
import "testing"

import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"

// CheckContent agrees with the digest the writer recorded, and finds a
// manifest whose digest is not its graph's (snapshot.ErrCorrupt); a
// manifest with no digest (an older store) is not checked.
func TestCheckContent(t *testing.T) {
	f := newFixture(t)
	current := func() *snapshot.Manifest { return snapshottest.CurrentManifest(t, f.store) }
	f.addEntity(t)
	before := current().Digest
	f.addEntity(t)
	m := current()
	if m.Digest == "" {
		t.Fatal("the writer recorded no content digest")
	}
	check := CheckContent(1024)
	ctx := context.Background()
	if err := check(ctx, f.store, m); err != nil {
		t.Fatalf("the graph and its own manifest: %v", err)
	}
	other := *m
	other.Digest = before // the content before the last entity
	if err := check(ctx, f.store, &other); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Errorf("a manifest with another snapshot's digest: %v; want snapshot.ErrCorrupt", err)
	}
	other.Digest = ""
	if err := check(ctx, f.store, &other); err != nil {
		t.Errorf("a manifest without a digest: %v; want no check", err)
	}
}
