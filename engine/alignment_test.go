package engine

// Scripted tests of aligned barriers (steps 2, 3 and 5 of the protocol in
// the Task doc comment) at a task with two inputs. Each script is a table of
// steps; each step is one input to the task and the exact outputs it must
// produce, so a script reads as the protocol's documentation.
//
// The task under test is the operator of a small job:
//
//	source a ─┐
//	          ├─ op (ConnectKeyed, passes every record on) ─ sink
//	source b ─┘
//
// all at parallelism 1, so op has two input channels (input 0 from a,
// input 1 from b) and one output channel (g0/ch0, to the sink).

import (
	"errors"
	"fmt"
	"testing"
)

// passThrough emits every record unchanged and remembers the last value it
// saw per key in value state "last", so that a snapshot shows which records
// it covers.
func passThrough(ctx *Context, _ int, r Record) error {
	if err := ctx.Value("last").Set(r.Value); err != nil {
		return err
	}
	ctx.Emit(r)
	return nil
}

// twoInputJob builds source a + source b -> op -> sink, parallelism 1.
func twoInputJob(t *testing.T) *Job {
	t.Helper()
	b := NewJob("align")
	key := func(r Record) string { return r.Key }
	a := b.Source("a", "in-a", 1, 1).KeyBy(key)
	bb := b.Source("b", "in-b", 1, 1).KeyBy(key)
	ConnectKeyed(a, bb, "op", 1, func() KeyedProcessFunction { return ProcessFunc(passThrough) }).
		SinkTo("sink", "out", 1, 1, ExactlyOnce)
	job, err := b.Build()
	if err != nil {
		t.Fatalf("build job: %v", err)
	}
	return job
}

func vertexIndex(t *testing.T, job *Job, name string) int {
	t.Helper()
	for i, v := range job.Vertices {
		if v.Name == name {
			return i
		}
	}
	t.Fatalf("job %s has no vertex %s", job.Name, name)
	return -1
}

// taskHarness is a task under test with its fake environment.
type taskHarness struct {
	task *Task
	env  *fakeTaskEnv
}

func newOpHarness(t *testing.T, cfg TaskConfig) *taskHarness {
	t.Helper()
	job := twoInputJob(t)
	env := newFakeTaskEnv()
	dep := Deployment{Task: TaskID{Vertex: vertexIndex(t, job, "op")}, StoragePrefix: "chk", FenceUpTo: 1}
	return &taskHarness{task: NewTask(job, dep, env, cfg, nil), env: env}
}

// The actions scripts are made of.

func start() func(*taskHarness) { return func(h *taskHarness) { h.task.Start() } }

// rec delivers a record with key k and value v on vertex input input.
func rec(input int, k, v string) func(*taskHarness) {
	return func(h *taskHarness) {
		h.task.Enqueue(h.task.InputIndex(input, 0), StreamMsg{Kind: MsgRecord, Record: Record{Key: k, Value: v}})
	}
}

// barrier delivers barrier n on vertex input input.
func barrier(input int, n int64) func(*taskHarness) {
	return func(h *taskHarness) {
		h.task.Enqueue(h.task.InputIndex(input, 0), StreamMsg{Kind: MsgBarrier, Checkpoint: n})
	}
}

// credit returns n credits on output channel ch of gate g.
func credit(g, ch, n int) func(*taskHarness) {
	return func(h *taskHarness) { h.task.Credit(g, ch, n) }
}

// persistDone completes the i-th outstanding Persist with err.
func persistDone(i int, err error) func(*taskHarness) {
	return func(h *taskHarness) { h.env.completePersist(i, err) }
}

// showSnapshot logs the content of the i-th snapshot persisted.
func showSnapshot(i int) func(*taskHarness) {
	return func(h *taskHarness) { h.env.logSnapshot(i) }
}

func runTaskScript(t *testing.T, h *taskHarness, steps []step[*taskHarness]) {
	t.Helper()
	runScript(t, h, &h.env.fakeLog, steps)
}

// The snapshot of op at checkpoint n after one record per key a and b,
// and its size, as every script below sees it.
const opSnapshotBytes = 237

func snapshotTaken(n int64) string {
	return fmt.Sprintf("event snapshot-taken cp=%d bytes=%d", n, opSnapshotBytes)
}
func persistLine(n int64) string {
	return fmt.Sprintf("persist %s (%d bytes)", Layout{Prefix: "chk"}.TaskHandle(n, "op", 0), opSnapshotBytes)
}

