package writer_test

import "encoding/json"
import "os"
import "testing"
import "time"

import "github.com/memsnap/memsnap/internal/testutil"
import "github.com/memsnap/memsnap/snapshot"
import "github.com/memsnap/memsnap/snapshot/snapshottest"
import "github.com/memsnap/memsnap/writer"

// Where no table of locks exists (macOS, Windows), Locked tells from
// LOCK's content: a held lock names its live holder; a released one (empty
// file) and one whose holder died on this host are free; a holder on
// another host is taken as holding.
func TestLockedByContent(t *testing.T) {
	s := snapshottest.NewStore(t)
	l, err := writer.TryLock(s)
	if err != nil {
		t.Fatal(err)
	}
	if h, held, err := writer.LockedByContent(s); err != nil || !held || h.PID != os.Getpid() {
		t.Fatalf("held by this process: %+v %v %v", h, held, err)
	}
	l.Release()
	if _, held, err := writer.LockedByContent(s); err != nil || held {
		t.Fatalf("released: held %v, %v", held, err)
	}
	dead := testutil.ExitedPID(t)
	host, _ := os.Hostname()
	write := func(h writer.Holder) {
		b, _ := json.Marshal(h)
		if err := os.WriteFile(s.Path(snapshot.LockFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(writer.Holder{PID: dead, Host: host, Since: time.Now()})
	if h, held, err := writer.LockedByContent(s); err != nil || held {
		t.Fatalf("holder %d died: %+v held %v, %v", dead, h, held, err)
	}
	write(writer.Holder{PID: dead, Host: host + "-elsewhere", Since: time.Now()})
	if _, held, err := writer.LockedByContent(s); err != nil || !held {
		t.Fatalf("holder on another host: held %v, %v", held, err)
	}
}
