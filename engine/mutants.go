package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Mutant names a deliberate bug in the reference engine. Each re-creates a
// failure that happened in a real system; the harness proves its worth by
// catching every one. All are off by default.
type Mutant string

// The mutants.
const (
	// MutantCommitBeforeComplete: the sink commits at the barrier instead
	// of on "checkpoint complete", so a checkpoint that then fails leaves
	// committed output its restored state does not account for
	// (duplicates after recovery).
	MutantCommitBeforeComplete Mutant = "commit-before-complete"
	// MutantNoRecoverCommit: on restore the sink aborts the transactions
	// its snapshot pre-committed instead of committing them: loss after a
	// crash between the commit point and EndTxn.
	MutantNoRecoverCommit Mutant = "no-recover-commit"
	// MutantNoAlignment: barriers are forwarded without blocking channels;
	// records after the barrier on a fast input leak into the snapshot
	// (at-least-once state).
	MutantNoAlignment Mutant = "no-alignment"
	// MutantLateOffsetSnapshot: the source records its position after
	// emitting the next batch, so a restore skips that batch.
	MutantLateOffsetSnapshot Mutant = "late-offset-snapshot"
	// MutantRestoreIncomplete: the job restores from the latest triggered
	// checkpoint, complete or not.
	MutantRestoreIncomplete Mutant = "restore-incomplete"
	// MutantNoFenceLingering: transactions a previous attempt left open are
	// not aborted; they pin the last stable offset forever.
	MutantNoFenceLingering Mutant = "no-fence-lingering"
	// MutantAckBeforeDurable: a task acks before its snapshot is durable.
	MutantAckBeforeDurable Mutant = "ack-before-durable"
	// MutantStaleMetadataCommit: the coordinator says "complete" before the
	// checkpoint metadata is durable.
	MutantStaleMetadataCommit Mutant = "stale-metadata-commit"
	// MutantShortTxnTimeout: sinks ask for a transaction timeout shorter
	// than a recovery takes, and a commit the broker refuses is taken for
	// done: the broker aborts pre-committed data and nobody hears of it.
	MutantShortTxnTimeout Mutant = "short-txn-timeout"
	// MutantZombieUnfenced: transactional ids carry the attempt number, so
	// a new attempt never fences the ids of the previous one; a paused or
	// partitioned incarnation's transactions are never aborted.
	MutantZombieUnfenced Mutant = "zombie-unfenced"
	// MutantRetryEndTxnAsNew: an EndTxn that timed out is taken for failed
	// and its records are produced again in the next transaction: if the
	// commit was applied and only its answer lost, they appear twice.
	MutantRetryEndTxnAsNew Mutant = "retry-endtxn-as-new"
	// MutantUnalignedDropInflight: unaligned checkpoints do not store the
	// channel state, so the records in flight at a barrier are lost on
	// restore.
	MutantUnalignedDropInflight Mutant = "unaligned-drop-inflight"
	// MutantKeyGroupMisroute: on a restore at a new parallelism, each
	// subtask takes the key groups of the old parallelism's ranges, so
	// some keys' state lands on no subtask and others' on two.
	MutantKeyGroupMisroute Mutant = "keygroup-misroute-on-rescale"
	// MutantWatermarkNotRestored: a restore brings back keyed state (the
	// window contents) but not the watermarks and event-time timers of the
	// snapshot. A window whose elements all came before the checkpoint and
	// which had not fired yet never fires: its result is lost, and its
	// contents stay in state for good. Flink's WindowOperator once restored
	// its timers without registering them again (apache/flink#2602, for
	// processing-time timers), with the same effect.
	MutantWatermarkNotRestored Mutant = "watermark-not-restored"
	// MutantSharedStateDiscarded: when a checkpoint is evicted, every
	// shared state file it referenced is deleted, without counting the
	// retained checkpoints that still reference it. The retained
	// checkpoints look complete until someone reads them: a restore then
	// finds an SST missing. Flink's shared state registry has had bugs of
	// this kind (FLINK-29913: shared state discarded by mistake).
	MutantSharedStateDiscarded Mutant = "shared-state-discarded-on-eviction"
	// MutantRetakeStaleTrigger: a source takes a trigger of a checkpoint it
	// has already taken (a retransmitted or late trigger): its second
	// snapshot overwrites the first under the same handle, with positions
	// past the barrier it sent, and a restore from that checkpoint skips
	// the records in between. RPC retries that redeliver a trigger have
	// hit real engines (Flink's CheckpointCoordinator dedupes triggers by
	// checkpoint id for this reason).
	MutantRetakeStaleTrigger Mutant = "retake-stale-trigger"
	// MutantCommitOnlyNotified: on "checkpoint n complete" a sink commits
	// the transaction of checkpoint n only, and drops the older ones it
	// still holds. Notifications are best effort: when one is lost, the
	// transaction it would have committed is left open for good (Flink's
	// TwoPhaseCommitSinkFunction commits every pending transaction up to
	// n for this reason; FLINK-7783 fixed losing them when a notification
	// was skipped).
	MutantCommitOnlyNotified Mutant = "commit-only-notified"
	// MutantCountDuplicateAcks: the coordinator counts acks instead of the
	// tasks that acked, so a repeated ack completes a checkpoint that one
	// task never acked; its metadata names no snapshot for that task.
	MutantCountDuplicateAcks Mutant = "count-duplicate-acks"
	// MutantReuseCheckpointIDs: a restarted coordinator resumes its
	// checkpoint counter from the latest completed checkpoint, not from
	// the highest id it ever triggered: ids repeat after a failover, and
	// the ids of transactions the dead coordinator's checkpoints opened are
	// neither fenced nor fresh (FLINK-11205-style id reuse after a master
	// failover; Flink keeps the counter in ZooKeeper for this).
	MutantReuseCheckpointIDs Mutant = "reuse-checkpoint-ids"
	// MutantIdleSourceSilent: a source subtask that owns no partition (more
	// subtasks than partitions) never says it is idle, so every downstream
	// task waits for its watermark forever and no event-time window fires:
	// Flink's Kafka source had exactly this (FLINK-5479, watermarks stall
	// with idle partitions or subtasks without partitions).
	MutantIdleSourceSilent Mutant = "idle-source-silent"
	// MutantAbortDropsPrecommitted: on "checkpoint n aborted" a sink
	// aborts the transaction it pre-committed for n. The records in it lie
	// before the barrier of every later checkpoint, which will not replay
	// them: a later checkpoint must commit that transaction, so an abort
	// notice may not touch it (Flink's TwoPhaseCommitSinkFunction keeps
	// pending transactions on notifyCheckpointAborted for this reason).
	MutantAbortDropsPrecommitted Mutant = "abort-drops-precommitted"
	// MutantCommitRestoredEarly: a restored sink commits what its snapshot
	// pre-committed at once, before the whole job has restored from that
	// checkpoint. When another task cannot restore from it and the job
	// falls back to an older one, that output is committed twice.
	MutantCommitRestoredEarly Mutant = "commit-restored-early"
	// MutantCommitAheadOfNotice: on "checkpoint n complete" a sink commits
	// every transaction it has pre-committed, newer ones included. With
	// checkpoints in flight concurrently, one that then fails has its
	// output committed while the job restores from before it.
	MutantCommitAheadOfNotice Mutant = "commit-ahead-of-notice"
	// MutantTriggerBeforeCounterDurable: the coordinator sends a trigger
	// before the checkpoint's id is durable; a coordinator that dies then
	// restarts with the old counter and triggers that id again.
	MutantTriggerBeforeCounterDurable Mutant = "trigger-before-counter-durable"
	// MutantForgetRemovedSinks: after a restore at a lower parallelism the
	// remaining sinks fence only their own transactional ids, not those of
	// the sink subtasks that are gone, whose open transactions then pin
	// the last stable offset for good (Kafka sinks have needed id probing
	// after a scale-down for this, FLINK-28060's family).
	MutantForgetRemovedSinks Mutant = "forget-removed-sinks"
)

