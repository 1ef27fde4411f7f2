package bench

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "os"
import "os/exec"
import "strings"
import "time"

// proc is a running child process: a worker or a memsnap command.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
}

// worker starts "memsnap bench-worker role" with spec on its stdin.
func (r *runner) worker(ctx context.Context, role string, spec any) (*proc, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	p := &proc{name: "worker " + role, cmd: exec.CommandContext(ctx, r.opts.Exe, "bench-worker", role)}
	p.cmd.Stdin = bytes.NewReader(b)
	return p, p.start()
}

// cli starts "memsnap --store store [--config cfg] args...".
func (r *runner) cli(ctx context.Context, store, cfgFile string, args ...string) (*proc, error) {
	all := []string{"--store", store, "--log-level", "warn"}
	if cfgFile != "" {
		all = append(all, "--config", cfgFile)
	}
	all = append(all, args...)
	p := &proc{name: "memsnap " + args[0], cmd: exec.CommandContext(ctx, r.opts.Exe, all...)}
	return p, p.start()
}

func (p *proc) start() error {
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	// Its own process group, so that a stop reaches the children a daemon starts.
	newGroup(p.cmd)
	p.cmd.Cancel = func() error { return killGroup(p.cmd.Process.Pid) }
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	return nil
}

// wait waits for the process to exit and decodes its stdout into result
// (unless result is nil).
func (p *proc) wait(result any) error {
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %s", p.name, p.failure(err))
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(p.stdout.Bytes(), result); err != nil {
		return fmt.Errorf("%s printed an unreadable result %q: %w", p.name, truncate(p.stdout.String(), 200), err)
	}
	return nil
}

// stop sends SIGTERM to the process group and waits up to 30s for the
// process to exit, then kills it.
func (p *proc) stop() error {
	termErr := termGroup(p.cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		// Where termGroup kills (Windows), the exit status it causes is
		// not a failure: the process was still running when it was ended.
		if err != nil && !(termKills && termErr == nil) {
			return fmt.Errorf("%s: %s", p.name, p.failure(err))
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = killGroup(p.cmd.Process.Pid)
		<-done
		return fmt.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

// failure is the last line the process wrote to stderr, or its exit status.
func (p *proc) failure(err error) string {
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return last
	}
	return err.Error()
}

// waitAll waits for every process, decodes each one's result, and returns
// the first error.
func waitAll[T any](ps []*proc) ([]T, error) {
	out := make([]T, len(ps))
	var first error
	for i, p := range ps {
		if err := p.wait(&out[i]); err != nil && first == nil {
			first = err
		}
	}
	return out, first
}

// killAll kills processes still running (after an error elsewhere).
func killAll(ps []*proc) {
	for _, p := range ps {
		if p != nil && p.cmd.ProcessState == nil && p.cmd.Process != nil {
			_ = killGroup(p.cmd.Process.Pid)
		}
	}
}

// startAt is a moment far enough ahead for workers to start and open their
// stores before they begin measuring together.
func startAt(lead time.Duration) int64 { return time.Now().Add(lead).UnixNano() }

// sleepUntil sleeps until the unix-nano time t.
func sleepUntil(ctx context.Context, t int64) error {
	d := time.Until(time.Unix(0, t))
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
