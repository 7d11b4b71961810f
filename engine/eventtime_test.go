package engine

// Scripted tests of event time (eventtime.go), in the style of
// alignment_test.go: each step is one input to a task and the exact outputs
// it must produce.
//
// The operator scripts run op of a two-input job like alignment_test.go's,
//
//	source a ─┐
//	          ├─ op (ConnectKeyed: passes records on, sets event-time timers) ─ sink
//	source b ─┘
//
// so op has input channel 0 (from a) and 1 (from b) and one output g0/ch0.
// The source script runs a source of two partitions with event time.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// timerFn passes every record on and asks for an event-time timer 10ms
// after it; a timer emits a record naming its domain, time and the
// watermark that fired it.
type timerFn struct{}

func (timerFn) ProcessElement(ctx *Context, _ int, r Record) error {
	if err := ctx.Value("last").Set(r.Value); err != nil {
		return err
	}
	ctx.RegisterEventTimeTimer(r.Time + 10)
	ctx.Emit(r)
	return nil
}

func (timerFn) OnTimer(ctx *Context, at int64) error {
	ctx.Emit(Record{Key: ctx.Key(), Value: fmt.Sprintf("timer %s@%d wm=%d", ctx.TimeDomain(), at, ctx.CurrentWatermark())})
	return nil
}

func eventTimeOpHarness(t *testing.T, cfg TaskConfig) *taskHarness {
	t.Helper()
	b := NewJob("etime")
	key := func(r Record) string { return r.Key }
	a := b.Source("a", "in-a", 1, 1).KeyBy(key)
	bb := b.Source("b", "in-b", 1, 1).KeyBy(key)
	ConnectKeyed(a, bb, "op", 1, func() KeyedProcessFunction { return timerFn{} }).
		SinkTo("sink", "out", 1, 1, ExactlyOnce)
	job, err := b.Build()
	if err != nil {
		t.Fatalf("build job: %v", err)
	}
	env := newFakeTaskEnv()
	dep := Deployment{Task: TaskID{Vertex: vertexIndex(t, job, "op")}, StoragePrefix: "chk", FenceUpTo: 1}
	return &taskHarness{task: NewTask(job, dep, env, cfg, nil), env: env}
}

// recAt delivers a record with key k, value v and event time ts on input.
func recAt(input int, k, v string, ts int64) func(*taskHarness) {
	return func(h *taskHarness) {
		h.task.Enqueue(h.task.InputIndex(input, 0), StreamMsg{Kind: MsgRecord, Record: Record{Key: k, Value: v, Time: ts}})
	}
}

// wmark delivers watermark w on input.
func wmark(input int, w int64) func(*taskHarness) {
	return func(h *taskHarness) {
		h.task.Enqueue(h.task.InputIndex(input, 0), StreamMsg{Kind: MsgWatermark, Watermark: w})
	}
}

// idleOn tells the task that input is idle.
func idleOn(input int) func(*taskHarness) {
	return func(h *taskHarness) {
		h.task.Enqueue(h.task.InputIndex(input, 0), StreamMsg{Kind: MsgWatermark, Idle: true})
	}
}

func seq(fs ...func(*taskHarness)) func(*taskHarness) {
	return func(h *taskHarness) {
		for _, f := range fs {
			f(h)
		}
	}
}

