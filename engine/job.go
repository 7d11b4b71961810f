package engine

import (
	"errors"
	"fmt"
)

// Record is one element of a stream.
type Record struct {
	// Key is the record's key: set by KeyBy, used for keyed state, hash
	// partitioning and the sink's choice of output partition.
	Key string `json:"k,omitempty"`
	// Value is the payload.
	Value string `json:"v"`
	// Time is the record's event time in milliseconds (0 when unused).
	Time int64 `json:"t,omitempty"`
	// Origin says where the record came from, "topic/partition@offset". The
	// source sets it; operators that pass records on keep it. Jobs use it as
	// lineage in their output so that checkers can trace every output back
	// to its input.
	Origin string `json:"o,omitempty"`
}

// Partitioning says how records travel along an edge.
type Partitioning int

const (
	// Forward sends subtask i's records to subtask i downstream; both ends
	// must have the same parallelism.
	Forward Partitioning = iota
	// Hash sends each record to the subtask that owns its key group.
	Hash
)

func (p Partitioning) String() string {
	if p == Hash {
		return "hash"
	}
	return "forward"
}

// VertexKind says what a vertex's tasks do.
type VertexKind int

// The kinds of vertex.
const (
	SourceVertex VertexKind = iota
	OperatorVertex
	SinkVertex
)

// Edge is one input of a vertex.
type Edge struct {
	// From is the index of the upstream vertex in Job.Vertices.
	From         int
	Partitioning Partitioning
	// Tag names the side output of From the edge reads ("": its main
	// output). Context.Output sends a record to the edges of one tag only.
	Tag string
	// KeyOf, on the edge into a keyed vertex, sets every record's Key
	// before the record is hash-partitioned (the KeyBy key selector).
	KeyOf func(Record) string
}

// SourceSpec describes a Kafka source.
type SourceSpec struct {
	Topic      string
	Partitions int32
	// Watermarks, when set, makes the source assign event time to every
	// record and emit watermarks (eventtime.go); nil: no event time.
	Watermarks *WatermarkStrategy
}

// SinkSpec describes a Kafka sink.
type SinkSpec struct {
	Topic      string
	Partitions int32
	// TxnPrefix starts every transactional id the sink uses:
	// prefix-subtask-checkpoint.
	TxnPrefix string
	// Guarantee is ExactlyOnce (two-phase commit tied to checkpoints) or
	// AtLeastOnce (plain produce, flushed at every barrier).
	Guarantee Guarantee
}

// Guarantee is the delivery guarantee of a sink.
type Guarantee int

// The sink guarantees.
const (
	ExactlyOnce Guarantee = iota
	AtLeastOnce
)

func (g Guarantee) String() string {
	if g == AtLeastOnce {
		return "at-least-once"
	}
	return "exactly-once"
}

// Vertex is one operator of the job graph; it runs as Parallelism tasks.
type Vertex struct {
	Name        string
	Kind        VertexKind
	Parallelism int
	Inputs      []Edge
	Source      *SourceSpec
	Sink        *SinkSpec
	// Keyed vertices have keyed state; their inputs are hash-partitioned.
	Keyed bool
	// NewOperator makes the operator of one task (operator vertices).
	NewOperator func() Operator
}

// Job is a dataflow graph, vertices in topological order.
type Job struct {
	Name string
	// MaxParallelism is the number of key groups.
	MaxParallelism int
	Vertices       []*Vertex
}

// Builder builds a Job with a fluent API.
type Builder struct {
	job *Job
	err error
}

// Stream is the output of a vertex, to which more vertices attach: its main
// output, or the side output called tag.
type Stream struct {
	b   *Builder
	v   int
	tag string
}

// KeyedStream is a stream whose records carry a key.
type KeyedStream struct {
	s     *Stream
	keyOf func(Record) string
}

// NewJob starts a job called name.
func NewJob(name string) *Builder { return &Builder{job: &Job{Name: name}} }

