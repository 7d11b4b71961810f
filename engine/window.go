package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event-time windows on a keyed stream, as Flink's WindowOperator with an
// EventTimeTrigger and an incremental aggregate:
//
//   - Each record goes to every window of the assigner that contains its
//     Time; a window [start, end) holds, per key, an accumulator in keyed
//     value state "window@<start>", so window contents are in every
//     snapshot.
//   - A window fires when the watermark reaches end-1 (an event-time timer),
//     emitting one WindowResult.
//   - With allowed lateness L, the window's state is kept until the
//     watermark reaches end-1+L (a second timer). A record that arrives for
//     a window that has fired but is within its lateness is added, and the
//     window fires again at once with the updated result: a new output with
//     the next firing number, never a retraction of the earlier one.
//   - A record all of whose windows are past their lateness is late: it is
//     counted (keyed value state "late", and Task.LateRecords) and sent to
//     the LateDataTag side output, which a job reads with
//     Stream.SideOutput(LateDataTag) or leaves unread (dropped).

// LateDataTag is the side output of a window operator's late records.
const LateDataTag = "late"

// WindowAssigner assigns records to event-time windows.
type WindowAssigner struct {
	// Size is the length of a window; Slide the distance between the starts
	// of two windows (Size for tumbling windows).
	Size  time.Duration `json:"size"`
	Slide time.Duration `json:"slide"`
}

// Tumbling windows of size: every record in exactly one window.
func Tumbling(size time.Duration) WindowAssigner { return WindowAssigner{Size: size, Slide: size} }

// Sliding windows of size starting every slide: a record is in about
// size/slide windows.
func Sliding(size, slide time.Duration) WindowAssigner {
	return WindowAssigner{Size: size, Slide: slide}
}

// Validate reports an assigner that cannot work.
func (a WindowAssigner) Validate() error {
	switch {
	case a.Size < time.Millisecond:
		return fmt.Errorf("window size %v: must be at least 1ms", a.Size)
	case a.Slide < time.Millisecond:
		return fmt.Errorf("window slide %v: must be at least 1ms", a.Slide)
	case a.Size%time.Millisecond != 0 || a.Slide%time.Millisecond != 0:
		return fmt.Errorf("window %v/%v: event time is in whole milliseconds", a.Size, a.Slide)
	}
	return nil
}

// Window is one window, [Start, End) in milliseconds of event time.
type Window struct {
	Start, End int64
}

// MaxTimestamp is the last time in the window: it fires when the
// watermark reaches it.
func (w Window) MaxTimestamp() int64 { return w.End - 1 }

// windows returns the windows containing t, by ascending start.
func (a WindowAssigner) windows(t int64) []Window {
	size, slide := a.Size.Milliseconds(), a.Slide.Milliseconds()
	last := t - ((t%slide)+slide)%slide // the latest start at or before t
	first := last
	for first-slide > t-size {
		first -= slide
	}
	var out []Window
	for s := first; s <= last; s += slide {
		if s+size > t { // with a slide above the size, t may fall in a gap
			out = append(out, Window{Start: s, End: s + size})
		}
	}
	return out
}

// Aggregation folds a window's records into one number, incrementally.
type Aggregation struct {
	name  string
	value func(Record) int64
	fold  func(acc, v int64) int64
}

// Count counts a window's records.
func Count() Aggregation {
	return Aggregation{name: "count", value: func(Record) int64 { return 1 }, fold: func(acc, v int64) int64 { return acc + v }}
}

// Sum adds value over a window's records.
func Sum(value func(Record) int64) Aggregation {
	return Aggregation{name: "sum", value: value, fold: func(acc, v int64) int64 { return acc + v }}
}

// Max is the largest value among a window's records.
func Max(value func(Record) int64) Aggregation {
	return Aggregation{name: "max", value: value, fold: func(acc, v int64) int64 { return max(acc, v) }}
}

// Name is "count", "sum" or "max".
func (a Aggregation) Name() string { return a.name }

// WindowResult is what a window emits when it fires.
type WindowResult struct {
	Key    string
	Window Window
	// Agg names the aggregation; Value is its result and Count the number
	// of records in the window.
	Agg   string
	Value int64
	Count int64
	// Fire numbers the window's firings from 1: a window fires again (2,
	// 3, ...) for every record that arrives within the allowed lateness
	// after it fired.
	Fire int
}

// ID names the firing: key, window and firing number, "k@[0,100)#1". It is
// unique per output record, which makes it a lineage.
func (r WindowResult) ID() string {
	return fmt.Sprintf("%s@[%d,%d)#%d", r.Key, r.Window.Start, r.Window.End, r.Fire)
}

// String renders the result as the window operator's default output value:
// "k@[0,100)#1 sum=41 count=7" ("k@[0,100)#1 count=7" for a count).
func (r WindowResult) String() string {
	if r.Agg == "count" {
		return fmt.Sprintf("%s count=%d", r.ID(), r.Count)
	}
	return fmt.Sprintf("%s %s=%d count=%d", r.ID(), r.Agg, r.Value, r.Count)
}

// WindowOption tunes a window operator.
type WindowOption func(*windowOp)

// AllowedLateness keeps a window's state for d after it fired; records
// arriving meanwhile re-fire it.
func AllowedLateness(d time.Duration) WindowOption {
	return func(o *windowOp) { o.lateness = d.Milliseconds() }
}

// WindowOutput replaces the default output record (key = the record key,
// value = WindowResult.String(), time = the window's max timestamp).
func WindowOutput(fn func(WindowResult) Record) WindowOption {
	return func(o *windowOp) { o.output = fn }
}

