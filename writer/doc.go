// Package writer is memsnap's write side: the job format and its validation,
// the durable lock-free enqueue, the writer lock, and the short-lived writer
// that claims queued jobs, applies them as one batch to a staging copy of the
// current snapshot and publishes the result.
//
// Guarantees:
//   - Enqueue returns a job id only once the job is durable; it takes no lock.
//   - An acknowledged job is applied exactly once, whatever process dies when:
//     the claim seq of every applied job is at or below the published
//     snapshot's watermark, and recovery deletes claimed jobs at or below it
//     and re-applies the rest first, in claim order.
//   - Applying a batch gives the same graph and KV as applying its jobs one by
//     one in claim order; a job applies all its ops or none.
//   - A job that cannot be applied is dead-lettered with its reason and an
//     outcome; it never blocks or changes the other jobs of its batch.
//   - Only one writer runs per store (flock on LOCK, released by the kernel
//     if the holder dies); readers never wait for it.
package writer
