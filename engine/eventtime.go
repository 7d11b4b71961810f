package engine

import (
	"fmt"
	"math"
	"time"
)

// Event time, as in Flink.
//
// A source with a WatermarkStrategy sets every record's Time (milliseconds)
// with the strategy's timestamp assigner and tracks, per partition it reads,
// the highest timestamp seen. Its watermark is the minimum over its
// partitions of (highest timestamp - OutOfOrderness - 1): "no record at or
// below this time will follow". A partition that returned nothing for
// IdleTimeout no longer holds the watermark back (Flink's withIdleness);
// when every partition of a subtask is idle (or it has none), the subtask
// tells downstream it is idle.
//
// Watermarks travel as KindWatermark after the records they follow, only
// when they advance, and need no credit. A task's watermark is the minimum
// over its active input channels (valve, Flink's StatusWatermarkValve); a
// blocked channel's watermark waits in the channel's queue with its
// records, so alignment orders watermarks exactly as it orders records.
// When a task's watermark advances it fires its event-time timers up to it,
// in timestamp order, and then forwards the watermark.
//
// A checkpoint stores the task's channel watermarks, its current (emitted)
// watermark and its event-time timers; a source also stores each
// partition's highest timestamp. A restore resumes with all of them, so a
// window pending at the checkpoint fires after the restore exactly as it
// would have without the failure.

// NoWatermark is the watermark before any: no event time has passed.
const NoWatermark int64 = math.MinInt64

// WatermarkStrategy says how a source assigns event time and generates
// watermarks. Build one with BoundedOutOfOrderness.
type WatermarkStrategy struct {
	// OutOfOrderness is how far behind the highest timestamp seen in a
	// partition a later record of that partition may be. A record further
	// behind may be late.
	OutOfOrderness time.Duration `json:"out_of_orderness"`
	// IdleTimeout: a partition that returned no record in the source's
	// fetches for this long no longer holds the watermark back, until it
	// returns data again. 0: partitions never go idle.
	//
	// The time is measured across the source's own fetches (from the first
	// of a run of fetches that returned nothing for the partition), not
	// from its last record: a source that could not fetch at all, because
	// it was backpressured or its fetches failed, does not age its
	// partitions. Flink gets the same effect from a clock that pauses under
	// backpressure.
	IdleTimeout time.Duration `json:"idle_timeout"`
	// Timestamp extracts a record's event time in milliseconds; nil keeps
	// Record.Time, the Kafka record timestamp.
	Timestamp func(Record) int64 `json:"-"`
}

// BoundedOutOfOrderness is Flink's WatermarkStrategy.forBoundedOutOfOrderness:
// watermark = highest timestamp seen - bound - 1.
func BoundedOutOfOrderness(bound time.Duration) WatermarkStrategy {
	return WatermarkStrategy{OutOfOrderness: bound}
}

// WithIdleness returns ws with the idle timeout d.
func (ws WatermarkStrategy) WithIdleness(d time.Duration) WatermarkStrategy {
	ws.IdleTimeout = d
	return ws
}

// WithTimestampAssigner returns ws with fn as its timestamp assigner.
func (ws WatermarkStrategy) WithTimestampAssigner(fn func(Record) int64) WatermarkStrategy {
	ws.Timestamp = fn
	return ws
}

// Validate reports the first invalid field.
func (ws WatermarkStrategy) Validate() error {
	switch {
	case ws.OutOfOrderness < 0:
		return fmt.Errorf("watermarks: out_of_orderness negative (%v)", ws.OutOfOrderness)
	case ws.IdleTimeout < 0:
		return fmt.Errorf("watermarks: idle_timeout negative (%v)", ws.IdleTimeout)
	}
	return nil
}

func (ws *WatermarkStrategy) timestamp(r Record) int64 {
	if ws.Timestamp == nil {
		return r.Time
	}
	return ws.Timestamp(r)
}

// TimeDomain says which clock a timer belongs to.
type TimeDomain int

// The time domains.
const (
	// ProcessingTime timers run on the task's clock (nanoseconds).
	ProcessingTime TimeDomain = iota
	// EventTime timers fire when the watermark passes them (milliseconds).
	EventTime
)

func (d TimeDomain) String() string {
	if d == EventTime {
		return "event-time"
	}
	return "processing-time"
}

// WatermarkState is a task's event-time position in its snapshot.
type WatermarkState struct {
	// Inputs is the watermark of each input channel, by channel index.
	Inputs []int64 `json:"inputs,omitempty"`
	// Current is the watermark the task has emitted (its own).
	Current int64 `json:"current"`
}

// PartitionTime is, in a source's snapshot, the highest timestamp the
// source has read from one partition.
type PartitionTime struct {
	Partition int32 `json:"partition"`
	Max       int64 `json:"max"`
}

