//go:build linux

// Linux only: it needs mount namespaces, FIFOs or Unix permissions.

package tests

import "bufio"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strconv"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/modelcontextprotocol/go-sdk/mcp"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"

// tmpfsMount mounts a private tmpfs of sizeMiB in a new user and mount
// namespace (unshare -rm, as TestSmallFilesystemFills does) held by a
// process that lives until the test ends, and returns a path to it that
// this process and the memsnap processes it starts can use:
// /proc/PID/root/... of the holder, so that the test itself stays the MCP
// and HTTP client. It skips the test where no such namespace is allowed.
func tmpfsMount(t *testing.T, sizeMiB int) string {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("skipped: needs unshare(1) (util-linux) to mount a private size-limited tmpfs")
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "-rm", "sh", "-c",
		fmt.Sprintf(`mount -t tmpfs -o size=%dm,mode=0700 tmpfs "$1" && echo mounted && read _`, sizeMiB), "sh", mnt)
	stdin := pipe(t, cmd.StdinPipe)
	out := pipe(t, cmd.StdoutPipe)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Skipf("skipped: cannot start unshare: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close() // the holder reads its stdin to the end, then exits and the tmpfs goes with it
		_ = cmd.Wait()
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "mounted" {
		t.Skipf("skipped: this machine does not allow a private mount namespace with a tmpfs (unshare -rm, mount: %q)", line)
	}
	return filepath.Join("/proc", fmt.Sprint(cmd.Process.Pid), "root", mnt)
}

// freeBytes is what the filesystem of path has free for a user.
func freeBytes(t *testing.T, path string) int64 {
	t.Helper()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil {
		t.Fatal(err)
	}
	return int64(fs.Bavail) * fs.Bsize
}

var blockedCause = regexp.MustCompile(`no space left on device: the next snapshot needs about (\d+) MiB .* and the store's filesystem has (\d+) MiB free; free at least \d+ MiB`)

