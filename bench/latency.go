package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/twmb/franz-go/pkg/kgo"
)

// watcher polls the output topic with a read_committed consumer and notes
// when each output record became visible to it.
type watcher struct {
	cl   *kgo.Client
	spec *jobs.Spec
	seen []seen
	n    atomic.Int64
	done chan struct{}
}

type seen struct {
	lineage string
	at      time.Time
}

// pollWait is the watcher's fetch long-poll bound: it bounds how late a
// visible record can be noticed when the broker does not wake the poll.
const pollWait = 10 * time.Millisecond

func startWatcher(ctx context.Context, opts []kgo.Opt, topic string, spec *jobs.Spec) (*watcher, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(pollWait))...)
	if err != nil {
		return nil, fmt.Errorf("output watcher: %w", err)
	}
	w := &watcher{cl: cl, spec: spec, done: make(chan struct{})}
	go w.run(ctx)
	return w, nil
}

func (w *watcher) run(ctx context.Context) {
	defer close(w.done)
	for ctx.Err() == nil {
		fs := w.cl.PollFetches(ctx)
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			w.seen = append(w.seen, seen{lineage: w.spec.Lineage(string(r.Key), string(r.Value)), at: now})
			w.n.Add(1)
		})
	}
}

// stop ends the watcher once it has seen want records or grace has passed,
// and returns what it saw.
func (w *watcher) stop(cancel context.CancelFunc, want int, grace time.Duration) []seen {
	deadline := time.Now().Add(grace)
	for int(w.n.Load()) < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-w.done
	w.cl.Close()
	return w.seen
}

// LatencyStats summarises end-to-end latencies (see the package comment
// for the definition).
type LatencyStats struct {
	Count int64         `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
	// Unmatched counts output records whose input could not be found.
	Unmatched int `json:"unmatched,omitempty"`
	// CDF is (percentile, latency) pairs for plotting.
	CDF []Quantile `json:"cdf"`
}

// Quantile is one point of a latency distribution.
type Quantile struct {
	Percentile float64       `json:"percentile"`
	Latency    time.Duration `json:"latency_ns"`
}

// latencies joins what the watcher saw with the input's write times in an
// HDR histogram of microseconds (1 µs to 10 min, 3 significant digits).
func latencies(in *Input, spec *jobs.Spec, saw []seen) *LatencyStats {
	h := hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
	cause := in.causes(spec)
	st := &LatencyStats{}
	for _, s := range saw {
		var latest time.Time
		for _, i := range cause(s.lineage) {
			if t := in.AckedAt(i); t.After(latest) {
				latest = t
			}
		}
		if latest.IsZero() {
			st.Unmatched++
			continue
		}
		us := max(int64(s.at.Sub(latest)/time.Microsecond), 1)
		_ = h.RecordValue(min(us, h.HighestTrackableValue())) // clamped above, so it cannot fail
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	st.Count = h.TotalCount()
	if st.Count == 0 {
		return st
	}
	st.Mean = time.Duration(h.Mean() * float64(time.Microsecond))
	st.P50, st.P90, st.P99 = us(h.ValueAtQuantile(50)), us(h.ValueAtQuantile(90)), us(h.ValueAtQuantile(99))
	st.P999, st.Max = us(h.ValueAtQuantile(99.9)), us(h.Max())
	for _, q := range []float64{0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99, 99.5, 99.9, 99.99, 100} {
		st.CDF = append(st.CDF, Quantile{Percentile: q, Latency: us(h.ValueAtQuantile(q))})
	}
	return st
}
