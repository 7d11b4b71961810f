package engine

// Scripted tests of the checkpoint coordinator (steps 1, 5, 6 and 8 of the
// protocol, at the coordinator) against a fake CoordinatorEnv: every output
// is a log line, and timers, coordinator-state writes and metadata writes
// wait until a step releases them.
//
// The job is the two-input job of alignment_test.go: tasks a/0, b/0 (the
// sources), op/0 and sink/0.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type coordHarness struct {
	c   *Coordinator
	env *fakeCoordEnv
	job *Job
}

func testCheckpointConfig() CheckpointConfig {
	return CheckpointConfig{Interval: 50 * time.Millisecond, Timeout: time.Second, TolerableFailures: 0, Retained: 2}
}

func fixedRestart() RestartStrategy {
	return RestartStrategy{Kind: "fixed-delay", Delay: 100 * time.Millisecond}
}

func newCoordHarness(t *testing.T, cfg CheckpointConfig, rs RestartStrategy, mutants Mutants) *coordHarness {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("checkpoint config: %v", err)
	}
	if err := rs.Validate(); err != nil {
		t.Fatalf("restart strategy: %v", err)
	}
	job := twoInputJob(t)
	env := newFakeCoordEnv(job)
	return &coordHarness{c: NewCoordinator(job, env, cfg, rs, mutants, "chk"), env: env, job: job}
}

func (h *coordHarness) task(name string) TaskID {
	for _, id := range h.job.Tasks() {
		if h.job.TaskName(id) == name {
			return id
		}
	}
	panic("no task " + name)
}

// handle is where task name's snapshot of checkpoint n lives, as tasks name
// it.
func handle(name string, n int64) string {
	vertex, subtask, _ := strings.Cut(name, "/")
	i, _ := strconv.Atoi(subtask)
	return Layout{Prefix: "chk"}.TaskHandle(n, vertex, i)
}

// The actions coordinator scripts are made of.

func cStart() func(*coordHarness) { return func(h *coordHarness) { h.c.Start() } }

// stateDone completes the oldest outstanding coordinator-state write.
func stateDone(err error) func(*coordHarness) {
	return func(h *coordHarness) { h.env.completeState(0, err) }
}

// metaDone completes the oldest outstanding metadata write.
func metaDone(err error) func(*coordHarness) {
	return func(h *coordHarness) { h.env.completeMetadata(0, err) }
}

// fireTo fires every timer due up to time at.
func fireTo(at time.Duration) func(*coordHarness) {
	return func(h *coordHarness) { h.env.fireTimers(at) }
}

// running reports every task of attempt running.
func running(attempt int) func(*coordHarness) {
	return func(h *coordHarness) {
		for _, id := range h.job.Tasks() {
			h.c.TaskRunning(attempt, id)
		}
	}
}

// ack acks checkpoint n for the named tasks in attempt; a source reports
// offset 10*n for its one partition.
func ack(attempt int, n int64, names ...string) func(*coordHarness) {
	return func(h *coordHarness) {
		for _, name := range names {
			a := Ack{Task: h.task(name), Checkpoint: n, Handle: handle(name, n), Size: 100}
			if v := h.job.Vertices[a.Task.Vertex]; v.Kind == SourceVertex {
				a.Offsets = map[string]int64{v.Source.Topic + "/0": 10 * n}
			}
			h.c.Ack(attempt, a)
		}
	}
}

var allTasks = []string{"a/0", "b/0", "op/0", "sink/0"}

func taskFailed(attempt int, name, reason string, restore int64) func(*coordHarness) {
	return func(h *coordHarness) {
		h.c.TaskFailed(attempt, Failure{Task: h.task(name), Reason: reason, RestoreCheckpoint: restore})
	}
}

func runCoordScript(t *testing.T, h *coordHarness, steps []step[*coordHarness]) {
	t.Helper()
	runScript(t, h, &h.env.fakeLog, steps)
}

