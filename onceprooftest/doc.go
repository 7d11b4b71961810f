// Package onceprooftest puts onceproof inside another project's `go test`:
// it runs a job (yours, or one of onceproof's named scenarios) in the
// deterministic simulator under faults, over a range of seeds, and fails
// the test with the seed, the checks that failed, the minimal fault
// schedule and the command that replays it. The jobs run on onceproof's
// reference engine; the package does not drive programs built on another
// engine.
//
// # A job of your own
//
// A job is a [jobs.Spec]; [jobs.Spec.Validate] names any part a run needs
// and the spec lacks, and CheckJob stops the test with that error:
//
//   - Name, the topics the job reads (Inputs) and the topic it commits its
//     output to (Output);
//   - Build, its graph: a Kafka source, keyed process functions, an
//     exactly-once Kafka sink;
//   - Generate, its input, drawn from the seed's random source alone;
//   - Oracle, the job done sequentially: from the input that was committed,
//     the output that must be committed exactly once, each record with a
//     lineage that Lineage recovers from the output record, so that every
//     output is traced back to the input that caused it;
//   - optionally State and Restored, to check keyed state at every
//     checkpoint: State folds the input read before the checkpoint
//     ([jobs.Committed.Before]) into "name:key" -> value, and Restored
//     reads the checkpoint's snapshots into the same form, which is what
//     [jobs.KeyedState] does for the engine's value and list states.
//
// The example of CheckJob is such a job, a running sum per key, complete
// in one file (example_checkjob_test.go; go doc -http and pkg.go.dev show
// it whole). In a test:
//
//	func TestRunningSumIsExactlyOnce(t *testing.T) {
//		onceprooftest.CheckJob(t, runningSum(), onceprooftest.Options{})
//	}
//
// # Seeds
//
// Each seed draws a swarm: the topology, the fault kinds and a schedule of
// worker kills, pauses, network partitions, lost Kafka requests and
// storage faults. The seeds come from Options.Seeds, else the
// -onceproof.seeds flag, else the ONCEPROOF_SEEDS environment variable
// ("1-200", or "17" to replay one), else 1-20:
//
//	go test -run TestRunningSumIsExactlyOnce ./mypkg -onceproof.seeds=1-1000
//
// # A failure
//
// The running sum with its sum kept in a Go map, where no checkpoint sees
// it, fails like this:
//
//	onceproof: job running-sum failed at seed 1: violation
//	  exactly-once: violation duplicate: lineage "k3#1" (key "k3", value "k3#1=42") at partition 0 offset 478; first seen at partition 0 offset 1
//	  state-at-checkpoint: violation state-mismatch: checkpoint 1 (read at completion) key "n:k0": want "73", got <absent>
//	minimal fault schedule (1 of 2 faults), which still fails exactly-once (violation duplicate), state-at-checkpoint (violation state-mismatch):
//	  at 158ms: isolate w1 for 286ms
//	without any fault, the job already fails state-at-checkpoint (violation state-mismatch)
//	reproduce: go test -run '^TestRunningSumIsExactlyOnce$' -onceproof.seeds=1
//
// The minimal schedule is the smallest part of the seed's schedule that
// still fails every check the seed failed, found by rerunning the seed
// without one fault at a time. A check that fails even without faults
// points at the job or its State fold rather than at recovery.
//
// To test that your oracles catch a bug, run a broken twin of your job
// with a TB of your own that records Errorf instead of failing.
package onceprooftest
