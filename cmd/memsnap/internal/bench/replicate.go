package bench

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "net"
import "os"
import "os/exec"
import "path/filepath"
import "slices"
import "time"

import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"

// Replicate is the replicate benchmark at one store size: what
// 'memsnap replicate' sends to an S3-compatible server (versitygw on
// loopback, posix backend) for the first upload and for each one-job
// commit after it, and how long a remote reader ('memsnap mcp --from',
// reader.refresh @every 1s) takes to serve a commit.
type Replicate struct {
	Entities int `json:"entities"`
	// StoreBytes is the snapshot's files (graph, key-value store, jobs).
	StoreBytes int64 `json:"store_bytes"`
	// InitialBytes and InitialMS are the first upload of the store.
	InitialBytes int64   `json:"initial_bytes"`
	InitialMS    float64 `json:"initial_ms"`
	// CommitBytes and CommitMS are the median upload of a one-job commit
	// (objects, remote manifest and CURRENT); CommitPct is CommitBytes as a
	// percentage of StoreBytes.
	Commits     int     `json:"commits"`
	CommitBytes int64   `json:"commit_bytes"`
	CommitPct   float64 `json:"commit_pct"`
	CommitMS    float64 `json:"commit_ms"`
	// LagP50MS and LagMaxMS: from the commit's end to the remote reader
	// serving its snapshot, the upload run right after the commit
	// (the daemon's replica.schedule adds up to its period).
	LagP50MS float64 `json:"lag_p50_ms"`
	LagMaxMS float64 `json:"lag_max_ms"`
}

// ReplicateGoalPct is the goal for a one-job commit's upload at
// 100k entities: at most 5% of the store.
const ReplicateGoalPct = 5.0

func (r *runner) replicateSizes() []int {
	switch {
	case r.opts.Smoke:
		return []int{600}
	case r.opts.Quick:
		return []int{10000}
	}
	return []int{10000, 100000}
}

func (r *runner) replicate(ctx context.Context) ([]Replicate, error) {
	gw := r.opts.Versitygw
	if gw == "" {
		gw, _ = exec.LookPath("versitygw")
		if p := filepath.Join(".tools", "bin", "versitygw"); gw == "" && fileExists(p) {
			gw, _ = filepath.Abs(p)
		}
	}
	if gw == "" {
		return nil, errors.New("the replicate benchmark needs versitygw (make versitygw, or --versitygw FILE)")
	}
	var out []Replicate
	for _, n := range r.replicateSizes() {
		x, err := r.replicateSize(ctx, gw, n)
		if err != nil {
			return out, fmt.Errorf("%d entities: %w", n, err)
		}
		out = append(out, x)
	}
	return out, nil
}

// startVersitygw starts versitygw on a free loopback port with a posix
// backend in a scratch directory holding bucket "bench".
func (r *runner) startVersitygw(ctx context.Context, gw string) (endpoint string, p *proc, err error) {
	dir := r.path("s3")
	if err := os.MkdirAll(filepath.Join(dir, "bench"), 0o700); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	p = &proc{name: "versitygw", cmd: exec.CommandContext(ctx, gw, "--port", addr, "--access", "bench", "--secret", "benchsecret", "--quiet", "posix", dir)}
	if err := p.start(); err != nil {
		return "", nil, err
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr, p, nil
		}
		if time.Now().After(deadline) {
			_ = p.stop()
			return "", nil, fmt.Errorf("versitygw did not listen on %s", addr)
		}
	}
}

// uploadOut is what 'memsnap replicate' prints, in part.
type uploadOut struct {
	Current    uint64 `json:"current"`
	Bytes      int64  `json:"bytes"`
	DurationMS int64  `json:"duration_ms"`
}

