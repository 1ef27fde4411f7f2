//go:build memsnap_failpoints

package failpoint

import "os"
import "strconv"
import "strings"
import "sync"

var (
	once   sync.Once
	target string
	nth    = 1
	mu     sync.Mutex // guards seen
	seen   int
)

// Hit kills the process with SIGKILL when name is the point chosen by
// MEMSNAP_FAILPOINT (name or name:n) and this is its n-th hit.
func Hit(name string) {
	once.Do(func() {
		spec := os.Getenv("MEMSNAP_FAILPOINT")
		target, _, _ = strings.Cut(spec, ":")
		if _, n, ok := strings.Cut(spec, ":"); ok {
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				nth = v
			}
		}
	})
	if target == "" || name != target {
		return
	}
	mu.Lock()
	seen++
	hit := seen == nth
	mu.Unlock()
	if hit {
		if self, err := os.FindProcess(os.Getpid()); err == nil {
			_ = self.Kill() // SIGKILL; TerminateProcess on Windows
		}
		select {} // never returns: the kill is on its way
	}
}
