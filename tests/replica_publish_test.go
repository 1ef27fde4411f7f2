package tests

import "context"
import "fmt"
import "path/filepath"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/testutil"

// TestDaemonUploadsOnPublish: with replica.schedule an hour apart, the
// daemon still sends each snapshot as soon as it is published (it watches
// CURRENT): each of its commits of queued jobs reaches the remote with no
// tick of the schedule.
func TestDaemonUploadsOnPublish(t *testing.T) {
	srv := testutil.StartS3(t)
	store := newStore(t)
	env := append(srv.Env(), "MEMSNAP_REPLICA_TO="+srv.URL("onpublish"), "MEMSNAP_REPLICA_SCHEDULE=@every 1h",
		"MEMSNAP_REPLICA_CACHE_DIR="+filepath.Join(t.TempDir(), "unused"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	daemon := daemonCmd(ctx, store, env...)
	mustStart(t, daemon)
	defer terminate(daemon)
	// The schedule's first tick is an hour away: only a publish sends.
	waitRemote := func(what string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			seq, _ := writerCurrent(t, store)
			if remoteCurrentOf(t, srv, "onpublish") == seq {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the remote CURRENT is %d a minute after the writer published %d", what, remoteCurrentOf(t, srv, "onpublish"), seq)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := range 3 {
		enqueueDirect(t, store, ops(entities(entity(fmt.Sprintf("daemon-%d", i), "t"))))
		// The daemon commits the job (writer.commit_delay) and sends it.
		deadline := time.Now().Add(time.Minute)
		for queryInt(t, store, fmt.Sprintf("MATCH (e:Entity {name: 'daemon-%d'}) RETURN count(e)", i)) != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("the daemon did not commit job %d in a minute", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
		waitRemote(fmt.Sprintf("daemon commit %d", i))
	}
	if err := terminate(daemon); err != nil {
		t.Fatalf("daemon: %v", err)
	}
}
