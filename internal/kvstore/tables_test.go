package kvstore

import "fmt"
import "path/filepath"
import "testing"

// A store built by many small commits, each opening the writer's store,
// recording one job outcome, flushing and closing (as each snapshot's
// commit does), keeps a bounded number of sstables: Pebble's level-0
// compaction merges them every l0FileThreshold flushes instead of every
// 500 (issue 28: each costs a 4 KiB block, shared by hard link between
// snapshots but never merged).
func TestSmallCommitsKeepFewTables(t *testing.T) {
	dir := t.TempDir()
	const commits = 120
	most := 0
	for i := range commits {
		commitAndClose(t, dir, nil, func(b *Batch) error {
			return b.SetJob(fmt.Sprintf("01J%010d", i), []byte(`{"status":"applied"}`))
		})
		ssts, err := filepath.Glob(filepath.Join(dir, "*.sst"))
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, len(ssts))
	}
	// Measured: at most 20 after 120 commits (one per commit would be 120).
	if most > commits/4 {
		t.Errorf("%d commits left up to %d sstables; want at most %d (level 0 compacted every %d flushes)", commits, most, commits/4, l0FileThreshold)
	}
	d, err := OpenRO(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i := range commits {
		if _, found, err := d.GetJob(fmt.Sprintf("01J%010d", i)); err != nil || !found {
			t.Fatalf("outcome %d after compactions: found %v, %v", i, found, err)
		}
	}
}