// Issue 25, done-when 1 (a filesystem that fills), on a 64 MiB tmpfs: with
// a ballast file leaving less room than the next snapshot needs, MCP writes
// are acknowledged with a warning naming the free and needed space,
// memory_status, 'memsnap status --json', serve's /healthz ("degraded")
// and its dashboard show it, and a read waiting for its own writes answers
// at once naming it. Once the ballast is deleted, every acknowledged job
// applies with no change of configuration and no restart.
func TestFullDiskIsVisibleAndEasyToLeave(t *testing.T) {
	ctx := testContext(t)
	mnt := tmpfsMount(t, 64)
	store := filepath.Join(mnt, "store")
	mustMemsnap(t, store, nil, "init")

	// Leave 20 MiB free: room for small jobs in the queue, not for a
	// commit, which needs a copy of CURRENT, 8 MiB for what it writes and
	// writer.min_free_mb (16 MiB) besides.
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, freeBytes(t, mnt)-20<<20), 0o600); err != nil {
		t.Fatal(err)
	}

	cs := mcpSession(t, ctx, store)
	jobs := writeOnFullDisk(t, ctx, cs)

	jobs = append(jobs, enqueueOnFullDisk(t, store)...)

	var st struct {
		Writer struct {
			State     string `json:"state"`
			Cause     string `json:"cause"`
			NeededMiB int64  `json:"neededMiB"`
			FreeMiB   int64  `json:"freeMiB"`
		} `json:"writer"`
		PendingWrites int `json:"pendingWrites"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "memory_status", map[string]any{})), &st); err != nil {
		t.Fatal(err)
	}
	if st.Writer.State != "blocked" || st.Writer.NeededMiB <= st.Writer.FreeMiB || !blockedCause.MatchString(st.Writer.Cause+"; free at least 1 MiB") ||
		st.PendingWrites != 3 {
		t.Errorf("memory_status on a full disk: %+v; want writer blocked with needed > free and the server's 3 writes pending", st)
	}

	// A second server that does not commit (another process writes) tells
	// the same by itself.
	other := mcpSession(t, ctx, store, "MEMSNAP_MCP_COMMIT_WHEN_IDLE=false")
	var st2 struct {
		Writer struct {
			State string `json:"state"`
			Cause string `json:"cause"`
		} `json:"writer"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, ctx, other, "memory_status", map[string]any{})), &st2); err != nil || st2.Writer.State != "blocked" || st2.Writer.Cause != st.Writer.Cause {
		t.Errorf("memory_status of a server that does not commit: %+v %v; want the same blocked writer and cause as the committing server's (%q)", st2, err, st.Writer.Cause)
	}

	// A read shows its queued writes and says that they cannot apply yet.
	text := mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"full-0"}})
	if !strings.Contains(text, "cannot apply yet") || !blockedCause.MatchString(text) || strings.Contains(text, "is a writer running") {
		t.Errorf("a read waiting for its own writes on a full disk answered %q; want a note naming the lack of space", text)
	}

	checkStatusOnFullDisk(t, store)

	srv := checkServeOnFullDisk(t, ctx, store)

	// The daemon's /healthz says the same.
	daemon := startDaemonHTTP(t, ctx, store)
	if body := httpGet(t, daemon+"/healthz"); !strings.Contains(body, `"state":"degraded"`) || !strings.Contains(body, "MiB free") {
		t.Errorf("the daemon's /healthz on a full disk: %s; want state degraded with the writer's cause", body)
	}

	// Free the space as a user would: every acknowledged job applies, no
	// configuration changed, nothing restarted.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, ctx, store, jobs)
	text = mustCall(t, ctx, cs, "open_nodes", map[string]any{"names": []string{"full-0", "full-1", "full-2"}})
	if g := parseGraph(t, text); len(g.Entities) != 3 {
		t.Errorf("after space was freed the server reads %s; want the 3 entities written on the full disk", text)
	}
	if err := json.Unmarshal([]byte(mustCall(t, ctx, cs, "memory_status", map[string]any{})), &st); err != nil || st.Writer.State != "ok" || st.PendingWrites != 0 {
		t.Errorf("memory_status after space was freed: %+v %v; want the writer ok and nothing pending", st, err)
	}
	if _, body := srv.get(t, "GET", "/healthz", nil); !strings.Contains(body, `"state":"ok"`) {
		t.Errorf("/healthz after space was freed: %s", body)
	}
	if body := httpGet(t, daemon+"/healthz"); !strings.Contains(body, `"state":"ok"`) {
		t.Errorf("the daemon's /healthz after space was freed: %s", body)
	}
}

// checkServeOnFullDisk starts 'memsnap serve' on a store whose disk is too
// full to commit and checks that its /healthz says "degraded" with the
// writer's cause and its dashboard shows the blocked writer. It returns the
// server, still running.
func checkServeOnFullDisk(t *testing.T, ctx context.Context, store string) *served {
	t.Helper()
	srv := startServe(t, ctx, store)
	resp, body := srv.get(t, "GET", "/healthz", nil)
	var hz struct {
		OK      bool   `json:"ok"`
		Current uint64 `json:"current"`
		State   string `json:"state"`
		Writer  struct {
			State string `json:"state"`
			Cause string `json:"cause"`
		} `json:"writer"`
	}
	if err := json.Unmarshal([]byte(body), &hz); err != nil || resp.StatusCode != 200 || !hz.OK || hz.Current == 0 ||
		hz.State != "degraded" || hz.Writer.State != "blocked" || !strings.Contains(hz.Writer.Cause, "MiB free") {
		t.Errorf("/healthz on a full disk: %d %s; want 200, ok, the current seq, state degraded and the writer's cause", resp.StatusCode, body)
	}
	if _, page := srv.get(t, "GET", "/", nil, "Authorization", "Bearer "+srv.token); !strings.Contains(page, `id="writer-health"`) ||
		!strings.Contains(page, "MiB free") {
		t.Errorf("the dashboard on a full disk does not show the blocked writer:\n%s", page)
	}
	return srv
}

