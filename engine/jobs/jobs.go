// Package jobs holds the reference jobs that scenarios, tests and benchmarks
// run, each with a workload generator and a sequential oracle: a few dozen
// lines that compute, from the committed input, exactly what the committed
// output must be.
package jobs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/onceproof/onceproof/internal/order"

	"github.com/onceproof/onceproof/engine/protocol"

	"github.com/onceproof/onceproof/engine"
)

// Topic is a Kafka topic a job reads or writes.
type Topic struct {
	Name       string
	Partitions int32
}

// Params size a job and its workload.
type Params struct {
	// Parallelism of every vertex.
	Parallelism int `json:"parallelism"`
	// Partitions of every topic.
	Partitions int32 `json:"partitions"`
	// Records per input topic.
	Records int `json:"records"`
	// Keys is the number of distinct keys.
	Keys int `json:"keys"`
	// Guarantee of the sink.
	Guarantee engine.Guarantee `json:"guarantee"`
	// Skew of the keyed workloads (copier, keyed-count, join): a hot key,
	// k0, takes HotKeyPercent of the records, and the last EmptyPartitions
	// partitions of every input topic receive none (their records go to
	// the others).
	HotKeyPercent   int   `json:"hot_key_percent,omitempty"`
	EmptyPartitions int32 `json:"empty_partitions,omitempty"`
}

// Validate reports the first invalid field.
func (p Params) Validate() error {
	switch {
	case p.Parallelism < 1:
		return fmt.Errorf("parallelism: must be at least 1, got %d", p.Parallelism)
	case p.Partitions < 1:
		return fmt.Errorf("partitions: must be at least 1, got %d", p.Partitions)
	case p.Records < 0:
		return fmt.Errorf("records: negative (%d)", p.Records)
	case p.Keys < 1:
		return fmt.Errorf("keys: must be at least 1, got %d", p.Keys)
	case p.HotKeyPercent < 0 || p.HotKeyPercent > 100:
		return fmt.Errorf("hot_key_percent: %d is not a percentage (want 0..100)", p.HotKeyPercent)
	case p.EmptyPartitions < 0 || p.EmptyPartitions >= p.Partitions:
		return fmt.Errorf("empty_partitions: %d (want 0 to partitions-1 = %d)", p.EmptyPartitions, p.Partitions-1)
	}
	return nil
}

// Input is one record to write to an input topic before the run.
type Input struct {
	Topic     string
	Partition int32
	Key       string
	Value     string
	Time      int64
}

// Committed is an input record as it was committed, with its offset.
type Committed struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	Value     string
}

// Output is one record the oracle says must be committed exactly once.
type Output struct {
	Lineage string
	Key     string
	Value   string
}

// Spec is a job with its workload and oracle.
type Spec struct {
	Name        string
	Description string
	Inputs      func(p Params) []Topic
	Output      func(p Params) Topic
	Build       func(p Params) (*engine.Job, error)
	// Generate draws the input from r only.
	Generate func(r *rand.Rand, p Params) []Input
	// Oracle computes the expected output from the committed input, in
	// each partition's offset order.
	Oracle func(in []Committed) []Output
	// Lineage recovers an output record's lineage from its key and value.
	Lineage func(key, value string) string
	// Order is the order the job promises its output keeps; the
	// exactly-once check holds it to that promise.
	Order order.Order
	// State, for jobs with keyed state, folds the committed input read up
	// to offsets ("topic/partition" -> next offset) into the state the job
	// must hold at a checkpoint taken there; Restored reads that state from
	// the checkpoint's task snapshots. Both render state as "name:key" ->
	// value.
	State    func(in []Committed, offsets map[string]int64) map[string]string
	Restored func(snaps []*engine.TaskSnapshot) map[string]string
	// Register, for jobs whose output per key is a growing counter, reads
	// an output record as (key, counter); the porcupine check uses it.
	Register func(key, value string) (string, int64, bool)
}

// Validate reports the first part of s that a run needs and s lacks. Name,
// Inputs, Output, Build, Generate, Oracle and Lineage are required; State
// and Restored come together or not at all; Description and Register are
// optional.
func (s *Spec) Validate() error {
	if s == nil {
		return errors.New("job spec: nil")
	}
	if s.Name == "" {
		return errors.New("job spec: Name is empty: runs, reports and checkpoint paths are named after it")
	}
	var why string
	switch {
	case s.Build == nil:
		why = "Build is nil: nothing builds the job graph"
	case s.Inputs == nil:
		why = "Inputs is nil: the run must know which topics to create and write the input to"
	case s.Output == nil:
		why = "Output is nil: the run must know which topic the job commits its output to"
	case s.Generate == nil:
		why = "Generate is nil: the job has no input"
	case s.Oracle == nil:
		why = "Oracle is nil: the oracle is what the committed output is judged against"
	case s.Lineage == nil:
		why = "Lineage is nil: the exactly-once check traces every output record to its input by its lineage"
	case s.State != nil && s.Restored == nil:
		why = "State is set without Restored: the check needs to read the state back from the snapshots (jobs.KeyedState reads the engine's value and list states)"
	case s.Restored != nil && s.State == nil:
		why = "Restored is set without State: the restored state needs the oracle's fold to be judged against"
	case s.Order != order.Unordered && s.Order != order.PerKey && s.Order != order.PerPartition:
		why = fmt.Sprintf("Order %q is none of %q, %q and %q", s.Order, order.Unordered, order.PerKey, order.PerPartition)
	default:
		return nil
	}
	return fmt.Errorf("job spec %q: %s", s.Name, why)
}

