package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// procTimerFn registers a processing-time timer 10ms after each record and
// emits one record when it fires.
type procTimerFn struct{}

func (procTimerFn) ProcessElement(ctx *Context, _ int, r Record) {
	ctx.RegisterTimer(ctx.Now() + int64(10*time.Millisecond))
}

func (procTimerFn) OnTimer(ctx *Context, at int64) {
	ctx.Emit(Record{Key: ctx.Key(), Value: fmt.Sprintf("timer %s@%v", ctx.Key(), time.Duration(at))})
}

func timerJob(t *testing.T) *Job {
	t.Helper()
	b := NewJob("timers")
	b.Source("src", "in", 1, 1).
		KeyBy(func(r Record) string { return r.Key }).
		Process("p", 1, func() KeyedProcessFunction { return procTimerFn{} }).
		SinkTo("sink", "out", 1, 1, ExactlyOnce)
	j, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func sent(log []string, sub string) bool {
	for _, l := range log {
		if strings.HasPrefix(l, "send") && strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// TestProcessingTimeTimers: a keyed function's processing-time timer fires
// at its time, is part of the snapshot taken before it fires, and fires
// again after a restore from that snapshot.
func TestProcessingTimeTimers(t *testing.T) {
	job := timerJob(t)
	op := TaskID{Vertex: 1, Subtask: 0}
	env := newFakeTaskEnv()
	task := NewTask(job, Deployment{Task: op, StoragePrefix: "ckpt"}, env, DefaultTaskConfig(), nil)
	task.Start()
	task.Enqueue(task.InputIndex(0, 0), StreamMsg{Kind: MsgRecord, Record: Record{Key: "a", Value: "1"}})
	task.Enqueue(task.InputIndex(0, 0), StreamMsg{Kind: MsgBarrier, Checkpoint: 1})
	if len(env.persisted) != 1 {
		t.Fatalf("got %d snapshots written, want 1", len(env.persisted))
	}
	snap, err := DecodeSnapshot(env.persisted[0].data)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Timers) != 1 || snap.Timers[0].Key != "a" || snap.Timers[0].At != int64(10*time.Millisecond) {
		t.Fatalf("snapshot timers: got %+v, want one timer for a at 10ms", snap.Timers)
	}
	env.take()
	env.fireTimers(5 * time.Millisecond)
	if sent(env.take(), "timer a") {
		t.Fatal("the timer fired before its time")
	}
	env.fireTimers(10 * time.Millisecond)
	if !sent(env.take(), "timer a@10ms") {
		t.Fatal("the timer did not fire at 10ms")
	}

	// Restore from checkpoint 1: the timer, pending when it was taken,
	// fires again.
	env2 := newFakeTaskEnv()
	restored := NewTask(job, Deployment{Task: op, Restore: 1, Handle: env.persisted[0].name, StoragePrefix: "ckpt"}, env2, DefaultTaskConfig(), nil)
	restored.Start()
	env2.completeLoad(0, env.persisted[0].data, nil)
	env2.fireTimers(10 * time.Millisecond)
	if !sent(env2.take(), "timer a@10ms") {
		t.Fatal("the restored timer did not fire")
	}
}
