package graphindex

import "strings"
import "testing"

// isASCII, read eight bytes at a time, finds a byte of 0x80 or more at
// any position, in the eight-byte blocks and in the tail.
func TestIsASCII(t *testing.T) {
	base := strings.Repeat("abcdefgh", 3) + "xyz"
	if !isASCII(base) || !isASCII("") {
		t.Fatal("ASCII text taken for non-ASCII")
	}
	for i := range len(base) {
		for _, c := range []byte{0x80, 0xc3, 0xff} {
			s := base[:i] + string([]byte{c}) + base[i+1:]
			if isASCII(s) {
				t.Errorf("byte %#x at %d of %q not found", c, i, s)
			}
		}
	}
}
