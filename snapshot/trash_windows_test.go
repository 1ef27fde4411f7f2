package snapshot

import "os"
import "path/filepath"
import "testing"

// TestOpenLinkedFileGoesToTrash (Windows only: on Unix an open file can be
// deleted): a staging directory holding a hard link to a file that is open
// through another name (as a stage shares CURRENT's sstables, which readers
// hold open) cannot be deleted. Wiping staging moves it to trash/ instead,
// and emptying the trash leaves it there, without error, until the file is
// closed; then it goes.
func TestOpenLinkedFileGoesToTrash(t *testing.T) {
	s := newTestStore(t)
	shared := filepath.Join(s.Dir(), "shared.sst")
	if err := os.WriteFile(shared, []byte("sstable"), 0o600); err != nil {
		t.Fatal(err)
	}
	left := s.Path("staging", "next")
	if err := os.MkdirAll(filepath.Join(left, KVDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(shared, filepath.Join(left, KVDir, "000001.sst")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(shared)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.WipeStaging(); err != nil {
		t.Fatalf("wipe staging with a file open through another name: %v", err)
	}
	if ents, _ := os.ReadDir(s.Path("staging")); len(ents) != 0 {
		t.Fatalf("staging after the wipe: %v", ents)
	}
	if err := s.EmptyTrash(); err != nil {
		t.Fatalf("empty trash while the file is open: %v", err)
	}
	if ents, _ := os.ReadDir(s.Path("trash")); len(ents) != 1 {
		t.Fatalf("trash while the file is open: %v, want the wiped directory", ents)
	}
	f.Close()
	if err := s.EmptyTrash(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(s.Path("trash")); len(ents) != 0 {
		t.Fatalf("trash once the file closed: %v", ents)
	}
	if err := os.Remove(shared); err != nil {
		t.Fatal(err)
	}
}