func (b *Builder) add(v *Vertex) *Stream {
	if v.Parallelism <= 0 && b.err == nil {
		b.err = fmt.Errorf("vertex %s: parallelism must be at least 1, got %d", v.Name, v.Parallelism)
	}
	for _, o := range b.job.Vertices {
		if o.Name == v.Name && b.err == nil {
			b.err = fmt.Errorf("vertex %s: name used twice", v.Name)
		}
	}
	b.job.Vertices = append(b.job.Vertices, v)
	return &Stream{b: b, v: len(b.job.Vertices) - 1}
}

// Source reads topic's partitions, spread over parallelism subtasks.
func (b *Builder) Source(name, topic string, partitions int32, parallelism int) *Stream {
	return b.add(&Vertex{Name: name, Kind: SourceVertex, Parallelism: parallelism,
		Source: &SourceSpec{Topic: topic, Partitions: partitions}})
}

func (s *Stream) vertex() *Vertex { return s.b.job.Vertices[s.v] }

// edge is an input edge reading s.
func (s *Stream) edge(p Partitioning) Edge { return Edge{From: s.v, Partitioning: p, Tag: s.tag} }

func (s *Stream) fail(err error) {
	if s.b.err == nil {
		s.b.err = err
	}
}

// WithWatermarks gives a source event time: every record's Time is set by
// the strategy's timestamp assigner, and the source emits watermarks with
// bounded out-of-orderness (Flink's fromSource(source, watermarkStrategy)).
// It applies to a source's stream only.
func (s *Stream) WithWatermarks(ws WatermarkStrategy) *Stream {
	v := s.vertex()
	if v.Kind != SourceVertex || s.tag != "" {
		s.fail(fmt.Errorf("vertex %s: watermarks are assigned at a source", v.Name))
		return s
	}
	if err := ws.Validate(); err != nil {
		s.fail(fmt.Errorf("source %s: %w", v.Name, err))
		return s
	}
	v.Source.Watermarks = &ws
	return s
}

// SideOutput is the stream of records the vertex sends with
// Context.Output(tag, r): the window operator's late records under
// LateDataTag, say. Watermarks flow on it as on the main output.
func (s *Stream) SideOutput(tag string) *Stream {
	if tag == "" {
		s.fail(fmt.Errorf("vertex %s: a side output needs a tag", s.vertex().Name))
	}
	return &Stream{b: s.b, v: s.v, tag: tag}
}
func (s *Stream) stateless(name string, op func() Operator) *Stream {
	return s.b.add(&Vertex{Name: name, Kind: OperatorVertex, Parallelism: s.vertex().Parallelism,
		Inputs: []Edge{s.edge(Forward)}, NewOperator: op})
}

// Map transforms every record.
func (s *Stream) Map(name string, fn func(Record) Record) *Stream {
	return s.stateless(name, func() Operator { return &funcOp{fn: func(r Record, emit func(Record)) { emit(fn(r)) }} })
}

// Filter keeps the records for which keep is true.
func (s *Stream) Filter(name string, keep func(Record) bool) *Stream {
	return s.stateless(name, func() Operator {
		return &funcOp{fn: func(r Record, emit func(Record)) {
			if keep(r) {
				emit(r)
			}
		}}
	})
}

// FlatMap emits any number of records per record.
func (s *Stream) FlatMap(name string, fn func(r Record, emit func(Record))) *Stream {
	return s.stateless(name, func() Operator { return &funcOp{fn: fn} })
}

// KeyBy keys the stream: keyOf's result becomes every record's Key.
func (s *Stream) KeyBy(keyOf func(Record) string) *KeyedStream {
	return &KeyedStream{s: s, keyOf: keyOf}
}

// edge is the hash edge into a keyed vertex; the sender applies keyOf.
func (k *KeyedStream) edge() Edge {
	e := k.s.edge(Hash)
	e.KeyOf = k.keyOf
	return e
}

// Process runs a keyed process function with parallelism subtasks.
func (k *KeyedStream) Process(name string, parallelism int, fn func() KeyedProcessFunction) *Stream {
	return k.s.b.add(&Vertex{Name: name, Kind: OperatorVertex, Parallelism: parallelism, Keyed: true,
		Inputs:      []Edge{k.edge()},
		NewOperator: func() Operator { return &keyedOp{fn: fn()} }})
}

