package reader

import "context"
import "fmt"
import "os"
import "path/filepath"

import "github.com/memsnap/memsnap/internal/graphdb"
import "github.com/memsnap/memsnap/snapshot"

// CheckContent is snapshot.CheckOptions.Content: it opens snapshot m's
// graph read-only (pinned, so that GC leaves it alone meanwhile), computes
// its content digest (graphdb.ContentDigest, the order-independent sum of
// per-entity and per-relation hashes of internal/fsm) and compares it with
// the digest m records. A mismatch is an error marked snapshot.ErrCorrupt;
// a manifest written before digests (no Digest) is not checked. maxDBMB is
// the max_db_mb key (MiB, the least maximum size Kuzu opens a graph with).
func CheckContent(maxDBMB int) func(ctx context.Context, s *snapshot.Store, m *snapshot.Manifest) error {
	return func(ctx context.Context, s *snapshot.Store, m *snapshot.Manifest) error {
		want, ok := m.ContentDigest()
		if !ok {
			return nil
		}
		pin, err := s.Pin(m.Seq)
		if err != nil {
			return fmt.Errorf("content digest: %w", err)
		}
		defer pin.Release()
		path := filepath.Join(s.SnapshotDir(m.Seq), snapshot.GraphFile)
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("content digest: %w", err)
		}
		db, conn, err := graphdb.OpenConn(path, graphdb.Options{ReadOnly: true,
			MaxDBBytes: graphdb.MaxDBSize(uint64(maxDBMB)<<20, uint64(fi.Size()))})
		if err != nil {
			return fmt.Errorf("content digest: %w", err)
		}
		defer db.Close()
		defer conn.Close()
		got, err := graphdb.ContentDigest(ctx, conn)
		if err != nil {
			return err
		}
		if got != want {
			return snapshot.MarkCorrupt(fmt.Errorf("the graph has content digest %s, the manifest records %s", got, want))
		}
		return nil
	}
}
