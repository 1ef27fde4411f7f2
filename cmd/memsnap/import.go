package main

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "math"
import "os"
import "path/filepath"
import "slices"

import "github.com/spf13/cobra"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/reader"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer/producer"

// The import command: it queues a reference memory server JSONL file as
// jobs. Reading and checking the file's lines is in importfile.go.

func (a *app) newImportCommand() *cobra.Command {
	var batch int
	var wait, strict bool
	c := &cobra.Command{
		Use:   "import [--batch N] [--wait] [--strict] FILE",
		Short: "Queue the entities and relations of a reference memory server JSONL file",
		Long: `Read the reference MCP memory server's JSONL file (one {"type":"entity"|"relation", ...} per line)
and queue it as jobs: entities first, then relations, up to N items per job. Imperfect lines do
not stop the import: what is unambiguous is repaired (an entity without observations gets [],
observations that are not strings are dropped, a missing entityType is "", unknown fields are
ignored, an observation over job.max_string_bytes is dropped, its entity and relations kept)
and what is not is skipped (a line that is not one JSON object, an entity without a
name or already on an earlier line, a relation without from, to or relationType or naming an
entity in neither the file nor the store nor a queued job, a line over job.max_bytes or not UTF-8); each is reported with its
line number, and the summary counts them. An entity the store already holds is merged: the
file's observations it lacks are added ("merged" and "observations_added" in the summary) and
its relations created; its entityType stays the store's (create_entities never changes an
existing entity), and a different one in the file is reported on its line. With --strict the first such line refuses the file
before anything is queued (the file is then read twice). The file is never held in memory
whole: only the relations are kept until the last entity is queued. With --wait, memsnap waits,
with no time limit, until every job is applied or rejected (committing itself whenever no other
writer holds the lock, the whole import in one snapshot when it can), adds the counts to its
summary, and exits 1 if any job was rejected. A store that does not exist yet is made first, as
'memsnap init' makes it (said once on standard error).`,
		Args: exactArgs("FILE"),
		// Before a missing store is made: a bad flag or file makes nothing.
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if batch < 1 {
				return usagef(cmd, "--batch must be at least 1")
			}
			if _, err := os.Stat(args[0]); err != nil {
				return fmt.Errorf("import: %w", err)
			}
			return nil
		},
		RunE: a.onStoreOrInit(func(cmd *cobra.Command, s *snapshot.Store, args []string) error {
			look := a.newStoreLookup(cmd.Context(), s)
			defer look.Close()
			imp := &memoryImport{path: args[0], lim: a.cfg.Job.Limits(), known: look.holds, existing: look.entities}
			if strict {
				// The first pass only checks, so that a bad line queues nothing.
				check := &memoryImport{path: args[0], lim: imp.lim, known: imp.known, strict: true}
				if err := check.run(nil, func(model.Entity, int64) error { return nil }, func(model.Relation, int64) error { return nil }); err != nil {
					return err
				}
			}
			q, err := a.queueMemoryFile(s, imp, batch)
			if err != nil {
				return err
			}
			a.reportMemoryProblems(imp)
			if q.entities+q.relations == 0 && imp.skipped > 0 && imp.merged == 0 {
				return fmt.Errorf("import %s: nothing imported: every line of it was skipped (%d); the file must be the "+
					"reference server's memory file, JSON Lines: one {\"type\":\"entity\",...} or {\"type\":\"relation\",...} object a line",
					args[0], imp.skipped)
			}
			look.Close() // no reader open while waiting
			sum := map[string]any{"entities": q.entities, "relations": q.relations, "jobs": len(q.ids),
				"repaired": imp.repaired, "skipped": imp.skipped, "merged": imp.merged, "observations_added": imp.obsAdded}
			if wait {
				rejected, err := a.waitForAll(cmd.Context(), s, q.ids, q.bytes)
				if err != nil {
					return err
				}
				sum["applied"], sum["rejected"] = len(q.ids)-rejected, rejected
				if rejected > 0 {
					_ = a.printJSON(sum)
					return fmt.Errorf("import %s: %d of %d jobs rejected (see log)", args[0], rejected, len(q.ids))
				}
			}
			return a.printJSON(sum)
		}),
	}
	c.Flags().IntVar(&batch, "batch", 500, "entities or relations per job (fewer when they would pass job.max_bytes)")
	c.Flags().BoolVar(&wait, "wait", false, "wait until every job is applied or rejected")
	c.Flags().BoolVar(&strict, "strict", false, "refuse the file on its first line that would be repaired or skipped")
	return c
}

