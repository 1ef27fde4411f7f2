package fsutil

import "slices"
import "testing"

// TestDataRuns: CopyFileSparse writes one run per stretch of adjacent
// blocks that hold data, not one per block, and skips zero blocks; a
// short last block counts by its own length.
func TestDataRuns(t *testing.T) {
	const B = sparseBlock
	buf := make([]byte, 10*B+100)
	for _, blk := range []int{0, 1, 2, 5, 7, 8} {
		buf[blk*B+B/2] = 1
	}
	buf[10*B+99] = 1 // in the short last block
	want := [][2]int{{0, 3 * B}, {5 * B, 6 * B}, {7 * B, 9 * B}, {10 * B, 10*B + 100}}
	if got := dataRuns(buf); !slices.Equal(got, want) {
		t.Errorf("dataRuns = %v, want %v", got, want)
	}
	if got := dataRuns(make([]byte, 3*B)); len(got) != 0 {
		t.Errorf("dataRuns of zeros = %v, want none", got)
	}
	full := make([]byte, 4*B)
	for i := range full {
		full[i] = 0xff
	}
	if got := dataRuns(full); !slices.Equal(got, [][2]int{{0, 4 * B}}) {
		t.Errorf("dataRuns of data = %v, want one run", got)
	}
}
