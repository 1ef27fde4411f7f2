// One malloc arena is a glibc setting: this file builds on Linux only, and
// other systems keep their allocator's defaults.

package graphdb

// Kuzu allocates ~30 MB of heap to open a database (at 10k entities: 9,400
// page faults) and frees it on close. A reader opens each new snapshot while
// the old one is still open, and the cgo call that opens it runs on
// whichever thread the Go scheduler picks; with glibc's default of up to
// eight malloc arenas per core, that thread's arena mostly holds none of the
// memory the last close freed, so the open faults all of it in again. On a
// 2-core VM that made a read-only open of a 10k-entity graph take 175-330 ms
// instead of 45-110 ms (2026-11-30, 6553b79; docs/BENCHMARKS.md, "How we got here").
// One arena for the process lets every open after the first two reuse the
// freed memory. It is set by a C constructor because glibc fixes the arena
// limit when the first thread other than main allocates, which the Go
// runtime does before any Go init function runs.

/*
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void memsnap_one_malloc_arena(void) {
	mallopt(M_ARENA_MAX, 1);
}

static pthread_barrier_t memsnap_arena_barrier;

static void *memsnap_arena_touch(void *arg) {
	void *p = malloc(1 << 16);
	pthread_barrier_wait(&memsnap_arena_barrier);
	free(p);
	return NULL;
}

// memsnap_malloc_heaps starts n threads that allocate at the same time and
// returns how many heaps (arenas) malloc_info reports, or -1.
static int memsnap_malloc_heaps(int n) {
	pthread_t t[16];
	if (n > 16) n = 16;
	pthread_barrier_init(&memsnap_arena_barrier, NULL, n + 1);
	for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, memsnap_arena_touch, NULL);
	pthread_barrier_wait(&memsnap_arena_barrier);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) return -1;
	malloc_info(0, f);
	fclose(f);
	for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
	pthread_barrier_destroy(&memsnap_arena_barrier);
	int heaps = 0;
	for (char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++) heaps++;
	free(buf);
	return heaps;
}
*/
import "C"

// mallocHeaps starts n threads (at most 16) that hold an allocation at the
// same time and returns how many malloc arenas glibc reports: 1 when the
// limit above holds.
func mallocHeaps(n int) int { return int(C.memsnap_malloc_heaps(C.int(n))) }
