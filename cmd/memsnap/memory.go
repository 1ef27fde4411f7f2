package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/memsnap/memsnap/internal/model"
	"github.com/memsnap/memsnap/reader"
	"github.com/memsnap/memsnap/snapshot"
	"github.com/memsnap/memsnap/writer"
)

// printGraph prints a graph as readable lines.
func (a *app) printGraph(g *reader.Graph) error {
	fmt.Fprintf(a.stdout, "snapshot %d: %d entities, %d relations\n", g.Snapshot, len(g.Entities), len(g.Relations))
	for _, e := range g.Entities {
		fmt.Fprintf(a.stdout, "%s (%s)\n", e.Name, e.EntityType)
		for _, o := range e.Observations {
			fmt.Fprintf(a.stdout, "  - %s\n", o)
		}
	}
	for _, r := range g.Relations {
		fmt.Fprintf(a.stdout, "%s -[%s]-> %s\n", r.From, r.RelationType, r.To)
	}
	if g.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: --cursor %s\n", g.NextCursor)
	}
	return nil
}

// graphCommand builds a read command that prints the graph read returns.
func (a *app) graphCommand(use, short string, args cobra.PositionalArgs,
	read func(cmd *cobra.Command, r *reader.Reader, args []string) (*reader.Graph, error)) *cobra.Command {
	c := &cobra.Command{
		Use: use, Short: short, Args: args,
		RunE: a.onReader(func(cmd *cobra.Command, r *reader.Reader, args []string) error {
			g, err := read(cmd, r, args)
			if errors.Is(err, reader.ErrBadOption) {
				return usagef(cmd, "%v", err) // a bad flag value
			}
			if err != nil {
				return err
			}
			return a.output(cmd, g, func() error { return a.printGraph(g) })
		}),
	}
	c.Flags().Bool("json", false, `print {"snapshot": seq, "entities": [...], "relations": [...]}`)
	return c
}

func (a *app) newMemoryCommands() []*cobra.Command {
	var limit int
	search := a.graphCommand("search [--json] [--limit N] QUERY", "Ranked search of entity names, types and observations",
		exactArgs("QUERY"), func(cmd *cobra.Command, r *reader.Reader, args []string) (*reader.Graph, error) {
			return r.SearchNodes(cmd.Context(), args[0], reader.SearchOptions{Limit: limit})
		})
	search.Flags().IntVar(&limit, "limit", 0, "at most N entities (0: all matches)")

	open := a.graphCommand("open [--json] NAME...", "The named entities and the relations between them",
		minArgs("NAME"), func(cmd *cobra.Command, r *reader.Reader, args []string) (*reader.Graph, error) {
			return r.OpenNodes(cmd.Context(), args)
		})

	var nopts reader.NeighborsOptions
	neighbors := a.graphCommand("neighbors [--json] [--depth N] [--type T] [--limit N] NAME", "Entities within N hops of NAME",
		exactArgs("NAME"), func(cmd *cobra.Command, r *reader.Reader, args []string) (*reader.Graph, error) {
			return r.Neighbors(cmd.Context(), args[0], nopts)
		})
	neighbors.Flags().IntVar(&nopts.Depth, "depth", 1, fmt.Sprintf("hops to follow (1..%d)", reader.MaxDepth))
	neighbors.Flags().StringVar(&nopts.RelationType, "type", "", "follow only relations of this type")
	neighbors.Flags().IntVar(&nopts.Limit, "limit", 0, "at most N entities (0: no cap)")

	var gopts reader.ReadGraphOptions
	graph := a.graphCommand("graph [--json] [--limit N] [--cursor C] [--type T]", "The whole graph, or a page of it",
		noArgs, func(cmd *cobra.Command, r *reader.Reader, _ []string) (*reader.Graph, error) {
			return r.ReadGraph(cmd.Context(), gopts)
		})
	graph.Flags().IntVar(&gopts.Limit, "limit", 0, "entities per page (0: all)")
	graph.Flags().StringVar(&gopts.Cursor, "cursor", "", "continue after the page that printed this cursor")
	graph.Flags().StringVar(&gopts.EntityType, "type", "", "only entities of this type")
	return []*cobra.Command{search, open, neighbors, graph, a.newImportCommand(), a.newExportCommand()}
}

// memoryLine is one line of the reference memory server's JSONL file.
type memoryLine struct {
	Type         string    `json:"type"`
	Name         string    `json:"name,omitempty"`
	EntityType   string    `json:"entityType,omitempty"`
	Observations *[]string `json:"observations,omitempty"`
	From         string    `json:"from,omitempty"`
	To           string    `json:"to,omitempty"`
	RelationType string    `json:"relationType,omitempty"`
}

func (a *app) newImportCommand() *cobra.Command {
	var batch int
	var wait bool
	c := &cobra.Command{
		Use:   "import [--batch N] [--wait] FILE",
		Short: "Queue the entities and relations of a reference memory server JSONL file",
		Long: `Read the reference MCP memory server's JSONL file (one {"type":"entity"|"relation", ...} per line)
and queue it as jobs: entities first, then relations, N items per job. A bad line stops the
import before anything is queued, naming the line. With --wait, memsnap waits, with no time
limit, until every job is applied or rejected (committing itself whenever no other writer
holds the lock), adds the counts to its summary, and exits 1 if any job was rejected.`,
		Args: exactArgs("FILE"),
		RunE: a.onStore(func(cmd *cobra.Command, s *snapshot.Store, args []string) error {
			ents, rels, err := readMemoryFile(args[0])
			if err != nil {
				return err
			}
			if batch < 1 {
				return usagef(cmd, "--batch must be at least 1")
			}
			ids, err := a.enqueueAll(s, args[0], importJobs(ents, rels, batch))
			if err != nil {
				return err
			}
			sum := map[string]any{"entities": len(ents), "relations": len(rels), "jobs": len(ids)}
			if wait {
				rejected, err := a.waitForAll(cmd.Context(), s, ids)
				if err != nil {
					return err
				}
				sum["applied"], sum["rejected"] = len(ids)-rejected, rejected
				if rejected > 0 {
					_ = a.printJSON(sum)
					return fmt.Errorf("import %s: %d of %d jobs rejected (see log)", args[0], rejected, len(ids))
				}
			}
			return a.printJSON(sum)
		}),
	}
	c.Flags().IntVar(&batch, "batch", 500, "entities or relations per job")
	c.Flags().BoolVar(&wait, "wait", false, "wait until every job is applied or rejected")
	return c
}

