package engine

// Each mutant runs the script of the correct engine it breaks (script (a)
// of alignment_test.go, or the coordinator's commit script), and the
// script shows the one step where its behaviour departs: everything before
// that step is the same as in the correct engine's script.

import (
	"errors"
	"testing"
	"time"
)

// TestMutantNoAlignment: without alignment, the record behind barrier 1 on
// input 0 is processed before barrier 1 has come on input 1, so it leaks
// into checkpoint 1's snapshot (compare TestAlignmentHoldsRecordsBehindBarrier).
func TestMutantNoAlignment(t *testing.T) {
	cfg := DefaultTaskConfig()
	cfg.Mutants = Mutants{MutantNoAlignment}
	h := newOpHarness(t, cfg)
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "a record before any barrier flows", do: rec(0, "a", "a1"), want: lines(
			"send g0/ch0 record k=a v=a1")},
		{what: "barrier 1 on input 0 (the mutant does not block input 0)", do: barrier(0, 1), want: lines(
			"event barrier-received cp=1 input 0")},
		{what: "MUTANT: the record behind barrier 1 is processed at once, not held", do: rec(0, "a", "a2"), want: lines(
			"send g0/ch0 record k=a v=a2")},
		{what: "a record on input 1 flows", do: rec(1, "b", "b1"), want: lines(
			"send g0/ch0 record k=b v=b1")},
		{what: "barrier 1 on input 1: the barrier goes downstream after a2", do: barrier(1, 1), want: lines(
			"event barrier-received cp=1 input 1",
			"event aligned cp=1",
			"send g0/ch0 barrier 1",
			snapshotTaken(1),
			persistLine(1))},
		{what: "MUTANT: checkpoint 1's snapshot holds a2, a record after its barrier", do: showSnapshot(0), want: lines(
			"snapshot op/0 cp=1",
			"  kg 3 value last[b]=b1",
			"  kg 50 value last[a]=a2")},
		{what: "the upload completes: ack", do: persistDone(0, nil), want: lines(
			"event snapshot-durable cp=1",
			"ack 1",
			"event ack-sent cp=1")},
	})
}

// TestMutantAckBeforeDurable: the ack goes out before the snapshot is even
// written, so a crash before the upload completes leaves a checkpoint that
// claims a snapshot storage never got.
func TestMutantAckBeforeDurable(t *testing.T) {
	cfg := DefaultTaskConfig()
	cfg.Mutants = Mutants{MutantAckBeforeDurable}
	h := newOpHarness(t, cfg)
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "a record before any barrier flows", do: rec(0, "a", "a1"), want: lines(
			"send g0/ch0 record k=a v=a1")},
		{what: "barrier 1 on input 0 blocks input 0", do: barrier(0, 1), want: lines(
			"event barrier-received cp=1 input 0")},
		{what: "a record behind barrier 1 on input 0 is held back", do: rec(0, "a", "a2"), want: nil},
		{what: "a record on input 1 still flows", do: rec(1, "b", "b1"), want: lines(
			"send g0/ch0 record k=b v=b1")},
		{what: "MUTANT: barrier 1 on input 1 aligns and the task acks before it even asks for the upload",
			do: barrier(1, 1), want: lines(
				"event barrier-received cp=1 input 1",
				"event aligned cp=1",
				"send g0/ch0 barrier 1",
				snapshotTaken(1),
				"ack 1",
				"event ack-sent cp=1",
				persistLine(1),
				"send g0/ch0 record k=a v=a2")},
		{what: "MUTANT: the upload completing is not even noticed", do: persistDone(0, nil), want: nil},
	})
}

// TestMutantAckBeforeDurableFailedUpload: with the mutant, a failed upload
// is neither declined nor noticed: the coordinator holds an ack for a
// snapshot that does not exist (compare TestAlignmentFailedPersistDeclines).
func TestMutantAckBeforeDurableFailedUpload(t *testing.T) {
	cfg := DefaultTaskConfig()
	cfg.Mutants = Mutants{MutantAckBeforeDurable}
	h := newOpHarness(t, cfg)
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "barrier 1 on both inputs: ack, then upload", do: func(h *taskHarness) { barrier(0, 1)(h); barrier(1, 1)(h) }, want: lines(
			"event barrier-received cp=1 input 0",
			"event barrier-received cp=1 input 1",
			"event aligned cp=1",
			"send g0/ch0 barrier 1",
			"event snapshot-taken cp=1 bytes=126",
			"ack 1",
			"event ack-sent cp=1",
			"persist chk/chk-1/op-0 (126 bytes)")},
		{what: "MUTANT: the upload fails and nobody hears of it: no decline", do: persistDone(0, errTestDiskFull), want: nil},
	})
}

var errTestDiskFull = errors.New("disk full")

// TestMutantStaleMetadataCommit: the coordinator tells the tasks checkpoint
// 1 is complete (and sinks commit) before its metadata, the commit point,
// is durable; if the write then fails, committed output belongs to a
// checkpoint that never completed (compare
// TestCoordinatorCompletesAfterAcksAndMetadata).
func TestMutantStaleMetadataCommit(t *testing.T) {
	h := newCoordHarness(t, testCheckpointConfig(), fixedRestart(), Mutants{MutantStaleMetadataCommit})
	runCoordScript(t, h, concat([]step[*coordHarness]{
		{what: "start", do: cStart(), want: lines("persist-state counter=0 attempt=1")},
	}, deploySteps(1, 0, 1, 0), []step[*coordHarness]{
		{what: "trigger checkpoint 1", do: func(h *coordHarness) { fireTo(50 * time.Millisecond)(h); stateDone(nil)(h) }, want: lines(
			"after 1s",
			"after 50ms",
			"persist-state counter=1 attempt=1",
			"event triggered cp=1",
			"trigger a1 a/0 cp=1 at=50ms",
			"trigger a1 b/0 cp=1 at=50ms")},
		{what: "three tasks ack", do: ack(1, 1, "a/0", "b/0", "op/0"), want: nil},
		{what: "MUTANT: the last ack: every task is told checkpoint 1 is complete BEFORE the metadata write",
			do: ack(1, 1, "sink/0"), want: lines(
				"notify a1 a/0 cp=1",
				"notify a1 b/0 cp=1",
				"notify a1 op/0 cp=1",
				"notify a1 sink/0 cp=1",
				"put-metadata cp=1 (metadata cp=1, 4 handles)")},
		{what: "MUTANT: the metadata write fails after the sinks were told to commit", do: metaDone(errTestDiskFull), want: lines(
			"event checkpoint-failed cp=1 write metadata: disk full (1 in a row, 0 tolerated)",
			"abort a1 a/0 cp=1",
			"abort a1 b/0 cp=1",
			"abort a1 op/0 cp=1",
			"abort a1 sink/0 cp=1",
			"event failover attempt 1: checkpoint 1 failed: write metadata: disk full; restart in 100ms",
			"cancel attempt 1",
			"after 100ms")},
	}))
}
