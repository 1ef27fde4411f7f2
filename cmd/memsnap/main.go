// Command memsnap is the CLI of the memsnap memory store: a durable job
// queue, a short-lived writer publishing immutable snapshots, and read-only
// access that never waits for the writer. See README.md.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
