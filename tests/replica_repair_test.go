package tests

import "encoding/json"
import "fmt"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"

// TestRemoteRepairFromHistory: damage that the writer's store can undo is
// undone by replicate (issue 29 trial, finding 6). A history job object
// a reader reports is put back from the local history/ entry; a damaged
// remote manifest (snapshots/ and history/) is put back by replicate
// --verify, and by retention after an upload without failing it; a remote
// CURRENT that does not parse is rewritten by the store that publishes
// there, and another store is told which object to delete.
func TestRemoteRepairFromHistory(t *testing.T) {
	srv := testutil.StartS3(t)
	url := srv.URL("repair")
	remote := filepath.Join(srv.Dir, testutil.S3Bucket, "repair")
	store := newStore(t)
	env := append(slices.Clone(historyEnv), "MEMSNAP_REPLICA_KEEP=1")
	upEnv := append(srv.Env(), env...)
	fromEnv := append(replicaEnv(srv, filepath.Join(t.TempDir(), "cache")), env...)
	var seqs []uint64
	var graphs []string
	for i := range 4 {
		seqs = append(seqs, historyWrite(t, store, fmt.Sprintf(`{"ops":[{"op":"create_entities","entities":[{"name":"E%d","entityType":"t"}]}]}`, i)))
		graphs = append(graphs, historyRun(t, store, nil, "graph", "--json"))
		replicateJSON(t, store, upEnv, "replicate", "--to", url)
	}
	thinned := seqs[1]
	if !exists(filepath.Join(remote, "history", fmt.Sprintf("%012d.json", thinned))) {
		t.Fatalf("point %d is not in the remote history: %v", thinned, remoteFiles(t, srv, "repair", "history"))
	}
	graphAt := func(seq uint64) result {
		return memsnap(t, "", nil, fromEnv, "graph", "--json", "--from", url, "--at", fmt.Sprint(seq))
	}

	// 6a: a job object of a thinned point, reported by the reader that
	// met it, comes back from the writer's history/ job file.
	job := remoteJobObject(t, filepath.Join(remote, "history", fmt.Sprintf("%012d.json", thinned)))
	testutil.FlipByte(t, filepath.Join(remote, "objects", job), testutil.Middle)
	if r := graphAt(thinned); r.code == 0 {
		t.Fatalf("graph --at %d with its job object damaged: exit 0", thinned)
	}
	if rep := replicateJSON(t, store, upEnv, "replicate", "--to", url); rep.Repaired != 1 {
		t.Fatalf("replicate after the reader reported objects/%s: repaired %d, want 1", job, rep.Repaired)
	}
	if r := graphAt(thinned); r.code != 0 || r.stdout != graphs[1] {
		t.Fatalf("graph --at %d after the repair: exit %d %s\n got %s\nwant %s", thinned, r.code, r.stderr, r.stdout, graphs[1])
	}

	// 6b: damaged manifests, the CURRENT's and a history entry's.
	last := seqs[len(seqs)-1]
	for _, key := range []string{fmt.Sprintf("snapshots/%012d.json", last), fmt.Sprintf("history/%012d.json", thinned)} {
		if err := os.WriteFile(filepath.Join(remote, key), []byte("{\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if rep := replicateJSON(t, store, upEnv, "replicate", "--to", url, "--verify"); rep.Repaired != 2 {
		t.Fatalf("replicate --verify with two damaged manifests: repaired %d, want 2", rep.Repaired)
	}
	if r := graphAt(thinned); r.code != 0 || r.stdout != graphs[1] {
		t.Fatalf("graph --at %d after the manifest repair: exit %d %s", thinned, r.code, r.stderr)
	}
	if r := graphAt(last); r.code != 0 || r.stdout != graphs[3] {
		t.Fatalf("graph --at %d after the manifest repair: exit %d %s", last, r.code, r.stderr)
	}
	// Retention meets a damaged manifest after an upload: it puts it back
	// and the replicate succeeds.
	if err := os.WriteFile(filepath.Join(remote, fmt.Sprintf("snapshots/%012d.json", last)), []byte("{\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	next := historyWrite(t, store, `{"ops":[{"op":"create_entities","entities":[{"name":"E4","entityType":"t"}]}]}`)
	if rep := replicateJSON(t, store, upEnv, "replicate", "--to", url); rep.Current != next {
		t.Fatalf("replicate with a damaged older manifest: current %d, want %d", rep.Current, next)
	}
	if r := graphAt(last); r.code != 0 || r.stdout != graphs[3] {
		t.Fatalf("graph --at %d after retention met its damaged manifest: exit %d %s", last, r.code, r.stderr)
	}

	// 6c: a remote CURRENT that does not parse.
	current := filepath.Join(remote, "CURRENT")
	if err := os.WriteFile(current, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := newStore(t)
	enqueueDirect(t, other, bulkJob("other", 1))
	commit(t, other)
	if r := memsnap(t, other, nil, upEnv, "replicate", "--to", url); r.code == 0 || !strings.Contains(r.stderr, "delete the object "+url+"/CURRENT") {
		t.Fatalf("another store's replicate over a corrupt CURRENT: exit %d: %s; want the object to delete named", r.code, r.stderr)
	}
	r := memsnap(t, store, nil, upEnv, "replicate", "--to", url)
	if r.code != 0 || !strings.Contains(r.stderr, "remote CURRENT was corrupt") {
		t.Fatalf("replicate over a corrupt CURRENT: exit %d: %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(current)
	if want := fmt.Sprintf("%d %s\n", next, storeID(t, store)); err != nil || string(b) != want {
		t.Fatalf("remote CURRENT after the rewrite: %q %v, want %q", b, err, want)
	}
}

// remoteJobObject returns the object (a SHA-256) of the first job file the
// remote manifest at path names.
func remoteJobObject(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rm struct {
		Files []struct {
			Path   string `json:"path"`
			Object string `json:"object"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &rm); err != nil {
		t.Fatal(err)
	}
	for _, f := range rm.Files {
		if strings.HasPrefix(f.Path, "jobs/") && f.Object != "" {
			return f.Object
		}
	}
	t.Fatalf("%s names no job file", path)
	return ""
}
