package engine

import (
	"testing"

	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/internal/kproto"
)

// TestSourceIgnoresStaleTriggers: a trigger is a control message, which may
// come twice or late. A source that took checkpoint n already must not take
// it again: its second snapshot would overwrite the first under the same
// handle with later positions than the barrier it sent, and a restore from
// n would skip the records in between.
func TestSourceIgnoresStaleTriggers(t *testing.T) {
	job := twoInputJob(t)
	env := newFakeTaskEnv()
	dep := Deployment{Task: TaskID{Vertex: vertexIndex(t, job, "a")}, StoragePrefix: "chk", FenceUpTo: 1}
	h := &taskHarness{task: NewTask(job, dep, env.forJob(job), DefaultTaskConfig(), nil), env: env}
	trigger := func(n int64) func(*taskHarness) {
		return func(h *taskHarness) { deliverControl(h.task, protocol.MsgTrigger, n, 0) }
	}
	rec := func(v string) kproto.Record { return kproto.Record{Key: []byte("a"), Value: []byte(v)} }
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start: fetch from offset 0", do: start(), want: lines(
			"running",
			"kafka Fetch isolation=1 in-a/0@0")},
		{what: "two records", do: kafkaDone(fetchResponse("in-a", 0, rec("a1"), rec("a2")), nil), want: lines(
			"send g0/ch0 record k=a v=a1",
			"send g0/ch0 record k=a v=a2",
			"kafka Fetch isolation=1 in-a/0@2")},
		{what: "trigger 2: position 2 and the barrier", do: trigger(2), want: lines(
			"event barrier-injected cp=2",
			"send g0/ch0 barrier 2",
			"event snapshot-taken cp=2 bytes=192",
			"persist chk/chk-2/a-0 (192 bytes)")},
		{what: "two more records", do: kafkaDone(fetchResponse("in-a", 2, rec("a3"), rec("a4")), nil), want: lines(
			"send g0/ch0 record k=a v=a3",
			"send g0/ch0 record k=a v=a4",
			"kafka Fetch isolation=1 in-a/0@4")},
		{what: "trigger 2 again (a duplicate): ignored", do: trigger(2), want: nil},
		{what: "trigger 1 (late): ignored", do: trigger(1), want: nil},
		{what: "trigger 3: taken", do: trigger(3), want: lines(
			"event barrier-injected cp=3",
			"send g0/ch0 barrier 3",
			"event snapshot-taken cp=3 bytes=192",
			"persist chk/chk-3/a-0 (192 bytes)")},
	})
}
