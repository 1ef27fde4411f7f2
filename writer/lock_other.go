//go:build !linux

package writer

import (
	"os"

	"github.com/memsnap/memsnap/internal/sysinfo"
	"github.com/memsnap/memsnap/snapshot"
)

// locked tells from LOCK's content, without taking the lock: these systems
// have no /proc/locks. A holder writes its pid, host and start time there
// once it holds the lock and truncates the file when it releases it, so an
// empty LOCK means free. A holder that died left its identity behind:
// when that host is this machine and its pid no longer runs, the lock is
// free (the system dropped it with the process). A holder on another host
// (a shared store directory) is reported as holding. A reused pid makes a
// dead holder look alive: the answer is advice for status and /healthz;
// taking the lock (TryLock) is what decides.
func locked(s *snapshot.Store) (Holder, bool, error) {
	h, ok := ReadHolder(s)
	if !ok {
		return Holder{}, false, nil
	}
	if host, _ := os.Hostname(); h.Host != "" && h.Host != host {
		return h, true, nil
	}
	if alive, known := sysinfo.ProcessAlive(h.PID); known && !alive {
		return Holder{}, false, nil
	}
	return h, true, nil
}