// memoryProblemsShown is how many repaired or skipped lines import reports
// one by one; the summary counts them all.
const memoryProblemsShown = 100

// reportMemoryProblems prints the lines import repaired or skipped to
// stderr, in line order, one per line.
func (a *app) reportMemoryProblems(imp *memoryImport) {
	slices.SortStableFunc(imp.problems, func(x, y memoryProblem) int { return x.Line - y.Line })
	for i, p := range imp.problems {
		if i == memoryProblemsShown {
			lines := map[int]bool{}
			for _, q := range imp.problems[i:] {
				lines[q.Line] = true
			}
			delete(lines, imp.problems[i-1].Line) // shown in part already
			fmt.Fprintf(a.stderr, "import %s: %d more repaired or skipped lines not shown (--strict stops at the first)\n", imp.path, len(lines))
			return
		}
		fmt.Fprintf(a.stderr, "import %s: %s\n", imp.path, p)
	}
}

// queued is what queueMemoryFile queued.
type queued struct {
	ids                 []string
	bytes               int64 // of every job
	entities, relations int
}

// queueMemoryFile queues the entities of a JSONL file in jobs of at most
// batch items (and job.max_bytes) as it reads them, then its relations,
// drawing a progress bar of the bytes read on a terminal.
func (a *app) queueMemoryFile(s *snapshot.Store, imp *memoryImport, batch int) (q queued, err error) {
	var size int64
	if info, err := os.Stat(imp.path); err == nil {
		size = info.Size()
	}
	bar := newProgress(a.stderr, "queueing "+filepath.Base(imp.path), size)
	defer bar.done()
	// queue queues a job of op; a job over job.max_bytes (the records'
	// sizes are estimates, see parseMemoryLine) is split in two.
	var queue func(op model.Op) error
	queue = func(op model.Op) error {
		j := jobOf(op)
		if a, b, ok := splitOp(op); ok && imp.lim.MaxBytes > 0 && int64(len(j)) > imp.lim.MaxBytes {
			if err := queue(a); err != nil {
				return err
			}
			return queue(b)
		}
		id, err := producer.Enqueue(s, j, imp.lim)
		if err != nil {
			return fmt.Errorf("import %s: after %d jobs: %w", imp.path, len(q.ids), err)
		}
		q.ids, q.bytes = append(q.ids, id), q.bytes+int64(len(j))
		return nil
	}
	room := imp.lim.MaxBytes - jobOverhead
	if imp.lim.MaxBytes <= 0 {
		room = math.MaxInt64
	}
	var ents []model.Entity
	var rels []model.Relation
	var held int64 // bytes of the job being filled
	flushEnts := func() error {
		if len(ents) == 0 {
			return nil
		}
		adds, err := imp.merge(ents)
		if err != nil {
			return err
		}
		// The entities first: create_entities keeps those that exist and
		// creates again one deleted since the lookup, so that the
		// add_observations job after it finds every entity it names
		// (unless a job of another process deletes one in between: then
		// that job is rejected, as --wait reports).
		err = queue(model.Op{Op: model.OpCreateEntities, Entities: ents})
		q.entities += len(ents)
		ents, held = ents[:0:0], 0
		if err == nil && len(adds) > 0 {
			err = queue(model.Op{Op: model.OpAddObservations, Observations: adds})
		}
		return err
	}
	flushRels := func() error {
		if len(rels) == 0 {
			return nil
		}
		err := queue(model.Op{Op: model.OpCreateRelations, Relations: rels})
		q.relations += len(rels)
		rels, held = rels[:0:0], 0
		return err
	}
	err = imp.run(bar.set, func(e model.Entity, n int64) error {
		if len(ents) == batch || held+n > room {
			if err := flushEnts(); err != nil {
				return err
			}
		}
		ents, held = append(ents, e), held+n
		return nil
	}, func(r model.Relation, n int64) error {
		if len(ents) > 0 {
			if err := flushEnts(); err != nil {
				return err
			}
		}
		if len(rels) == batch || held+n > room {
			if err := flushRels(); err != nil {
				return err
			}
		}
		rels, held = append(rels, r), held+n
		return nil
	})
	if err == nil {
		err = flushEnts()
	}
	if err == nil {
		err = flushRels()
	}
	return q, err
}