// TestWatermarkMinOverInputs: the task's watermark is the minimum over its
// inputs, forwarded only when it advances; event-time timers fire, in
// time order, when it passes them, before the watermark goes downstream;
// an idle input stops holding the watermark back and rejoins the minimum
// when it speaks again.
func TestWatermarkMinOverInputs(t *testing.T) {
	h := eventTimeOpHarness(t, DefaultTaskConfig())
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "a record on input 0 at 100 asks for a timer at 110", do: recAt(0, "a", "a1", 100), want: lines(
			"send g0/ch0 record k=a v=a1")},
		{what: "a record on input 1 at 105 asks for a timer at 115", do: recAt(1, "b", "b1", 105), want: lines(
			"send g0/ch0 record k=b v=b1")},
		{what: "watermark 120 on input 0: input 1 has none yet, so the task has none", do: wmark(0, 120), want: nil},
		{what: "watermark 112 on input 1: the minimum is 112; the timer at 110 fires, then the watermark goes",
			do: wmark(1, 112), want: lines(
				"send g0/ch0 record k=a v=timer event-time@110 wm=112",
				"send g0/ch0 watermark 112")},
		{what: "watermark 130 on input 1: the minimum is input 0's 120; the timer at 115 fires",
			do: wmark(1, 130), want: lines(
				"send g0/ch0 record k=b v=timer event-time@115 wm=120",
				"send g0/ch0 watermark 120")},
		{what: "watermark 140 on input 1: input 0 still holds the task at 120", do: wmark(1, 140), want: nil},
		{what: "a watermark that does not advance its input is ignored", do: wmark(1, 135), want: nil},
		{what: "input 0 goes idle: it no longer holds the watermark back", do: idleOn(0), want: lines(
			"send g0/ch0 watermark 140")},
		{what: "input 0 speaks again at 150: it rejoins the minimum, which stays at 140", do: wmark(0, 150), want: nil},
		{what: "watermark 160 on input 1: the minimum is input 0's 150", do: wmark(1, 160), want: lines(
			"send g0/ch0 watermark 150")},
		{what: "both inputs idle: the task tells downstream it is idle, at the highest input watermark",
			do: seq(idleOn(1), idleOn(0)), want: lines(
				"send g0/ch0 watermark 160",
				"send g0/ch0 watermark idle")},
	})
	if got := h.task.CurrentWatermark(); got != 160 {
		t.Errorf("current watermark: got %d, want 160", got)
	}
}

// TestWatermarkWaitsBehindBarrier: a watermark on a channel blocked by
// alignment is held with the records behind the barrier; the snapshot has
// the watermarks and timers from before the barrier; the held watermark
// goes once the channel is released.
func TestWatermarkWaitsBehindBarrier(t *testing.T) {
	h := eventTimeOpHarness(t, DefaultTaskConfig())
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "a record on each input at 100: timers at 110", do: seq(recAt(0, "a", "a1", 100), recAt(1, "b", "b1", 100)), want: lines(
			"send g0/ch0 record k=a v=a1",
			"send g0/ch0 record k=b v=b1")},
		{what: "watermark 50 on both inputs", do: seq(wmark(0, 50), wmark(1, 50)), want: lines(
			"send g0/ch0 watermark 50")},
		{what: "barrier 1 on input 0 blocks input 0", do: barrier(0, 1), want: lines(
			"event barrier-received cp=1 input 0")},
		{what: "watermark 200 behind barrier 1 on input 0 is held", do: wmark(0, 200), want: nil},
		{what: "watermark 150 on input 1: input 0 is still at 50 as far as the task knows", do: wmark(1, 150), want: nil},
		{what: "barrier 1 on input 1 aligns: snapshot at watermark 50, then the held watermark makes it 150 and fires both timers",
			do: barrier(1, 1), want: lines(
				"event barrier-received cp=1 input 1",
				"event aligned cp=1",
				"send g0/ch0 barrier 1",
				"event snapshot-taken cp=1 bytes=357",
				"persist chk/chk-1/op-0 (357 bytes)",
				"send g0/ch0 record k=b v=timer event-time@110 wm=150",
				"send g0/ch0 record k=a v=timer event-time@110 wm=150",
				"send g0/ch0 watermark 150")},
		{what: "the snapshot: both timers pending, input watermarks 50 and 150, the task's 50", do: showSnapshot(0), want: lines(
			"snapshot op/0 cp=1",
			"  kg 3 value last[b]=b1",
			"  kg 50 value last[a]=a1",
			"  kg 3 event timer [b]@110",
			"  kg 50 event timer [a]@110",
			"  watermark 50 inputs [50 150]")},
	})
}

// windowHarness runs the window operator of
//
//	source in ─ win (tumbling 100ms, sum, allowed lateness 50ms) ─ sink
//	                └ late records (side output) ─ late
//
// at parallelism 1: win has one input and two output gates, g0 to the sink
// and g1 to the late-record sink. restore, if set, is the snapshot the task
// restores from as checkpoint 1.
func windowHarness(t *testing.T, cfg TaskConfig, restore bool) *taskHarness {
	t.Helper()
	return windowHarnessOf(t, cfg, restore, Tumbling(100*time.Millisecond), Sum(amount), AllowedLateness(50*time.Millisecond))
}

