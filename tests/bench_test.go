package tests

import "context"
import "fmt"
import "strconv"
import "strings"
import "testing"

// BenchmarkIdleReaderRSS measures the resident memory of a separate reader
// process that has opened CURRENT (default config) and answered one query,
// on a store of 10k entities. Goal: under 60 MB.
func BenchmarkIdleReaderRSS(b *testing.B) {
	store := newStoreB(b)
	for k := 0; k < 10; k++ {
		var es []map[string]any
		for i := 0; i < 1000; i++ {
			es = append(es, entity(fmt.Sprintf("e%d-%d", k, i), "memory", "an observation of ordinary length"))
		}
		enqueue(b, store, ops(entities(es...)))
	}
	commit(b, store)
	for i := 0; i < b.N; i++ {
		out, err := helperCmd(context.Background(), "rss", store).Output()
		if err != nil {
			b.Fatal(err)
		}
		kb, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			b.Fatalf("rss helper printed %q", out)
		}
		b.ReportMetric(float64(kb)/1024, "MB-rss")
	}
}

func newStoreB(b *testing.B) string {
	b.Helper()
	dir := b.TempDir() + "/store"
	mustMemsnap(b, dir, nil, "init")
	return dir
}
