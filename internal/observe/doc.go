// Package observe reads what Kafka committed, for the checkers, through an
// independent kgo consumer (read_committed). It shares no code with the
// engine's own fetch path, so a bug there cannot hide itself from the judge.
//
// It is used after a simulated run, outside the simulated path, so it may use
// kgo's own goroutines and wall-clock timeouts.
package observe