// TestAlignmentHoldsRecordsBehindBarrier is script (a): the basic aligned
// checkpoint.
func TestAlignmentHoldsRecordsBehindBarrier(t *testing.T) {
	h := newOpHarness(t, DefaultTaskConfig())
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "a record before any barrier flows", do: rec(0, "a", "a1"), want: lines(
			"send g0/ch0 record k=a v=a1")},
		{what: "barrier 1 on input 0 blocks input 0", do: barrier(0, 1), want: lines(
			"event barrier-received cp=1 input 0")},
		{what: "a record behind barrier 1 on input 0 is held back", do: rec(0, "a", "a2"), want: nil},
		{what: "a record on input 1, which has not seen barrier 1, still flows", do: rec(1, "b", "b1"), want: lines(
			"send g0/ch0 record k=b v=b1")},
		{what: "barrier 1 on input 1 aligns: snapshot, forward the barrier, upload, then release the held record",
			do: barrier(1, 1), want: lines(
				"event barrier-received cp=1 input 1",
				"event aligned cp=1",
				"send g0/ch0 barrier 1",
				snapshotTaken(1),
				persistLine(1),
				"send g0/ch0 record k=a v=a2")},
		{what: "the snapshot holds a1 (before the barrier), not a2 (after it)", do: showSnapshot(0), want: lines(
			"snapshot op/0 cp=1",
			"  kg 3 value last[b]=b1",
			"  kg 50 value last[a]=a1")},
		{what: "records keep flowing while the upload runs; still no ack", do: rec(1, "b", "b2"), want: lines(
			"send g0/ch0 record k=b v=b2")},
		{what: "only once the snapshot is durable does the task ack", do: persistDone(0, nil), want: lines(
			"event snapshot-durable cp=1",
			"ack 1",
			"event ack-sent cp=1")},
	})
	if got := h.env.acks[0]; got.Handle != "chk/chk-1/op-0" || got.Size != opSnapshotBytes {
		t.Errorf("ack: got handle %q size %d, want handle %q size %d", got.Handle, got.Size, "chk/chk-1/op-0", opSnapshotBytes)
	}
}

// TestAlignmentNewerBarrierDropsOlderAlignment is script (b): checkpoint 1
// was aborted upstream, so barrier 1 never comes on input 1; barrier 2 does.
func TestAlignmentNewerBarrierDropsOlderAlignment(t *testing.T) {
	h := newOpHarness(t, DefaultTaskConfig())
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "a record before any barrier", do: rec(1, "b", "b1"), want: lines(
			"send g0/ch0 record k=b v=b1")},
		{what: "barrier 1 on input 0 blocks input 0", do: barrier(0, 1), want: lines(
			"event barrier-received cp=1 input 0")},
		{what: "a record behind barrier 1 is held", do: rec(0, "a", "a1"), want: nil},
		{what: "barrier 2 on input 1 drops the alignment of 1: input 0 is released, input 1 blocks for 2",
			do: barrier(1, 2), want: lines(
				"event barrier-received cp=2 input 1",
				"send g0/ch0 record k=a v=a1")},
		{what: "a record behind barrier 2 on input 1 is held", do: rec(1, "b", "b2"), want: nil},
		{what: "barrier 2 on input 0 aligns checkpoint 2; the held record follows the barrier",
			do: barrier(0, 2), want: lines(
				"event barrier-received cp=2 input 0",
				"event aligned cp=2",
				"send g0/ch0 barrier 2",
				snapshotTaken(2),
				persistLine(2),
				"send g0/ch0 record k=b v=b2")},
		{what: "checkpoint 2's snapshot holds a1 (before barrier 2) and b1, not b2", do: showSnapshot(0), want: lines(
			"snapshot op/0 cp=2",
			"  kg 3 value last[b]=b1",
			"  kg 50 value last[a]=a1")},
		{what: "checkpoint 2 is acked once durable", do: persistDone(0, nil), want: lines(
			"event snapshot-durable cp=2",
			"ack 2",
			"event ack-sent cp=2")},
	})
}

// TestAlignmentIgnoresOlderBarrier is script (c): a barrier of a checkpoint
// the task already passed neither blocks a channel nor starts an alignment.
func TestAlignmentIgnoresOlderBarrier(t *testing.T) {
	h := newOpHarness(t, DefaultTaskConfig())
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "barrier 2 on input 0", do: barrier(0, 2), want: lines(
			"event barrier-received cp=2 input 0")},
		{what: "barrier 2 on input 1 aligns checkpoint 2", do: barrier(1, 2), want: lines(
			"event barrier-received cp=2 input 1",
			"event aligned cp=2",
			"send g0/ch0 barrier 2",
			"event snapshot-taken cp=2 bytes=126",
			"persist chk/chk-2/op-0 (126 bytes)")},
		{what: "a late barrier 1 on input 0 is ignored", do: barrier(0, 1), want: lines(
			"event barrier-received cp=1 input 0")},
		{what: "input 0 is not blocked by it", do: rec(0, "a", "a1"), want: lines(
			"send g0/ch0 record k=a v=a1")},
		{what: "a repeated barrier 2 on input 1 is ignored too", do: barrier(1, 2), want: lines(
			"event barrier-received cp=2 input 1")},
		{what: "input 1 is not blocked by it", do: rec(1, "b", "b1"), want: lines(
			"send g0/ch0 record k=b v=b1")},
		{what: "barrier 3 starts a new alignment", do: barrier(1, 3), want: lines(
			"event barrier-received cp=3 input 1")},
		{what: "so input 1 is blocked again", do: rec(1, "b", "b2"), want: nil},
	})
}

