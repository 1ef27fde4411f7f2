package tests

import "encoding/json"
import "os"
import "path/filepath"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/testutil"

// trialEnv keeps every snapshot in full (gc.keep 10) inside a history
// window of a week that thins by count alone: what a store looks like
// before GC has thinned anything.
var trialEnv = []string{"MEMSNAP_HISTORY_KEEP_FOR=168h", "MEMSNAP_HISTORY_KEEP_ALL_FOR=0", "MEMSNAP_HISTORY_HOURLY_FOR=0", "MEMSNAP_GC_KEEP=10"}

// trialStore makes the store of the maintainer trial: snapshots 1 (init)
// to 4, CURRENT 4, one dead job, Pebble only in snapshot 4. The store check
// at the end is off: the tests damage it.
func trialStore(t *testing.T) string {
	t.Helper()
	store := newStore(t)
	skipStoreCheck(store, "damaged on purpose")
	run := func(stdin string, args ...string) {
		t.Helper()
		if r := memsnap(t, store, []byte(stdin), trialEnv, args...); r.code != 0 {
			t.Fatalf("memsnap %v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	run(`{"ops":[{"op":"create_entities","entities":[{"name":"Kuzu","entityType":"db","observations":["graph"]},{"name":"memsnap","entityType":"tool","observations":["store"]}]},`+
		`{"op":"create_relations","relations":[{"from":"memsnap","to":"Kuzu","relationType":"uses"}]}]}`, "enqueue")
	run("", "commit")
	run(`{"ops":[{"op":"add_observations","observations":[{"entityName":"Kuzu","contents":["embedded"]}]},{"op":"kv_put","key":"k","value":"v"}]}`, "enqueue")
	run("", "commit")
	run(`{"ops":[{"op":"add_observations","observations":[{"entityName":"Ghost","contents":["boo"]}]}]}`, "enqueue")
	run(`{"ops":[{"op":"create_entities","entities":[{"name":"Pebble","entityType":"kv","observations":["lsm"]}]}]}`, "enqueue")
	run("", "commit")
	if cur := currentSeq(t, store); cur != "4" {
		t.Fatalf("trial store: CURRENT %s, want 4", cur)
	}
	return store
}

// historyLine is one point of 'snapshots history --json'.
type historyLine struct {
	Seq     uint64 `json:"seq"`
	Full    bool   `json:"full"`
	Damaged string `json:"damaged"`
	Hint    string `json:"hint"`
}

// damagedPoints runs 'snapshots history --json' and returns the points it
// lists as damaged, by seq, and every seq it lists.
func damagedPoints(t *testing.T, store string) (map[uint64]historyLine, []uint64) {
	t.Helper()
	r := memsnap(t, store, nil, trialEnv, "snapshots", "history", "--json")
	var pts []historyLine
	if err := json.Unmarshal([]byte(r.stdout), &pts); r.code != 0 || err != nil {
		t.Fatalf("snapshots history: exit %d %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	bad := map[uint64]historyLine{}
	var seqs []uint64
	for _, p := range pts {
		seqs = append(seqs, p.Seq)
		if p.Damaged != "" {
			bad[p.Seq] = p
		}
	}
	return bad, seqs
}

// A point of the history window that is gone from both snapshots/ and
// history/ (removed by hand: GC always leaves a history entry) is damage:
// verify fails naming it, --at and restore say it is lost, not that it is
// outside the window, and history lists it as damaged. A: snapshot 3
// deleted while kept in full. B: after GC thinned 1-3, history/2 deleted,
// which point 3, rebuilt from it, needs too.
func TestLostPointIsDamage(t *testing.T) {
	for _, tc := range []struct {
		name           string
		gc             bool
		remove         string
		verify, at     string
		lost, unusable uint64
	}{
		{"snapshot deleted", false, "snapshots/000000000003", "point 3 of history is lost", "point 3 is lost: the store is damaged", 3, 0},
		{"history entry deleted", true, "history/000000000002", "point 2 of history is lost", "point 3 cannot be rebuilt: point 2 of its history is lost", 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := trialStore(t)
			if tc.gc {
				r := memsnap(t, store, nil, append(trialEnv, "MEMSNAP_GC_KEEP=1"), "snapshots", "gc")
				if r.code != 0 || !fileExists(filepath.Join(store, "history", "000000000003")) {
					t.Fatalf("gc: exit %d %s; want history/000000000003 kept", r.code, r.stderr)
				}
			}
			if err := os.RemoveAll(filepath.Join(store, filepath.FromSlash(tc.remove))); err != nil {
				t.Fatal(err)
			}
			r := memsnap(t, store, nil, trialEnv, "snapshots", "verify")
			oneLineErrorLast(t, r, tc.verify)
			if !contains(r.stderr, "copy snapshots/") || strings.Contains(r.stdout, "ok") {
				t.Fatalf("verify: stdout %q stderr %q; want the loss with what to do, no ok", r.stdout, r.stderr)
			}
			for _, args := range [][]string{{"search", "--at", "3", "Kuzu"}, {"snapshots", "restore", "3"}} {
				r := memsnap(t, store, nil, trialEnv, args...)
				oneLineError(t, r, tc.at)
				if contains(r.stderr, "history.keep_for") || !contains(r.stderr, "backup") {
					t.Fatalf("%v: %q; want the loss and what to do, not the window", args, r.stderr)
				}
			}
			bad, seqs := damagedPoints(t, store)
			if p, ok := bad[tc.lost]; !ok || !contains(p.Damaged, "lost") || p.Hint == "" {
				t.Fatalf("history: points %v, damaged %+v; want point %d listed as lost, with a hint", seqs, bad, tc.lost)
			}
			if tc.unusable != 0 {
				if _, ok := bad[tc.unusable]; !ok {
					t.Fatalf("history: damaged %+v; want point %d listed as damaged too", bad, tc.unusable)
				}
			}
			if len(bad) != 1+min(1, int(tc.unusable)) {
				t.Fatalf("history: damaged %+v; want only the lost point and what needs it", bad)
			}
		})
	}
}

// 'snapshots verify' and a read name the repair when CURRENT is missing
// beside snapshots, names a snapshot that does not exist, or names one
// whose directory was deleted; "nothing published yet" is only for a
// store with no snapshot at all.
func TestVerifyNamesTheRepairOfCurrent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, store string)
		want   string
	}{
		{"no CURRENT", func(t *testing.T, store string) {
			if err := os.Remove(filepath.Join(store, "CURRENT")); err != nil {
				t.Fatal(err)
			}
		}, "there is no CURRENT file, but snapshots 1, 2, 3 and 4 are on disk"},
		{"CURRENT 99", func(t *testing.T, store string) { writeCurrent(t, store, 99) }, "CURRENT names snapshot 99, which does not exist"},
		{"CURRENT's directory deleted", func(t *testing.T, store string) {
			if err := os.RemoveAll(snapDir(store, "4")); err != nil {
				t.Fatal(err)
			}
		}, "CURRENT names snapshot 4, which does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := trialStore(t)
			tc.damage(t, store)
			for _, args := range [][]string{{"snapshots", "verify"}, {"search", "Kuzu"}} {
				r := memsnap(t, store, nil, trialEnv, args...)
				oneLineErrorLast(t, r, tc.want)
				if !contains(r.stderr, "Run 'memsnap snapshots repair'") || contains(r.stderr, "nothing published") {
					t.Fatalf("%v: %q; want %q and the repair", args, r.stderr, tc.want)
				}
			}
		})
	}
}

