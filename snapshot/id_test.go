package snapshot

import "errors"
import "sync"
import "testing"

// TestStoreID: a store has no id until EnsureID makes one; it is kept
// from then on; processes racing to make it agree on one; AdoptID takes a
// copy's source id only when the store has none.
func TestStoreID(t *testing.T) {
	s, err := Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if id, err := s.ID(); err != nil || id != "" {
		t.Fatalf("new store: id %q, %v; want none", id, err)
	}
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			again, err := Open(s.Dir())
			if err == nil {
				ids[i], err = again.EnsureID()
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || !ValidID(id) {
			t.Fatalf("racing EnsureIDs made %v, want one id", ids)
		}
	}
	if id, err := s.ID(); err != nil || id != ids[0] {
		t.Fatalf("ID after EnsureID: %q %v, want %q", id, err, ids[0])
	}
	if id, err := s.AdoptID(ids[0]); err != nil || id != ids[0] {
		t.Fatalf("AdoptID of its own id: %q %v", id, err)
	}
	if _, err := s.AdoptID("another"); !errors.Is(err, ErrOtherID) {
		t.Fatalf("AdoptID of another id: %v, want ErrOtherID", err)
	}
	c, err := Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if id, err := c.AdoptID(ids[0]); err != nil || id != ids[0] {
		t.Fatalf("a copy adopting its source's id: %q %v", id, err)
	}
	if id, err := c.EnsureID(); err != nil || id != ids[0] {
		t.Fatalf("EnsureID of a copy: %q %v, want its source's %q", id, err, ids[0])
	}
}