// partitionClock is a source's event-time view of one partition.
type partitionClock struct {
	max  int64 // highest timestamp read (NoWatermark: none yet)
	idle bool
	// emptySince is when the current run of fetches that returned nothing
	// for the partition began; -1 when the last fetch returned data.
	emptySince int64
}

func newPartitionClock() partitionClock { return partitionClock{max: NoWatermark, emptySince: -1} }

// fetched updates the clock after a successful fetch that returned n
// records for the partition.
func (c *partitionClock) fetched(n int, now int64, idleTimeout time.Duration) {
	if n > 0 {
		c.idle, c.emptySince = false, -1
		return
	}
	if c.emptySince < 0 {
		c.emptySince = now
	}
	if idleTimeout > 0 && now-c.emptySince >= int64(idleTimeout) {
		c.idle = true
	}
}

// sourceWatermark combines a source's partitions: the minimum over the
// active ones of max - bound - 1. ok is false while an active partition has
// no timestamp yet; allIdle when no partition is active.
func sourceWatermark(clocks []partitionClock, bound time.Duration) (wm int64, ok, allIdle bool) {
	wm, ok, allIdle = math.MaxInt64, true, true
	for _, c := range clocks {
		if c.idle {
			continue
		}
		allIdle = false
		if c.max == NoWatermark {
			ok = false
			continue
		}
		wm = min(wm, c.max-bound.Milliseconds()-1)
	}
	if allIdle {
		ok = false
	}
	return wm, ok, allIdle
}

// channelWatermark is one input channel as the valve sees it.
type channelWatermark struct {
	wm   int64
	idle bool
	// aligned: the channel takes part in the minimum. A channel that comes
	// back from idle below the task's watermark does not hold it back
	// until it catches up.
	aligned bool
}

// valve combines a task's input channels into its watermark, as Flink's
// StatusWatermarkValve does: the minimum over the aligned active channels;
// when every channel is idle, the maximum over all of them.
type valve struct {
	ch  []channelWatermark
	out int64
}

func newValve(n int) *valve {
	v := &valve{ch: make([]channelWatermark, n), out: NoWatermark}
	for i := range v.ch {
		v.ch[i] = channelWatermark{wm: NoWatermark, aligned: true}
	}
	return v
}

// seen reports whether any watermark has reached the valve: only then does
// it belong in a snapshot (jobs without event time keep their snapshots).
func (v *valve) seen() bool {
	if v.out != NoWatermark {
		return true
	}
	for _, c := range v.ch {
		if c.wm != NoWatermark {
			return true
		}
	}
	return false
}

// activate marks an idle channel active again (a record or a watermark
// came on it).
func (v *valve) activate(i int) {
	c := &v.ch[i]
	if c.idle {
		c.idle = false
		c.aligned = c.wm >= v.out
	}
}

// watermark takes watermark w on channel i and reports whether the task's
// watermark advanced.
func (v *valve) watermark(i int, w int64) bool {
	v.activate(i)
	c := &v.ch[i]
	if w > c.wm {
		c.wm = w
		if w >= v.out {
			c.aligned = true
		}
		return v.advanceMin()
	}
	return false
}

// setIdle marks channel i idle; it reports whether the task's watermark
// advanced and whether every channel is now idle.
func (v *valve) setIdle(i int) (advanced, allIdle bool) {
	c := &v.ch[i]
	if c.idle {
		return false, v.allIdle()
	}
	c.idle, c.aligned = true, false
	if v.allIdle() {
		return v.advanceMax(), true
	}
	return v.advanceMin(), false
}

func (v *valve) allIdle() bool {
	for _, c := range v.ch {
		if !c.idle {
			return false
		}
	}
	return true
}

func (v *valve) advanceMin() bool {
	m, any := int64(math.MaxInt64), false
	for _, c := range v.ch {
		if c.aligned && !c.idle {
			m, any = min(m, c.wm), true
		}
	}
	if any && m > v.out {
		v.out = m
		return true
	}
	return false
}

func (v *valve) advanceMax() bool {
	m := NoWatermark
	for _, c := range v.ch {
		m = max(m, c.wm)
	}
	if m > v.out {
		v.out = m
		return true
	}
	return false
}

func (v *valve) snapshot() *WatermarkState {
	s := &WatermarkState{Current: v.out, Inputs: make([]int64, len(v.ch))}
	for i, c := range v.ch {
		s.Inputs[i] = c.wm
	}
	return s
}

// restore resumes from s: channels active, aligned where they are not
// behind the restored watermark. A snapshot taken at another parallelism
// (another channel count) restores every channel to the lowest stored one,
// which never lets the watermark run ahead of an input.
func (v *valve) restore(s *WatermarkState) {
	v.out = s.Current
	low := s.Current
	for _, w := range s.Inputs {
		low = min(low, w)
	}
	for i := range v.ch {
		w := low
		if len(s.Inputs) == len(v.ch) {
			w = s.Inputs[i]
		}
		v.ch[i] = channelWatermark{wm: w, aligned: w >= v.out}
	}
}

