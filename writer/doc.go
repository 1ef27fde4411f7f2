// Package writer is memsnap's write side: the writer lock, and the
// short-lived Writer that claims queued jobs, applies them as one batch to
// a staging copy of the current snapshot and publishes the result.
// Recovery from a crashed writer, Rollback, Repair and GC run under the
// same lock; a SpaceChecker tells anyone whether the next job fits in the
// free space. The producer side (checking and queueing a job, answering it
// on durability, committing as jobs arrive) is package writer/producer,
// which builds on this one; this package never imports it.
//
// What it builds on: the job format, its decoding and its limits are
// package model's (model.DecodeJob); the spool's files and their names are
// package queue's, reached through snapshot.Store.Queue; the store layout,
// staging and publish are package snapshot's.
//
// Guarantees:
//   - An acknowledged job is applied exactly once, whatever process dies when:
//     the claim seq of every applied job is at or below the published
//     snapshot's watermark, and recovery deletes claimed jobs at or below it
//     and re-applies the rest first, in claim order.
//   - Applying a batch gives the same graph and KV as applying its jobs one by
//     one in claim order; a job applies all its ops or none.
//   - A job that cannot be applied is dead-lettered with its reason and an
//     outcome; it never blocks or changes the other jobs of its batch.
//   - Only one writer runs per store (an exclusive lock on LOCK: flock on
//     Unix, LockFileEx on Windows, released by the kernel if the holder
//     dies); readers never wait for it.
package writer
