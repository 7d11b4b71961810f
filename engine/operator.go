package engine

import (
	"fmt"
	"sort"
	"strconv"
)

// Operator is what an operator task runs. Its state lives in the task's
// state backend, never in its own fields, so that a snapshot holds all of it.
// An error (a state access that failed, say) fails the task: the job
// restarts from its latest checkpoint. What the operator emitted before it
// is harmless: no barrier follows those records, so no checkpoint includes
// them.
type Operator interface {
	// Process handles one record from input.
	Process(ctx *Context, input int, r Record) error
	// OnTimer runs when a timer registered for ctx's current key fires.
	OnTimer(ctx *Context, at int64) error
}

// KeyedProcessFunction is user code on a keyed stream: it sees one record at
// a time with its key's state, and timers. An error it returns fails the
// task, as Operator's do.
type KeyedProcessFunction interface {
	// ProcessElement handles r, which arrived on input (0, or 1 for the
	// second stream of ConnectKeyed).
	ProcessElement(ctx *Context, input int, r Record) error
	// OnTimer runs when a timer of ctx.Key() fires at time at;
	// ctx.TimeDomain() says which kind of timer it is.
	OnTimer(ctx *Context, at int64) error
}

// ProcessFunc adapts a function to a KeyedProcessFunction without timers.
type ProcessFunc func(ctx *Context, input int, r Record) error

// ProcessElement calls f.
func (f ProcessFunc) ProcessElement(ctx *Context, input int, r Record) error { return f(ctx, input, r) }

// OnTimer does nothing.
func (ProcessFunc) OnTimer(*Context, int64) error { return nil }

// Context is what an operator sees while it handles a record or a timer.
type Context struct {
	t   *Task
	key string
	kg  int
	// domain is the kind of timer firing (in OnTimer).
	domain TimeDomain
}

// Key is the current record's key.
func (c *Context) Key() string { return c.key }

// Now is the task's current time in nanoseconds (simulated in the simulator).
func (c *Context) Now() int64 { return c.t.env.Now() }

// Emit sends r downstream.
func (c *Context) Emit(r Record) { c.t.emit(r) }

// Value returns the value state called name for the current key.
func (c *Context) Value(name string) ValueState { return ValueState{c: c, name: name} }

// List returns the list state called name for the current key.
func (c *Context) List(name string) ListState { return ListState{c: c, name: name} }

// RegisterTimer asks for OnTimer at time at (nanoseconds, the task's clock)
// for the current key. Timers are part of the snapshot.
func (c *Context) RegisterTimer(at int64) { c.t.registerTimer(c.kg, c.key, at) }

// RegisterEventTimeTimer asks for OnTimer, in the EventTime domain, once
// the task's watermark reaches at (milliseconds of event time) for the
// current key; a timer at or below the current watermark fires with the
// next advance. Registering the same time twice gives one timer. Timers are
// part of the snapshot.
func (c *Context) RegisterEventTimeTimer(at int64) { c.t.registerEventTimer(c.kg, c.key, at) }

// DeleteEventTimeTimer removes the current key's event-time timer at at.
func (c *Context) DeleteEventTimeTimer(at int64) { c.t.deleteEventTimer(c.kg, c.key, at) }

// CurrentWatermark is the task's watermark (NoWatermark before any).
func (c *Context) CurrentWatermark() int64 { return c.t.CurrentWatermark() }

// TimeDomain is, in OnTimer, the kind of timer that fired.
func (c *Context) TimeDomain() TimeDomain { return c.domain }

// Output sends r to the side output called tag (Stream.SideOutput); with
// no edge reading that tag, r goes nowhere.
func (c *Context) Output(tag string, r Record) { c.t.emitTagged(tag, r) }

// ValueState is one keyed value.
type ValueState struct {
	c    *Context
	name string
}

// Get returns the value and whether it is set.
func (s ValueState) Get() (string, bool, error) { return s.c.t.state.Get(s.c.kg, s.name, s.c.key) }

// Set sets the value.
func (s ValueState) Set(v string) error { return s.c.t.state.Set(s.c.kg, s.name, s.c.key, v) }

// Clear removes the value.
func (s ValueState) Clear() error { return s.c.t.state.Delete(s.c.kg, s.name, s.c.key) }

// Increment adds one to the count the value holds (unset: 0) and returns the
// new count. A value that does not parse as a count is corrupted state: an
// error, rather than a count started again from zero.
func (s ValueState) Increment() (int, error) {
	v, ok, err := s.Get()
	if err != nil {
		return 0, err
	}
	n := 0
	if ok {
		if n, err = strconv.Atoi(v); err != nil {
			return 0, fmt.Errorf("value state %q: key %q holds %q, not a count", s.name, s.c.key, v)
		}
	}
	n++
	return n, s.Set(strconv.Itoa(n))
}

// ListState is one keyed list.
type ListState struct {
	c    *Context
	name string
}

// Get returns the list; the caller may not modify it.
func (s ListState) Get() ([]string, error) { return s.c.t.state.GetList(s.c.kg, s.name, s.c.key) }

// Add appends v.
func (s ListState) Add(v string) error { return s.c.t.state.Append(s.c.kg, s.name, s.c.key, v) }

// Clear empties the list.
func (s ListState) Clear() error { return s.c.t.state.ClearList(s.c.kg, s.name, s.c.key) }

// funcOp is a stateless map, filter or flatMap.
type funcOp struct {
	fn func(r Record, emit func(Record))
}

func (o *funcOp) Process(ctx *Context, _ int, r Record) error { o.fn(r, ctx.Emit); return nil }
func (o *funcOp) OnTimer(*Context, int64) error               { return nil }

// keyedOp runs a KeyedProcessFunction. Records arrive keyed: the sender
// applies the KeyBy selector of the edge (Edge.KeyOf).
type keyedOp struct {
	fn KeyedProcessFunction
}

func (o *keyedOp) Process(ctx *Context, input int, r Record) error {
	return o.fn.ProcessElement(ctx, input, r)
}
func (o *keyedOp) OnTimer(ctx *Context, at int64) error { return o.fn.OnTimer(ctx, at) }

// timer is one registered timer.
type timer struct {
	KG  int    `json:"kg"`
	Key string `json:"key"`
	At  int64  `json:"at"`
}

func sortTimers(ts []timer) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].At != ts[j].At {
			return ts[i].At < ts[j].At
		}
		if ts[i].KG != ts[j].KG {
			return ts[i].KG < ts[j].KG
		}
		return ts[i].Key < ts[j].Key
	})
}
