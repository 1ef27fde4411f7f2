package producer_test

import "fmt"
import "os"
import "path/filepath"
import "testing"

import "github.com/memsnap/memsnap/internal/fsutil"
import "github.com/memsnap/memsnap/snapshot/snapshottest"
import "github.com/memsnap/memsnap/writer"
import "github.com/memsnap/memsnap/writer/producer"

// BenchmarkEnqueue compares durable enqueue (validate, write, fsync, rename,
// dir fsync) with a bare write+fsync+rename+dir-fsync loop on the same disk.
func BenchmarkEnqueue(b *testing.B) {
	s := snapshottest.NewStore(b)
	job := []byte(`{"ops":[{"op":"create_entities","entities":[{"name":"n","entityType":"t","observations":["an observation of typical length for a memory"]}]}]}`)
	lim := writer.DefaultOptions().Limits
	b.Run("memsnap_enqueue", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := producer.Enqueue(s, job, lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare_fsync_rename", func(b *testing.B) {
		dir := b.TempDir()
		for i := 0; i < b.N; i++ {
			tmp := filepath.Join(dir, fmt.Sprintf("t%d", i))
			f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(job); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			f.Close()
			if err := os.Rename(tmp, tmp+".done"); err != nil {
				b.Fatal(err)
			}
			if err := fsutil.SyncDir(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}
