package sim

import (
	"container/heap"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// Time is a point in simulated time: nanoseconds since the start of a run.
// It never comes from the wall clock.
type Time int64

// Duration converts t to a time.Duration, for printing.
func (t Time) Duration() time.Duration { return time.Duration(t) }

// Add returns t advanced by d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

func (t Time) String() string { return time.Duration(t).String() }

// Latency is a distribution of delays: uniform in [Min, Max], with a tail: with
// probability TailPercent/100 the delay is drawn uniformly in [Max, TailMax]
// instead. A zero TailPercent means no tail.
type Latency struct {
	Min         time.Duration `json:"min"`
	Max         time.Duration `json:"max"`
	TailPercent int           `json:"tail_percent,omitempty"`
	TailMax     time.Duration `json:"tail_max,omitempty"`
}

// Draw returns one delay from l using r.
func (l Latency) Draw(r *rand.Rand) time.Duration {
	lo, hi := l.Min, l.Max
	if l.TailPercent > 0 && r.IntN(100) < l.TailPercent {
		lo, hi = l.Max, l.TailMax
	}
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// Validate reports an invalid field of l, named under field.
func (l Latency) Validate(field string) error {
	switch {
	case l.Min < 0:
		return fmt.Errorf("%s.min: negative latency %v", field, l.Min)
	case l.Max < l.Min:
		return fmt.Errorf("%s.max: %v is below min %v", field, l.Max, l.Min)
	case l.TailPercent < 0 || l.TailPercent > 100:
		return fmt.Errorf("%s.tail_percent: %d is outside 0..100", field, l.TailPercent)
	case l.TailPercent > 0 && l.TailMax < l.Max:
		return fmt.Errorf("%s.tail_max: %v is below max %v", field, l.TailMax, l.Max)
	}
	return nil
}

// KillSchedule is how often a run kills its processes: Kills kills, at
// seeded random times in [0, KillWindow), each followed by a restart after up
// to RestartDelayMax. Its fields stand at the top level of the JSON of the
// options that embed it.
type KillSchedule struct {
	Kills           int           `json:"kills"`
	KillWindow      time.Duration `json:"kill_window"`
	RestartDelayMax time.Duration `json:"restart_delay_max"`
}

// Validate reports the first invalid field by its JSON name.
func (k KillSchedule) Validate() error {
	switch {
	case k.Kills < 0:
		return fmt.Errorf("kills: negative (%d)", k.Kills)
	case k.Kills > 0 && k.KillWindow <= 0:
		return fmt.Errorf("kill_window: must be positive when kills > 0, got %v", k.KillWindow)
	case k.RestartDelayMax < 0:
		return fmt.Errorf("restart_delay_max: negative (%v)", k.RestartDelayMax)
	}
	return nil
}

// Config is everything that shapes a simulated world apart from the programs
// that run in it. It round-trips through JSON so a failing run can be saved and
// replayed.
type Config struct {
	// Seed decides every random choice of the run.
	Seed uint64 `json:"seed"`
	// Workers is the number of worker processes, named w0, w1, ...
	Workers int `json:"workers"`
	// LinkLatency is the one-way delay of a message between two processes.
	LinkLatency Latency `json:"link_latency"`
	// LinkBufferMessages bounds the messages in flight on one direction of a
	// link; a sender past it is refused (backpressure) until one is delivered.
	LinkBufferMessages int `json:"link_buffer_messages"`
	// KafkaLatency is the one-way delay between a process and the broker.
	KafkaLatency Latency `json:"kafka_latency"`
	// KafkaTimeout is how long a caller waits for a response that never comes
	// (a dropped request or a dropped response) before it sees protocol.ErrTimeout.
	KafkaTimeout time.Duration `json:"kafka_timeout"`
	// EventsMax bounds the events one run may process; a run that hits it is
	// stopped with ErrEventBudget rather than spinning forever.
	EventsMax int `json:"events_max"`
	// KeepTrace keeps every trace line in memory (for printing and for
	// comparing two runs event by event). The digest is always computed.
	KeepTrace bool `json:"keep_trace,omitempty"`
}

// DefaultConfig returns a configuration with sensible data-center delays.
func DefaultConfig(seed uint64) Config {
	return Config{
		Seed:               seed,
		Workers:            3,
		LinkLatency:        Latency{Min: 100 * time.Microsecond, Max: 2 * time.Millisecond, TailPercent: 1, TailMax: 20 * time.Millisecond},
		LinkBufferMessages: 64,
		KafkaLatency:       Latency{Min: 200 * time.Microsecond, Max: 3 * time.Millisecond, TailPercent: 1, TailMax: 30 * time.Millisecond},
		KafkaTimeout:       500 * time.Millisecond,
		EventsMax:          5_000_000,
	}
}

// Validate reports the first invalid field of c, by its JSON name.
func (c Config) Validate() error {
	if c.Workers <= 0 {
		return fmt.Errorf("workers: must be at least 1, got %d", c.Workers)
	}
	if err := c.LinkLatency.Validate("link_latency"); err != nil {
		return err
	}
	if c.LinkBufferMessages <= 0 {
		return fmt.Errorf("link_buffer_messages: must be at least 1, got %d", c.LinkBufferMessages)
	}
	if err := c.KafkaLatency.Validate("kafka_latency"); err != nil {
		return err
	}
	if c.KafkaTimeout <= 0 {
		return fmt.Errorf("kafka_timeout: must be positive, got %v", c.KafkaTimeout)
	}
	if c.EventsMax <= 0 {
		return fmt.Errorf("events_max: must be positive, got %d", c.EventsMax)
	}
	return nil
}

// ErrEventBudget is returned by Run when a run exhausts Config.EventsMax.
var ErrEventBudget = errors.New("sim: event budget exhausted")

// event is one entry of the queue. Events at the same time run in the order
// they were scheduled (seq), which is what makes the order total.
type event struct {
	at  Time
	seq uint64
	fn  func()
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// World is one simulated run: a clock, an event queue, PRNG streams split from
// the seed, processes, links, disks, a durable store and a trace. It is used
// from one goroutine.
type World struct {
	cfg     Config
	now     Time
	seq     uint64
	queue   eventQueue
	events  int
	streams map[string]*rand.Rand
	trace   *Trace
	stopped error

	procs []*Proc
	net   *Network
	store *Store
}

// New builds a world from cfg. It returns an error naming the first invalid
// field.
func New(cfg Config) (*World, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sim config: %w", err)
	}
	w := &World{
		cfg:     cfg,
		streams: make(map[string]*rand.Rand),
		trace:   newTrace(cfg.KeepTrace),
	}
	w.net = newNetwork(w)
	w.store = newStore(w)
	return w, nil
}

// Config returns the configuration the world was built with.
func (w *World) Config() Config { return w.cfg }

// Now is the current simulated time.
func (w *World) Now() Time { return w.now }

// Events is the number of events processed so far.
func (w *World) Events() int { return w.events }

// Rand returns the PRNG stream named name, creating it on first use. Each
// stream is seeded from the run's seed and the name alone, so adding a draw to
// one subsystem ("net", "faults", "workload", ...) never shifts another.
func (w *World) Rand(name string) *rand.Rand {
	if r, ok := w.streams[name]; ok {
		return r
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(w.cfg.Seed, h.Sum64()))
	w.streams[name] = r
	return r
}

// At schedules fn at time t (or now, if t is in the past).
func (w *World) At(t Time, fn func()) {
	if t < w.now {
		t = w.now
	}
	w.seq++
	heap.Push(&w.queue, &event{at: t, seq: w.seq, fn: fn})
}

// After schedules fn d from now.
func (w *World) After(d time.Duration, fn func()) { w.At(w.now.Add(d), fn) }

// Stop ends the run after the current event; Run returns err.
func (w *World) Stop(err error) {
	if w.stopped == nil {
		if err == nil {
			err = errStopped
		}
		w.stopped = err
	}
}

var errStopped = errors.New("stopped")

// Step processes the next event. It returns false when the queue is empty.
func (w *World) Step() bool {
	if len(w.queue) == 0 {
		return false
	}
	e := heap.Pop(&w.queue).(*event)
	w.now = e.at
	w.events++
	e.fn()
	return true
}

// Run processes events until the queue is empty, simulated time passes until,
// done returns true (checked after every event; nil means never), Stop is
// called, or the event budget runs out. It returns nil unless Stop was called
// with an error or the budget ran out.
func (w *World) Run(until Time, done func() bool) error {
	for w.stopped == nil {
		if done != nil && done() {
			return nil
		}
		if len(w.queue) == 0 {
			return nil
		}
		if w.queue[0].at > until {
			w.now = until
			return nil
		}
		if w.events >= w.cfg.EventsMax {
			return fmt.Errorf("%w after %d events at %v", ErrEventBudget, w.events, w.now)
		}
		w.Step()
	}
	if errors.Is(w.stopped, errStopped) {
		return nil
	}
	return w.stopped
}

// Tracef records one line in the trace, stamped with the current time. Lines
// must be in logical terms (names, offsets, epochs), never wall-clock times or
// random identifiers, so that the digest is a run's fingerprint.
func (w *World) Tracef(format string, args ...any) {
	w.trace.add(Event{At: w.now, Kind: EventNote, Detail: fmt.Sprintf(format, args...)})
}

// Record records e in the trace, stamped with the current time. Its fields
// obey the same rule as Tracef's lines.
func (w *World) Record(e Event) {
	e.At = w.now
	w.trace.add(e)
}

// Trace returns the run's trace recorder.
func (w *World) Trace() *Trace { return w.trace }

// Net returns the network of links between processes.
func (w *World) Net() *Network { return w.net }

// Store returns the durable store (checkpoint storage) that survives kills.
func (w *World) Store() *Store { return w.store }
