package tests

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "os"
import "path/filepath"
import "strconv"
import "strings"
import "time"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// readerStats is what a long-lived reader helper reports when it stops.
type readerStats struct {
	Queries    int64  `json:"queries"`
	Errors     int64  `json:"errors"`
	Refreshes  int64  `json:"refreshes"`
	Regressed  int64  `json:"regressed"` // entity count went down
	SeqBack    int64  `json:"seq_back"`  // the served snapshot went back
	FirstError string `json:"first_error,omitempty"`
	LastSeq    uint64 `json:"last_seq"`
	// PinsRefused counts pins of this process refused because another
	// process held the PIN exclusively (snapshot.Store.PinsRefused).
	PinsRefused int64 `json:"pins_refused"`
}

// helper runs the test binary as a helper process:
//
//	reader:     a long-lived reader that refreshes and queries in a loop until
//	            the file $MEMSNAP_TEST_STOP exists, then refreshes once more
//	            (onto whatever was committed before the stop) and prints
//	            readerStats; with $MEMSNAP_TEST_PIN_ALL it also pins every
//	            snapshot in turn; with $MEMSNAP_TEST_READY it creates a file
//	            in that directory once it serves a snapshot
//	verifyreader: a reader on a refresh schedule facing a damaged CURRENT,
//	            see verifyReader
//	lockholder: takes the writer lock, prints "locked", and sleeps until killed
//	rss:        opens a reader, runs one query, idles, prints its resident memory
//	smallfs:    (inside its own mount namespace) fills a tiny tmpfs, see smallFS
//	holder:     holds a snapshot's files (and CURRENT) open until
//	            $MEMSNAP_TEST_STOP exists, see holdSnapshot
//	producer:   enqueues the chain $MEMSNAP_TEST_CHAIN until $MEMSNAP_TEST_STOP
//	            exists, then prints producerStats; with $MEMSNAP_TEST_MAX_WAITING
//	            (a number of jobs) it pauses while that many wait for the
//	            writer, see producerLoop
func helper(role string) int {
	if role == "smallfs" {
		return smallFS(os.Getenv("MEMSNAP_TEST_STORE"), os.Getenv("MEMSNAP_TEST_BIN"))
	}
	store, err := snapshot.Open(os.Getenv("MEMSNAP_TEST_STORE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch role {
	case "lockholder":
		l, err := writer.TryLock(store)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer l.Release()
		fmt.Println("locked")
		select {}
	case "reader":
		return readerLoop(store, os.Getenv("MEMSNAP_TEST_STOP"))
	case "verifyreader":
		return verifyReader(store)
	case "rss":
		return idleRSS(store)
	case "holder":
		return holdSnapshot(store, os.Getenv("MEMSNAP_TEST_STOP"))
	case "producer":
		maxWaiting, _ := strconv.Atoi(os.Getenv("MEMSNAP_TEST_MAX_WAITING"))
		return producerLoop(store, os.Getenv("MEMSNAP_TEST_CHAIN"), os.Getenv("MEMSNAP_TEST_STOP"), maxWaiting)
	}
	fmt.Fprintln(os.Stderr, "unknown role", role)
	return 2
}

// readerPause is how long a reader helper rests between two rounds of
// queries.
const readerPause = 5 * time.Millisecond

func readerLoop(store *snapshot.Store, stop string) int {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Store = store.Dir()
	var st readerStats
	var r *reader.Reader
	for r == nil {
		var err error
		r, err = reader.Open(ctx, store, cfg.ReaderOptions(), nil)
		if errors.Is(err, snapshot.ErrNoSnapshot) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	defer r.Close()
	if dir := os.Getenv("MEMSNAP_TEST_READY"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("ready-%d", os.Getpid())), nil, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	var last int64 = -1
	pinAll := os.Getenv("MEMSNAP_TEST_PIN_ALL") != ""
	fail := func(err error) {
		st.Errors++
		if st.FirstError == "" {
			st.FirstError = err.Error()
		}
	}
	for {
		if _, err := os.Stat(stop); err == nil {
			break
		}
		before := r.Seq()
		if _, err := r.Refresh(ctx); err != nil {
			fail(err)
		}
		if r.Seq() < before {
			st.SeqBack++
		}
		if pinAll {
			pinEverySnapshot(store)
		}
		res, err := r.Query(ctx, "MATCH (e:Entity) OPTIONAL MATCH (e)-[r:Relation]->() RETURN count(DISTINCT e), count(r)", nil)
		st.Queries++
		if err != nil {
			fail(err)
			continue
		}
		n := res.Rows[0][0].(int64)
		if n < last {
			st.Regressed++ // producers only add: a count never shrinks
		}
		last = n
		if _, _, err := r.KVScan(ctx, "p", 10); err != nil {
			fail(err)
		}
		// Leave the CPU to the (niced) writer now and then: on a 2-core
		// machine readers that never pause starve every commit.
		time.Sleep(readerPause)
	}
	// What was committed before the stop file appeared is seen now.
	if _, err := r.Refresh(ctx); err != nil {
		fail(err)
	}
	st.Refreshes = r.Refreshes()
	st.LastSeq = r.Seq()
	st.PinsRefused = store.PinsRefused()
	_ = json.NewEncoder(os.Stdout).Encode(st)
	return 0
}

func stopFile(dir string) string { return filepath.Join(dir, "STOP") }

// idleRSS opens a reader with the default config, answers one query, lets
// the runtime settle and prints VmRSS in KiB.
func idleRSS(store *snapshot.Store) int {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Store = store.Dir()
	r, err := reader.Open(ctx, store, cfg.ReaderOptions(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer r.Close()
	if _, err := r.Query(ctx, "MATCH (e:Entity) RETURN count(e)", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	time.Sleep(300 * time.Millisecond)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fmt.Println(strings.Fields(line)[1])
			return 0
		}
	}
	return 1
}

// linkJob is job k of a named chain: it creates c-<chain>-<k>, deletes the
// chain's entities from..k-1 (those that may exist) and sets chain/<chain>
// to k. Applied exactly once in order, only the newest entity of a chain is
// left; re-applying an old job brings an old entity back, so doubles show.
func linkJob(chain string, k, from int) []byte {
	o := []map[string]any{entities(entity(chainEntity(chain, k), "link", fmt.Sprintf("step %d", k)))}
	var del []string
	for j := max(from, 0); j < k; j++ {
		del = append(del, chainEntity(chain, j))
	}
	if len(del) > 0 {
		o = append(o, map[string]any{"op": "delete_entities", "entityNames": del})
	}
	o = append(o, map[string]any{"op": "kv_put", "key": "chain/" + chain, "value": fmt.Sprint(k)})
	b, _ := json.Marshal(ops(o...))
	return b
}

func chainEntity(chain string, k int) string { return fmt.Sprintf("c-%s-%05d", chain, k) }

// producerStats is what a producer helper reports when it stops.
type producerStats struct {
	Chain      string `json:"chain"`
	Last       int    `json:"last"` // last acknowledged k, -1 if none
	Acked      int    `json:"acked"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// Paused counts the pauses (20 ms each) while MEMSNAP_TEST_MAX_WAITING
	// jobs waited for the writer.
	Paused int `json:"paused,omitempty"`
}

// producerLoop enqueues the links of chain every 20 ms until the file stop
// exists, then prints its producerStats. With maxWaiting > 0 it enqueues
// only while fewer than maxWaiting jobs (queued plus claimed) wait for the
// writer, and pauses otherwise: its pace is fixed, the writer's is the
// machine's, and where the writer is the slower (Wine on a loaded machine:
// every file operation goes through wineserver) the queue, every commit
// and every new reader's first scan of the queue grow for as long as the
// test runs.
func producerLoop(store *snapshot.Store, chain, stop string, maxWaiting int) int {
	lim := config.Default().Job.Limits()
	st := producerStats{Chain: chain, Last: -1}
	for k := 0; ; k++ {
		if _, err := os.Stat(stop); err == nil {
			break
		}
		if maxWaiting > 0 {
			if c, err := store.Queue().Counts(); err == nil && c.Waiting() >= maxWaiting {
				st.Paused++
				time.Sleep(20 * time.Millisecond)
				k-- // the same link once the writer has caught up (or the stop)
				continue
			}
		}
		if _, err := producer.Enqueue(store, linkJob(chain, k, st.Last), lim); err != nil {
			st.Errors++
			if st.FirstError == "" {
				st.FirstError = err.Error()
			}
			continue
		}
		st.Last = k
		st.Acked++
		time.Sleep(20 * time.Millisecond)
	}
	_ = json.NewEncoder(os.Stdout).Encode(st)
	return 0
}