// Every finding that shows damage says what to do, in a message with no
// internal text spliced in: a changed byte in CURRENT's graph, a corrupt
// manifest of CURRENT (status still prints what it can) or of an older
// snapshot (history lists it as damaged), a damaged job file in history/
// (--at and restore say it is damaged, not "try again").
func TestDamageFindingsSayWhatToDo(t *testing.T) {
	noSplice := func(t *testing.T, what, s string) {
		t.Helper()
		for _, bad := range []string{"snapshot: store is corrupt", "'memsnap snapshots verify' names every damaged file", "try again"} {
			if strings.Contains(s, bad) {
				t.Fatalf("%s: %q holds %q", what, s, bad)
			}
		}
	}
	t.Run("graph of CURRENT", func(t *testing.T) {
		store := trialStore(t)
		testutil.FlipByte(t, filepath.Join(snapDir(store, "4"), "graph.kuzu"), testutil.Middle)
		r := memsnap(t, store, nil, trialEnv, "snapshots", "verify")
		oneLineErrorLast(t, r, "graph.kuzu: checksum mismatch")
		if !contains(r.stderr, "run 'memsnap snapshots repair'") {
			t.Fatalf("verify: %q; want the repair", r.stderr)
		}
		noSplice(t, "verify", r.stderr)
	})
	t.Run("manifest of CURRENT", func(t *testing.T) {
		store := trialStore(t)
		truncateHalf(t, filepath.Join(snapDir(store, "4"), "MANIFEST.json"))
		r := memsnap(t, store, nil, trialEnv, "status")
		oneLineErrorLast(t, r, "snapshot 4: manifest is corrupt")
		if !contains(r.stderr, "memsnap snapshots repair") || !contains(r.stdout, "queue:") || !contains(r.stdout, "snapshot 4, damaged") {
			t.Fatalf("status: stdout %q stderr %q; want the status, the damage and the repair", r.stdout, r.stderr)
		}
	})
	t.Run("manifest of an older snapshot", func(t *testing.T) {
		store := trialStore(t)
		truncateHalf(t, filepath.Join(snapDir(store, "3"), "MANIFEST.json"))
		r := memsnap(t, store, nil, trialEnv, "snapshots", "verify")
		oneLineErrorLast(t, r, "snapshot 3: manifest is corrupt")
		if !contains(r.stderr, "CURRENT is sound") || !contains(r.stderr, "backup") {
			t.Fatalf("verify: %q; want what the damage means and what to do", r.stderr)
		}
		bad, seqs := damagedPoints(t, store)
		if p, ok := bad[3]; !ok || !contains(p.Damaged, "manifest is corrupt") || p.Hint == "" || len(seqs) != 4 {
			t.Fatalf("history: points %v, damaged %+v; want point 3 listed as damaged, with a hint", seqs, bad)
		}
	})
	t.Run("job file in history", func(t *testing.T) {
		store := trialStore(t)
		if r := memsnap(t, store, nil, append(trialEnv, "MEMSNAP_GC_KEEP=1"), "snapshots", "gc"); r.code != 0 {
			t.Fatalf("gc: %s", r.stderr)
		}
		jobs := dirNames(t, filepath.Join(store, "history", "000000000003", "jobs"))
		if len(jobs) == 0 {
			t.Fatal("history/000000000003 holds no job file")
		}
		testutil.FlipByte(t, filepath.Join(store, "history", "000000000003", "jobs", jobs[0]), testutil.Middle)
		r := memsnap(t, store, nil, trialEnv, "snapshots", "verify")
		oneLineErrorLast(t, r, "size or CRC-32C does not match the manifest")
		if !contains(r.stderr, "copied back from a backup") {
			t.Fatalf("verify: %q; want what to do", r.stderr)
		}
		noSplice(t, "verify", r.stderr)
		for _, args := range [][]string{{"search", "--at", "3", "Kuzu"}, {"snapshots", "restore", "3"}} {
			r := memsnap(t, store, nil, trialEnv, args...)
			oneLineError(t, r, "does not match its checksum")
			if !contains(r.stderr, "damaged") {
				t.Fatalf("%v: %q; want the damage named", args, r.stderr)
			}
			if strings.Contains(r.stderr, "try again") {
				t.Fatalf("%v: %q says to try again", args, r.stderr)
			}
		}
	})
}

