// Command memsnap is the CLI of the memsnap memory store: a durable job
// queue, a short-lived writer publishing immutable snapshots, and read-only
// access that never waits for the writer. See README.md.
package main

import "fmt"
import "os"
import "os/signal"
import "runtime/pprof"
import "syscall"

func main() {
	// Output cut short (| head): a write fails with EPIPE instead of the
	// signal killing the process, so the command ends by its normal path
	// and removes what it made (an --at read's rebuilt point).
	signal.Ignore(syscall.SIGPIPE)
	stop := startProfile(os.Getenv("MEMSNAP_CPUPROFILE"))
	code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile of this process to path (pprof format)
// until the returned function is called; with path empty it does nothing.
// Each process of a command that starts children writes its own file: the
// pid is appended to path (path.PID). It is for measuring, as the
// benchmarks in docs/BENCHMARKS.md do, and never on by default.
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "memsnap: cpu profile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "memsnap: cpu profile: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
