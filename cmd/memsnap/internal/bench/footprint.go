package bench

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "io/fs"
import "os/exec"
import "path/filepath"
import "strings"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"

// FootprintGoalBytes is the footprint goal at 1,000 entities (issue 28,
// done-when 3): under 3 MB (10^6 bytes) on disk with default retention.
const FootprintGoalBytes = 3_000_000

// footprintWrites is how many single-entity writes follow the import, each
// through 'memsnap enqueue --wait' (a commit of its own, as an agent's
// writes spaced apart are): enough for GC to reach its steady state of
// gc.keep snapshots.
const footprintWrites = 30

// Footprint is what a store of Entities takes on disk after realistic use
// with the default configuration: 'memsnap init', 'memsnap import --wait'
// of the reference server's JSONL file (the mcp store: three observations
// and one relation an entity), then footprintWrites single-entity writes.
// Bytes are allocated blocks (st_blocks, as du counts them), every inode
// once however many hard links it has (snapshots share sstables and job
// files by hard link); on Windows, file sizes rounded up to 4 KiB with no
// link count.
type Footprint struct {
	Entities   int   `json:"entities"`
	JSONLBytes int64 `json:"jsonl_bytes"`
	// Writes is how many single-entity writes followed the import.
	Writes int `json:"writes"`
	// TotalBytes is the whole store directory; ApparentBytes the same
	// files by their sizes.
	TotalBytes    int64 `json:"total_bytes"`
	ApparentBytes int64 `json:"apparent_bytes"`
	// Snapshots is how many snapshots the store keeps (gc.keep's default
	// and any pinned).
	Snapshots int `json:"snapshots"`
	// CurrentBytes is CURRENT's snapshot alone; CurrentGraphBytes its
	// graph.kuzu, CurrentKVBytes its kv/ (Pebble), CurrentKVFiles the files
	// there.
	CurrentBytes      int64 `json:"current_bytes"`
	CurrentGraphBytes int64 `json:"current_graph_bytes"`
	CurrentKVBytes    int64 `json:"current_kv_bytes"`
	CurrentKVFiles    int   `json:"current_kv_files"`
	// GraphBytes, KVBytes and JobsBytes add up every snapshot's graph.kuzu,
	// kv/ and jobs/ (shared files once); QueueBytes is queue/; OtherBytes
	// the rest (manifests, directories, CURRENT, LOCK).
	GraphBytes int64 `json:"graph_bytes"`
	KVBytes    int64 `json:"kv_bytes"`
	JobsBytes  int64 `json:"jobs_bytes"`
	QueueBytes int64 `json:"queue_bytes"`
	OtherBytes int64 `json:"other_bytes"`
}

// footprintSizes are the store sizes of the footprint benchmark.
func (r *runner) footprintSizes() []int {
	switch {
	case r.opts.Smoke:
		return []int{200}
	case r.opts.Quick:
		return []int{1000, 10000}
	}
	return []int{1000, 10000, 100000}
}

