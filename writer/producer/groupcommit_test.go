package producer_test

import "context"
import "encoding/json"
import "errors"
import "sync/atomic"
import "testing"
import "time"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// newStore initialises a store in a temp dir with a writer on it, under
// the default configuration.
func newStore(t *testing.T) (*snapshot.Store, config.Config, *writer.Writer) {
	t.Helper()
	s := snapshottest.NewStore(t)
	cfg := config.Default()
	cfg.Store = s.Dir()
	return s, cfg, writer.New(s, cfg.WriterOptions(), nil)
}

func enqueueJob(t *testing.T, s *snapshot.Store, lim model.Limits, job model.Job) {
	t.Helper()
	data, _ := json.Marshal(job)
	if _, err := producer.Enqueue(s, data, lim); err != nil {
		t.Fatal(err)
	}
}

// A group committer whose commit fails for lack of space neither gives up
// nor spins: it commits no more while the space check says the next job
// does not fit, reports the cause (LastFailure), and commits, with nobody
// notifying it, as soon as the check says there is room.
func TestGroupCommitterWaitsForSpace(t *testing.T) {
	store, cfg, w := newStore(t)
	enqueueJob(t, store, cfg.Job.Limits(), model.Job{Ops: []model.Op{{Op: model.OpKVPut, Key: "k", Value: new("v")}}})
	var full atomic.Bool
	full.Store(true)
	nospace := &writer.NoSpaceError{Path: store.Dir(), Needed: 30 << 20, Free: 10 << 20, Jobs: 1, MinFreeMB: 16}
	var attempts, looks atomic.Int32
	looked := make(chan struct{}, 100)
	committed := make(chan writer.Summary, 1)
	g := producer.NewGroupCommitter(store, producer.GroupCommitOptions{
		Commit: func(ctx context.Context) (writer.Summary, bool, error) {
			if full.Load() {
				attempts.Add(1)
				return writer.Summary{}, false, nospace
			}
			sum, err := w.Commit(ctx, writer.CommitOptions{})
			return sum, false, err
		},
		Committed: func(sum writer.Summary) { committed <- sum },
		Space: func() error {
			looks.Add(1)
			select {
			case looked <- struct{}{}:
			default:
			}
			if full.Load() {
				return nospace
			}
			return nil
		},
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	hang := time.After(20 * time.Second) // a bound on a hang, not a timing: the committer looks every 500 ms
	for range 3 {                        // three looks at the space while it is short
		select {
		case <-looked:
		case <-hang:
			t.Fatal("the committer did not look at the free space again after a commit failed for lack of it")
		}
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d commits tried while the disk stayed full; want 1, then waiting for room", n)
	}
	if err := g.LastFailure(); !errors.Is(err, writer.ErrNoSpace) {
		t.Errorf("LastFailure while blocked: %v; want the no-space error", err)
	}
	full.Store(false) // space freed; nobody calls Notify
	select {
	case sum := <-committed:
		if sum.Applied != 1 {
			t.Errorf("the commit once there was room: %+v; want the queued job applied", sum)
		}
	case <-time.After(time.Minute):
		t.Fatal("the committer did not commit once there was room")
	}
	if err := g.LastFailure(); err != nil {
		t.Errorf("LastFailure after the commit: %v; want nil", err)
	}
}
