//go:build memsnap_failpoints

package fsutil

import "fmt"
import "os"
import "strconv"
import "strings"
import "sync"
import "syscall"

// Test builds read MEMSNAP_FSFAULT, a comma-separated list of rules
//
//	op[@path-substring]=ERRNO[:n]
//
// op is one of create, write, sync, syncdir, rename, link, remove, mkdir,
// copy, clone; ERRNO is ENOSPC, EIO, EACCES, EROFS, EXDEV or EDQUOT; the rule fires
// on its n-th matching call (default every call from the first). A rule
// matches a path that contains path-substring, or, when the substring ends in
// "$", a path that ends with the rest of it. Examples: "sync@staging=EIO",
// "rename@CURRENT.tmp=EIO", "write@queue/tmp=ENOSPC", "syncdir@/store$=EIO".
type faultRule struct {
	op, sub string
	errno   syscall.Errno
	nth     int // 0: every call
	seen    int
}

var (
	faultOnce  sync.Once
	faultMu    sync.Mutex // guards faultRules' counters
	faultRules []*faultRule
)

var errnos = map[string]syscall.Errno{
	"ENOSPC": syscall.ENOSPC, "EIO": syscall.EIO, "EACCES": syscall.EACCES,
	"EROFS": syscall.EROFS, "EXDEV": syscall.EXDEV, "EDQUOT": syscall.EDQUOT,
}

func loadFaults() {
	for _, spec := range strings.Split(os.Getenv("MEMSNAP_FSFAULT"), ",") {
		if spec = strings.TrimSpace(spec); spec == "" {
			continue
		}
		lhs, rhs, ok := strings.Cut(spec, "=")
		if !ok {
			panic(fmt.Sprintf("MEMSNAP_FSFAULT: %q has no =ERRNO", spec))
		}
		r := &faultRule{}
		r.op, r.sub, _ = strings.Cut(lhs, "@")
		name, n, hasN := strings.Cut(rhs, ":")
		if r.errno, ok = errnos[name]; !ok {
			panic(fmt.Sprintf("MEMSNAP_FSFAULT: unknown errno %q", name))
		}
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 1 {
				panic(fmt.Sprintf("MEMSNAP_FSFAULT: bad count in %q", spec))
			}
			r.nth = v
		}
		faultRules = append(faultRules, r)
	}
}

// MEMSNAP_FSLOG=FILE makes test builds append one line per call through
// the seam to FILE, "op path" (a rename's path is "old -> new"), as the
// call starts: a test reads the order of renames and fsyncs from it, e.g.
// that the store directory is fsynced after CURRENT is renamed into place
// and before any applied job file is removed.
var (
	fsLogOnce sync.Once
	fsLog     *os.File
)

func logCall(op, path string) {
	fsLogOnce.Do(func() {
		if name := os.Getenv("MEMSNAP_FSLOG"); name != "" {
			f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				panic(fmt.Sprintf("MEMSNAP_FSLOG: %v", err))
			}
			fsLog = f
		}
	})
	if fsLog != nil {
		_, _ = fsLog.WriteString(op + " " + path + "\n") // one write: lines of concurrent calls do not mix
	}
}

// fault returns the error a rule injects for op on path, or nil.
func fault(op, path string) error {
	faultOnce.Do(loadFaults)
	faultMu.Lock()
	defer faultMu.Unlock()
	logCall(op, path)
	for _, r := range faultRules {
		if r.op != op || !matches(path, r.sub) {
			continue
		}
		r.seen++
		if r.nth == 0 || r.seen == r.nth {
			return r.errno
		}
	}
	return nil
}

func matches(path, sub string) bool {
	if rest, ok := strings.CutSuffix(sub, "$"); ok {
		return strings.HasSuffix(path, rest)
	}
	return strings.Contains(path, sub)
}