// deploySteps: attempt is deployed (restoring checkpoint restore with fence
// fence) and all its tasks report running, which starts the trigger timer.
func deploySteps(attempt int, restore, fence int64, counter int64) []step[*coordHarness] {
	return []step[*coordHarness]{
		{what: fmt.Sprintf("attempt %d's number is made durable first", attempt), do: stateDone(nil), want: lines(
			fmt.Sprintf("event deploy attempt %d from checkpoint %d", attempt, restore),
			fmt.Sprintf("deploy attempt %d: 4 tasks restore=%d fence=%d", attempt, restore, fence))},
		{what: "every task runs: checkpointing starts", do: running(attempt), want: lines(
			fmt.Sprintf("event running attempt %d", attempt),
			"after 50ms")},
	}
}

// checkpointSteps: at time at the trigger timer fires checkpoint n (the
// previous one is complete), every task acks, the metadata is written and
// every task is told. extra lines come between metadata-written and the
// notifications (deletions of old checkpoints).
func checkpointSteps(attempt int, n int64, at time.Duration, extra ...string) []step[*coordHarness] {
	notify := []string{
		fmt.Sprintf("event metadata-written cp=%d size=400 duration=0s alignment=0s offsets=in-a/0@%d,in-b/0@%d", n, 10*n, 10*n)}
	notify = append(notify, extra...)
	for _, name := range allTasks {
		notify = append(notify, fmt.Sprintf("notify a%d %s cp=%d", attempt, name, n))
	}
	return []step[*coordHarness]{
		{what: fmt.Sprintf("the trigger timer fires checkpoint %d: its id is made durable first", n), do: fireTo(at), want: lines(
			"after 1s",
			"after 50ms",
			fmt.Sprintf("persist-state counter=%d attempt=%d", n, attempt))},
		{what: "then the sources are triggered", do: stateDone(nil), want: lines(
			fmt.Sprintf("event triggered cp=%d", n),
			fmt.Sprintf("trigger a%d a/0 cp=%d at=%v", attempt, n, at),
			fmt.Sprintf("trigger a%d b/0 cp=%d at=%v", attempt, n, at))},
		{what: "every task acks: the metadata is written", do: ack(attempt, n, allTasks...), want: lines(
			fmt.Sprintf("put-metadata cp=%d (metadata cp=%d, 4 handles)", n, n))},
		{what: "the metadata is durable: complete, and only now every task is told", do: metaDone(nil), want: notify},
	}
}

func concat[T any](parts ...[]T) []T { return slices.Concat(parts...) }

