package writer

import "context"
import "errors"
import "fmt"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"

// recycledStage commits five one-job batches (an entity, then an
// observation on the first one, in turn) and stages the next snapshot by
// recycling snapshot 3's graph (gc.keep 3 keeps 4 and 5 beside the stage),
// opened with the jobs of 4 and 5 to replay.
func recycledStage(t *testing.T) (*Writer, *snapshot.Stage, *openGraph, []*batchJob) {
	t.Helper()
	ctx := context.Background()
	s := snapshottest.NewStore(t)
	opts := DefaultOptions()
	opts.RecycleMinMB = 0 // a small test graph takes the recycling path too
	w := New(s, opts, nil)
	for i := range 5 {
		job := fmt.Sprintf(`{"ops":[{"op":"create_entities","entities":[{"name":"e%d","entityType":"t","observations":["o%d"]}]}]}`, i, i)
		if i%2 == 1 {
			job = fmt.Sprintf(`{"ops":[{"op":"add_observations","observations":[{"entityName":"e0","contents":["seen %d"]}]}]}`, i)
		}
		if _, err := enqueue(s, []byte(job), opts.Limits); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx, CommitOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stage, err := s.NewStageWith(ctx, snapshot.StageOptions{Keep: opts.Keep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stage.Abort() })
	if src := stage.Source(); src.Method != snapshot.StagedRecycled || src.Recycled != 3 || src.RecycledManifest == nil {
		t.Fatalf("staged %+v, want snapshot 3 recycled", src)
	}
	g, replay, err := w.replay(ctx, stage, nil)
	if err != nil || g == nil || len(replay) != 2 {
		t.Fatalf("replay: graph %v, %d jobs, %v; want the graph and 2 jobs", g, len(replay), err)
	}
	return w, stage, g, replay
}

// A recycled graph's replay is checked against the content digest CURRENT's
// manifest records, on its own (applyReplay) and in the batch's transaction
// (apply): CURRENT recording another content under the same counts (here
// the recycled snapshot's digest) is errReplayDiffers, which makes the
// writer copy CURRENT's graph instead; the content it records passes.
func TestReplayChecksTheContentDigest(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		merged  bool
		differs bool
	}{
		{"alone, same content", false, false},
		{"alone, other content", false, true},
		{"with the batch, same content", true, false},
		{"with the batch, other content", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, stage, g, replay := recycledStage(t)
			if tc.differs {
				stage.Parent().Digest = stage.Source().RecycledManifest.Digest
			}
			var err error
			if tc.merged {
				_, err = w.apply(ctx, stage, nil, &Summary{}, g, replay)
			} else {
				err = w.applyReplay(ctx, g.conn, stage, replay)
				g.close()
			}
			switch {
			case !tc.differs && err != nil:
				t.Fatalf("replay of the recorded content: %v", err)
			case tc.differs && (!errors.Is(err, errReplayDiffers) || !strings.Contains(err.Error(), "content digest")):
				t.Fatalf("replay onto another content: %v; want errReplayDiffers on the content digest", err)
			}
		})
	}
}