// amount reads the number after ':' in a record's value.
func amount(r Record) int64 {
	_, v, _ := strings.Cut(r.Value, ":")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func windowHarnessOf(t *testing.T, cfg TaskConfig, restore bool, a WindowAssigner, agg Aggregation, opts ...WindowOption) *taskHarness {
	t.Helper()
	b := NewJob("win")
	w := b.Source("in", "in", 1, 1).WithWatermarks(BoundedOutOfOrderness(0)).
		KeyBy(func(r Record) string { return r.Key }).
		Window("win", 1, a, agg, opts...)
	w.SinkTo("sink", "out", 1, 1, ExactlyOnce)
	w.SideOutput(LateDataTag).SinkTo("late", "late", 1, 1, ExactlyOnce)
	job, err := b.Build()
	if err != nil {
		t.Fatalf("build job: %v", err)
	}
	env := newFakeTaskEnv()
	dep := Deployment{Task: TaskID{Vertex: vertexIndex(t, job, "win")}, StoragePrefix: "chk", FenceUpTo: 1}
	if restore {
		dep.Restore, dep.Handle = 1, "chk/chk-1/win-0"
	}
	return &taskHarness{task: NewTask(job, dep, env, cfg, nil), env: env}
}

// windowCheckpoint is the script that fills windows, fires one, re-fires it
// with a record within the allowed lateness, sends a late record to the
// side output, and takes checkpoint 1 with window [100,200) pending. It
// returns the snapshot.
func windowCheckpoint(t *testing.T) []byte {
	t.Helper()
	h := windowHarness(t, DefaultTaskConfig(), false)
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running")},
		{what: "two records for window [0,100) and one for [100,200): nothing fires yet",
			do: seq(recAt(0, "k", "x:5", 10), recAt(0, "k", "x:7", 60), recAt(0, "k", "x:1", 120)), want: nil},
		{what: "watermark 99 reaches the end of [0,100): it fires, then the watermark goes on both gates",
			do: wmark(0, 99), want: lines(
				"send g0/ch0 record k=k v=k@[0,100)#1 sum=12 count=2",
				"send g0/ch0 watermark 99",
				"send g1/ch0 watermark 99")},
		{what: "a record for [0,100) within the allowed lateness: the window fires again, updated",
			do: recAt(0, "k", "x:3", 30), want: lines(
				"send g0/ch0 record k=k v=k@[0,100)#2 sum=15 count=3")},
		{what: "watermark 149: [0,100)'s lateness is over, its state goes", do: wmark(0, 149), want: lines(
			"send g0/ch0 watermark 149",
			"send g1/ch0 watermark 149")},
		{what: "a record for [0,100) now is late: it goes to the side output", do: recAt(0, "k", "x:4", 40), want: lines(
			"send g1/ch0 record k=k v=x:4")},
		{what: "barrier 1: snapshot with [100,200) pending", do: barrier(0, 1), want: lines(
			"event barrier-received cp=1 input 0",
			"event aligned cp=1",
			"send g0/ch0 barrier 1",
			"send g1/ch0 barrier 1",
			"event snapshot-taken cp=1 bytes=345",
			"persist chk/chk-1/win-0 (345 bytes)")},
		{what: "the snapshot holds window [100,200), the late count, both of its timers and the watermark",
			do: showSnapshot(0), want: lines(
				"snapshot win/0 cp=1",
				"  kg 81 value late[k]=1",
				"  kg 81 value window@100[k]=1,1,0",
				"  kg 81 event timer [k]@199",
				"  kg 81 event timer [k]@249",
				"  watermark 149 inputs [149]")},
	})
	if got := h.task.LateRecords(); got != 1 {
		t.Errorf("late records: got %d, want 1", got)
	}
	return h.env.persisted[0].data
}

// TestWindowFiresAndRestores: tumbling windows with allowed lateness (fire,
// re-fire, late record to the side output), then a restore from the
// checkpoint: the pending window fires at the restored watermark's next
// advance with the restored contents.
func TestWindowFiresAndRestores(t *testing.T) {
	snap := windowCheckpoint(t)
	h := windowHarness(t, DefaultTaskConfig(), true)
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start: load the snapshot", do: start(), want: lines("load chk/chk-1/win-0")},
		{what: "restored", do: func(h *taskHarness) { h.env.completeLoad(0, snap, nil) }, want: lines("running")},
		{what: "the restored watermark is 149: a watermark at or below it changes nothing", do: wmark(0, 149), want: nil},
		{what: "a record for [0,100) is still late after the restore", do: recAt(0, "k", "x:9", 50), want: lines(
			"send g1/ch0 record k=k v=x:9")},
		{what: "watermark 199 fires the restored window [100,200)", do: wmark(0, 199), want: lines(
			"send g0/ch0 record k=k v=k@[100,200)#1 sum=1 count=1",
			"send g0/ch0 watermark 199",
			"send g1/ch0 watermark 199")},
	})
}