// TestCoordinatorCompletesAfterAcksAndMetadata: a checkpoint completes only
// once every task acked and the metadata write (the commit point)
// succeeded; NotifyComplete goes out only after the metadata callback.
func TestCoordinatorCompletesAfterAcksAndMetadata(t *testing.T) {
	h := newCoordHarness(t, testCheckpointConfig(), fixedRestart(), nil)
	runCoordScript(t, h, concat([]step[*coordHarness]{
		{what: "start: the attempt number is made durable before anything is deployed", do: cStart(), want: lines(
			"persist-state counter=0 attempt=1")},
	}, deploySteps(1, 0, 1, 0), []step[*coordHarness]{
		{what: "the trigger timer fires: checkpoint 1's id is made durable before any barrier carries it", do: fireTo(50 * time.Millisecond), want: lines(
			"after 1s",
			"after 50ms",
			"persist-state counter=1 attempt=1")},
		{what: "the sources are triggered", do: stateDone(nil), want: lines(
			"event triggered cp=1",
			"trigger a1 a/0 cp=1 at=50ms",
			"trigger a1 b/0 cp=1 at=50ms")},
		{what: "the sources ack; an ack of another checkpoint and a repeated ack do not count", do: func(h *coordHarness) {
			ack(1, 1, "a/0", "b/0")(h)
			ack(1, 2, "op/0", "sink/0")(h)
			ack(1, 1, "a/0")(h)
		}, want: nil},
		{what: "the interval passes with checkpoint 1 in flight: no second checkpoint", do: fireTo(100 * time.Millisecond), want: lines(
			"after 50ms")},
		{what: "op acks: one task still missing", do: ack(1, 1, "op/0"), want: nil},
		{what: "the last ack: the metadata is written, nobody is told yet", do: ack(1, 1, "sink/0"), want: lines(
			"put-metadata cp=1 (metadata cp=1, 4 handles)")},
		{what: "time passes while the write is in flight: still nobody is told", do: fireTo(120 * time.Millisecond), want: nil},
		{what: "the metadata is durable: checkpoint 1 is complete, every task is told", do: metaDone(nil), want: lines(
			"event metadata-written cp=1 size=400 duration=70ms alignment=0s offsets=in-a/0@10,in-b/0@10",
			"notify a1 a/0 cp=1",
			"notify a1 b/0 cp=1",
			"notify a1 op/0 cp=1",
			"notify a1 sink/0 cp=1")},
		{what: "the next tick triggers checkpoint 2", do: fireTo(150 * time.Millisecond), want: lines(
			"after 1s",
			"after 50ms",
			"persist-state counter=2 attempt=1")},
	}))
	md, err := h.c.LatestCompleted()
	if err != nil || md.Checkpoint != 1 {
		t.Fatalf("LatestCompleted: got %d, %v, want 1, nil", md.Checkpoint, err)
	}
	for _, name := range allTasks {
		if got, want := md.Handles[name], handle(name, 1); got != want {
			t.Errorf("metadata handle of %s: got %q, want %q", name, got, want)
		}
	}
}

// TestCoordinatorFailedMetadataWrite: without the commit point there is no
// completion: a failed metadata write fails the checkpoint and nobody is
// told it completed.
func TestCoordinatorFailedMetadataWrite(t *testing.T) {
	cfg := testCheckpointConfig()
	cfg.TolerableFailures = 1
	h := newCoordHarness(t, cfg, fixedRestart(), nil)
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
		{what: "every task acks", do: ack(1, 1, allTasks...), want: lines(
			"put-metadata cp=1 (metadata cp=1, 4 handles)")},
		{what: "the metadata write fails: checkpoint 1 failed (tolerated), no notification", do: metaDone(errors.New("disk full")), want: lines(
			"event checkpoint-failed cp=1 write metadata: disk full (1 in a row, 1 tolerated)")},
		{what: "the next tick triggers checkpoint 2", do: fireTo(100 * time.Millisecond), want: lines(
			"after 1s",
			"after 50ms",
			"persist-state counter=2 attempt=1")},
	}))
	if _, err := h.c.LatestCompleted(); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("LatestCompleted: got error %v, want ErrNoCheckpoint", err)
	}
}

// TestCoordinatorSlowCheckpointKeepsSchedule: a checkpoint that takes longer
// than the interval delays the next one; it does not stop checkpointing.
func TestCoordinatorSlowCheckpointKeepsSchedule(t *testing.T) {
	h := newCoordHarness(t, testCheckpointConfig(), fixedRestart(), nil)
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
		{what: "three ticks pass with checkpoint 1 in flight", do: fireTo(200 * time.Millisecond), want: lines(
			"after 50ms",
			"after 50ms",
			"after 50ms")},
		{what: "checkpoint 1 completes at 210ms", do: func(h *coordHarness) {
			fireTo(210 * time.Millisecond)(h)
			ack(1, 1, allTasks...)(h)
			metaDone(nil)(h)
		}, want: lines(
			"put-metadata cp=1 (metadata cp=1, 4 handles)",
			"event metadata-written cp=1 size=400 duration=160ms alignment=0s offsets=in-a/0@10,in-b/0@10",
			"notify a1 a/0 cp=1",
			"notify a1 b/0 cp=1",
			"notify a1 op/0 cp=1",
			"notify a1 sink/0 cp=1")},
		{what: "the next tick triggers checkpoint 2", do: fireTo(250 * time.Millisecond), want: lines(
			"after 1s",
			"after 50ms",
			"persist-state counter=2 attempt=1")},
	}))
}

