// Package observe reads a topic's whole log for the checkers, through kgo
// consumers of its own. It shares no code with the engine's fetch path
// (internal/kproto), so a bug there cannot hide itself from the judge.
//
// It reads each topic twice: read_uncommitted with control records, which is
// the log itself (every data record and every commit or abort marker), and
// read_committed, which is what a consumer of the topic is served. The
// checkers label each record's fate from the first pass's markers
// (checkers.Label) and compare the second pass with it, so neither a broker
// that serves aborted data nor one that hides committed data can fool them.
//
// Neither pass lets a fetch response reach its byte limit: kfake drops the
// aborted-transaction list of the partition a response is cut at, which
// turns aborted batches into committed ones for a read_committed reader.
//
// It is used after a simulated run, outside the simulated path, so it may use
// kgo's own goroutines and wall-clock timeouts.
package observe