// ConnectKeyed joins two keyed streams into one keyed process function that
// sees the first stream as input 0 and the second as input 1: a task with two
// inputs, which must align barriers.
func ConnectKeyed(a, b *KeyedStream, name string, parallelism int, fn func() KeyedProcessFunction) *Stream {
	if a.s.b != b.s.b {
		a.s.b.err = errors.New("ConnectKeyed: streams from different jobs")
	}
	return a.s.b.add(&Vertex{Name: name, Kind: OperatorVertex, Parallelism: parallelism, Keyed: true,
		Inputs:      []Edge{a.edge(), b.edge()},
		NewOperator: func() Operator { return &keyedOp{fn: fn()} }})
}

// SinkTo writes the stream to topic with the given guarantee. Each record
// goes to the partition its key hashes to (or, without a key, the subtask's
// own partition).
func (s *Stream) SinkTo(name, topic string, partitions int32, parallelism int, g Guarantee) {
	part := Forward
	if parallelism != s.vertex().Parallelism {
		part = Hash
	}
	s.b.add(&Vertex{Name: name, Kind: SinkVertex, Parallelism: parallelism,
		Inputs: []Edge{s.edge(part)},
		Sink:   &SinkSpec{Topic: topic, Partitions: partitions, TxnPrefix: s.b.job.Name + "-" + name, Guarantee: g}})
}

// Build checks the graph and returns the job.
func (b *Builder) Build() (*Job, error) {
	if b.err != nil {
		return nil, fmt.Errorf("job %s: %w", b.job.Name, b.err)
	}
	j := b.job
	maxPar := 1
	hasSink := false
	for _, v := range j.Vertices {
		maxPar = max(maxPar, v.Parallelism)
		for _, e := range v.Inputs {
			up := j.Vertices[e.From]
			if e.Partitioning == Forward && up.Parallelism != v.Parallelism {
				return nil, fmt.Errorf("job %s: forward edge %s -> %s joins parallelism %d to %d", j.Name, up.Name, v.Name, up.Parallelism, v.Parallelism)
			}
		}
		if v.Kind == SourceVertex && v.Source.Partitions <= 0 {
			return nil, fmt.Errorf("job %s: source %s: partitions must be at least 1", j.Name, v.Name)
		}
		if v.Kind == SinkVertex {
			hasSink = true
			if v.Sink.Partitions <= 0 {
				return nil, fmt.Errorf("job %s: sink %s: partitions must be at least 1", j.Name, v.Name)
			}
		}
	}
	if !hasSink {
		return nil, fmt.Errorf("job %s: no sink", j.Name)
	}
	if j.MaxParallelism == 0 {
		j.MaxParallelism = DefaultMaxParallelism(maxPar)
	}
	return j, nil
}

// TaskID names one task: a vertex and a subtask index.
type TaskID struct {
	Vertex  int `json:"vertex"`
	Subtask int `json:"subtask"`
}

// Tasks lists every task of the job, vertex by vertex.
func (j *Job) Tasks() []TaskID {
	var ids []TaskID
	for vi, v := range j.Vertices {
		for s := 0; s < v.Parallelism; s++ {
			ids = append(ids, TaskID{Vertex: vi, Subtask: s})
		}
	}
	return ids
}

// TaskName renders id as "vertex/subtask", as traces and fault plans name it.
func (j *Job) TaskName(id TaskID) string {
	return fmt.Sprintf("%s/%d", j.Vertices[id.Vertex].Name, id.Subtask)
}

// Downstream lists, for vertex vi, each (vertex, input index) that reads it.
func (j *Job) Downstream(vi int) []EdgeRef {
	var out []EdgeRef
	for di, d := range j.Vertices {
		for ii, e := range d.Inputs {
			if e.From == vi {
				out = append(out, EdgeRef{Vertex: di, Input: ii})
			}
		}
	}
	return out
}

// EdgeRef names input Input of vertex Vertex.
type EdgeRef struct {
	Vertex int
	Input  int
}
