// Package producer is the producer side of memsnap's write path, what any
// process that writes runs: Enqueue, which checks a job and makes it
// durable in the queue; the Acker, which predicts a job's outcome (Predict,
// the memory state machine over the snapshot the process reads) and
// answers the write once the job is durable with the outcome the writer
// will give; and the GroupCommitter, which commits queued jobs as they
// arrive through a commit function its caller gives (in memsnap, a warm
// writer child process running writer.Writer.Commit).
//
// It builds on package writer (the lock, the commit's Summary, the
// free-space errors) and never the other way round; like the writer, it
// depends on no reader and no config: the snapshot a prediction reads
// comes through a StateFunc.
//
// Guarantees:
//   - Enqueue and Acker.Submit return a job id only once the job is
//     durable (written, fsynced, renamed into queue/new, directory
//     fsynced); they take no lock, so any number of processes enqueue at
//     once.
//   - Acker.Submit queues nothing it predicts the writer would reject.
package producer
