package snapshot

import "errors"
import "testing"
import "time"

// CurrentForRead refuses a CURRENT moved back behind a published snapshot
// (ErrCurrentBehind, the repair as its hint) but not a publish under way:
// a snapshot renamed into snapshots/ whose CURRENT swap follows within
// publishWait, as a rollback's or a replica's does.
func TestCurrentForRead(t *testing.T) {
	s := newTestStore(t, "CURRENT is moved back on purpose")
	publishFake(t, s, "one")
	newest := publishFake(t, s, "two")
	if seq, err := s.CurrentForRead("read"); err != nil || seq != newest {
		t.Fatalf("sound CURRENT: %d, %v; want %d", seq, err, newest)
	}

	// Moved back, and a publish swaps it forward a moment later: no refusal.
	if err := s.writeCurrent(newest - 1); err != nil {
		t.Fatal(err)
	}
	swapped := make(chan error, 1)
	go func() {
		time.Sleep(publishWait / 4)
		swapped <- s.writeCurrent(newest)
	}()
	if seq, err := s.CurrentForRead("read"); err != nil || seq != newest {
		t.Fatalf("publish under way: %d, %v; want %d once CURRENT swapped", seq, err, newest)
	}
	if err := <-swapped; err != nil {
		t.Fatal(err)
	}

	// Moved back for good: refused, naming the newer snapshot and the repair.
	if err := s.writeCurrent(newest - 1); err != nil {
		t.Fatal(err)
	}
	_, err := s.CurrentForRead("read")
	var ce *CurrentError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCurrentBehind) || !ce.Reading || ce.Current != newest-1 || ce.Hint != repairHint {
		t.Fatalf("CURRENT moved back: %v; want a reading ErrCurrentBehind at %d with the repair", err, newest-1)
	}
	if _, err := s.PinCurrent(); !errors.Is(err, ErrCurrentBehind) {
		t.Fatalf("PinCurrent with CURRENT moved back: %v; want ErrCurrentBehind", err)
	}
}
