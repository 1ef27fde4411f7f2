package snapshot

import "context"
import "errors"
import "fmt"
import "io/fs"
import "os"
import "path/filepath"
import "slices"
import "strings"
import "testing"

import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/internal/testutil"

// publishWithJobs publishes a fake snapshot (see stageFake) whose batch
// applied the jobs named (claim seq, id), archived under jobs/ as the
// writer archives them, and returns its seq.
func publishWithJobs(t *testing.T, s *Store, content string, jobs ...queue.Claimed) uint64 {
	t.Helper()
	st := stageFake(t, s, StageOptions{NoRecycle: true}, content)
	watermark := uint64(0)
	if p := st.Parent(); p != nil {
		watermark = p.Watermark
	}
	for _, j := range jobs {
		archiveFake(t, st, fmt.Sprintf("%016d-%s%s", j.Seq, j.ID, queue.Ext), `{"ops":[]}`)
		watermark = max(watermark, j.Seq)
	}
	if err := st.Publish(Manifest{Watermark: watermark, Applied: len(jobs)}); err != nil {
		t.Fatal(err)
	}
	return st.Seq()
}

// checkedStore is a sound store of three snapshots, each applying one job
// (J1, J2, J3 at claim seqs 1 to 3).
func checkedStore(t *testing.T, damaged ...string) *Store {
	t.Helper()
	s := newTestStore(t, damaged...)
	for i := uint64(1); i <= 3; i++ {
		publishWithJobs(t, s, strings.Repeat("g", int(i)), queue.Claimed{Seq: i, ID: fmt.Sprintf("J%d", i)})
	}
	return s
}

func mustCheck(t *testing.T, s *Store, opts CheckOptions) *CheckReport {
	t.Helper()
	r, err := s.Check(context.Background(), opts)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return r
}

func kindsOf(r *CheckReport) []FindingKind {
	return testutil.Map(r.Findings, func(f *Finding) FindingKind { return f.Kind })
}

func TestCheckSoundStore(t *testing.T) {
	s := checkedStore(t)
	called := 0
	r := mustCheck(t, s, CheckOptions{Idle: NoWriter, Content: func(_ context.Context, _ *Store, m *Manifest) error {
		called++
		if m.Seq != 3 {
			return fmt.Errorf("asked about snapshot %d, not CURRENT", m.Seq)
		}
		return nil
	}})
	if len(r.Findings) != 0 || r.Err() != nil || r.Current != 3 || !r.Idle || called != 1 || !slices.Equal(r.Lineage, []uint64{3, 2, 1}) {
		t.Fatalf("sound store: %+v (err %v, content checked %d times)", r, r.Err(), called)
	}
	// Nothing published yet is sound too.
	if r := mustCheck(t, newTestStore(t), CheckOptions{Idle: NoWriter}); len(r.Findings) != 0 || r.Current != 0 {
		t.Fatalf("empty store: %+v", r)
	}
	// GC ends the lineage: what is left is checked.
	if err := os.RemoveAll(s.SnapshotDir(1)); err != nil {
		t.Fatal(err)
	}
	if r := mustCheck(t, s, CheckOptions{Idle: NoWriter}); len(r.Findings) != 0 || !slices.Equal(r.Lineage, []uint64{3, 2}) {
		t.Fatalf("after GC of snapshot 1: %+v", r)
	}
}

