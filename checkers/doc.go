// Package checkers judges recorded histories: committed output, restored
// state, client-visible reads, liveness and determinism. Every checker is a
// pure function from a history to a verdict: Ok, Violation (with the first bad
// record) or Unknown, which is inconclusive and never counts as Ok.
//
// The liveness checker has a fourth verdict, NoProgress: a run that stalled
// after the faults healed is broken, but not in the way a run that committed
// wrong output is, and a report should not mix the two.
//
// The checkers are:
//
//   - ExactlyOnce: every expected output record committed once, with the
//     expected value, and nothing from an aborted transaction.
//   - StateAtCheckpoint: each restored state equals the fold of the input
//     up to its checkpoint's offsets, and no retained completed checkpoint
//     lost a file (lost-state); CheckpointsIntact is the second half alone,
//     for jobs with no state oracle.
//   - Register: the committed output, seen as a register per key, is
//     linearizable (checked with porcupine).
//   - Liveness: after the heal, a checkpoint within the bound, input
//     drained, no transaction left open.
//   - Determinism: two traces of one seed are identical.
//
// Anomaly names follow Jepsen's Kafka vocabulary where they fit
// (lost-write, duplicate, aborted-read, nonmonotonic). Every checker's tests
// include known-bad histories, so a checker that always says Ok fails them.
//
// Package checkers must not import package sim: checkers read histories, not
// worlds.
package checkers
