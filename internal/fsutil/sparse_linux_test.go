package fsutil

import "bytes"
import "math/rand/v2"
import "os"
import "path/filepath"
import "syscall"
import "testing"

// CopyFileSparse gives back src byte for byte, zero blocks in the middle
// and at the end included, and leaves those blocks unallocated: the copy
// takes fewer blocks on disk than the file's size (on the ext4 and tmpfs
// test machines, which both have holes).
func TestCopyFileSparse(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var src []byte
	data := func(n int) {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32() | 1)
		}
		src = append(src, b...)
	}
	zero := func(n int) { src = append(src, make([]byte, n)...) }
	data(5000)               // a block and a part
	zero(64 * sparseBlock)   // holes
	data(1)                  // one byte in an otherwise zero block
	zero(3*sparseBlock + 17) // a tail of zeros, not block-aligned
	from, to := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(from, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CopyFileSparse(to, from); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(to)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("copy differs from the source: %d bytes against %d", len(got), len(src))
	}
	var st syscall.Stat_t
	if err := syscall.Stat(to, &st); err != nil {
		t.Fatal(err)
	}
	// Data sits in 3 blocks; the 64 zero blocks and the zero tail are holes.
	if alloc := st.Blocks * 512; alloc > 8*sparseBlock {
		t.Errorf("the copy takes %d bytes on disk for %d bytes of file (3 blocks of data); want its zero blocks left as holes", alloc, len(src))
	}
	if err := CopyFileSparse(to, from); err == nil {
		t.Error("copy onto an existing file succeeded; want it refused")
	}
}
