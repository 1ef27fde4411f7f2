package writer

import "errors"
import "path/filepath"
import "testing"

import "github.com/memsnap/memsnap/internal/kvstore"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"

// A replayed job passes only when it was accepted and its results equal the
// outcome CURRENT's kv records for it.
func TestReplayedAsRecorded(t *testing.T) {
	kv, err := kvstore.OpenRW(filepath.Join(t.TempDir(), "kv"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	recorded := []model.OpResult{{New: []int{0, 2}}, {Added: [][]string{{"a"}}}}
	b := kv.NewBatch()
	if err := b.SetJob("J1", model.EncodeOutcome(model.Outcome{JobID: "J1", Status: model.StatusApplied, Results: recorded})); err != nil {
		t.Fatal(err)
	}
	if err := b.SetJob("J2", model.EncodeOutcome(model.Outcome{JobID: "J2", Status: model.StatusRejected, Reason: "no"})); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	job := func(id, reason string, results ...model.OpResult) *batchJob {
		return &batchJob{c: queue.Claimed{ID: id}, reason: reason, results: results}
	}
	for _, tc := range []struct {
		name string
		bj   *batchJob
		ok   bool
	}{
		{"same results", job("J1", "", recorded...), true},
		{"another item new", job("J1", "", model.OpResult{New: []int{0}}, recorded[1]), false},
		{"rejected now", job("J1", "Entity with name x not found"), false},
		{"rejected then", job("J2", ""), false},
		{"no outcome", job("J3", ""), false},
	} {
		err := replayedAsRecorded(kv, tc.bj)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errReplayDiffers)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
