// Package target puts a program that is not onceproof's own (a franz-go
// GroupTransactSession service, a Kafka Streams app, a consume-transform-
// produce loop in any language) under the faults and checkers onceproof uses
// for its reference engine.
//
// A run starts kfake on loopback (several brokers), creates an input and an
// output topic, writes the input, starts N instances of the user's command
// as processes with the connection details in their environment, and hits
// them from the outside with a schedule of faults: SIGKILL, SIGSTOP/SIGCONT,
// restarts, kills timed at Kafka protocol points (the instance's next
// AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit or EndTxn, before the
// broker applies it or applied with the answer withheld), broker errors on
// chosen requests, withheld answers, partition-leader and coordinator moves,
// and instances joining and leaving the group. When the faults stop, the
// program must finish the input. The output is then read through
// internal/observe (its own kgo consumers, every record labelled committed,
// aborted or open from the log's markers) and judged by package checkers
// against the declared contract (Contract): copy, count, or an oracle
// program's expected output.
//
// A run is not deterministic: the program has its own threads and clock and
// the harness uses the real one. The seed decides the input and the fault
// schedule, never the interleaving, so the same seed can pass once and fail
// once. That is why Shrink reruns each candidate schedule several times and
// reports how often it failed, and why a failing schedule is saved and can
// be replayed (ReplaySchedule) rather than a trace digest compared.
//
// Package target must not be used by the simulator or the engine, must not
// import scenarios, and must never leave a process of the user's running
// after a run returns: every instance runs in its own process group, which
// is sent SIGTERM and then SIGKILL after a grace period.
package target
