// Package queryworker runs user-written Cypher in a separate process, so
// that a query that crashes Kuzu, runs away with memory or ignores its
// interrupt costs one answer and one worker process, never the server.
//
// The parent keeps a Pool of warm workers: each is memsnap's own binary
// started with the hidden "query-worker" command, keeps the snapshot it
// last opened (and Kuzu's prepared statements) open between queries, and
// speaks length-prefixed JSON frames over its stdin and stdout (see
// protocol.go); its logs go to its stderr. Each request names the snapshot
// the parent serves; the worker pins it (snapshot.Store.Pin, so GC cannot
// remove it) and opens it read-only, closing the one it had.
//
// Limits, each answered with a clear error or a marked answer:
//   - time: the worker interrupts the query at the timeout; if it has not
//     answered Grace later the parent kills it (Kuzu does not stop every
//     operator on interrupt: lpad of 1.5 GB ran 17-28 s past it);
//   - memory: see "Memory cap" below;
//   - rows and bytes: the worker stops reading rows at MaxRows rows or
//     MaxBytes bytes of JSON and marks the answer truncated;
//   - a worker that dies answers its one query with a *StoppedError and is
//     replaced; the other workers and the parent's own reads go on.
//
// # Memory cap
//
// Measured here (go-kuzu v0.11.3, Linux 6.18, 2 cores, no writable
// cgroup), and why the cap is two mechanisms:
//   - RLIMIT_AS, and RLIMIT_DATA set before Kuzu opens, stop it from
//     opening: it reserves its maximum database size (1 TiB by default;
//     with 1 GiB, VmData was 1.4 GB for 28 MB resident) as writable private
//     memory, which both limits count;
//   - RLIMIT_DATA set after the open, at what is then mapped plus the cap
//     less what is resident and the buffer pool (limitData), makes a
//     runaway allocation fail inside Kuzu with std::bad_alloc: lpad of
//     1.5 GB, a count over 10^8 rows and 2*10^6 rows returned each failed
//     within 1 s under a 256 MiB cap, and the worker stayed up, warm, for
//     the next query;
//   - buffer pool pages (reserved at open) and memory mapped without an
//     allocation are not counted by RLIMIT_DATA, so the parent also reads
//     a busy worker's resident set (/proc/PID/statm, every
//     Options.WatchEvery, 5 ms) and kills it over the cap. With the data
//     limit switched off the watchdog alone held those three queries to
//     peaks of 255-260 MiB under a 256 MiB cap. The stated margin,
//     MemoryMargin (64 MiB), is what a worker can fault in between two
//     polls on a loaded machine;
//   - a cgroup v2 memory limit would be the kernel's own cap, but
//     /sys/fs/cgroup is not writable here and memsnap does not depend on
//     one.
//
// On Windows (limit_windows.go) the worker puts itself in a Job Object
// whose process memory limit is the cap (committed memory, which Kuzu's
// reserved address space is not), and the parent's watchdog reads the
// worker's working set with GetProcessMemoryInfo. Not yet measured under
// Windows or Wine. On other systems (macOS) neither mechanism exists and
// the cap is not enforced; the timeout and the row and byte caps are.
package queryworker
