// Package engine is onceproof's reference stream-processing engine: a small,
// readable implementation of Flink-style asynchronous barrier snapshots with an
// exactly-once Kafka source and a two-phase-commit Kafka sink.
//
// Every task and the checkpoint coordinator is a synchronous state machine,
// driven as etcd raft's nodes are: messages go in through Step (message.go
// defines every one), and what the state machine has to say goes out as
// messages through its env's Send, never delivered inside the call. I/O
// (Kafka, checkpoint storage, timers) is asked of the env, whose callbacks
// run later, one at a time. The simulator (sim/cluster) and the live runner
// (engine/live) drive the same code; they only route messages and run the
// I/O.
//
// The engine must not start goroutines, read the wall clock, use global
// randomness, iterate maps in unsorted order, or do I/O except through the
// interfaces it declares. internal/lint enforces this.
package engine
