// Package failpoint lets crash tests kill the current process at a named
// point. Binaries built without the memsnap_failpoints tag compile Hit to a
// no-op; test binaries built with it read MEMSNAP_FAILPOINT=name[:n] and send
// themselves SIGKILL the n-th time (default first) that point is reached.
package failpoint