// TestMutantWatermarkNotRestored: the same restore under the mutant loses
// the watermark and the timers (compare TestWindowFiresAndRestores): a
// late record is taken for on time and fires a window that had fired
// already, and window [100,200) never fires, though its contents are in
// state.
func TestMutantWatermarkNotRestored(t *testing.T) {
	snap := windowCheckpoint(t)
	cfg := DefaultTaskConfig()
	cfg.Mutants = Mutants{MutantWatermarkNotRestored}
	h := windowHarness(t, cfg, true)
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start: load the snapshot", do: start(), want: lines("load chk/chk-1/win-0")},
		{what: "restored", do: func(h *taskHarness) { h.env.completeLoad(0, snap, nil) }, want: lines("running")},
		{what: "MUTANT: with no watermark, a record for [0,100) is taken for on time and opens that window again",
			do: recAt(0, "k", "x:9", 50), want: nil},
		{what: "MUTANT: watermark 149 is news again, and [0,100) fires a second first firing, with the wrong sum", do: wmark(0, 149), want: lines(
			"send g0/ch0 record k=k v=k@[0,100)#1 sum=9 count=1",
			"send g0/ch0 watermark 149",
			"send g1/ch0 watermark 149")},
		{what: "watermark 199: MUTANT: window [100,200) has no timer and does not fire", do: wmark(0, 199), want: lines(
			"send g0/ch0 watermark 199",
			"send g1/ch0 watermark 199")},
		{what: "barrier 2: the window's contents are still in state, with no timer left to fire them", do: seq(barrier(0, 2), showSnapshot(0)), want: lines(
			"event barrier-received cp=2 input 0",
			"event aligned cp=2",
			"send g0/ch0 barrier 2",
			"send g1/ch0 barrier 2",
			"event snapshot-taken cp=2 bytes=270",
			"persist chk/chk-2/win-0 (270 bytes)",
			"snapshot win/0 cp=2",
			"  kg 81 value late[k]=1",
			"  kg 81 value window@100[k]=1,1,0",
			"  watermark 199 inputs [199]")},
	})
}

// fetchPart is one partition of a scripted fetch response.
type fetchPart struct {
	p     int32
	first int64
	recs  []kproto.Record
}

// fetchParts is a read_committed fetch answer for topic: each part's
// records as one non-transactional batch at its offset.
func fetchParts(topic string, parts ...fetchPart) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic = topic
	for _, fp := range parts {
		one := fetchResponse(topic, fp.first, fp.recs...)
		rp := one.Topics[0].Partitions[0]
		rp.Partition = fp.p
		rt.Partitions = append(rt.Partitions, rp)
	}
	resp.Topics = append(resp.Topics, rt)
	return resp
}

// kv is a Kafka record whose value carries its event time: "name@time".
func kv(k, name string, ts int64) kproto.Record {
	return kproto.Record{Key: []byte(k), Value: []byte(fmt.Sprintf("%s@%d", name, ts))}
}

func valueTime(r Record) int64 {
	_, ts, _ := strings.Cut(r.Value, "@")
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return r.Time
	}
	return n
}