// TestCoordinatorTimeoutFailover: with no tolerable failures, a timed-out
// checkpoint restarts the job: cancel, wait the restart delay, deploy the
// next attempt from the latest completed checkpoint, fencing every
// transactional id up to the highest checkpoint triggered.
func TestCoordinatorTimeoutFailover(t *testing.T) {
	h := newCoordHarness(t, testCheckpointConfig(), fixedRestart(), nil)
	runCoordScript(t, h, concat([]step[*coordHarness]{
		{what: "start", do: cStart(), want: lines("persist-state counter=0 attempt=1")},
	}, deploySteps(1, 0, 1, 0), checkpointSteps(1, 1, 50*time.Millisecond), []step[*coordHarness]{
		{what: "trigger checkpoint 2", do: func(h *coordHarness) { fireTo(100 * time.Millisecond)(h); stateDone(nil)(h) }, want: lines(
			"after 1s",
			"after 50ms",
			"persist-state counter=2 attempt=1",
			"event triggered cp=2",
			"trigger a1 a/0 cp=2 at=100ms",
			"trigger a1 b/0 cp=2 at=100ms")},
		{what: "some tasks ack, one never does", do: ack(1, 2, "a/0", "b/0", "op/0"), want: nil},
		{what: "just before the timeout: ticks only", do: fireTo(1099 * time.Millisecond), want: slices.Repeat([]string{"after 50ms"}, 19)},
		{what: "the timeout: checkpoint 2 fails, the job fails over (the tick due at the same time is stale)", do: fireTo(1100 * time.Millisecond), want: lines(
			"event checkpoint-failed cp=2 timed out (1 in a row, 0 tolerated)",
			"event failover attempt 1: checkpoint 2 failed: timed out; restart in 100ms",
			"cancel attempt 1",
			"after 100ms")},
		{what: "acks of the failed checkpoint come late: ignored", do: ack(1, 2, "sink/0"), want: nil},
		{what: "the restart delay passes: attempt 2's number is made durable", do: fireTo(1200 * time.Millisecond), want: lines(
			"persist-state counter=2 attempt=2")},
		{what: "attempt 2 restores checkpoint 1 and fences ids up to 3", do: stateDone(nil), want: lines(
			"event deploy attempt 2 from checkpoint 1",
			"deploy attempt 2: 4 tasks restore=1 fence=3")},
	}))
	for _, d := range h.env.deploys[2] {
		name := h.job.TaskName(d.Task)
		if d.Handle != handle(name, 1) || d.StoragePrefix != "chk" {
			t.Errorf("attempt 2 deployment of %s: got handle %q prefix %q, want handle %q prefix %q", name, d.Handle, d.StoragePrefix, handle(name, 1), "chk")
		}
	}
	if got := h.c.Restarts(); got != 1 {
		t.Errorf("Restarts: got %d, want 1", got)
	}
}

// failoverSteps: a task of attempt fails; after delay (the restart
// strategy's) attempt+1 is deployed from restore with fence.
func failoverSteps(attempt int, reason string, failure func(*coordHarness), at, delay time.Duration, counter, restore, fence int64) []step[*coordHarness] {
	return []step[*coordHarness]{
		{what: fmt.Sprintf("a task of attempt %d fails: cancel and wait %v", attempt, delay), do: failure, want: lines(
			fmt.Sprintf("event failover attempt %d: %s; restart in %v", attempt, reason, delay),
			fmt.Sprintf("cancel attempt %d", attempt),
			fmt.Sprintf("after %v", delay))},
		{what: "the delay passes: the next attempt's number is made durable", do: fireTo(at + delay), want: lines(
			fmt.Sprintf("persist-state counter=%d attempt=%d", counter, attempt+1))},
		{what: fmt.Sprintf("attempt %d restores checkpoint %d", attempt+1, restore), do: stateDone(nil), want: lines(
			fmt.Sprintf("event deploy attempt %d from checkpoint %d", attempt+1, restore),
			fmt.Sprintf("deploy attempt %d: 4 tasks restore=%d fence=%d", attempt+1, restore, fence))},
	}
}