// splitOp splits an op of import's in two halves of its items; ok is false
// for an op of one item.
func splitOp(op model.Op) (a, b model.Op, ok bool) {
	n := max(len(op.Entities), len(op.Relations), len(op.Observations))
	if n < 2 {
		return op, op, false
	}
	a, b = op, op
	switch {
	case op.Entities != nil:
		a.Entities, b.Entities = op.Entities[:n/2], op.Entities[n/2:]
	case op.Observations != nil:
		a.Observations, b.Observations = op.Observations[:n/2], op.Observations[n/2:]
	default:
		a.Relations, b.Relations = op.Relations[:n/2], op.Relations[n/2:]
	}
	return a, b, true
}

// waitForAll waits until every job is applied or rejected, committing
// whenever no other writer holds the lock (with batch limits that take all
// the jobs, of bytes in all, in one snapshot: one bulk load and one index
// build), logs each rejection and returns how many were rejected. One
// writer and one reader serve every job: a writer checks CURRENT once, not
// once per job.
func (a *app) waitForAll(ctx context.Context, s *snapshot.Store, ids []string, bytes int64) (rejected int, err error) {
	opts := a.cfg.WriterOptions()
	opts.MaxBatchJobs = max(opts.MaxBatchJobs, len(ids))
	opts.MaxBatchBytes = max(opts.MaxBatchBytes, bytes)
	opts.Verifier = snapshot.NewVerifier()
	commit := commitUnlessLocked(s, opts, a.log)
	var r *reader.Reader
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	for _, id := range ids {
		look := func(ctx context.Context) (reader.Outcome, error) {
			if r == nil {
				var err error
				if r, err = reader.Open(ctx, s, a.cfg.ReaderOptions(), a.log); err != nil {
					r = nil
					return reader.JobOutcome(ctx, s, a.cfg.Reader.Verify, id) // nothing published yet
				}
			}
			if _, err := r.Refresh(ctx); err != nil {
				a.log.Debug("refresh while waiting", "error", err)
			}
			return r.Job(ctx, id)
		}
		o, err := look(ctx)
		if err == nil && o.Status == model.StatusPending {
			o, err = reader.WaitForJob(ctx, id, look, commit)
		}
		if err != nil {
			return 0, err
		}
		if o.Status != model.StatusApplied {
			rejected++
			a.log.Error("import job rejected", "job_id", id, "reason", o.Reason)
		}
	}
	return rejected, nil
}

// jobOf encodes a one-op job, leaving <, > and & as they are (json.Marshal
// writes each as six bytes, which could push a job over job.max_bytes).
func jobOf(op model.Op) []byte { return marshalPlain(model.Job{Ops: []model.Op{op}}) }

// marshalPlain is json.Marshal without HTML escaping.
func marshalPlain(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // plain structs: never fails
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
