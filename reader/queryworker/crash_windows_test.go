//go:build windows

package queryworker

import "os"

// crashSelf ends the test worker as a crash in Kuzu would, as far as the
// parent can tell on Windows: an exit status it did not ask for.
func crashSelf() { os.Exit(0xC0000005 & 0x7fffffff) }