// TestSourceWatermarksAndIdleness: a source of two partitions with bound
// 10ms and idle timeout 20ms. Its watermark is the minimum over partitions
// of (highest time - 11), emitted after each batch when it advances; a
// partition that returned nothing for 20ms of fetches stops holding it
// back; when both are idle the source says so; a partition that returns
// data again rejoins.
func TestSourceWatermarksAndIdleness(t *testing.T) {
	b := NewJob("src")
	b.Source("in", "in", 2, 1).
		WithWatermarks(BoundedOutOfOrderness(10*time.Millisecond).WithIdleness(20*time.Millisecond).WithTimestampAssigner(valueTime)).
		SinkTo("sink", "out", 1, 1, ExactlyOnce)
	job, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	env := newFakeTaskEnv()
	dep := Deployment{Task: TaskID{Vertex: vertexIndex(t, job, "in")}, StoragePrefix: "chk", FenceUpTo: 1}
	h := &taskHarness{task: NewTask(job, dep, env, DefaultTaskConfig(), nil), env: env}
	at := func(d time.Duration, f func(*taskHarness)) func(*taskHarness) {
		return func(h *taskHarness) { h.env.now = int64(d); f(h) }
	}
	fetched := func(parts ...fetchPart) func(*taskHarness) {
		return kafkaDone(fetchParts("in", parts...), nil)
	}
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start: fetch both partitions", do: start(), want: lines(
			"running",
			"kafka Fetch isolation=1 in/0@0,in/1@0")},
		{what: "partition 0 gives a record at 100, partition 1 one at 90: watermark 90-11",
			do: fetched(fetchPart{0, 0, []kproto.Record{kv("a", "a1", 100)}}, fetchPart{1, 0, []kproto.Record{kv("b", "b1", 90)}}), want: lines(
				"send g0/ch0 record k=a v=a1@100",
				"send g0/ch0 record k=b v=b1@90",
				"send g0/ch0 watermark 79",
				"kafka Fetch isolation=1 in/1@1,in/0@1")},
		{what: "at 5ms partition 0 moves to 130, partition 1 gives nothing: it still holds the watermark at 79",
			do: at(5*time.Millisecond, fetched(fetchPart{0, 1, []kproto.Record{kv("a", "a2", 130)}}, fetchPart{1, 1, nil})), want: lines(
				"send g0/ch0 record k=a v=a2@130",
				"kafka Fetch isolation=1 in/0@2,in/1@1")},
		{what: "at 24ms, 19ms of nothing from partition 1: not idle yet",
			do: at(24*time.Millisecond, fetched(fetchPart{0, 2, []kproto.Record{kv("a", "a3", 140)}}, fetchPart{1, 1, nil})), want: lines(
				"send g0/ch0 record k=a v=a3@140",
				"kafka Fetch isolation=1 in/1@1,in/0@3")},
		{what: "at 25ms partition 1 is idle: the watermark follows partition 0 alone, 150-11",
			do: at(25*time.Millisecond, fetched(fetchPart{0, 3, []kproto.Record{kv("a", "a4", 150)}}, fetchPart{1, 1, nil})), want: lines(
				"send g0/ch0 record k=a v=a4@150",
				"send g0/ch0 watermark 139",
				"kafka Fetch isolation=1 in/0@4,in/1@1")},
		{what: "at 30ms neither gives anything: sleep a poll interval",
			do: at(30*time.Millisecond, fetched(fetchPart{0, 4, nil}, fetchPart{1, 1, nil})), want: lines(
				"after 5ms")},
		{what: "the poll interval passes: fetch again", do: fireTasks(35 * time.Millisecond), want: lines(
			"kafka Fetch isolation=1 in/1@1,in/0@4")},
		{what: "at 50ms partition 0 has given nothing for 20ms: both idle, the source says so",
			do: at(50*time.Millisecond, fetched(fetchPart{0, 4, nil}, fetchPart{1, 1, nil})), want: lines(
				"send g0/ch0 watermark idle",
				"after 5ms")},
		{what: "the poll interval passes: fetch again", do: fireTasks(55 * time.Millisecond), want: lines(
			"kafka Fetch isolation=1 in/0@4,in/1@1")},
		{what: "partition 1 gives a record at 200: it is active again, and alone it makes the watermark 189",
			do: at(55*time.Millisecond, fetched(fetchPart{0, 4, nil}, fetchPart{1, 1, []kproto.Record{kv("b", "b2", 200)}})), want: lines(
				"send g0/ch0 record k=b v=b2@200",
				"send g0/ch0 watermark 189",
				"kafka Fetch isolation=1 in/1@2,in/0@4")},
		{what: "trigger 1: the snapshot holds the positions, each partition's highest time and the watermark",
			do: seq(func(h *taskHarness) { h.task.Trigger(1, 0) }, showSnapshot(0)), want: lines(
				"event barrier-injected cp=1",
				"send g0/ch0 barrier 1",
				"event snapshot-taken cp=1 bytes=309",
				"persist chk/chk-1/in-0 (309 bytes)",
				"snapshot in/0 cp=1",
				"  watermark 189 inputs []",
				"  position in/0@4",
				"  position in/1@2",
				"  max time in/0 150",
				"  max time in/1 200")},
	})
}

