// Package live runs an engine.Job for real: the same tasks and coordinator
// the simulator drives, each on its own goroutine, against a wall clock, a
// Kafka cluster (kfake in-process, or real brokers) and checkpoint storage
// on disk. It is the goroutine analogue of sim/cluster: what a worker and
// the job master do there, a Runner does here.
//
// How the engine's ordering duties (engine.TaskEnv) are met:
//
//   - Every task and the coordinator own a mailbox: a goroutine that runs
//     closures from a bounded channel, one at a time. Every call into a
//     task (a record, a barrier, a credit, a Kafka response, a timer, a
//     trigger) is a closure posted to its mailbox, so the engine, which is
//     not thread-safe, only ever runs on its own goroutine, and a callback
//     never runs inside the call that asked for it.
//   - A channel between two tasks is the receiver's mailbox: what one task
//     sends to another during one closure is posted as one batch, in send
//     order, so each channel is FIFO. Credit-based flow control in the
//     engine bounds what is in flight, which is why a bounded mailbox never
//     has to refuse (a full one makes the sender wait: backpressure).
//   - Persist writes the object to a temporary file, fsyncs it, renames it
//     into place and fsyncs the directory before it calls back with nil, so
//     an acknowledged snapshot survives a crash of the process or machine.
//   - Cancelling an attempt stops its mailboxes: nothing queued or in flight
//     for a cancelled task ever runs.
//
// Where it differs from a real cluster: all tasks share one process, so a
// "kill" (Runner.Kill) stops every task goroutine of the attempt at once
// without letting them commit, and a restart redeploys them in the same
// process. The Kafka requests are the engine's raw ones (package kproto);
// the Runner fills in topic IDs and routes Produce and Fetch to partition
// leaders from metadata.
//
// Package live must not be imported by the simulator (internal/lint checks
// the boundary); the determinism lint does not apply here: this is the one
// place where goroutines and the wall clock are allowed to drive the engine.
package live