// writeOnFullDisk writes three entities through cs on a disk too full to
// commit: each must be acknowledged with a warning naming the needed and
// free space. It returns their job ids.
func writeOnFullDisk(t *testing.T, ctx context.Context, cs *mcp.ClientSession) []string {
	t.Helper()
	var jobs []string
	for i := range 3 {
		text, res := call(t, ctx, cs, "create_entities", map[string]any{"entities": []map[string]any{
			{"name": fmt.Sprintf("full-%d", i), "entityType": "test", "observations": []string{"written on a full disk"}}}})
		if res.IsError {
			t.Fatalf("write %d on a full disk: %s; want it acknowledged (the queue still has room)", i, text)
		}
		m := blockedCause.FindStringSubmatch(text)
		if m == nil || !strings.Contains(text, "warning:") {
			t.Fatalf("write %d on a full disk answered %q; want a warning naming the needed and free space", i, text)
		}
		if needed, _ := strconv.Atoi(m[1]); needed <= mustAtoi(t, m[2]) {
			t.Errorf("write %d: needs %s MiB, has %s MiB: want more needed than free", i, m[1], m[2])
		}
		if i == 0 {
			t.Logf("write answer on a full disk: %s", text)
		}
		job, _ := res.Meta["memsnap/job"].(string)
		if job == "" {
			t.Fatalf("write %d: no job id in %v", i, res.Meta)
		}
		jobs = append(jobs, job)
	}
	return jobs
}

// enqueueOnFullDisk checks that on a disk too full to commit the command
// line's enqueue warns as the MCP server does (on stderr, exit 0), and that
// enqueue --wait, which commits itself, stops at once naming the cause. It
// returns the ids of the jobs they queued.
func enqueueOnFullDisk(t *testing.T, store string) []string {
	t.Helper()
	var jobs []string
	r := memsnap(t, store, []byte(`{"ops":[{"op":"kv_put","key":"full-cli","value":"queued on a full disk"}]}`), nil, "enqueue")
	var queued struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &queued); r.code != 0 || err != nil || !strings.Contains(r.stderr, "cannot apply yet") || !blockedCause.MatchString(r.stderr) {
		t.Errorf("memsnap enqueue on a full disk: exit %d, stdout %q, stderr %q; want the job id and a warning naming the needed and free space", r.code, r.stdout, r.stderr)
	}
	jobs = append(jobs, queued.JobID)
	// enqueue --wait, which commits itself, stops at once naming the cause.
	r = memsnap(t, store, []byte(`{"ops":[{"op":"kv_put","key":"full-wait","value":"waited for on a full disk"}]}`), nil, "enqueue", "--wait=10m")
	if m := regexp.MustCompile(`waiting for job (\w+): no space`).FindStringSubmatch(r.stderr); r.code != 1 || m == nil || !blockedCause.MatchString(r.stderr) {
		t.Errorf("memsnap enqueue --wait on a full disk: exit %d, stderr %q; want exit 1 at once with the job id and the needed and free space", r.code, r.stderr)
	} else {
		jobs = append(jobs, m[1]) // queued all the same: it must apply once there is room
	}
	return jobs
}

// checkStatusOnFullDisk checks that 'memsnap status' and its --json show
// the blocked writer with its figures and a hint.
func checkStatusOnFullDisk(t *testing.T, store string) {
	t.Helper()
	var cli struct {
		Writer struct {
			State     string `json:"state"`
			Cause     string `json:"cause"`
			Hint      string `json:"hint"`
			NeededMiB int64  `json:"needed_mib"`
			FreeMiB   int64  `json:"free_mib"`
		} `json:"writer"`
	}
	if err := json.Unmarshal([]byte(mustMemsnap(t, store, nil, "status", "--json")), &cli); err != nil {
		t.Fatal(err)
	}
	if cli.Writer.State != "blocked" || cli.Writer.NeededMiB <= cli.Writer.FreeMiB || !strings.Contains(cli.Writer.Hint, "free at least") {
		t.Errorf("memsnap status --json on a full disk: %+v; want the writer blocked with the figures and a hint", cli.Writer)
	}
	out := mustMemsnap(t, store, nil, "status")
	t.Logf("memsnap status on a full disk:\n%s", out)
	if !strings.Contains(out, "blocked:") || !blockedCause.MatchString(strings.ReplaceAll(out, "\n           ", "; ")) {
		t.Errorf("memsnap status on a full disk:\n%s\nwant a blocked line with the cause", out)
	}
}