func (r *runner) footprint(ctx context.Context) ([]Footprint, error) {
	var out []Footprint
	for _, n := range r.footprintSizes() {
		f, err := r.footprintSize(ctx, n)
		if err != nil {
			return out, fmt.Errorf("%d entities: %w", n, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// footprintSize builds a store of n entities the way a user would, with
// the default configuration, and measures it.
func (r *runner) footprintSize(ctx context.Context, n int) (Footprint, error) {
	out := Footprint{Entities: n, Writes: footprintWrites}
	jsonl, store, size, cleanup, err := r.scratchMemory("footprint", n)
	if err != nil {
		return out, err
	}
	defer cleanup()
	out.JSONLBytes = size
	fmt.Fprintf(r.opts.Progress, "bench: footprint %d entities: init, import, %d writes ...\n", n, footprintWrites)
	if err := r.cliRun(ctx, store, nil, "init"); err != nil {
		return out, err
	}
	if err := r.cliRun(ctx, store, nil, "import", "--wait", jsonl); err != nil {
		return out, err
	}
	for i := range footprintWrites {
		job, err := json.Marshal(model.Job{Ops: []model.Op{{Op: model.OpCreateEntities, Entities: []model.Entity{
			{Name: fmt.Sprintf("note-%d", i), EntityType: "note", Observations: []string{fmt.Sprintf("written after the import, %d of %d", i+1, footprintWrites)}}}}}})
		if err != nil {
			return out, err
		}
		if err := r.cliRun(ctx, store, job, "enqueue", "--wait"); err != nil {
			return out, err
		}
	}
	return out, measureFootprint(store, &out)
}

// cliRun runs "memsnap --store store args..." with the default
// configuration and stdin, and waits for it.
func (r *runner) cliRun(ctx context.Context, store string, stdin []byte, args ...string) error {
	all := append([]string{"--store", store, "--log-level", "warn"}, args...)
	p := &proc{name: "memsnap " + args[0], cmd: exec.CommandContext(ctx, r.opts.Exe, all...)}
	p.cmd.Stdin = bytes.NewReader(stdin)
	if err := p.start(); err != nil {
		return err
	}
	return p.wait(nil)
}

// measureFootprint fills out's byte counts from the store at dir.
func measureFootprint(dir string, out *Footprint) error {
	s, err := snapshot.Open(dir)
	if err != nil {
		return err
	}
	cur, err := s.Current()
	if err != nil {
		return err
	}
	curDir, _ := filepath.Rel(dir, s.SnapshotDir(cur))
	curDir = filepath.ToSlash(curDir) + "/"
	seen := map[uint64]bool{}
	snaps := map[string]bool{}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		alloc, first := allocated(info, seen)
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if first {
			out.TotalBytes += alloc
			if !d.IsDir() {
				out.ApparentBytes += info.Size()
			}
		}
		if parts := strings.Split(rel, "/"); len(parts) == 2 && parts[0] == "snapshots" && d.IsDir() {
			snaps[parts[1]] = true
			out.Snapshots = len(snaps)
		}
		if strings.HasPrefix(rel, curDir) || rel+"/" == curDir {
			out.CurrentBytes += alloc
			switch {
			case strings.HasSuffix(rel, "/"+snapshot.GraphFile):
				out.CurrentGraphBytes += alloc
			case strings.Contains(rel, "/"+snapshot.KVDir+"/"):
				out.CurrentKVBytes += alloc
				out.CurrentKVFiles++
			}
		}
		if !first {
			return nil
		}
		switch parts := strings.Split(rel, "/"); {
		case parts[0] == "queue":
			out.QueueBytes += alloc
		case len(parts) >= 3 && parts[0] == "snapshots" && parts[2] == snapshot.GraphFile:
			out.GraphBytes += alloc
		case len(parts) >= 4 && parts[0] == "snapshots" && parts[2] == snapshot.KVDir:
			out.KVBytes += alloc
		case len(parts) >= 4 && parts[0] == "snapshots" && parts[2] == snapshot.JobsDir:
			out.JobsBytes += alloc
		default:
			out.OtherBytes += alloc
		}
		return nil
	})
}

// mb is bytes in MB (10^6 bytes), as the footprint figures are given.
func mb(n int64) float64 { return float64(n) / 1e6 }

// writeRows adds one store size's footprint to the table.
func (f Footprint) writeRows(row func(bench, figure, format string, args ...any)) {
	b, size := "footprint", fmt.Sprintf("%d entities", f.Entities)
	row(b, size+": on disk", "%.2f MB (%d bytes; %d files' sizes %.2f MB); reference JSONL %.2f MB; %d snapshots kept after import and %d writes",
		mb(f.TotalBytes), f.TotalBytes, f.ApparentBytes, mb(f.ApparentBytes), mb(f.JSONLBytes), f.Snapshots, f.Writes)
	row(b, size+": by part", "graphs %.2f MB, kv %.2f MB, jobs %.2f MB, queue %.2f MB, other %.2f MB",
		mb(f.GraphBytes), mb(f.KVBytes), mb(f.JobsBytes), mb(f.QueueBytes), mb(f.OtherBytes))
	row(b, size+": CURRENT alone", "%.2f MB: graph.kuzu %.2f MB, kv %.2f MB in %d files",
		mb(f.CurrentBytes), mb(f.CurrentGraphBytes), mb(f.CurrentKVBytes), f.CurrentKVFiles)
}
