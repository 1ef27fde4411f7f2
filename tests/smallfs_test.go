//go:build linux

// Linux only: it needs mount namespaces, FIFOs or Unix permissions.

package tests

import "bytes"
import "encoding/hex"
import "encoding/json"
import "fmt"
import "math/rand/v2"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "syscall"
import "testing"

// Done-when 2 (real disk): the publish path on a small filesystem that
// fills up. The test re-runs itself in a new user and mount namespace
// (unshare -rm) where it mounts a 96 MiB tmpfs, 40 MiB of it taken by a
// ballast file; there memsnap commits until the disk is too full to stage a
// snapshot, then enqueues until even a job no longer fits. Every failure must be one clear "no space
// left on device" line, CURRENT must stay intact and readable, and after GC
// and removing the ballast free space, the writer applies every acknowledged job exactly once.
func TestSmallFilesystemFills(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("skipped: needs unshare(1) (util-linux) to mount a private size-limited tmpfs")
	}
	if out, err := exec.Command("unshare", "-rm", "true").CombinedOutput(); err != nil {
		t.Skipf("skipped: this machine does not allow a private mount namespace (unshare -rm: %v %s), so no small tmpfs can be mounted", err, bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	cmd := exec.Command("unshare", "-rm", os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MEMSNAP_TEST_ROLE=smallfs", "MEMSNAP_TEST_STORE="+dir, "MEMSNAP_TEST_BIN="+bin)
	out, err := cmd.CombinedOutput()
	t.Logf("small filesystem run:\n%s", out)
	if err != nil {
		t.Fatalf("small filesystem scenario failed: %v", err)
	}
}

// smallFS runs inside the private mount namespace. It returns 0 when every
// check held and prints what happened either way.
func smallFS(dir, memsnapBin string) int {
	if err := fillSmallFS(dir, memsnapBin); err != nil {
		fmt.Println("FAIL:", err)
		return 1
	}
	return 0
}

// smallFSRun is the state of the small filesystem scenario: the store on
// the tmpfs mounted at mnt, the ballast file that fills it, and what was
// acknowledged so far.
type smallFSRun struct {
	mnt, store, ballast, bin string
	acked                    []string // ids of the acknowledged jobs
	wantEntities             int      // entities the acknowledged jobs create
	kuzuAborts               int      // tight-space commits Kuzu itself aborted
}

func fillSmallFS(dir, memsnapBin string) error {
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=96m,mode=0700"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	defer syscall.Unmount(mnt, 0)
	r := &smallFSRun{mnt: mnt, store: filepath.Join(mnt, "store"), ballast: filepath.Join(mnt, "ballast"), bin: memsnapBin}
	if _, e, code := r.ms(nil, nil, "init"); code != 0 {
		return fmt.Errorf("init: %s", e)
	}
	if err := os.WriteFile(r.ballast, make([]byte, 40<<20), 0o600); err != nil {
		return err
	}
	if err := r.fillUp(); err != nil {
		return err
	}
	// Free space as an operator would, then let the writer catch up.
	if err := os.Remove(r.ballast); err != nil {
		return err
	}
	if err := r.drain(); err != nil {
		return err
	}
	// Phase two: room for the staging copy but not for the batch, so the
	// disk fills inside Kuzu's and Pebble's own writes or the publish.
	for slack := int64(64 << 10); slack <= 4<<20; slack *= 2 {
		if err := r.tightCommit(slack); err != nil {
			return err
		}
	}
	return r.recovered()
}

// ms runs memsnap on the store and returns its output and exit code
// (-1 if it could not run, 128+signal if killed).
func (r *smallFSRun) ms(stdin []byte, env []string, args ...string) (string, string, int) {
	res, err := runMemsnap(r.bin, r.store, "error", stdin, env, args...)
	switch {
	case err != nil:
		return "", err.Error(), -1
	case res.signal != 0:
		return res.stdout, res.stderr, 128 + int(res.signal)
	}
	return res.stdout, res.stderr, res.code
}

// clearENOSPC checks that stderr, what failed, is one line naming "no
// space left on device".
func clearENOSPC(what, stderr string) error {
	line := strings.TrimSpace(stderr)
	if !strings.HasPrefix(line, "memsnap: ") || strings.Contains(line, "\n") || !strings.Contains(line, "no space left on device") {
		return fmt.Errorf("%s on a full disk: want one line naming 'no space left on device', got %q", what, stderr)
	}
	return nil
}

// fillUp enqueues and commits jobs until commits fail for lack of space,
// then enqueues until a job no longer fits either. Each failure must be
// clear, and a failed commit must leave CURRENT as it was, verifying and
// readable.
func (r *smallFSRun) fillUp() error {
	commitFails, enqueueFails := 0, 0
	// Each job holds 240 KB the key-value store cannot compress (hex of
	// random bytes): a repeated string compresses to almost nothing, and
	// the graph alone grows too slowly to fill the disk.
	rng := rand.New(rand.NewPCG(1, 2))
	bulk := func() string {
		b := make([]byte, 120<<10)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return hex.EncodeToString(b)
	}
	for i := 0; i < 2000 && enqueueFails == 0; i++ {
		job := fmt.Sprintf(`{"ops":[{"op":"create_entities","entities":[{"name":"e%d","entityType":"fill","observations":["step %d"]}]},{"op":"kv_put","key":"k%d","value":"%s"}]}`, i, i, i, bulk())
		o, e, code := r.ms([]byte(job), nil, "enqueue")
		if code != 0 {
			if err := clearENOSPC("enqueue", e); err != nil {
				return err
			}
			enqueueFails++
			fmt.Printf("enqueue %d refused as expected: %s", i, e)
			break
		}
		var res struct {
			JobID string `json:"job_id"`
		}
		if err := json.Unmarshal([]byte(o), &res); err != nil {
			return fmt.Errorf("enqueue answer %q", o)
		}
		r.acked = append(r.acked, res.JobID)
		r.wantEntities++
		if commitFails >= 2 {
			continue // the disk is full for the writer: keep queueing until it is full for producers too
		}
		before, _ := os.ReadFile(filepath.Join(r.store, "CURRENT"))
		_, e, code = r.ms(nil, []string{"MEMSNAP_WRITER_MAX_BATCH_JOBS=50"}, "commit")
		if code == 0 {
			continue
		}
		if err := clearENOSPC("commit", e); err != nil {
			return err
		}
		commitFails++
		fmt.Printf("commit %d failed as expected: %s", i, e)
		after, _ := os.ReadFile(filepath.Join(r.store, "CURRENT"))
		if !bytes.Equal(before, after) {
			return fmt.Errorf("a failed commit moved CURRENT from %q to %q", before, after)
		}
		if len(before) > 0 {
			if _, e, code := r.ms(nil, nil, "snapshots", "verify"); code != 0 {
				return fmt.Errorf("CURRENT does not verify after ENOSPC: %s", e)
			}
			if _, e, code := r.ms(nil, nil, "query", "MATCH (e:Entity) RETURN count(e)"); code != 0 {
				return fmt.Errorf("CURRENT does not open read-only after ENOSPC: %s", e)
			}
		}
	}
	if commitFails == 0 || enqueueFails == 0 {
		return fmt.Errorf("the disk never filled: %d commits and %d enqueues failed", commitFails, enqueueFails)
	}
	fmt.Printf("%d jobs acknowledged, %d commits and %d enqueue refused for lack of space\n", len(r.acked), commitFails, enqueueFails)
	return nil
}

// drain collects old snapshots and commits until the queue is empty.
func (r *smallFSRun) drain() error {
	for round := 0; ; round++ {
		if _, e, code := r.ms(nil, []string{"MEMSNAP_GC_KEEP=1"}, "snapshots", "gc"); code != 0 {
			return fmt.Errorf("gc: %s", e)
		}
		_, e, code := r.ms(nil, []string{"MEMSNAP_WRITER_MAX_BATCH_JOBS=20", "MEMSNAP_WRITER_MAX_ROUNDS=1"}, "commit")
		if code != 0 {
			if err := clearENOSPC("commit after freeing space", e); err != nil {
				return err
			}
		}
		q, _, _ := r.ms(nil, nil, "status", "--json")
		if strings.Contains(q, `"new":0,"claimed":0`) {
			return nil
		}
		if round > 100 {
			return fmt.Errorf("queue never drained: %s", q)
		}
	}
}

// tightCommit fills the disk to leave room for the staging copy and slack
// bytes more, enqueues a job of 40 large entities and commits it: the
// commit may succeed, fail clearly, or be aborted by Kuzu, but CURRENT
// must stay as it was on a failure and verify after it. It then frees the
// space again.
func (r *smallFSRun) tightCommit(slack int64) error {
	cur, _ := os.ReadFile(filepath.Join(r.store, "CURRENT"))
	graph, err := os.Stat(filepath.Join(r.store, "snapshots", fmt.Sprintf("%012s", strings.TrimSpace(string(cur))), "graph.kuzu"))
	if err != nil {
		return err
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(r.mnt, &fs); err != nil {
		return err
	}
	free := int64(fs.Bavail) * fs.Bsize
	if err := os.WriteFile(r.ballast, make([]byte, max(0, free-graph.Size()-slack)), 0o600); err != nil {
		return fmt.Errorf("ballast: %w", err)
	}
	filler := strings.Repeat("memory ", 1200) // ~8 KB
	var ops []string
	for j := 0; j < 40; j++ {
		ops = append(ops, fmt.Sprintf(`{"op":"create_entities","entities":[{"name":"big-%d-%d","entityType":"fill","observations":["%s"]}]}`, slack, j, filler))
	}
	o, e, code := r.ms([]byte(`{"ops":[`+strings.Join(ops, ",")+`]}`), nil, "enqueue")
	if code != 0 {
		if err := clearENOSPC("enqueue", e); err != nil {
			return err
		}
	} else {
		var res struct {
			JobID string `json:"job_id"`
		}
		_ = json.Unmarshal([]byte(o), &res)
		r.acked = append(r.acked, res.JobID)
		r.wantEntities += 40
	}
	// writer.min_free_mb=0 turns off the writer's own space check, so
	// the disk really fills inside the engines' writes.
	_, e, code = r.ms(nil, []string{"MEMSNAP_WRITER_MIN_FREE_MB=0"}, "commit")
	after, _ := os.ReadFile(filepath.Join(r.store, "CURRENT"))
	if code >= 128 || code != 0 && strings.Contains(e, "terminate called after throwing") && strings.Contains(e, "No space left on device") {
		// Kuzu 0.11.3 throws from a destructor when its WAL write
		// fails and the C++ runtime aborts the process, sometimes
		// without a word: the writer dies as if killed (ms reports a
		// death by signal as 128+signal). The store must still be intact.
		r.kuzuAborts++
		fmt.Printf("commit with %d KiB beyond the staging copy: Kuzu aborted the writer on ENOSPC (exit %d: %s)\n", slack>>10, code, firstLine(e))
		if !bytes.Equal(cur, after) {
			return fmt.Errorf("an aborted commit moved CURRENT from %q to %q", cur, after)
		}
	} else if code != 0 {
		if err := clearENOSPC(fmt.Sprintf("commit with %d KiB to spare (exit %d)", slack>>10, code), e); err != nil {
			return err
		}
		if !bytes.Equal(cur, after) {
			return fmt.Errorf("a failed commit moved CURRENT from %q to %q", cur, after)
		}
		fmt.Printf("commit with %d KiB beyond the staging copy failed as expected: %s", slack>>10, e)
	} else {
		fmt.Printf("commit with %d KiB beyond the staging copy succeeded\n", slack>>10)
	}
	if _, e, code := r.ms(nil, nil, "snapshots", "verify"); code != 0 {
		return fmt.Errorf("CURRENT does not verify after ENOSPC: %s", e)
	}
	if err := os.Remove(r.ballast); err != nil {
		return err
	}
	if _, e, code := r.ms(nil, []string{"MEMSNAP_GC_KEEP=1"}, "snapshots", "gc"); code != 0 {
		return fmt.Errorf("gc: %s", e)
	}
	return nil
}

// recovered commits what is left and checks that every acknowledged job
// was applied once and the store verifies.
func (r *smallFSRun) recovered() error {
	if _, e, code := r.ms(nil, nil, "commit"); code != 0 {
		return fmt.Errorf("commit after freeing space: %s", e)
	}
	fmt.Printf("%d of the tight-space commits were aborted by Kuzu itself\n", r.kuzuAborts)
	for _, id := range r.acked {
		o, e, code := r.ms(nil, nil, "job", id)
		if code != 0 || !strings.Contains(o, `"status":"applied"`) {
			return fmt.Errorf("acknowledged job %s after recovery: %s %s", id, o, e)
		}
	}
	if _, e, code := r.ms(nil, nil, "snapshots", "verify"); code != 0 {
		return fmt.Errorf("verify after recovery: %s", e)
	}
	o, _, _ := r.ms(nil, nil, "query", "--json", "MATCH (e:Entity) RETURN count(e)")
	if !strings.Contains(o, fmt.Sprintf("[[%d]]", r.wantEntities)) {
		return fmt.Errorf("after recovery the graph holds %s, want one entity per acknowledged fill job and 40 per big job", o)
	}
	fmt.Printf("recovered: all %d acknowledged jobs applied once\n", len(r.acked))
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
