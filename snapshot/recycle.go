package snapshot

import "context"
import "errors"
import "fmt"
import "path/filepath"
import "strings"
import "time"

import "github.com/memsnap/memsnap/internal/failpoint"
import "github.com/memsnap/memsnap/internal/fsutil"

// Recycling
//
// On a filesystem without reflink, copying CURRENT's graph costs a write of
// the whole graph per commit, however small the batch. Instead the writer
// takes the graph of a snapshot that GC would collect anyway once the new
// one is published, and replays onto it the batches it misses: each
// snapshot keeps its batch's accepted job files under jobs/, and applying
// a job is deterministic (its times come from its ULID), so replaying them
// in order gives CURRENT's graph. The recycled snapshot is unpublished
// first — renamed out of snapshots/ while its PIN is held exclusively, as
// GC does, with snapshots/ fsynced — so no published snapshot ever changes
// and a crash at any later point leaves only staging/ garbage behind.

// recycleCandidate is a snapshot whose graph may be recycled, with the
// batches to replay onto it.
type recycleCandidate struct {
	m       *Manifest
	replay  [][]ReplayJob
	release func() // drops the exclusive hold on its PIN
}

// recycle moves the graph of the newest recyclable snapshot into the stage
// and records what to replay. It reports false, having changed nothing
// published, when there is none or its graph fails its checksum.
func (st *Stage) recycle(ctx context.Context, opts StageOptions) (bool, error) {
	s := st.store
	c, why, err := s.recycleCandidate(st.parent, opts)
	if err != nil || c == nil {
		st.source.Fallback = why
		return false, err
	}
	seq := c.m.Seq
	problems := func() []error {
		if opts.Verifier == nil {
			return s.verifyListed(c.m, true, func(p string) bool { return p == GraphFile })
		}
		return opts.Verifier.listed(s, c.m, func(p string) bool { return p == GraphFile })
	}()
	if len(problems) > 0 {
		c.release()
		st.source.Fallback = fmt.Sprintf("snapshot %d's graph fails its checksum: %v", seq, problems[0])
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		c.release()
		return false, err
	}
	busy, err := s.takeGraph(seq, c.release, st.GraphPath())
	if busy {
		st.source.Fallback = fmt.Sprintf("snapshot %d's files are still open in another process", seq)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stage graph: %w", err)
	}
	n := 0
	for _, b := range c.replay {
		n += len(b)
	}
	st.source = StageSource{Method: StagedRecycled, Recycled: seq, Replayed: n, Replay: c.replay, RecycledManifest: c.m}
	return true, nil
}

// takeGraph unpublishes snapshot seq, whose PIN the caller holds
// exclusively (release drops that hold), and moves its graph to dst: the
// snapshot is renamed out of snapshots/ into staging/ (snapshots/ and
// staging/ fsynced) before its graph is touched, so that a crash from then
// on leaves only staging/ garbage, which the next writer wipes; the rest of
// it is removed. busy: its files are still open in another process
// (Windows) and nothing was changed.
func (s *Store) takeGraph(seq uint64, release func(), dst string) (busy bool, err error) {
	tmp := s.Path("staging", "recycle-"+FormatSeq(seq))
	err = s.moveUnpinnedTo(seq, tmp, release)
	if errors.Is(err, fsutil.ErrBusy) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("recycle snapshot %d: %w", seq, err)
	}
	for _, d := range []string{s.Path("snapshots"), s.Path("staging")} {
		if err := fsutil.SyncDir(d); err != nil {
			return false, fmt.Errorf("recycle snapshot %d: %w", seq, err)
		}
	}
	failpoint.Hit("after-recycle-move")
	if err := fsutil.Rename(filepath.Join(tmp, GraphFile), dst); err != nil {
		return false, fmt.Errorf("recycle snapshot %d: %w", seq, err)
	}
	if err := s.removeOrTrash(tmp); err != nil {
		return false, fmt.Errorf("recycle snapshot %d: %w", seq, err)
	}
	return false, nil
}

