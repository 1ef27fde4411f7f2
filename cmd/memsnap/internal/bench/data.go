package bench

import "context"
import "encoding/json"
import "fmt"
import "io"
import "math/rand/v2"
import "os"
import "path/filepath"
import "strings"

import "github.com/memsnap/memsnap/config"
import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// vocabulary is what observations are made of: common words, so that
// word queries match a realistic share of entities.
var vocabulary = strings.Fields(`
	graph database memory snapshot reader writer lock editor dashboard server
	agent tool session project meeting note coffee deadline release version
	python golang rust typescript kernel network socket storage disk cache
	query index search vector embedding model prompt context window token
	user customer team manager engineer designer review budget invoice report
	monday friday morning evening weekend holiday travel flight hotel train
	london paris berlin tokyo boston seattle office remote laptop phone
	prefers likes dislikes uses works lives owns wrote fixed shipped
	bug feature test benchmark deploy rollback backup restore migrate upgrade
	red green blue quiet fast slow large small early late
`)

var entityTypes = []string{"person", "project", "tool", "company", "place", "event", "document", "concept"}

// entityName is the name of entity i of a generated store.
func entityName(i int) string { return fmt.Sprintf("entity-%07d", i) }

// sentence is n words of the vocabulary drawn with rng.
func sentence(rng *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = vocabulary[rng.IntN(len(vocabulary))]
	}
	return strings.Join(w, " ")
}

// genEntity is entity i of a generated store: a type and two observations
// of eight words, the same for every run.
func genEntity(i int) model.Entity {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	return model.Entity{Name: entityName(i), EntityType: entityTypes[i%len(entityTypes)],
		Observations: []string{sentence(rng, 8), sentence(rng, 8)}}
}

// genRelations are the relations from entity i in a store of n: to the next
// entity and to one further away, so a 2-hop query finds a handful.
func genRelations(i, n int) []model.Relation {
	return []model.Relation{
		{From: entityName(i), To: entityName((i + 1) % n), RelationType: "next"},
		{From: entityName(i), To: entityName((i*7 + 3) % n), RelationType: "mentions"},
	}
}

// bulkConfig is a writer configuration that applies any generated load in
// one batch.
func bulkConfig(store string) config.Config {
	cfg := config.Default()
	cfg.Store = store
	cfg.Writer.MaxBatchJobs = 1 << 20
	cfg.Writer.MaxBatchBytes = 1 << 40
	cfg.Writer.BufferPoolMB = 1024
	return cfg
}

// writeConfigFile writes settings (nested like the config keys) as a JSON
// config file for CLI processes.
func writeConfigFile(path string, settings map[string]any) error {
	b, err := json.MarshalIndent(settings, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// enqueueEntities queues entities [from, to) of a generated store of n as
// jobs of 1000 entities, then their relations as jobs of the relations of
// 1000 entities.
func enqueueEntities(s *snapshot.Store, from, to, n int) error {
	if err := enqueueCreates(s, from, to); err != nil {
		return err
	}
	return enqueueBy1000(s, from, to, func(lo, hi int) model.Op {
		var rs []model.Relation
		for i := lo; i < hi; i++ {
			rs = append(rs, genRelations(i, n)...)
		}
		return model.Op{Op: model.OpCreateRelations, Relations: rs}
	})
}

// enqueueCreates queues create_entities for generated entities [from, to),
// 1000 to a job.
func enqueueCreates(s *snapshot.Store, from, to int) error {
	return enqueueBy1000(s, from, to, func(lo, hi int) model.Op {
		var es []model.Entity
		for i := lo; i < hi; i++ {
			es = append(es, genEntity(i))
		}
		return model.Op{Op: model.OpCreateEntities, Entities: es}
	})
}

// enqueueBy1000 queues one job for each 1000 generated entities [lo, hi) of
// [from, to): the op that op makes of them.
func enqueueBy1000(s *snapshot.Store, from, to int, op func(lo, hi int) model.Op) error {
	lim := bulkConfig(s.Dir()).Job.Limits()
	for lo := from; lo < to; lo += 1000 {
		b, err := json.Marshal(model.Job{Ops: []model.Op{op(lo, min(lo+1000, to))}})
		if err != nil {
			return err
		}
		if _, err := producer.Enqueue(s, b, lim); err != nil {
			return err
		}
	}
	return nil
}

// store returns a fresh copy of a generated store of n entities and their
// relations, building the original on first use.
func (r *runner) store(ctx context.Context, n int) (string, error) {
	orig, ok := r.cache[n]
	if !ok {
		orig = r.path(fmt.Sprintf("gen-%d", n), "store")
		if err := buildStore(ctx, orig, n); err != nil {
			return "", fmt.Errorf("build a store of %d entities: %w", n, err)
		}
		r.cache[n] = orig
	}
	dst, err := os.MkdirTemp(r.dir, "store-")
	if err != nil {
		return "", err
	}
	dst = filepath.Join(dst, "store")
	if err := copyTree(orig, dst); err != nil {
		return "", fmt.Errorf("copy generated store: %w", err)
	}
	return dst, nil
}

// buildStore creates a store at dir holding n generated entities and 2n
// relations in one snapshot.
func buildStore(ctx context.Context, dir string, n int) error {
	s, err := snapshot.Init(dir)
	if err != nil {
		return err
	}
	if err := enqueueEntities(s, 0, n, n); err != nil {
		return err
	}
	_, err = writer.New(s, bulkConfig(dir).WriterOptions(), nil).Commit(ctx, writer.CommitOptions{})
	return err
}

// copyTree copies a directory tree, keeping file and directory modes.
func copyTree(src, dst string) error {
	return mirror(src, dst, func(_, to string, d os.DirEntry) error {
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.MkdirAll(to, info.Mode().Perm())
	}, func(from, to string, d os.DirEntry) error {
		info, err := d.Info()
		if err != nil {
			return err
		}
		in, err := os.Open(from)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// mirror walks the tree under src, calling dir for each directory (src
// first) and file for each regular file, with the path the entry has under
// src and the one it is to have under dst. Anything else is passed over.
func mirror(src, dst string, dir, file func(from, to string, d os.DirEntry) error) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return dir(p, to, d)
		case d.Type().IsRegular():
			return file(p, to, d)
		}
		return nil
	})
}
