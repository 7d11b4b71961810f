// Package sim is onceproof's deterministic world: a virtual clock, a seeded
// event queue, processes that can be killed and restarted, FIFO links with
// latency, bounded buffers and partitions, crashable local disks, a durable
// store for checkpoints, Kafka (kfake) in the loop, and a trace recorder whose
// digest identifies a run. The trace is a list of typed events (Event: a
// kind and its fields); their text is rendered only for the digest, for
// people (Lines, Tap) and for files, and the report reads the fields.
//
// One seed decides everything. The simulator runs on one goroutine: it must not
// read the wall clock, use global randomness, iterate maps in unsorted order,
// or start goroutines (internal/lint enforces this). It records what happened;
// it does not judge correctness: nothing under sim/ depends on package
// checkers (internal/lint enforces that too). scenarios.Judge and
// scenarios.JudgeSmoke read a run's output and history and decide.
package sim
