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
//   - memory: see MemoryCap;
//   - rows and bytes: the worker stops reading rows at MaxRows rows or
//     MaxBytes bytes of JSON and marks the answer truncated;
//   - a worker that dies answers its one query with a *StoppedError and is
//     replaced; the other workers and the parent's own reads go on.
package queryworker
