// Package bench measures the reference engine running live (package
// engine/live): throughput, end-to-end latency, checkpoint cost, recovery
// time and memory, and compares it, in the same process and on the same
// Kafka, with the Kafka ceiling (a hand-written loop of raw requests) and
// with franz-go's transactional consume-transform-produce loop. It also
// measures the simulator's speed and draws SVG charts of results.
//
// cmd/bench is a thin cobra layer over this package; everything a command
// prints comes from a function here that a test can call.
//
// Results are JSON (Result) with the environment they ran in, written
// atomically under results/bench/, plus Go benchmark lines
// ("BenchmarkX-2  N  ns/op  records/s") that benchstat reads.
//
// Definitions used throughout:
//
//   - Throughput: input records divided by the wall time from the job's
//     start until all of them are processed and their output committed
//     (visible to read_committed readers). With a bounded input the job
//     ends with a final checkpoint, as Flink's does at the end of input.
//   - Latency of an output record: the time a polling read_committed
//     consumer of the output topic received it, minus the time the broker
//     acknowledged the write of the input record that caused it. With
//     exactly-once sinks it includes the wait for the checkpoint that
//     commits the record, so it is bounded below by the interval's share.
//   - Recovery time after a kill: from the kill to the first checkpoint
//     completed by the restarted job (see live.KillStat for the other
//     points measured).
package bench