// Before reports whether c was read before a checkpoint whose source
// offsets are offsets ("topic/partition" -> next offset, as Spec.State
// receives them): whether the state at that checkpoint includes c.
func (c Committed) Before(offsets map[string]int64) bool {
	return c.Offset < offsets[protocol.TP(c.Topic, c.Partition)]
}

// KeyedState renders the keyed state held by snaps the way Spec.State
// renders the oracle's: every value state as "name:key" -> value, and
// every list state as "name:key" -> its elements joined with ",", in the
// order they were added. A job whose state lives in the engine's value and
// list states can use it as its Spec.Restored unchanged; one that encodes
// more into a value writes its State fold to produce the same encoding.
func KeyedState(snaps []*engine.TaskSnapshot) map[string]string {
	out := map[string]string{}
	for _, s := range snaps {
		for _, g := range s.Keyed {
			for _, v := range g.Values {
				out[v.Name+":"+v.Key] = v.Value
			}
			for _, l := range g.Lists {
				out[l.Name+":"+l.Key] = strings.Join(l.Values, ",")
			}
		}
	}
	return out
}

var registry = map[string]*Spec{}

// Lookup returns the job called name.
func Lookup(name string) (*Spec, error) {
	if s, ok := registry[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown job %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names lists the jobs, sorted.
func Names() []string {
	var out []string
	for n := range registry { // lint:sorted sorted below
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// pipeline builds job name as a source "src" reading topic in, the stages
// body adds to its stream, and a sink "sink" writing topic out.
func pipeline(name, in, out string, body func(*engine.Stream, Params) *engine.Stream) func(Params) (*engine.Job, error) {
	return func(p Params) (*engine.Job, error) {
		b := engine.NewJob(name)
		body(b.Source("src", in, p.Partitions, p.Parallelism), p).SinkTo("sink", out, p.Partitions, p.Parallelism, p.Guarantee)
		return b.Build()
	}
}

func one(name string) func(Params) []Topic {
	return func(p Params) []Topic { return []Topic{{Name: name, Partitions: p.Partitions}} }
}

func topic(name string) func(Params) Topic {
	return func(p Params) Topic { return Topic{Name: name, Partitions: p.Partitions} }
}

// keyed generates records over p.Keys keys, each key always in the same
// partition (as a keyed producer would write it), values unique.
func keyed(t string, r *rand.Rand, p Params) []Input {
	out := make([]Input, 0, p.Records)
	for i := 0; i < p.Records; i++ {
		k := fmt.Sprintf("k%d", r.IntN(p.Keys))
		if p.HotKeyPercent > 0 && r.IntN(100) < p.HotKeyPercent {
			k = "k0"
		}
		part := engine.PartitionFor(k, p.Partitions, 0)
		if p.EmptyPartitions > 0 {
			part %= p.Partitions - p.EmptyPartitions
		}
		out = append(out, Input{Topic: t, Partition: part, Key: k, Value: fmt.Sprintf("%s-%d", t, i), Time: int64(i)})
	}
	return out
}

func init() {
	registry["copier"] = &Spec{
		Name:        "copier",
		Description: "source -> map -> sink: copies every record, marked",
		Inputs:      one("in"),
		Output:      topic("out"),
		Build: pipeline("copier", "in", "out", func(s *engine.Stream, _ Params) *engine.Stream {
			return s.Map("map", func(r engine.Record) engine.Record { r.Value = "copy(" + r.Value + ")"; return r })
		}),
		Generate: func(r *rand.Rand, p Params) []Input { return keyed("in", r, p) },
		Oracle: func(in []Committed) []Output {
			out := make([]Output, 0, len(in))
			for _, c := range in {
				out = append(out, Output{Lineage: c.Value, Key: c.Key, Value: "copy(" + c.Value + ")"})
			}
			return out
		},
		Lineage: func(_, v string) string {
			return strings.TrimSuffix(strings.TrimPrefix(v, "copy("), ")")
		},
		Order: order.PerPartition,
	}

	registry["keyed-count"] = &Spec{
		Name:        "keyed-count",
		Description: "running count per key in keyed value state; each output carries the key's input count",
		Inputs:      one("in"),
		Output:      topic("counts"),
		Build: pipeline("keyed-count", "in", "counts", func(s *engine.Stream, p Params) *engine.Stream {
			return s.KeyBy(func(r engine.Record) string { return r.Key }).
				Process("count", p.Parallelism, func() engine.KeyedProcessFunction { return engine.ProcessFunc(countFn) })
		}),
		Generate: func(r *rand.Rand, p Params) []Input { return keyed("in", r, p) },
		Oracle: func(in []Committed) []Output {
			counts := map[string]int{}
			out := make([]Output, 0, len(in))
			for _, c := range in {
				counts[c.Key]++
				v := countValue(c.Key, counts[c.Key])
				out = append(out, Output{Lineage: v, Key: c.Key, Value: v})
			}
			return out
		},
		Lineage: func(_, v string) string { return v },
		Order:   order.PerKey,
		State: func(in []Committed, offsets map[string]int64) map[string]string {
			out := map[string]string{}
			counts := map[string]int{}
			for _, c := range in {
				if c.Before(offsets) {
					counts[c.Key]++
					out["count:"+c.Key] = fmt.Sprint(counts[c.Key])
				}
			}
			return out
		},
		Restored: KeyedState,
		Register: func(_, v string) (string, int64, bool) {
			i := strings.LastIndexByte(v, '#')
			if i < 0 {
				return "", 0, false
			}
			var n int64
			if _, err := fmt.Sscan(v[i+1:], &n); err != nil {
				return "", 0, false
			}
			return v[:i], n, true
		},
	}

	registry["join"] = &Spec{
		Name:        "join",
		Description: "keyed inner join of two topics (a task with two inputs): every matching left/right pair once",
		Inputs: func(p Params) []Topic {
			return []Topic{{Name: "left", Partitions: p.Partitions}, {Name: "right", Partitions: p.Partitions}}
		},
		Output: topic("joined"),
		Build: func(p Params) (*engine.Job, error) {
			b := engine.NewJob("join")
			key := func(r engine.Record) string { return r.Key }
			l := b.Source("left", "left", p.Partitions, p.Parallelism).KeyBy(key)
			r := b.Source("right", "right", p.Partitions, p.Parallelism).KeyBy(key)
			engine.ConnectKeyed(l, r, "join", p.Parallelism, func() engine.KeyedProcessFunction { return engine.ProcessFunc(joinFn) }).
				SinkTo("sink", "joined", p.Partitions, p.Parallelism, p.Guarantee)
			return b.Build()
		},
		Generate: func(r *rand.Rand, p Params) []Input {
			half := p
			half.Records = p.Records / 2
			return append(keyed("left", r, half), keyed("right", r, half)...)
		},
		Oracle: func(in []Committed) []Output {
			left, right := map[string][]string{}, map[string][]string{}
			for _, c := range in {
				if c.Topic == "left" {
					left[c.Key] = append(left[c.Key], c.Value)
				} else {
					right[c.Key] = append(right[c.Key], c.Value)
				}
			}
			var out []Output
			for _, c := range in {
				if c.Topic != "left" {
					continue
				}
				for _, rv := range right[c.Key] {
					v := pairValue(c.Value, rv)
					out = append(out, Output{Lineage: v, Key: c.Key, Value: v})
				}
			}
			return out
		},
		Lineage: func(_, v string) string { return v },
		State: func(in []Committed, offsets map[string]int64) map[string]string {
			lists := map[string][]string{}
			for _, c := range in {
				if c.Before(offsets) {
					k := c.Topic + ":" + c.Key
					lists[k] = append(lists[k], c.Value)
				}
			}
			out := map[string]string{}
			for k, l := range lists { // lint:sorted writes into a map
				out[k] = strings.Join(l, ",")
			}
			return out
		},
		Restored: KeyedState,
	}
}

func countValue(key string, n int) string { return key + "#" + strconv.Itoa(n) }

// countFn counts records per key in value state. A count that does not
// parse is corrupted state: the task fails rather than count from zero.
func countFn(ctx *engine.Context, _ int, r engine.Record) error {
	n, err := ctx.Value("count").Increment()
	if err != nil {
		return err
	}
	ctx.Emit(engine.Record{Key: r.Key, Value: countValue(r.Key, n), Origin: r.Origin})
	return nil
}

func pairValue(l, r string) string { return "L=" + l + ",R=" + r }

// joinFn keeps both sides in list state and emits each new pair once: a
// record meets every record the other side has already stored.
func joinFn(ctx *engine.Context, input int, r engine.Record) error {
	mine, other := ctx.List("left"), ctx.List("right")
	if input == 1 {
		mine, other = other, mine
	}
	if err := mine.Add(r.Value); err != nil {
		return err
	}
	others, err := other.Get()
	if err != nil {
		return err
	}
	for _, o := range others {
		l, rv := r.Value, o
		if input == 1 {
			l, rv = o, r.Value
		}
		ctx.Emit(engine.Record{Key: r.Key, Value: pairValue(l, rv), Origin: r.Origin})
	}
	return nil
}
