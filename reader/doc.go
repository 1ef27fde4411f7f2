// Package reader is memsnap's read side. A Reader opens the snapshot CURRENT
// names read-only, pins it so GC leaves it alone, and serves from it the
// memory reads (SearchNodes, OpenNodes, Neighbors, ReadGraph: search from an
// in-memory index of the snapshot, package graphindex, which also answers
// OpenNodes and ReadGraph once built; Kuzu otherwise), read-only Cypher
// (Query; in a query worker process when Options.Runner is set, see package
// queryworker), KV lookups, job outcomes and the state the durable-ack
// prediction reads (State). Refresh opens a newer snapshot and swaps it in
// atomically; queries already running finish on the old one, which is
// closed (graph, kv, pin) when its last query ends. WaitForJob gives
// read-your-writes: it waits until a published snapshot holds a job.
//
// Guarantees: a reader never takes or waits for the writer lock and never
// opens a file a writer has open read-write; nothing on the read path writes
// to disk (queries are checked by CheckReadOnly before they reach Kuzu); each
// snapshot's Kuzu file is opened at most once per Reader.
//
// Caveat: fcntl locks belong to the process, and closing any descriptor of a
// file drops them; do not open a snapshot's graph.kuzu by other means in a
// process that also reads it through a Reader.
package reader