// Event-time timers at a task.

func timerLess(a, b timer) bool {
	if a.At != b.At {
		return a.At < b.At
	}
	if a.KG != b.KG {
		return a.KG < b.KG
	}
	return a.Key < b.Key
}

func (t *Task) registerEventTimer(kg int, key string, at int64) {
	t.etimers.add(timer{KG: kg, Key: key, At: at})
}

func (t *Task) deleteEventTimer(kg int, key string, at int64) {
	t.etimers.remove(timer{KG: kg, Key: key, At: at})
}

// eventTimersFiredMax bounds the timers one watermark fires: a timer that
// keeps registering another at or below the watermark is a bug in the
// operator, not a reason to spin forever.
const eventTimersFiredMax = 1 << 24

// fireEventTimers fires, in (time, key group, key) order, every event-time
// timer at or below w, including those the firing ones register.
func (t *Task) fireEventTimers(w int64) {
	for range eventTimersFiredMax {
		next, ok := t.etimers.peek()
		if !ok || next.At > w || t.failed {
			return
		}
		tm := t.etimers.pop()
		t.ctx.key, t.ctx.kg, t.ctx.domain = tm.Key, tm.KG, EventTime
		err := t.op.OnTimer(&t.ctx, tm.At)
		t.ctx.domain = ProcessingTime
		if err != nil {
			t.fail(Failure{Reason: fmt.Sprintf("event-time timer at %d: %v", tm.At, err)})
			return
		}
	}
	panic(fmt.Sprintf("task %s: more than %d event-time timers fired at watermark %d", t.name, eventTimersFiredMax, w))
}

// onWatermark handles a watermark message from input channel in.
func (t *Task) onWatermark(in int, m StreamMsg) {
	if t.valve == nil {
		return // a sink: event time ends here
	}
	if m.Idle {
		advanced, allIdle := t.valve.setIdle(in)
		if advanced {
			t.watermarkAdvanced()
		}
		if allIdle && !t.outIdle {
			t.broadcastWatermark(StreamMsg{Kind: KindWatermark, Idle: true})
			t.outIdle = true
		}
		return
	}
	if t.valve.watermark(in, m.Watermark) {
		t.watermarkAdvanced()
	}
}

// watermarkAdvanced fires the timers the new watermark passed, then
// forwards it: output of a timer is ahead of the watermark that fired it.
func (t *Task) watermarkAdvanced() {
	w := t.valve.out
	t.fireEventTimers(w)
	t.broadcastWatermark(StreamMsg{Kind: KindWatermark, Watermark: w})
}

// broadcastWatermark sends m on every connected output channel, side
// outputs included. Watermarks take no credit.
func (t *Task) broadcastWatermark(m StreamMsg) {
	if !m.Idle {
		t.outIdle = false
	}
	for gi, g := range t.gates {
		for ch := range g.credits {
			if g.connected(ch) {
				t.sendStream(gi, ch, m)
			}
		}
	}
}

// CurrentWatermark is the task's watermark: what it has emitted
// (NoWatermark before any, and for sinks).
func (t *Task) CurrentWatermark() int64 {
	switch {
	case t.valve != nil:
		return t.valve.out
	case t.src != nil:
		return t.src.emitted
	}
	return NoWatermark
}

// LateRecords counts the records this task's window operator found later
// than the allowed lateness (dropped, or sent to the LateDataTag side
// output) since it started: a counter for the driver. The same count, per
// key, is in keyed state "late" and so in every snapshot.
func (t *Task) LateRecords() int { return t.late }

// snapshotWatermarks is the task's WatermarkState for a snapshot, or nil
// when no watermark ever reached it.
func (t *Task) snapshotWatermarks() *WatermarkState {
	switch {
	case t.valve != nil && t.valve.seen():
		return t.valve.snapshot()
	case t.src != nil && t.src.ws != nil && t.src.emitted != NoWatermark:
		return &WatermarkState{Current: t.src.emitted}
	}
	return nil
}

// restoreEventTime restores the watermarks and event-time timers of s;
// timers outside the task's key groups belong to another subtask.
func (t *Task) restoreEventTime(s *TaskSnapshot) {
	if t.cfg.Mutants.Has(MutantWatermarkNotRestored) {
		return // Mutant: start event time from scratch.
	}
	if s.Watermarks != nil && t.valve != nil {
		t.valve.restore(s.Watermarks)
	}
	start, end := KeyGroupRange(t.id.Subtask, t.job.MaxParallelism, t.v.Parallelism)
	for _, tm := range s.EventTimers {
		if tm.KG >= start && tm.KG < end {
			t.registerEventTimer(tm.KG, tm.Key, tm.At)
		}
	}
}