// shortTxnTimeout is the transaction timeout under MutantShortTxnTimeout:
// longer than a transaction lives while nothing fails (a checkpoint interval
// and a commit), shorter than a failure detection and restart take.
const shortTxnTimeout = 250 * time.Millisecond

// mutantDocs describes every mutant, for listings.
var mutantDocs = map[Mutant]string{
	MutantCommitBeforeComplete:        "the sink commits at the barrier instead of on checkpoint completion",
	MutantNoRecoverCommit:             "on restore the sink aborts its pre-committed transactions instead of committing them",
	MutantNoAlignment:                 "barriers are forwarded without blocking the channels that delivered them",
	MutantLateOffsetSnapshot:          "the source records its position after emitting the next batch",
	MutantRestoreIncomplete:           "restore from the latest triggered checkpoint, not the latest completed one",
	MutantNoFenceLingering:            "transactions of the previous attempt are not aborted",
	MutantAckBeforeDurable:            "a task acks the checkpoint before its snapshot is durable",
	MutantStaleMetadataCommit:         "the coordinator notifies completion before the metadata is durable",
	MutantShortTxnTimeout:             "the transaction timeout is shorter than recovery, and the loss is not reported",
	MutantZombieUnfenced:              "a new attempt does not fence the previous attempt's transactions",
	MutantRetryEndTxnAsNew:            "an EndTxn that timed out is taken for failed and its records are produced again",
	MutantUnalignedDropInflight:       "unaligned checkpoints do not store the records in flight (channel state)",
	MutantKeyGroupMisroute:            "key groups are reassigned with the old parallelism's ranges on a rescale",
	MutantWatermarkNotRestored:        "a restore brings back window contents but not watermarks and event-time timers, so pending windows never fire",
	MutantSharedStateDiscarded:        "an evicted checkpoint's shared state files are deleted though retained checkpoints still reference them",
	MutantRetakeStaleTrigger:          "a source takes a retransmitted or late trigger again, overwriting its snapshot with later positions",
	MutantCommitOnlyNotified:          "on a completion notice a sink commits that checkpoint's transaction only and drops older pending ones",
	MutantCountDuplicateAcks:          "the coordinator counts acks, not the tasks that acked, so a repeated ack completes a checkpoint early",
	MutantReuseCheckpointIDs:          "a restarted coordinator resumes its counter from the latest completed checkpoint, so ids repeat",
	MutantIdleSourceSilent:            "a source subtask that owns no partition never declares itself idle, so event time stalls downstream",
	MutantAbortDropsPrecommitted:      "on an abort notice a sink aborts the transaction it pre-committed for that checkpoint",
	MutantCommitRestoredEarly:         "a restored sink commits its snapshot's transactions before the whole job restored from that checkpoint",
	MutantCommitAheadOfNotice:         "on a completion notice a sink commits every pre-committed transaction, newer ones included",
	MutantTriggerBeforeCounterDurable: "the coordinator triggers a checkpoint before its id is durable",
	MutantForgetRemovedSinks:          "after a scale-down the sinks do not fence the transactional ids of the sink subtasks that are gone",
}

// AllMutants lists every mutant, sorted by name.
func AllMutants() []Mutant {
	out := make([]Mutant, 0, len(mutantDocs))
	for m := range mutantDocs { // lint:sorted sorted below
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Describe returns the mutant's one-line description.
func (m Mutant) Describe() string { return mutantDocs[m] }

// ParseMutant checks a mutant name.
func ParseMutant(name string) (Mutant, error) {
	m := Mutant(name)
	if _, ok := mutantDocs[m]; ok {
		return m, nil
	}
	var names []string
	for _, k := range AllMutants() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown mutant %q (known: %s)", name, strings.Join(names, ", "))
}

// Mutants is the set of mutants switched on.
type Mutants []Mutant

// Has reports whether m is on.
func (ms Mutants) Has(m Mutant) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}