// TestCoordinatorCorruptCheckpointFallsBack: a task that cannot restore
// checkpoint n reports it; n is marked bad and the next attempt restores
// the retained checkpoint before it.
func TestCoordinatorCorruptCheckpointFallsBack(t *testing.T) {
	h := newCoordHarness(t, testCheckpointConfig(), fixedRestart(), nil)
	runCoordScript(t, h, concat([]step[*coordHarness]{
		{what: "start", do: cStart(), want: lines("persist-state counter=0 attempt=1")},
	},
		deploySteps(1, 0, 1, 0),
		checkpointSteps(1, 1, 50*time.Millisecond),
		checkpointSteps(1, 2, 100*time.Millisecond),
		failoverSteps(1, "task op/0 failed: boom", taskFailed(1, "op/0", "boom", 0), 100*time.Millisecond, 100*time.Millisecond, 2, 2, 3),
		failoverSteps(2, "task op/0 failed: restore from checkpoint 2: corrupt snapshot",
			taskFailed(2, "op/0", "restore from checkpoint 2: corrupt snapshot", 2), 200*time.Millisecond, 100*time.Millisecond, 2, 1, 3),
	))
	for _, d := range h.env.deploys[3] {
		name := h.job.TaskName(d.Task)
		if d.Restore != 1 || d.Handle != handle(name, 1) {
			t.Errorf("attempt 3 deployment of %s: got restore %d handle %q, want restore 1 handle %q", name, d.Restore, d.Handle, handle(name, 1))
		}
	}
	if md, err := h.c.LatestCompleted(); err != nil || md.Checkpoint != 1 {
		t.Errorf("LatestCompleted: got %d, %v, want 1, nil", md.Checkpoint, err)
	}
}

// TestCoordinatorRetainsTwo: with Retained 2, completing checkpoint 3
// deletes checkpoint 1, after the metadata of 3 is durable.
func TestCoordinatorRetainsTwo(t *testing.T) {
	h := newCoordHarness(t, testCheckpointConfig(), fixedRestart(), nil)
	runCoordScript(t, h, concat([]step[*coordHarness]{
		{what: "start", do: cStart(), want: lines("persist-state counter=0 attempt=1")},
	},
		deploySteps(1, 0, 1, 0),
		checkpointSteps(1, 1, 50*time.Millisecond),
		checkpointSteps(1, 2, 100*time.Millisecond),
		checkpointSteps(1, 3, 150*time.Millisecond, "delete cp=1"),
		checkpointSteps(1, 4, 200*time.Millisecond, "delete cp=2"),
	))
	var got []int64
	for _, md := range h.c.Completed() {
		got = append(got, md.Checkpoint)
	}
	if want := []int64{3, 4}; !slices.Equal(got, want) {
		t.Errorf("Completed: got %v, want %v", got, want)
	}
}

func TestRestartStrategyNext(t *testing.T) {
	exp := RestartStrategy{Kind: "exponential-delay", Delay: 100 * time.Millisecond, MaxDelay: time.Second, Multiplier: 2}
	fixed := RestartStrategy{Kind: "fixed-delay", Delay: 300 * time.Millisecond}
	ms := time.Millisecond
	for _, c := range []struct {
		rs      RestartStrategy
		attempt int
		want    time.Duration
	}{
		{exp, 1, 100 * ms}, {exp, 2, 200 * ms}, {exp, 3, 400 * ms}, {exp, 4, 800 * ms},
		{exp, 5, time.Second}, {exp, 6, time.Second}, {exp, 100, time.Second},
		{fixed, 1, 300 * ms}, {fixed, 7, 300 * ms},
	} {
		if got := c.rs.next(c.attempt); got != c.want {
			t.Errorf("%s next(%d): got %v, want %v", c.rs.Kind, c.attempt, got, c.want)
		}
	}
}