// TestWindowAssigner: the windows holding a time, by ascending start.
func TestWindowAssigner(t *testing.T) {
	for _, tc := range []struct {
		a    WindowAssigner
		t    int64
		want []Window
	}{
		{Tumbling(100 * time.Millisecond), 0, []Window{{0, 100}}},
		{Tumbling(100 * time.Millisecond), 99, []Window{{0, 100}}},
		{Tumbling(100 * time.Millisecond), 100, []Window{{100, 200}}},
		{Tumbling(100 * time.Millisecond), -1, []Window{{-100, 0}}},
		{Sliding(100*time.Millisecond, 50*time.Millisecond), 120, []Window{{50, 150}, {100, 200}}},
		{Sliding(100*time.Millisecond, 50*time.Millisecond), 150, []Window{{100, 200}, {150, 250}}},
		{Sliding(100*time.Millisecond, 30*time.Millisecond), 100, []Window{{30, 130}, {60, 160}, {90, 190}}},
		{Sliding(50*time.Millisecond, 100*time.Millisecond), 70, nil}, // in the gap between windows
		{Sliding(50*time.Millisecond, 100*time.Millisecond), 120, []Window{{100, 150}}},
	} {
		got := tc.a.windows(tc.t)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%v.windows(%d): got %v, want %v", tc.a, tc.t, got, tc.want)
		}
	}
}

// TestKeyBySetsKey: the KeyBy key selector sets the key a record is
// partitioned and processed by, at the sender.
func TestKeyBySetsKey(t *testing.T) {
	b := NewJob("keyby")
	b.Source("in", "in", 1, 1).
		KeyBy(func(r Record) string { return "key-of-" + r.Value }).
		Process("op", 1, func() KeyedProcessFunction { return ProcessFunc(passThrough) }).
		SinkTo("sink", "out", 1, 1, ExactlyOnce)
	job, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	env := newFakeTaskEnv()
	dep := Deployment{Task: TaskID{Vertex: vertexIndex(t, job, "in")}, StoragePrefix: "chk", FenceUpTo: 1}
	h := &taskHarness{task: NewTask(job, dep, env, DefaultTaskConfig(), nil), env: env}
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start", do: start(), want: lines("running", "kafka Fetch isolation=1 in/0@0")},
		{what: "the record goes out keyed by the selector", do: kafkaDone(fetchResponse("in", 0, kproto.Record{Key: []byte("raw"), Value: []byte("v1")}), nil), want: lines(
			"send g0/ch0 record k=key-of-v1 v=v1",
			"kafka Fetch isolation=1 in/0@1")},
	})
}

// TestWindowAggregations: count, sum and max over sliding windows, without
// allowed lateness (a window's state goes when it fires).
func TestWindowAggregations(t *testing.T) {
	feed := seq(recAt(0, "k", "x:5", 10), recAt(0, "k", "x:9", 60), recAt(0, "k", "x:2", 70))
	for _, tc := range []struct {
		agg  Aggregation
		want []string
	}{
		{Count(), lines(
			"send g0/ch0 record k=k v=k@[-50,50)#1 count=1",
			"send g0/ch0 record k=k v=k@[0,100)#1 count=3")},
		{Sum(amount), lines(
			"send g0/ch0 record k=k v=k@[-50,50)#1 sum=5 count=1",
			"send g0/ch0 record k=k v=k@[0,100)#1 sum=16 count=3")},
		{Max(amount), lines(
			"send g0/ch0 record k=k v=k@[-50,50)#1 max=5 count=1",
			"send g0/ch0 record k=k v=k@[0,100)#1 max=9 count=3")},
	} {
		t.Run(tc.agg.Name(), func(t *testing.T) {
			h := windowHarnessOf(t, DefaultTaskConfig(), false, Sliding(100*time.Millisecond, 50*time.Millisecond), tc.agg)
			runTaskScript(t, h, []step[*taskHarness]{
				{what: "start", do: start(), want: lines("running")},
				{what: "three records in [-50,50), [0,100) and [50,150)", do: feed, want: nil},
				{what: "watermark 99 fires [-50,50) and [0,100), in end order", do: wmark(0, 99), want: append(tc.want,
					"send g0/ch0 watermark 99",
					"send g1/ch0 watermark 99")},
				{what: "the fired windows are gone: only [50,150) is left", do: seq(barrier(0, 1), func(h *taskHarness) {
					h.env.take()
					h.env.logSnapshot(0)
				}), want: lines(
					"snapshot win/0 cp=1",
					"  kg 81 value window@50[k]="+map[string]string{"count": "2,2,0", "sum": "2,11,0", "max": "2,9,0"}[tc.agg.Name()],
					"  kg 81 event timer [k]@149",
					"  watermark 99 inputs [99]")},
			})
		})
	}
}