// TestAlignmentCredit is script (d): credit-based flow control. With 4
// credits per channel, a task stops taking records once its output channel
// has no credit left, but a barrier at the head of a channel carries no
// data and is still processed. Credits go back upstream once half a
// channel's credits (2) were consumed.
func TestAlignmentCredit(t *testing.T) {
	cfg := DefaultTaskConfig()
	cfg.ChannelCredits = 4
	h := newOpHarness(t, cfg)
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "record 1 on input 0: 3 credits left downstream", do: rec(0, "a", "a1"), want: lines(
			"send g0/ch0 record k=a v=a1")},
		{what: "record 2 on input 0: half of input 0's credits consumed, returned upstream", do: rec(0, "a", "a2"), want: lines(
			"credit in0 +2",
			"send g0/ch0 record k=a v=a2")},
		{what: "record 3 on input 1", do: rec(1, "b", "b1"), want: lines(
			"send g0/ch0 record k=b v=b1")},
		{what: "record 4 on input 1: no credit left downstream after it", do: rec(1, "b", "b2"), want: lines(
			"credit in1 +2",
			"send g0/ch0 record k=b v=b2")},
		{what: "record 5 on input 0 waits for credit", do: rec(0, "a", "a3"), want: nil},
		{what: "barrier 1 on input 1, at the head of its channel, is processed without credit", do: barrier(1, 1), want: lines(
			"event barrier-received cp=1 input 1")},
		{what: "barrier 1 on input 0 waits behind record 5", do: barrier(0, 1), want: nil},
		{what: "one credit back: record 5 goes, then barrier 1 on input 0 aligns", do: credit(0, 0, 1), want: lines(
			"send g0/ch0 record k=a v=a3",
			"event barrier-received cp=1 input 0",
			"event aligned cp=1",
			"send g0/ch0 barrier 1",
			snapshotTaken(1),
			persistLine(1))},
		{what: "no credit again: a record waits", do: rec(0, "a", "a4"), want: nil},
		{what: "barrier 2 on input 1 (at its head) is processed; barrier 2 on input 0 waits behind the record",
			do: func(h *taskHarness) { barrier(1, 2)(h); barrier(0, 2)(h) }, want: lines(
				"event barrier-received cp=2 input 1")},
		{what: "credit returns: the record goes first, then barrier 2 on input 0 aligns", do: credit(0, 0, 4), want: lines(
			"credit in0 +2",
			"send g0/ch0 record k=a v=a4",
			"event barrier-received cp=2 input 0",
			"event aligned cp=2",
			"send g0/ch0 barrier 2",
			snapshotTaken(2),
			persistLine(2))},
	})
}

// TestAlignmentFailedPersistDeclines is script (e): a snapshot that cannot
// be made durable is declined, never acked.
func TestAlignmentFailedPersistDeclines(t *testing.T) {
	h := newOpHarness(t, DefaultTaskConfig())
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "records on both inputs", do: func(h *taskHarness) { rec(0, "a", "a1")(h); rec(1, "b", "b1")(h) }, want: lines(
			"send g0/ch0 record k=a v=a1",
			"send g0/ch0 record k=b v=b1")},
		{what: "barrier 1 on both inputs aligns and uploads", do: func(h *taskHarness) { barrier(0, 1)(h); barrier(1, 1)(h) }, want: lines(
			"event barrier-received cp=1 input 0",
			"event barrier-received cp=1 input 1",
			"event aligned cp=1",
			"send g0/ch0 barrier 1",
			snapshotTaken(1),
			persistLine(1))},
		{what: "the upload fails: decline, no ack", do: persistDone(0, errors.New("disk full")), want: lines(
			"decline 1: upload snapshot: disk full")},
		{what: "the task goes on: barrier 2 aligns and uploads", do: func(h *taskHarness) { barrier(0, 2)(h); barrier(1, 2)(h) }, want: lines(
			"event barrier-received cp=2 input 0",
			"event barrier-received cp=2 input 1",
			"event aligned cp=2",
			"send g0/ch0 barrier 2",
			snapshotTaken(2),
			persistLine(2))},
		{what: "this upload succeeds: ack 2", do: persistDone(0, nil), want: lines(
			"event snapshot-durable cp=2",
			"ack 2",
			"event ack-sent cp=2")},
	})
	for _, a := range h.env.acks {
		if a.Checkpoint == 1 {
			t.Errorf("got an ack of checkpoint 1, whose snapshot never became durable")
		}
	}
}
