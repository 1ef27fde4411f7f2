package tests

import "context"
import "encoding/json"
import "fmt"
import "slices"
import "sync"
import "testing"

import "github.com/memsnap/memsnap/snapshot"

// pinEverySnapshot pins each snapshot on disk and lets go of it at once, as
// a reader does when it first opens a snapshot no other reader holds yet:
// a refresh just after a commit, a CLI query or job lookup, a rollback to an
// older snapshot. Pins refused are counted by store.PinsRefused.
func pinEverySnapshot(store *snapshot.Store) {
	seqs, err := store.Seqs()
	if err != nil {
		return
	}
	for _, seq := range seqs {
		if p, err := store.Pin(seq); err == nil {
			p.Release()
		}
	}
}

// Issue 11, item 1: 'memsnap snapshots list' in a loop beside 4 reader
// processes that keep pinning snapshots while a commit loop publishes new
// ones: no reader pin is ever refused. The commits keep every snapshot
// (gc.keep 1000: no collection, no recycling), so the only exclusive PIN
// lock a reader could meet is one taken by listing.
func TestListLeavesPinsAlone(t *testing.T) {
	store := newStore(t)
	enqueue(t, store, ops(entities(entity("seed", "t"))))
	commit(t, store)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	const readers, snapshots, minLists = 4, 12, 60
	bg := startBackground(t, ctx, store, store, slices.Repeat([]string{"reader"}, readers), "MEMSNAP_TEST_PIN_ALL=1")

	// List in a loop until the commits are done and enough lists ran.
	var (
		mu          sync.Mutex // guards lists, listErr, sawPinned, sawUnknown and committing
		lists       int
		listErr     string
		sawPinned   int // lists that saw CURRENT pinned
		sawUnknown  int // lists that could not tell
		committing  = true
		listingDone = make(chan struct{})
	)
	go func() {
		defer close(listingDone)
		for {
			r := memsnap(t, store, nil, nil, "snapshots", "list", "--json")
			var infos []listInfo
			err := json.Unmarshal([]byte(r.stdout), &infos)
			mu.Lock()
			lists++
			switch {
			case r.code != 0 || err != nil:
				if listErr == "" {
					listErr = fmt.Sprintf("exit %d: %s %v", r.code, r.stderr, err)
				}
			default:
				for _, in := range infos {
					if in.Current && in.Pinned {
						sawPinned++
					}
					if in.Current && in.Pins != nil && *in.Pins < 0 {
						sawUnknown++
					}
				}
			}
			stop := !committing && lists >= minLists
			mu.Unlock()
			if stop {
				return
			}
		}
	}()
	for i := 0; i < snapshots; i++ {
		enqueue(t, store, ops(entities(entity(fmt.Sprintf("e%03d", i), "t"))))
		if r := memsnap(t, store, nil, []string{"MEMSNAP_GC_KEEP=1000"}, "commit"); r.code != 0 {
			t.Fatalf("commit: exit %d: %s", r.code, r.stderr)
		}
	}
	mu.Lock()
	committing = false
	mu.Unlock()
	<-listingDone
	bg.stop()

	var refused int64
	for i, err := range bg.errs {
		if err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
		var st readerStats
		bg.report(t, i, &st)
		t.Logf("reader %d: %d queries, %d refreshes, %d errors, %d pins refused, last snapshot %d",
			i, st.Queries, st.Refreshes, st.Errors, st.PinsRefused, st.LastSeq)
		if st.Errors != 0 {
			t.Errorf("reader %d: %d errors (first: %s)", i, st.Errors, st.FirstError)
		}
		refused += st.PinsRefused
	}
	t.Logf("%d lists (%d saw CURRENT pinned, %d could not tell) beside %d commits", lists, sawPinned, sawUnknown, snapshots)
	if listErr != "" {
		t.Errorf("snapshots list failed: %s", listErr)
	}
	if sawUnknown < lists && sawPinned == 0 {
		t.Errorf("no listing saw CURRENT pinned, though 4 readers held it")
	}
	if refused != 0 {
		t.Errorf("%d reader pins were refused while snapshots were listed; want 0", refused)
	}
}

// listInfo is one entry of 'memsnap snapshots list --json'.
type listInfo struct {
	Seq     uint64 `json:"seq"`
	Current bool   `json:"current"`
	Pinned  bool   `json:"pinned"`
	Pins    *int   `json:"pins"`
}
