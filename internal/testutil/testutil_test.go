package testutil

import "os"
import "path/filepath"
import "testing"

func TestRemoveTree(t *testing.T) {
	root := filepath.Join(TempDir(t), "tree")
	for _, d := range []string{"a/b/c", "a/d", "e"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"f", "a/f", "a/b/c/f", "a/d/f"} {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(f)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveTree(root); err != nil {
		t.Fatalf("RemoveTree: %v", err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("after RemoveTree, stat %s: %v (want not exist)", root, err)
	}
	if err := RemoveTree(root); err != nil {
		t.Fatalf("RemoveTree of a missing path: %v (want nil)", err)
	}
}

// TestTempDirCleansUp runs a subtest that fills two temp dirs and checks that
// they are gone, without error, once the subtest ends: under Wine, without
// TempDir's own removal, t.TempDir's cleanup fails the subtest.
func TestTempDirCleansUp(t *testing.T) {
	t.Logf("under Wine: %v", OnWine())
	var dirs []string
	ok := t.Run("fill", func(t *testing.T) {
		for range 2 {
			d := TempDir(t)
			dirs = append(dirs, d)
			if err := os.MkdirAll(filepath.Join(d, "x", "y"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "x", "y", "f"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	if !ok {
		t.Fatal("the subtest failed (its temp dir cleanup, see above)")
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("temp dir %s left behind: stat: %v", d, err)
		}
	}
}