// Each damage made to a sound store gives its finding (and only it), is
// ErrCorrupt or not as the kind says, and is reported or not without a
// writer kept out as the check needs.
func TestCheckFindings(t *testing.T) {
	cases := []struct {
		name     string
		damage   func(t *testing.T, s *Store)
		want     FindingKind
		corrupt  bool
		idleOnly bool   // found only with CheckOptions.Idle
		text     string // in the finding's message
		is       error  // errors.Is holds for it too, if set
	}{
		{"CURRENT corrupt", func(t *testing.T, s *Store) { writeFile(t, s.Path(CurrentFile), "3x\n") },
			FindCurrent, true, false, `CURRENT is corrupt: "3x" is not a snapshot seq`, ErrCurrentCorrupt},
		{"CURRENT names a missing snapshot", func(t *testing.T, s *Store) { writeFile(t, s.Path(CurrentFile), "9\n") },
			FindCurrent, true, false, "CURRENT names snapshot 9, which does not exist", ErrCurrentMissing},
		{"CURRENT moved back", func(t *testing.T, s *Store) { writeFile(t, s.Path(CurrentFile), "2\n") },
			FindCurrent, true, true, "CURRENT names snapshot 2, older than snapshot 3", ErrCurrentBehind},
		{"no CURRENT beside published snapshots", func(t *testing.T, s *Store) { removeFile(t, s.Path(CurrentFile)) },
			FindCurrent, true, true, "there is no CURRENT file, but snapshots 1, 2 and 3 are on disk", ErrCurrentMissing},
		{"graph byte changed", func(t *testing.T, s *Store) { writeFile(t, filepath.Join(s.SnapshotDir(3), GraphFile), "ggh") },
			FindDamaged, true, false, "snapshot 3: graph.kuzu: checksum mismatch", nil},
		{"newer format", func(t *testing.T, s *Store) {
			rewriteManifest(t, s, 3, func(m *Manifest) { m.FormatVersion = FormatVersion + 1 })
		},
			FindDamaged, false, false, "written by a newer memsnap", ErrNewerFormat},
		{"ancestor manifest damaged", func(t *testing.T, s *Store) { writeFile(t, filepath.Join(s.SnapshotDir(2), ManifestFile), "{}") },
			FindDamaged, true, false, "snapshot 2", nil},
		{"parent not older", func(t *testing.T, s *Store) { rewriteManifest(t, s, 2, func(m *Manifest) { m.Parent = 2 }) },
			FindLineage, true, false, "snapshot 2: manifest names parent 2, which is not older", nil},
		{"job applied twice", func(t *testing.T, s *Store) { linkJob(t, s, 1, "0000000000000007-J3.job") },
			FindAppliedTwice, true, false, "job J3 applied by snapshots 1 and 3 of CURRENT's lineage", nil},
		{"history job file changed", func(t *testing.T, s *Store) {
			writeFile(t, filepath.Join(thin(t, s, 1), JobsDir, "0000000000000001-J1.job"), `{"ops":[{}]}`)
		}, FindHistory, true, false, "0000000000000001-J1.job: size or CRC-32C does not match the manifest", nil},
		{"history job file missing", func(t *testing.T, s *Store) {
			removeFile(t, filepath.Join(thin(t, s, 1), JobsDir, "0000000000000001-J1.job"))
		}, FindHistory, true, false, filepath.Join(JobsDir, "0000000000000001-J1.job"), os.ErrNotExist},
		{"history manifest of another snapshot", func(t *testing.T, s *Store) {
			thin(t, s, 1)
			b, err := os.ReadFile(filepath.Join(s.SnapshotDir(2), ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(s.historyDir(1), ManifestFile), string(b))
		}, FindHistory, true, false, filepath.Join(HistoryDir, FormatSeq(1), ManifestFile) + ": the manifest names snapshot 2", nil},
		{"history manifest unreadable", func(t *testing.T, s *Store) { writeFile(t, filepath.Join(thin(t, s, 1), ManifestFile), "{") },
			FindHistory, true, false, "history of snapshot 1", nil},
		{"history beside a different full snapshot", func(t *testing.T, s *Store) {
			if err := s.saveHistory(2); err != nil {
				t.Fatal(err)
			}
			rewriteManifest(t, s, 2, func(m *Manifest) { m.Entities = 7 })
		}, FindHistory, true, false, "differs from the manifest of snapshot 2, which is still kept in full", nil},
		{"applied job queued again", func(t *testing.T, s *Store) { writeFile(t, filepath.Join(s.Queue().NewDir(), "J2.job"), "{}") },
			FindQueuedApplied, false, true, "job J2 is in queue/new but snapshot 2 applied it", nil},
		{"staging not empty", func(t *testing.T, s *Store) {
			if err := os.MkdirAll(s.Path("staging", "next"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, FindStaging, false, true, "staging/ holds 1 entry (next) with no writer running", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := checkedStore(t, "damaged on purpose: "+c.name)
			c.damage(t, s)
			r := mustCheck(t, s, CheckOptions{Idle: NoWriter})
			if got := kindsOf(r); !slices.Equal(got, []FindingKind{c.want}) {
				t.Fatalf("findings %v (%v); want one of kind %d", got, r.Err(), c.want)
			}
			f := r.Findings[0]
			if !strings.Contains(f.Error(), c.text) || errors.Is(f, ErrCorrupt) != c.corrupt || errors.Is(r.Err(), ErrCorrupt) != c.corrupt ||
				(c.is != nil && !errors.Is(f, c.is)) {
				t.Fatalf("finding %q: ErrCorrupt %v, is %v %v; want %q, ErrCorrupt %v", f, errors.Is(f, ErrCorrupt), c.is, errors.Is(f, c.is), c.text, c.corrupt)
			}
			// Without keeping writers out, or when that fails, the checks
			// that need it are skipped.
			for _, idle := range []func() (func(), error){nil, func() (func(), error) { return nil, errors.New("locked") }} {
				r := mustCheck(t, s, CheckOptions{Idle: idle})
				if found := len(r.Findings) > 0; found == c.idleOnly || r.Idle {
					t.Fatalf("with no idle writer: %v (idle %v); want found %v", r.Err(), r.Idle, !c.idleOnly)
				}
			}
		})
	}
}

// The content hook runs on a snapshot whose files verified: a
// disagreement it returns (ErrCorrupt) is a FindContent finding, the cause
// kept; another error stops the check.
func TestCheckContentHook(t *testing.T) {
	s := checkedStore(t, "a graph is damaged on purpose")
	drift := fmt.Errorf("%w: digest 1 in the manifest, 2 in the graph", ErrCorrupt)
	r := mustCheck(t, s, CheckOptions{Content: func(context.Context, *Store, *Manifest) error { return drift }})
	if got := kindsOf(r); !slices.Equal(got, []FindingKind{FindContent}) || !errors.Is(r.Err(), ErrCorrupt) || !errors.Is(r.Err(), drift) ||
		r.Findings[0].Error() != "snapshot 3: content disagrees with its manifest: "+drift.Error() {
		t.Fatalf("content drift: %v", r.Err())
	}
	unread := errors.New("graph: cannot open")
	if _, err := s.Check(context.Background(), CheckOptions{Content: func(context.Context, *Store, *Manifest) error { return unread }}); !errors.Is(err, unread) {
		t.Fatalf("content not read: %v, want the check to fail with the cause", err)
	}
	writeFile(t, filepath.Join(s.SnapshotDir(3), GraphFile), "ggh")
	r = mustCheck(t, s, CheckOptions{Content: func(context.Context, *Store, *Manifest) error {
		t.Error("content checked on a snapshot that does not verify")
		return nil
	}})
	if got := kindsOf(r); !slices.Equal(got, []FindingKind{FindDamaged}) {
		t.Fatalf("damaged graph: %v", r.Err())
	}
}

// thin leaves snapshot seq's history entry and removes the snapshot, as GC
// thins a snapshot inside the history window, and returns the entry's
// directory.
func thin(t *testing.T, s *Store, seq uint64) string {
	t.Helper()
	if err := s.saveHistory(seq); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.SnapshotDir(seq)); err != nil {
		t.Fatal(err)
	}
	return s.historyDir(seq)
}

// A store whose older snapshots were thinned into history/ is sound, and
// so is a history entry beside its snapshot still kept in full (GC could
// not move it yet).
func TestCheckSoundHistory(t *testing.T) {
	s := checkedStore(t)
	thin(t, s, 1)
	if err := s.saveHistory(2); err != nil {
		t.Fatal(err)
	}
	if r := mustCheck(t, s, CheckOptions{Idle: NoWriter}); len(r.Findings) != 0 {
		t.Fatalf("store with history: %v", r.Err())
	}
	if seqs, err := s.HistorySeqs(); err != nil || !slices.Equal(seqs, []uint64{1, 2}) {
		t.Fatalf("history entries %v, %v", seqs, err)
	}
}

// linkJob adds a job file named name to snapshot seq's jobs/.
func linkJob(t *testing.T, s *Store, seq uint64, name string) {
	t.Helper()
	writeFile(t, filepath.Join(s.SnapshotDir(seq), JobsDir, name), `{"ops":[]}`)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// A queued job that two snapshots applied is reported once as queued,
// naming the newer snapshot, beside the damage of its double apply.
func TestCheckReportsAQueuedJobOnce(t *testing.T) {
	s := checkedStore(t, "a job is applied twice on purpose")
	linkJob(t, s, 1, "0000000000000007-J3.job")
	writeFile(t, filepath.Join(s.Queue().NewDir(), "J3.job"), "{}")
	r := mustCheck(t, s, CheckOptions{Idle: NoWriter})
	if got := kindsOf(r); !slices.Equal(got, []FindingKind{FindAppliedTwice, FindQueuedApplied}) || r.Findings[1].Seq != 3 {
		t.Fatalf("findings %v: %v; want J3 applied twice, then queued once naming snapshot 3", got, r.Err())
	}
}

// A snapshot that fails verification is damage, typed: errors.Is sees
// ErrCorrupt and each problem, and the message is one line.
func TestVerificationErrorIsCorrupt(t *testing.T) {
	missing := fmt.Errorf("snapshot 4: graph.kuzu: %w", fs.ErrNotExist)
	err := VerifyError(4, []error{missing, errors.New("snapshot 4: MANIFEST: checksum mismatch")})
	var ve *VerificationError
	if !errors.As(err, &ve) || ve.Seq != 4 || !errors.Is(err, ErrCorrupt) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%#v: want a *VerificationError of snapshot 4, ErrCorrupt and fs.ErrNotExist", err)
	}
	if want := "snapshot 4 failed verification: graph.kuzu: file does not exist (and 1 more problems)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if VerifyError(4, nil) != nil {
		t.Error("no problems is not an error")
	}
}
