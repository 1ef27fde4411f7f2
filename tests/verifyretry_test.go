package tests

import "bufio"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "log/slog"
import "math"
import "os"
import "os/exec"
import "path/filepath"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"

// verifyReaderStats is what a verifyreader helper reports when it stops.
type verifyReaderStats struct {
	Good      uint64  `json:"good"`      // the snapshot it opened
	Bad       uint64  `json:"bad"`       // the damaged snapshot CURRENT named
	Attempts  int64   `json:"attempts"`  // verifications of the damaged one
	Deferred  int64   `json:"deferred"`  // refreshes that skipped it (backoff)
	Queries   int64   `json:"queries"`   // queries answered meanwhile
	Wrong     int64   `json:"wrong"`     // answers not from the good snapshot
	Errors    int64   `json:"errors"`    // failed queries
	ElapsedS  float64 `json:"elapsed_s"` // since it first saw the failure
	LastError string  `json:"last_error"`
}

// verifyReader opens the store's CURRENT snapshot, prints "ready <seq>",
// refreshes on the schedule $MEMSNAP_TEST_REFRESH and queries every 50ms.
// Once CURRENT names another snapshot and it has been refused for
// $MEMSNAP_TEST_TICKS refresh ticks (checked or skipped), it prints
// verifyReaderStats. It logs at info level to stderr.
func verifyReader(store *snapshot.Store) int {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Store = store.Dir()
	cfg.Reader.Refresh = os.Getenv("MEMSNAP_TEST_REFRESH")
	ticks, _ := strconv.ParseInt(os.Getenv("MEMSNAP_TEST_TICKS"), 10, 64)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := reader.Open(ctx, store, cfg.ReaderOptions(), log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer r.Close()
	st := verifyReaderStats{Good: r.Seq()}
	fmt.Printf("ready %d\n", st.Good)
	if err := r.StartRefresh(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var failing time.Time
	for {
		time.Sleep(50 * time.Millisecond)
		res, err := r.Query(ctx, "MATCH (e:Entity) RETURN count(e)", nil)
		st.Queries++
		switch {
		case err != nil:
			st.Errors++
		case res.Snapshot != st.Good:
			st.Wrong++
		}
		if cur, err := store.Current(); err == nil && cur != st.Good {
			st.Bad = cur
		}
		if st.Bad == 0 {
			continue
		}
		if failing.IsZero() && r.LastRefreshError() != nil {
			failing = time.Now()
		}
		vs := r.VerifyStats()
		st.Attempts, st.Deferred = vs.Attempts[st.Bad], vs.Deferred
		if st.Attempts+st.Deferred >= ticks {
			break
		}
	}
	if !failing.IsZero() {
		st.ElapsedS = time.Since(failing).Seconds()
	}
	if err := r.LastRefreshError(); err != nil {
		st.LastError = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(st)
	return 0
}

// writeCurrent points CURRENT at seq the way memsnap does: temp file, rename.
func writeCurrent(t *testing.T, store string, seq uint64) {
	t.Helper()
	tmp := filepath.Join(store, "CURRENT.test")
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(seq, 10)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(store, "CURRENT")); err != nil {
		t.Fatal(err)
	}
}

// Issue 11, item 2: CURRENT names a damaged snapshot and 3 long-lived
// readers refresh every 150ms. Each keeps serving the snapshot it has,
// checksums the damaged one only with backoff (1s, 2s, 4s, ...: at most
// 2+log2(2+t) times in t seconds, not once per tick), keeps reporting why
// (LastRefreshError), and logs why once.
func TestVerifyRetryBackoff(t *testing.T) {
	store := newStore(t)
	skipStoreCheck(store, "CURRENT is damaged on purpose")
	for i := 0; i < 3; i++ {
		enqueue(t, store, ops(entities(entity(fmt.Sprintf("e%d", i), "t"))))
		commit(t, store)
	}
	good := mustUint(t, currentSeq(t, store))
	enqueue(t, store, ops(entities(entity("e3", "t"))))
	commit(t, store)
	bad := mustUint(t, currentSeq(t, store))
	// Readers must open the good snapshot first: point CURRENT back at it,
	// with the new one moved out of snapshots/ meanwhile (a CURRENT behind
	// a published snapshot is refused), damage the new one, and only then
	// let CURRENT name it again.
	badDir, held := snapDir(store, strconv.FormatUint(bad, 10)), filepath.Join(store, "held")
	if err := os.Rename(badDir, held); err != nil {
		t.Fatal(err)
	}
	writeCurrent(t, store, good)
	testutil.FlipByte(t, filepath.Join(held, "graph.kuzu"), testutil.Middle)

	const readers, ticks = 3, 40
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type proc struct {
		cmd    *exec.Cmd
		out    *bufio.Reader
		stderr *strings.Builder
	}
	var procs []proc
	for i := 0; i < readers; i++ {
		cmd := helperCmd(ctx, "verifyreader", store, "MEMSNAP_TEST_REFRESH=@every 150ms", fmt.Sprintf("MEMSNAP_TEST_TICKS=%d", ticks))
		out := pipe(t, cmd.StdoutPipe)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		mustStart(t, cmd)
		procs = append(procs, proc{cmd, bufio.NewReader(out), &stderr})
	}
	for i, p := range procs {
		line, err := p.out.ReadString('\n')
		if err != nil || line != fmt.Sprintf("ready %d\n", good) {
			t.Fatalf("reader %d: %q %v (stderr %s)", i, line, err, p.stderr)
		}
	}
	if err := os.Rename(held, badDir); err != nil {
		t.Fatal(err)
	}
	writeCurrent(t, store, bad)

	for i, p := range procs {
		rest, err := io.ReadAll(p.out)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("reader %d: %v: %s", i, err, p.stderr)
		}
		var st verifyReaderStats
		if err := json.Unmarshal(rest, &st); err != nil {
			t.Fatalf("reader %d output %q: %v", i, rest, err)
		}
		t.Logf("reader %d: %+v", i, st)
		if st.Bad != bad || st.Errors != 0 || st.Wrong != 0 || st.Queries == 0 {
			t.Errorf("reader %d did not keep serving snapshot %d: %+v", i, good, st)
		}
		// Backoff from 1s: the k-th check comes at least 2^(k-1)-1 s after
		// the first. ticks refreshes 150ms apart take at least 5.85s, so the
		// 1s retry has come, and the checks are far fewer than the ticks.
		limit := 2 + int64(math.Log2(2+st.ElapsedS))
		if st.Attempts < 2 || st.Attempts > limit || st.Attempts > ticks/4 {
			t.Errorf("reader %d checked the damaged snapshot %d times in %d refreshes over %.1fs; want 2..%d",
				i, st.Attempts, st.Attempts+st.Deferred, st.ElapsedS, limit)
		}
		for _, want := range []string{fmt.Sprintf("snapshot %d failed verification", bad), "graph.kuzu: checksum mismatch",
			fmt.Sprintf("still serving snapshot %d", good)} {
			if !strings.Contains(st.LastError, want) {
				t.Errorf("reader %d: last refresh error %q does not say %q", i, st.LastError, want)
			}
		}
		var warns []string
		for _, l := range strings.Split(p.stderr.String(), "\n") {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
				warns = append(warns, l)
			}
		}
		if len(warns) != 1 || !strings.Contains(warns[0], "failed verification") || !strings.Contains(warns[0], "checksum mismatch") {
			t.Errorf("reader %d: want one warning saying why, got %d:\n%s", i, len(warns), strings.Join(warns, "\n"))
		}
	}
}
