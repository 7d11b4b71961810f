// Package engine is onceproof's reference stream-processing engine: a small,
// readable implementation of Flink-style asynchronous barrier snapshots with an
// exactly-once Kafka source and a two-phase-commit Kafka sink.
//
// Every task and the checkpoint coordinator is a synchronous state machine:
// inputs go in through one method, outputs come back as a batch the driver
// executes. The simulator (package sim) and the live runner drive the same
// code.
//
// The engine must not start goroutines, read the wall clock, use global
// randomness, iterate maps in unsorted order, or do I/O except through the
// interfaces it declares. internal/lint enforces this.
package engine