// TestCoordinatorExponentialRestartDelay: each restart waits longer, up to
// MaxDelay.
func TestCoordinatorExponentialRestartDelay(t *testing.T) {
	rs := RestartStrategy{Kind: "exponential-delay", Delay: 100 * time.Millisecond, MaxDelay: time.Second, Multiplier: 2}
	h := newCoordHarness(t, testCheckpointConfig(), rs, nil)
	steps := concat([]step[*coordHarness]{
		{what: "start", do: cStart(), want: lines("persist-state counter=0 attempt=1")},
	}, deploySteps(1, 0, 1, 0))
	at := time.Duration(0)
	for i, delay := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second} {
		attempt := i + 1
		steps = append(steps, failoverSteps(attempt, "task op/0 failed: boom", taskFailed(attempt, "op/0", "boom", 0), at, delay, 0, 0, 1)...)
		at += delay
	}
	runCoordScript(t, h, steps)
	if got := h.c.Restarts(); got != 6 {
		t.Errorf("Restarts: got %d, want 6", got)
	}
}

// TestCoordinatorIgnoresOldAttempt: once attempt 2 is deployed, nothing
// attempt 1's tasks say has any effect.
func TestCoordinatorIgnoresOldAttempt(t *testing.T) {
	h := newCoordHarness(t, testCheckpointConfig(), fixedRestart(), nil)
	runCoordScript(t, h, concat([]step[*coordHarness]{
		{what: "start", do: cStart(), want: lines("persist-state counter=0 attempt=1")},
	},
		deploySteps(1, 0, 1, 0),
		checkpointSteps(1, 1, 50*time.Millisecond),
		[]step[*coordHarness]{
			{what: "trigger checkpoint 2", do: func(h *coordHarness) { fireTo(100 * time.Millisecond)(h); stateDone(nil)(h) }, want: lines(
				"after 1s",
				"after 50ms",
				"persist-state counter=2 attempt=1",
				"event triggered cp=2",
				"trigger a1 a/0 cp=2 at=100ms",
				"trigger a1 b/0 cp=2 at=100ms")},
			{what: "three tasks ack checkpoint 2", do: ack(1, 2, "a/0", "b/0", "op/0"), want: nil},
		},
		failoverSteps(1, "task sink/0 failed: boom", taskFailed(1, "sink/0", "boom", 0), 100*time.Millisecond, 100*time.Millisecond, 2, 1, 3),
		[]step[*coordHarness]{
			{what: "attempt 1's tasks report running, ack, decline and fail: all ignored", do: func(h *coordHarness) {
				running(1)(h)
				ack(1, 2, "sink/0")(h)
				ack(1, 1, allTasks...)(h)
				h.c.Decline(1, 2, "late")
				taskFailed(1, "op/0", "late", 1)(h)
			}, want: nil},
			{what: "attempt 2's tasks run: the restored checkpoint counts as complete again, checkpointing starts again", do: running(2), want: lines(
				"event running attempt 2",
				"notify a2 a/0 cp=1",
				"notify a2 b/0 cp=1",
				"notify a2 op/0 cp=1",
				"notify a2 sink/0 cp=1",
				"after 50ms")},
			{what: "attempt 2 checkpoints with a fresh id", do: func(h *coordHarness) { fireTo(250 * time.Millisecond)(h); stateDone(nil)(h) }, want: lines(
				"after 1s",
				"after 50ms",
				"persist-state counter=3 attempt=2",
				"event triggered cp=3",
				"trigger a2 a/0 cp=3 at=250ms",
				"trigger a2 b/0 cp=3 at=250ms")},
			{what: "an attempt 1 ack of checkpoint 3 does not count", do: ack(1, 3, allTasks...), want: nil},
			{what: "attempt 2's acks do", do: ack(2, 3, allTasks...), want: lines(
				"put-metadata cp=3 (metadata cp=3, 4 handles)")},
		},
	))
	if md, _ := h.c.LatestCompleted(); md.Checkpoint != 1 {
		t.Errorf("LatestCompleted: got %d, want 1 (checkpoint 2 never completed)", md.Checkpoint)
	}
}

