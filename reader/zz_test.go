package reader

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/memsnap/memsnap/snapshot"
)

func TestZZTime(t *testing.T) {
	for _, dir := range []string{"/tmp/zz/s1k", "/tmp/zz/s100k"} {
		s, err := snapshot.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Open(context.Background(), s, Options{Verify: "off"}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
		if err != nil {
			t.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		t.Logf("%s heap before %d MB", dir, ms.HeapAlloc>>20)
		for _, q := range []string{"zephyr", "zephyr", "coffee deadline", "0042", "xylograph", "zephyr"} {
			t0 := time.Now()
			g, err := r.SearchNodes(context.Background(), q, SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %q: %d entities %d relations in %v", dir, q, len(g.Entities), len(g.Relations), time.Since(t0))
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		t.Logf("%s heap after %d MB", dir, ms.HeapAlloc>>20)
		r.Close()
	}
}