// waitApplied waits until every job of jobs is applied; a job that ends
// any other way than applied fails the test.
func waitApplied(t *testing.T, ctx context.Context, store string, jobs []string) {
	t.Helper()
	freed := time.Now()
	for _, id := range jobs {
		for {
			o := jobOutcome(t, store, id)
			if o.Status == "applied" {
				break
			}
			if o.Status != "pending" {
				t.Fatalf("job %s after space was freed: %+v", id, o)
			}
			select {
			case <-ctx.Done():
				t.Fatalf("job %s still pending after space was freed", id)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	t.Logf("every acknowledged job applied %s after space was freed", time.Since(freed).Round(time.Millisecond))
}

// httpGet fetches url and returns its body, failing the test unless 200.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue 25, item 6: a claimed batch of which only the first jobs fit the
// free space is split, through the real binary on a 64 MiB tmpfs: 'memsnap
// commit' applies what fits, warns and exits 0, and once space is freed
// the next commit applies the rest, every job once.
func TestCommitSplitsABatchThatDoesNotFit(t *testing.T) {
	mnt := tmpfsMount(t, 64)
	store := filepath.Join(mnt, "store")
	mustMemsnap(t, store, nil, "init")
	var jobs []string
	value := strings.Repeat("0123456789abcdef", 300<<10/16) // 300 KiB; the estimate counts 3x a job's bytes
	for i := range 5 {
		jobs = append(jobs, enqueue(t, store, map[string]any{"ops": []map[string]any{{"op": "kv_put", "key": fmt.Sprintf("split-%d", i), "value": value}}}))
	}
	// Room for two jobs and a half by the writer's own estimate.
	s, err := snapshot.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := s.Current()
	m, err := s.Manifest(cur)
	if err != nil {
		t.Fatal(err)
	}
	job := int64(len(value)) + 64
	room := writer.SpaceNeeded(m.StagedBytes(), 2*job+job/2, config.Default().Writer.MinFreeMB)
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, freeBytes(t, mnt)-room), 0o600); err != nil {
		t.Fatal(err)
	}
	r := memsnap(t, store, nil, nil, "commit")
	var sum commitSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil || sum.Applied < 1 || sum.Batches < 2 {
		t.Fatalf("commit with room for 2 of %d jobs: exit %d, %s, stderr %q; want the batch split: several snapshots, exit 0", len(jobs), r.code, r.stdout, r.stderr)
	}
	// What a batch really wrote may leave room for the next part (a
	// recycled stage copies nothing) or not: then the rest waits, said so.
	if left := len(jobs) - sum.Applied; left > 0 && (!strings.Contains(r.stderr, fmt.Sprintf("%d jobs left queued", left)) || !strings.Contains(r.stderr, "MiB free")) {
		t.Errorf("commit that left %d jobs queued for lack of space warned %q; want the count and the space", left, r.stderr)
	}
	t.Logf("with room for about 2 of %d jobs by the estimate, one commit applied %d in %d snapshots", len(jobs), sum.Applied, sum.Batches)
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	commit(t, store)
	for _, id := range jobs {
		if o := jobOutcome(t, store, id); o.Status != "applied" {
			t.Errorf("job %s after space was freed: %+v", id, o)
		}
	}
	out := mustMemsnap(t, store, nil, "kv", "scan", "split-")
	if c := strings.Count(out, "split-"); c != len(jobs) {
		t.Errorf("kv scan after recovery finds %d keys, want %d:\n%.300s", c, len(jobs), out)
	}
}