// TestCoordinatorLateMetadataAgreesWithStorage: the metadata write is the
// commit point. When it succeeds after the coordinator has already given
// the checkpoint up (here: a task failed while the write was in flight; a
// timeout does the same), storage holds a completed checkpoint 1. The
// coordinator must then not act as if 1 never committed while leaving its
// metadata in place: either it counts 1 as completed (and restores it), or
// it deletes it before the next attempt runs. Otherwise attempt 2 restores
// 0 and fences (aborts) checkpoint 1's pre-committed transactions, and a
// coordinator restarted later (RecoverCoordinator reads the metadata of
// every checkpoint directory) restores 1, whose transactions no longer exist: the
// records before 1's offsets are lost.
func TestCoordinatorLateMetadataAgreesWithStorage(t *testing.T) {
	h := newCoordHarness(t, testCheckpointConfig(), fixedRestart(), nil)
	runCoordScript(t, h, concat([]step[*coordHarness]{
		{what: "start", do: cStart(), want: lines("persist-state counter=0 attempt=1")},
	},
		deploySteps(1, 0, 1, 0),
		[]step[*coordHarness]{
			{what: "trigger checkpoint 1, every task acks", do: func(h *coordHarness) {
				fireTo(50 * time.Millisecond)(h)
				stateDone(nil)(h)
				ack(1, 1, allTasks...)(h)
			}, want: lines(
				"after 1s",
				"after 50ms",
				"persist-state counter=1 attempt=1",
				"event triggered cp=1",
				"trigger a1 a/0 cp=1 at=50ms",
				"trigger a1 b/0 cp=1 at=50ms",
				"put-metadata cp=1 (metadata cp=1, 4 handles)")},
			{what: "a task fails while the metadata is written", do: taskFailed(1, "op/0", "boom", 0), want: lines(
				"event failover attempt 1: task op/0 failed: boom; restart in 100ms",
				"cancel attempt 1",
				"after 100ms")},
		},
	))
	// From here on the outcome depends on how the engine resolves the
	// race, so the checks are on properties, not on a golden log.
	h.env.take()
	metaDone(nil)(h) // checkpoint 1's metadata is durable: the commit point passed
	fireTo(150 * time.Millisecond)(h)
	for len(h.env.states) > 0 {
		stateDone(nil)(h)
	}
	got := h.env.take()
	if slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "notify ") }) {
		t.Errorf("a task of the cancelled attempt was told checkpoint 1 completed:\n\t%s", strings.Join(got, "\n\t"))
	}
	deps, ok := h.env.deploys[2]
	if !ok {
		t.Fatalf("attempt 2 was not deployed:\n\t%s", strings.Join(got, "\n\t"))
	}
	deleted := slices.Contains(got, "delete cp=1")
	if deps[0].Restore != 1 && !deleted {
		t.Errorf("checkpoint 1's metadata write succeeded after the failover, yet attempt 2 restores checkpoint %d "+
			"(fencing checkpoint 1's transactions up to %d) and checkpoint 1 is not deleted, so storage still says it completed:\n\t%s",
			deps[0].Restore, deps[0].FenceUpTo, strings.Join(got, "\n\t"))
	}
}