// truncateHalf cuts the file at path to half its size.
func truncateHalf(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// A stray file in CURRENT's snapshot blocks reads until it is moved out:
// the error says so (not the repair, which would roll back a sound
// snapshot). A repair that queues one job again says "1 later job".
func TestStrayFileAndRepairWording(t *testing.T) {
	store := trialStore(t)
	stray := filepath.Join(snapDir(store, "4"), "extra.txt")
	if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"search", "Kuzu"}, {"snapshots", "verify"}} {
		r := memsnap(t, store, nil, trialEnv, args...)
		oneLineErrorLast(t, r, "unexpected file extra.txt")
		if !contains(r.stderr, "move it out of "+snapDir(store, "4")+";") || contains(r.stderr, "snapshots repair") {
			t.Fatalf("%v: %q; want the file to move out named, not the repair", args, r.stderr)
		}
	}
	if err := os.Remove(stray); err != nil {
		t.Fatal(err)
	}
	testutil.FlipByte(t, filepath.Join(snapDir(store, "4"), "graph.kuzu"), testutil.Middle)
	r := memsnap(t, store, nil, trialEnv, "snapshots", "repair")
	if r.code != 0 || !contains(r.stdout, "; 1 later job queued again") {
		t.Fatalf("repair: exit %d stdout %q stderr %q; want one later job queued again", r.code, r.stdout, r.stderr)
	}
}
