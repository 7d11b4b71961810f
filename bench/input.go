package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Input is a benchmark's input: the job's generated records, and the time
// the broker acknowledged each one once written.
type Input struct {
	Job     string
	Records []jobs.Input
	// ackedNs[i] is when Records[i]'s write was acknowledged (Unix ns; 0:
	// not yet).
	ackedNs []atomic.Int64
	written atomic.Int64
	// todo are the indexes of the records Write writes, in order (nil:
	// all): a resumed run writes only what its input topics lack.
	todo []int
}

// NewInput draws the job's input from seed with the job's own generator
// (uniform keys, each key always in the same partition). For a join the
// two sides are interleaved, so that matches come out while input flows.
func NewInput(spec *jobs.Spec, p jobs.Params, seed uint64) *Input {
	recs := spec.Generate(rand.New(rand.NewPCG(seed, 0x62656e63)), p)
	if len(spec.Inputs(p)) > 1 {
		recs = interleave(recs, spec.Inputs(p)[0].Name)
	}
	return &Input{Job: spec.Name, Records: recs, ackedNs: make([]atomic.Int64, len(recs))}
}

func interleave(recs []jobs.Input, first string) []jobs.Input {
	var a, b []jobs.Input
	for _, r := range recs {
		if r.Topic == first {
			a = append(a, r)
		} else {
			b = append(b, r)
		}
	}
	out := make([]jobs.Input, 0, len(recs))
	for i := 0; i < len(a) || i < len(b); i++ {
		if i < len(a) {
			out = append(out, a[i])
		}
		if i < len(b) {
			out = append(out, b[i])
		}
	}
	return out
}

// Written is how many records have been acknowledged.
func (in *Input) Written() int { return int(in.written.Load()) }

// AckedAt is when record i was acknowledged (zero time if it was not).
func (in *Input) AckedAt(i int) time.Time {
	ns := in.ackedNs[i].Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Write writes the records with an idempotent (not transactional) kgo
// producer: as fast as it can when rate is 0, or at rate records a second,
// paced every millisecond. It stops early when stop passes (zero: never)
// and returns the number of records acknowledged.
func (in *Input) Write(ctx context.Context, opts []kgo.Opt, topicOf func(string) string, rate float64, stop time.Time) (int, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond),
		kgo.MaxBufferedRecords(1<<16))...)
	if err != nil {
		return 0, fmt.Errorf("input producer: %w", err)
	}
	defer cl.Close()
	var firstErr atomic.Value
	produce := func(i int) {
		r := in.Records[i]
		rec := &kgo.Record{Topic: topicOf(r.Topic), Partition: r.Partition, Key: []byte(r.Key), Value: []byte(r.Value)}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			in.ackedNs[i].Store(time.Now().UnixNano())
			in.written.Add(1)
		})
	}
	todo := in.todo
	if todo == nil {
		todo = make([]int, len(in.Records))
		for i := range todo {
			todo[i] = i
		}
	}
	n := len(todo)
	start := time.Now()
	sent := 0
	if rate <= 0 {
		for ; sent < n; sent++ {
			if !stop.IsZero() && sent%1024 == 0 && time.Now().After(stop) {
				break
			}
			produce(todo[sent])
		}
	} else {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for sent < n {
			now := time.Now()
			if !stop.IsZero() && now.After(stop) {
				break
			}
			due := min(n, int(rate*now.Sub(start).Seconds())+1)
			for ; sent < due; sent++ {
				produce(todo[sent])
			}
			select {
			case <-ctx.Done():
				return in.Written(), ctx.Err()
			case <-tick.C:
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return in.Written(), fmt.Errorf("input producer: %w", err)
	}
	if err, ok := firstErr.Load().(error); ok {
		return in.Written(), fmt.Errorf("input producer: %w", err)
	}
	return in.Written(), nil
}

// inTopic returns the records that are in the input topics after Write:
// those that were there before (had) and those Write had acknowledged.
func (in *Input) inTopic(had []bool) []jobs.Input {
	var out []jobs.Input
	for i, r := range in.Records {
		if (i < len(had) && had[i]) || in.ackedNs[i].Load() != 0 {
			out = append(out, r)
		}
	}
	return out
}

// causes maps an output record's lineage to the indexes of the input
// records that produced it, for the latency measurement: the latest of
// them is the record's input time.
func (in *Input) causes(spec *jobs.Spec) func(lineage string) []int {
	byValue := make(map[string]int, len(in.Records))
	for i, r := range in.Records {
		byValue[r.Value] = i
	}
	switch spec.Name {
	case "keyed-count":
		// "key#n" is the n-th record of key, in write order.
		nth := map[string]int{}
		byCount := make(map[string]int, len(in.Records))
		for i, r := range in.Records {
			nth[r.Key]++
			byCount[r.Key+"#"+strconv.Itoa(nth[r.Key])] = i
		}
		return func(l string) []int {
			if i, ok := byCount[l]; ok {
				return []int{i}
			}
			return nil
		}
	case "join":
		// "L=<left value>,R=<right value>".
		return func(l string) []int {
			lv, rv, ok := strings.Cut(strings.TrimPrefix(l, "L="), ",R=")
			if !ok {
				return nil
			}
			var out []int
			for _, v := range []string{lv, rv} {
				if i, ok := byValue[v]; ok {
					out = append(out, i)
				}
			}
			return out
		}
	}
	// copier and any job whose lineage is the input value.
	return func(l string) []int {
		if i, ok := byValue[l]; ok {
			return []int{i}
		}
		return nil
	}
}
