//go:build linux

package writer

import "bufio"
import "errors"
import "fmt"
import "os"
import "strconv"
import "strings"
import "syscall"

import "github.com/memsnap/memsnap/snapshot"

// locked reads /proc/locks for a FLOCK WRITE lock on LOCK's inode: it
// sees the lock itself, so a crashed holder's identity left in the file is
// never taken for a live one. The holder is named from LOCK's content, or
// by the pid /proc/locks shows if it has not written it yet.
func locked(s *snapshot.Store) (Holder, bool, error) {
	info, err := os.Stat(s.Path(snapshot.LockFile))
	if err != nil {
		return Holder{}, false, fmt.Errorf("stat writer lock: %w", err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return Holder{}, false, errors.New("stat writer lock: no inode")
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return Holder{}, false, fmt.Errorf("read /proc/locks: %w", err)
	}
	defer f.Close()
	want := fmt.Sprintf(":%d", st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// 1: FLOCK  ADVISORY  WRITE 1234 08:02:131 0 EOF
		if len(fields) >= 6 && fields[1] == "FLOCK" && fields[3] == "WRITE" && strings.HasSuffix(fields[5], want) {
			h, known := ReadHolder(s)
			if !known {
				pid, _ := strconv.Atoi(fields[4])
				h = Holder{PID: pid}
			}
			return h, true, nil
		}
	}
	return Holder{}, false, sc.Err()
}
