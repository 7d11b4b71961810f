package bench_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/sim"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Hot-path benchmarks: go test -bench . ./bench/ (benchstat reads the
// output). They drive engine code directly, without the live runner.

// nullEnv is a TaskEnv that counts what the task sends and does nothing
// else; the benchmarks never make the task ask for Kafka or storage.
type nullEnv struct{ sent int }

func (e *nullEnv) Now() int64 { return 0 }
func (e *nullEnv) Send(m engine.Message) {
	if m.Type == protocol.MsgRecord {
		e.sent++
	}
}
func (e *nullEnv) Kafka(kmsg.Request, func(kmsg.Response, error))   { panic("kafka") }
func (e *nullEnv) Persist(name string, data []byte, cb func(error)) { panic("persist") }
func (e *nullEnv) Load(name string, cb func([]byte, error))         { panic("load") }
func (e *nullEnv) After(d time.Duration, fn func())                 {}
func (e *nullEnv) Event(ev engine.Event)                            {}

// operatorTask starts the operator subtask (vertex 1) of job with credits
// that never run out.
func operatorTask(b *testing.B, job string) (*engine.Task, *nullEnv) {
	spec, err := jobs.Lookup(job)
	if err != nil {
		b.Fatal(err)
	}
	j, err := spec.Build(jobs.Params{Parallelism: 1, Partitions: 1, Records: 1, Keys: 1})
	if err != nil {
		b.Fatal(err)
	}
	cfg := engine.DefaultTaskConfig()
	cfg.ChannelCredits = 1 << 40
	env := &nullEnv{}
	t := engine.NewTask(j, engine.Deployment{Task: engine.TaskID{Vertex: 1}, Attempt: 1, FenceUpTo: 1}, env, cfg, nil)
	t.Start()
	return t, env
}

// BenchmarkRecordThroughOperator is one record into an operator task and
// out of it: queueing, credit accounting, the operator, the emit.
func BenchmarkRecordThroughOperator(b *testing.B) {
	for _, job := range []string{"copier", "keyed-count"} {
		b.Run(job, func(b *testing.B) {
			t, env := operatorTask(b, job)
			recs := make([]engine.Record, 1024)
			for i := range recs {
				recs[i] = engine.Record{Key: fmt.Sprintf("k%d", i%100), Value: fmt.Sprintf("in-%d", i), Origin: fmt.Sprintf("in/0@%d", i)}
			}
			b.ReportAllocs()
			b.ResetTimer()
			m := engine.Message{Type: protocol.MsgRecord, Attempt: 1, From: engine.TaskEndpoint(engine.TaskID{Vertex: 0}), To: engine.TaskEndpoint(engine.TaskID{Vertex: 1})}
			for i := range b.N {
				m.Stream = engine.StreamMsg{Kind: engine.KindRecord, Record: recs[i%len(recs)]}
				t.Step(m)
			}
			b.StopTimer()
			if env.sent != b.N {
				b.Fatalf("sent %d records, want %d", env.sent, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// getPut fills st with keys keys, then times a get and a put of one of
// them, round robin.
func getPut(b *testing.B, st engine.StateBackend, keys int) {
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("k%d", i)
		st.Set(engine.KeyGroup(names[i], 128), "count", names[i], "1")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := names[i%keys]
		kg := engine.KeyGroup(k, 128)
		v, _, err := st.Get(kg, "count", k)
		if err == nil {
			err = st.Set(kg, "count", k, v)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeapState is a get and a put of keyed value state.
func BenchmarkHeapState(b *testing.B) {
	for _, keys := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			h := engine.NewHeapBackend()
			getPut(b, h, keys)
		})
	}
}

// BenchmarkPebbleState is BenchmarkHeapState on the pebble backend, in
// both of its configurations: the simulator's (explicit small flushes and
// synchronous compactions, in memory, so that files repeat byte for byte)
// and the live runner's (background flushes and compactions, a value
// cache, on disk).
func BenchmarkPebbleState(b *testing.B) {
	for _, cfg := range []struct {
		name       string
		background bool
	}{{"sim", false}, {"live", true}} {
		for _, keys := range []int{1_000, 100_000} {
			b.Run(fmt.Sprintf("config=%s/keys=%d", cfg.name, keys), func(b *testing.B) {
				var fs vfs.FS = vfs.NewMem()
				dir := "state"
				if cfg.background {
					fs, dir = vfs.Default, b.TempDir()
				}
				p := engine.NewPebbleBackend(engine.PebbleConfig{FS: fs, Dir: dir, Background: cfg.background})
				defer p.Close()
				if err := p.Open(); err != nil {
					b.Fatal(err)
				}
				getPut(b, p, keys)
			})
		}
	}
}

// BenchmarkSnapshotEncode is a full heap snapshot of 10k keys, encoded
// with its checksum (the synchronous part and the encoding of a checkpoint).
func BenchmarkSnapshotEncode(b *testing.B) {
	h := engine.NewHeapBackend()
	for i := range 10_000 {
		k := fmt.Sprintf("k%d", i)
		h.Set(engine.KeyGroup(k, 128), "count", k, fmt.Sprint(i))
	}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		data, err := engine.EncodeSnapshot(&engine.TaskSnapshot{Task: "count/0", Checkpoint: 1, Keyed: h.Snapshot()})
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkSimEventLoop is one event of the simulator's queue: a handler
// that schedules the next one at a seeded random delay.
func BenchmarkSimEventLoop(b *testing.B) {
	w, err := sim.New(sim.DefaultConfig(1))
	if err != nil {
		b.Fatal(err)
	}
	r := w.Rand("bench")
	n := 0
	var tick func()
	tick = func() {
		n++
		w.After(time.Duration(1+r.IntN(1000))*time.Microsecond, tick)
	}
	for range 64 { // a queue of some depth, as a run has
		w.After(0, tick)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !w.Step() {
			b.Fatal("queue empty")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
