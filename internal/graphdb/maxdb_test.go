package graphdb

import "path/filepath"
import "testing"

func TestMaxDBSize(t *testing.T) {
	for _, c := range []struct{ least, need, want uint64 }{
		{0, 1 << 40, 0},               // no floor: Options' default
		{1 << 30, 0, 1 << 30},         // an empty graph gets the floor
		{1 << 30, 100 << 20, 1 << 30}, // 4 x 100 MiB is under the floor
		{1 << 30, 300 << 20, 2 << 30}, // 1200 MiB rounds up to 2 GiB
		{1 << 30, 256 << 20, 1 << 30}, // exactly the floor
		{3 << 30, 0, 4 << 30},         // a floor that is no power of two rounds up
		{1 << 20, 0, 32 << 20},        // never under minMaxDB
	} {
		if got := MaxDBSize(c.least, c.need); got != c.want {
			t.Errorf("MaxDBSize(%d, %d) = %d, want %d", c.least, c.need, got, c.want)
		}
	}
}

// TestOpenWithBoundedSize: Kuzu opens read-write and then read-only with
// a bound from MaxDBSize, and writes within it.
func TestOpenWithBoundedSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.kuzu")
	db, err := Open(path, Options{MaxDBBytes: MaxDBSize(1<<20, 0)})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn()
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureSchema(t.Context(), conn); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	db.Close()
	ro, err := Open(path, Options{ReadOnly: true, MaxDBBytes: MaxDBSize(64<<20, 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
}