// importJobs cuts the entities, then the relations, into jobs of batch items.
func importJobs(ents []model.Entity, rels []model.Relation, batch int) [][]byte {
	var jobs [][]byte
	for i := 0; i < len(ents); i += batch {
		jobs = append(jobs, jobOf(model.Op{Op: model.OpCreateEntities, Entities: ents[i:min(i+batch, len(ents))]}))
	}
	for i := 0; i < len(rels); i += batch {
		jobs = append(jobs, jobOf(model.Op{Op: model.OpCreateRelations, Relations: rels[i:min(i+batch, len(rels))]}))
	}
	return jobs
}

// enqueueAll queues the jobs of the import of file, drawing a progress bar,
// and returns their ids.
func (a *app) enqueueAll(s *snapshot.Store, file string, jobs [][]byte) ([]string, error) {
	bar := newProgress(a.stderr, "queued", len(jobs))
	var ids []string
	for _, j := range jobs {
		id, err := writer.Enqueue(s, j, a.cfg.Job.Limits())
		if err != nil {
			return nil, fmt.Errorf("import %s: after %d of %d jobs: %w", file, len(ids), len(jobs), err)
		}
		ids = append(ids, id)
		bar.add(1)
	}
	bar.done()
	return ids, nil
}

// waitForAll waits until every job is applied or rejected, logs each
// rejection and returns how many were rejected.
func (a *app) waitForAll(ctx context.Context, s *snapshot.Store, ids []string) (rejected int, err error) {
	for _, id := range ids {
		o, err := a.waitForJob(ctx, s, id)
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

// jobOf encodes a one-op job (never fails: plain structs).
func jobOf(op model.Op) []byte {
	b, _ := json.Marshal(model.Job{Ops: []model.Op{op}})
	return b
}

// readMemoryFile parses a reference JSONL memory file. Blank lines are
// skipped; anything else that is not an entity or relation is an error
// naming its line.
func readMemoryFile(path string) (ents []model.Entity, rels []model.Relation, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m memoryLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return nil, nil, fmt.Errorf("import %s: line %d: %v", path, n, err)
		}
		bad := func(why string) error { return fmt.Errorf("import %s: line %d: %s", path, n, why) }
		switch m.Type {
		case "entity":
			if m.Name == "" || m.EntityType == "" || m.Observations == nil {
				return nil, nil, bad("an entity needs name, entityType and observations")
			}
			ents = append(ents, model.Entity{Name: m.Name, EntityType: m.EntityType, Observations: *m.Observations})
		case "relation":
			if m.From == "" || m.To == "" || m.RelationType == "" {
				return nil, nil, bad("a relation needs from, to and relationType")
			}
			rels = append(rels, model.Relation{From: m.From, To: m.To, RelationType: m.RelationType})
		default:
			return nil, nil, bad(fmt.Sprintf("type %q is neither \"entity\" nor \"relation\"", m.Type))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("import %s: %w", path, err)
	}
	return ents, rels, nil
}

func (a *app) newExportCommand() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export [-o FILE]",
		Short: "Write CURRENT's graph as a reference memory server JSONL file",
		Args:  noArgs,
		RunE: a.onReader(func(cmd *cobra.Command, r *reader.Reader, _ []string) error {
			w := a.stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("export: %w", err)
				}
				defer f.Close()
				w = f
			}
			return writeMemoryFile(cmd.Context(), r, w)
		}),
	}
	c.Flags().StringVarP(&out, "output", "o", "-", "file to write, or - for standard output")
	return c
}

// writeMemoryFile writes the graph r reads as a reference JSONL memory file:
// the entities, a page at a time, then the relations.
func writeMemoryFile(ctx context.Context, r *reader.Reader, w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	cursor := ""
	var rels []reader.Relation
	for {
		g, err := r.ReadGraph(ctx, reader.ReadGraphOptions{Limit: 5000, Cursor: cursor})
		if err != nil {
			return err
		}
		for _, e := range g.Entities {
			obs := e.Observations
			if err := enc.Encode(memoryLine{Type: "entity", Name: e.Name, EntityType: e.EntityType, Observations: &obs}); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		rels = append(rels, g.Relations...)
		if cursor = g.NextCursor; cursor == "" {
			break
		}
	}
	for _, rel := range rels {
		if err := enc.Encode(memoryLine{Type: "relation", From: rel.From, To: rel.To, RelationType: rel.RelationType}); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// progress draws a one-line progress bar on a terminal and nothing otherwise.
type progress struct {
	w          io.Writer
	label      string
	total, cur int
	tty        bool
}

func newProgress(w io.Writer, label string, total int) *progress {
	p := &progress{w: w, label: label, total: total}
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		p.tty = err == nil && total > 1
	}
	return p
}

func (p *progress) add(n int) {
	p.cur += n
	if !p.tty || (p.cur%max(1, p.total/100) != 0 && p.cur != p.total) {
		return
	}
	const width = 30
	fill := width * p.cur / p.total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", fill), strings.Repeat(" ", width-fill), p.cur, p.total)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
