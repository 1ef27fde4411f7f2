package graphdb

import "testing"

// The process keeps one malloc arena however many threads allocate at once
// (see malloc_linux.go).
func TestOneMallocArena(t *testing.T) {
	if got := mallocHeaps(8); got != 1 {
		t.Fatalf("8 threads allocating at once use %d malloc arenas, want 1", got)
	}
}