// Window runs an event-time window operator with parallelism subtasks: agg
// over the windows of assigner, per key. Its input must carry event time
// (a source WithWatermarks upstream), or no window ever fires.
func (k *KeyedStream) Window(name string, parallelism int, assigner WindowAssigner, agg Aggregation, opts ...WindowOption) *Stream {
	if err := assigner.Validate(); err != nil {
		k.s.fail(fmt.Errorf("vertex %s: %w", name, err))
	}
	if agg.fold == nil {
		k.s.fail(fmt.Errorf("vertex %s: no aggregation (use Count, Sum or Max)", name))
	}
	probe := &windowOp{}
	for _, o := range opts {
		o(probe)
	}
	if probe.lateness < 0 {
		k.s.fail(fmt.Errorf("vertex %s: allowed lateness negative (%dms)", name, probe.lateness))
	}
	return k.s.b.add(&Vertex{Name: name, Kind: OperatorVertex, Parallelism: parallelism, Keyed: true,
		Inputs: []Edge{k.edge()},
		NewOperator: func() Operator {
			o := &windowOp{assigner: assigner, agg: agg, output: defaultWindowOutput}
			for _, opt := range opts {
				opt(o)
			}
			return o
		}})
}

func defaultWindowOutput(r WindowResult) Record {
	return Record{Key: r.Key, Value: r.String(), Time: r.Window.MaxTimestamp()}
}

// windowOp is the window operator. All it knows lives in keyed state and
// event-time timers.
type windowOp struct {
	assigner WindowAssigner
	agg      Aggregation
	lateness int64 // ms
	output   func(WindowResult) Record
}

// accumulator is a window's state for one key: "count,value,fires".
type accumulator struct {
	count, value int64
	fires        int
}

func windowState(ctx *Context, w Window) ValueState {
	return ctx.Value("window@" + strconv.FormatInt(w.Start, 10))
}

func loadAcc(st ValueState) (accumulator, bool, error) {
	v, ok, err := st.Get()
	if err != nil || !ok {
		return accumulator{}, false, err
	}
	var a accumulator
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return a, false, fmt.Errorf("window state %q: want count,value,fires", v)
	}
	var errs [3]error
	a.count, errs[0] = strconv.ParseInt(parts[0], 10, 64)
	a.value, errs[1] = strconv.ParseInt(parts[1], 10, 64)
	a.fires, errs[2] = strconv.Atoi(parts[2])
	if err := errors.Join(errs[:]...); err != nil {
		return a, false, fmt.Errorf("window state %q: %w", v, err)
	}
	return a, true, nil
}

func (a accumulator) String() string { return fmt.Sprintf("%d,%d,%d", a.count, a.value, a.fires) }

// cleanupTime is when a window's state goes: its max timestamp plus the
// allowed lateness.
func (o *windowOp) cleanupTime(w Window) int64 { return w.MaxTimestamp() + o.lateness }

func (o *windowOp) Process(ctx *Context, _ int, r Record) error {
	wm := ctx.CurrentWatermark()
	late := true
	for _, w := range o.assigner.windows(r.Time) {
		if o.cleanupTime(w) <= wm {
			continue // this window is gone
		}
		late = false
		st := windowState(ctx, w)
		a, ok, err := loadAcc(st)
		if err != nil {
			return err
		}
		v := o.agg.value(r)
		if ok {
			a.value = o.agg.fold(a.value, v)
		} else {
			a.value = v
		}
		a.count++
		if w.MaxTimestamp() <= wm {
			// Fired already, within its lateness: fire again now.
			a.fires++
			if err := st.Set(a.String()); err != nil {
				return err
			}
			o.emit(ctx, w, a)
		} else {
			if err := st.Set(a.String()); err != nil {
				return err
			}
			ctx.RegisterEventTimeTimer(w.MaxTimestamp())
		}
		ctx.RegisterEventTimeTimer(o.cleanupTime(w))
	}
	if late {
		if _, err := ctx.Value("late").Increment(); err != nil {
			return err
		}
		ctx.t.late++
		ctx.Output(LateDataTag, r)
	}
	return nil
}

// OnTimer fires the window whose max timestamp is at, then drops the state
// of the window whose cleanup time is at (the same window when there is no
// allowed lateness).
func (o *windowOp) OnTimer(ctx *Context, at int64) error {
	if ctx.TimeDomain() != EventTime {
		return nil
	}
	size := o.assigner.Size.Milliseconds()
	if w := (Window{Start: at + 1 - size, End: at + 1}); o.isWindow(w) {
		st := windowState(ctx, w)
		a, ok, err := loadAcc(st)
		if err != nil {
			return err
		}
		if ok && a.fires == 0 {
			a.fires = 1
			if err := st.Set(a.String()); err != nil {
				return err
			}
			o.emit(ctx, w, a)
		}
	}
	end := at + 1 - o.lateness
	if w := (Window{Start: end - size, End: end}); o.isWindow(w) {
		return windowState(ctx, w).Clear()
	}
	return nil
}

// isWindow reports whether w is a window the assigner makes.
func (o *windowOp) isWindow(w Window) bool {
	slide := o.assigner.Slide.Milliseconds()
	return ((w.Start%slide)+slide)%slide == 0
}

func (o *windowOp) emit(ctx *Context, w Window, a accumulator) {
	ctx.Emit(o.output(WindowResult{Key: ctx.Key(), Window: w, Agg: o.agg.name, Value: a.value, Count: a.count, Fire: a.fires}))
}