// recycleCandidate finds the newest snapshot that is an ancestor of
// CURRENT (cur) by the manifests' Parent chain, that GC would collect once
// the stage is published (see StageOptions), that no reader pins, and
// whose every descendant up to CURRENT archived its batch's jobs. It
// returns it with its PIN held exclusively, or nil and why there is none.
func (s *Store) recycleCandidate(cur *Manifest, opts StageOptions) (*recycleCandidate, string, error) {
	if opts.Keep < 2 {
		return nil, "", nil
	}
	seqs, err := s.Seqs()
	if err != nil {
		return nil, "", err
	}
	kept := map[uint64]bool{cur.Seq: true}
	for i := max(0, len(seqs)-(opts.Keep-1)); i < len(seqs); i++ {
		kept[seqs[i]] = true
	}
	now := time.Now()
	var historyAfter uint64
	if opts.History.KeepFor > 0 {
		// Decide as GC will once the stage is published beside them.
		times, _ := s.snapshotTimes(seqs)
		times = append(times, SnapshotTime{Seq: seqs[len(seqs)-1] + 1, CreatedAt: now})
		d := Retain(Retention{Keep: opts.Keep, MinAge: opts.MinAge, History: opts.History}, times, now)
		for _, seq := range d.Keep {
			kept[seq] = true
		}
		historyAfter = d.HistoryAfter
	}
	chain := []*Manifest{cur}
	for m := cur; m.Parent != 0 && len(chain) <= len(seqs); {
		pm, err := s.Manifest(m.Parent)
		if err != nil {
			break // gone (collected) or unreadable: the chain ends here
		}
		chain, m = append(chain, pm), pm
	}
	why := "no snapshot old enough to recycle"
	for i := 1; i < len(chain); i++ {
		if !hasJobs(chain[i-1]) {
			return nil, fmt.Sprintf("snapshot %d did not archive its jobs (format %d)", chain[i-1].Seq, chain[i-1].FormatVersion), nil
		}
		m := chain[i]
		if kept[m.Seq] || (opts.MinAge > 0 && now.Sub(m.CreatedAt) < opts.MinAge) {
			continue
		}
		release, pinned, err := s.lockUnpinned(m.Seq)
		if err != nil {
			return nil, "", err
		}
		if pinned {
			why = fmt.Sprintf("snapshot %d is pinned by a reader", m.Seq)
			continue
		}
		if opts.History.KeepFor > 0 && m.Seq > historyAfter {
			if err := s.saveHistory(m.Seq); err != nil {
				release()
				return nil, "", fmt.Errorf("stage graph: %w", err)
			}
		}
		c := &recycleCandidate{m: m, release: release}
		for j := i - 1; j >= 0; j-- {
			c.replay = append(c.replay, s.archivedJobs(chain[j]))
		}
		return c, "", nil
	}
	return nil, why, nil
}

// hasJobs reports whether m's snapshot archived every job its batch
// applied under jobs/ (format 3 on; format 1 snapshots may lack them).
func hasJobs(m *Manifest) bool {
	if m.FormatVersion < 3 {
		return false
	}
	n := 0
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, JobsDir+"/") {
			n++
		}
	}
	return n == m.Applied
}

// archivedJobs lists the job files m's snapshot archived, in claim order
// (their names start with the zero-padded claim seq).
func (s *Store) archivedJobs(m *Manifest) []ReplayJob {
	return archivedIn(m, s.SnapshotDir(m.Seq))
}

// JobsSince returns, in apply order, the job files archived by the
// snapshots after from up to and including to, found by following to's
// Parent chain back to from through at most maxSnapshots manifests. ok is
// false when the chain does not lead back to from as it was: a snapshot
// on the way is gone, unreadable or did not archive its batch's jobs, or
// from's seq now names another snapshot (its manifest's CreatedAt
// differs, as after a rollback). Job files can be collected with their
// snapshot after this returns; readers of them must expect that.
func (s *Store) JobsSince(from, to *Manifest, maxSnapshots int) (jobs []ReplayJob, ok bool) {
	if to.Seq == from.Seq {
		return nil, to.CreatedAt.Equal(from.CreatedAt)
	}
	var chain []*Manifest
	for m := to; m.Seq != from.Seq; {
		if m.Seq < from.Seq || len(chain) >= maxSnapshots || !hasJobs(m) {
			return nil, false
		}
		chain = append(chain, m)
		pm, err := s.Manifest(m.Parent)
		if err != nil {
			return nil, false
		}
		m = pm
		if m.Seq == from.Seq && !m.CreatedAt.Equal(from.CreatedAt) {
			return nil, false
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		jobs = append(jobs, s.archivedJobs(chain[i])...)
	}
	return jobs, true
}