func (r *runner) replicateSize(ctx context.Context, gw string, n int) (x Replicate, err error) {
	x.Entities = n
	endpoint, s3, err := r.startVersitygw(ctx, gw)
	if err != nil {
		return x, err
	}
	defer s3.stop()
	cfg := r.path(fmt.Sprintf("replica-%d.json", n))
	if err := writeConfigFile(cfg, map[string]any{
		"reader":  map[string]any{"refresh": "@every 1s"},
		"replica": map[string]any{"endpoint": endpoint, "access_key_id": "bench", "secret_access_key": "benchsecret", "cache_dir": r.path(fmt.Sprintf("cache-%d", n))},
	}); err != nil {
		return x, err
	}
	store, err := r.store(ctx, n)
	if err != nil {
		return x, err
	}
	defer os.RemoveAll(filepath.Dir(store))
	url := fmt.Sprintf("s3://bench/s%d", n)
	upload := func() (uploadOut, error) {
		var u uploadOut
		p, err := r.cli(ctx, store, cfg, "replicate", "--to", url)
		if err != nil {
			return u, err
		}
		return u, p.wait(&u)
	}
	first, err := upload()
	if err != nil {
		return x, err
	}
	x.InitialBytes, x.InitialMS = first.Bytes, float64(first.DurationMS)
	s, err := snapshot.Open(store)
	if err != nil {
		return x, err
	}
	x.StoreBytes = fsutil.TreeSize(s.SnapshotDir(first.Current))
	cmd := exec.Command(r.opts.Exe, "--config", cfg, "--log-level", "warn", "mcp", "--from", url)
	replica, err := startMCP(ctx, r.log, "memsnap mcp --from", cmd)
	if err != nil {
		return x, err
	}
	defer replica.close()
	x.Commits = 15
	if r.opts.Smoke {
		x.Commits = 2
	}
	var bytes []int64
	var ms, lag []float64
	for i := range x.Commits {
		// The replica polls once a second and the last pass ended just
		// after one of its polls: a pause of i/Commits of a second spreads
		// the commits over the poll's phase, as commits at random times
		// would be (without it every commit meets the poll at about the
		// same point, and the p50 is that run's luck).
		time.Sleep(time.Duration(i) * time.Second / time.Duration(x.Commits))
		job := fmt.Sprintf(`{"ops":[{"op":"create_entities","entities":[{"name":"replicated-%d","entityType":"bench","observations":["one job"]}]}]}`, i)
		if err := s.Queue().Enqueue(queue.NewID(), []byte(job)); err != nil {
			return x, err
		}
		sum, err := r.commit(ctx, store)
		if err != nil {
			return x, err
		}
		committed := time.Now()
		u, err := upload()
		if err != nil {
			return x, err
		}
		bytes, ms = append(bytes, u.Bytes), append(ms, float64(u.DurationMS))
		if err := waitReplica(ctx, replica, sum.Current); err != nil {
			return x, err
		}
		lag = append(lag, float64(time.Since(committed).Microseconds())/1000)
	}
	slices.Sort(bytes)
	x.CommitBytes = bytes[len(bytes)/2]
	x.CommitPct = 100 * float64(x.CommitBytes) / float64(max(1, x.StoreBytes))
	x.CommitMS = percentile(ms, 50)
	x.LagP50MS, x.LagMaxMS = percentile(lag, 50), percentile(lag, 100)
	return x, nil
}

// waitReplica polls the remote reader until it serves snapshot seq (a
// minute at most).
func waitReplica(ctx context.Context, replica *mcpServer, seq uint64) error {
	deadline := time.Now().Add(time.Minute)
	for {
		text, err := replica.call(ctx, "query", map[string]any{"cypher": "RETURN 1"})
		if err != nil {
			return err
		}
		var out struct {
			Snapshot uint64 `json:"snapshot"`
		}
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			return fmt.Errorf("replica query answer %q: %w", truncate(text, 80), err)
		}
		if out.Snapshot >= seq {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the remote reader still serves snapshot %d a minute after %d went up", out.Snapshot, seq)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (x Replicate) writeRows(row func(bench, figure, format string, args ...any)) {
	b := fmt.Sprintf("replicate %dk", x.Entities/1000)
	row(b, "store (snapshot files)", "%s", byteSize(int(x.StoreBytes)))
	row(b, "first upload", "%s in %.0f ms", byteSize(int(x.InitialBytes)), x.InitialMS)
	row(b, "one-job commit upload (median)", "%s (%.2f%% of the store) in %.0f ms, %d commits", byteSize(int(x.CommitBytes)), x.CommitPct, x.CommitMS, x.Commits)
	row(b, "lag, commit to remote reader serving it", "p50 %.0f ms, max %.0f ms (reader.refresh @every 1s)", x.LagP50MS, x.LagMaxMS)
}
