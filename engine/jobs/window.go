package jobs

import (
	"fmt"
	"github.com/onceproof/onceproof/internal/order"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine"
)

// window-sum: sliding event-time windows summed per key, with out-of-order
// input.
//
// Why its oracle is exact. Whether a record is late depends on the
// watermark when it arrives, and the watermark is a minimum over partitions
// read at different speeds: a late record's fate would depend on the
// interleaving, and no sequential oracle could say what must be committed.
// So the generator makes sure no record is ever late, whatever the
// interleaving, kill or restore:
//
//   - Within a partition, event time is out of order by at most the
//     watermark bound: record i has time base + i - jitter, jitter in
//     [0, bound]. A record's own partition has then only raised the
//     watermark to below the record's time, and the task's watermark is a
//     minimum that includes that partition, so it is below the record's
//     time too: the record is never late, not even for its earliest window.
//   - A partition holds the watermark back until it has no data left: the
//     source declares a partition idle only after IdleTimeout of fetches
//     that returned nothing for it, and in the simulator (input written
//     before the run, every fetch returning data for every partition that
//     has some) that happens only at its end.
//   - Every partition ends with an end marker at the same time, past every
//     window of the data by more than the bound. The final watermark is
//     then the same whichever partition ends or goes idle first: every
//     window of the data fires, exactly once, and the marker's own windows
//     never do.
//
// The oracle sums every window per key over the committed input and
// expects one firing of each window whose end is at or below the final
// watermark. Outputs carry their lineage: key, window and firing number,
// "k3@[1050,1150)#1", with the sum and the count in the value.
//
// The state fold is exact for the same reason: at a checkpoint the window
// operator's watermark is the minimum over partitions of the highest time
// read before the checkpoint's offsets, minus the bound, minus one; its
// state holds every window of the data before the offsets whose cleanup
// time (end - 1 + allowed lateness) is above that watermark, marked fired
// once its end - 1 is at or below it.
const (
	windowTimeBase    = 1000 // ms: event time of record 0
	windowBound       = 40 * time.Millisecond
	windowSize        = 100 * time.Millisecond
	windowSlide       = 50 * time.Millisecond
	windowLateness    = 20 * time.Millisecond
	windowIdleTimeout = 100 * time.Millisecond
)

// windowInput renders one input value: "in-<i>:<amount>@<time>".
func windowInput(name string, amount int, t int64) string {
	return fmt.Sprintf("%s:%d@%d", name, amount, t)
}

// parseWindowInput reads amount and time back from a value; ok is false for
// a value not made by windowInput.
func parseWindowInput(v string) (amount, t int64, ok bool) {
	colon, at := strings.LastIndexByte(v, ':'), strings.LastIndexByte(v, '@')
	if colon < 0 || at < colon {
		return 0, 0, false
	}
	a, err1 := strconv.ParseInt(v[colon+1:at], 10, 64)
	t, err2 := strconv.ParseInt(v[at+1:], 10, 64)
	return a, t, err1 == nil && err2 == nil
}

// windowEventTime is the job's timestamp assigner: event time travels in
// the value (the oracle reads committed values, not Kafka timestamps).
func windowEventTime(r engine.Record) int64 {
	if _, t, ok := parseWindowInput(r.Value); ok {
		return t
	}
	return r.Time
}

func windowAmount(r engine.Record) int64 {
	a, _, _ := parseWindowInput(r.Value)
	return a
}

// windowStarts lists the starts of the sliding windows holding t, written
// out plainly for the oracle (the engine has its own assigner).
func windowStarts(t int64) []int64 {
	size, slide := windowSize.Milliseconds(), windowSlide.Milliseconds()
	var out []int64
	for s := t - t%slide; s > t-size; s -= slide {
		out = append(out, s)
	}
	return out
}

func windowID(key string, start int64, fire int) string {
	return fmt.Sprintf("%s@[%d,%d)#%d", key, start, start+windowSize.Milliseconds(), fire)
}

// windowWatermark is the watermark of a source that has read, from each of
// partitions, records up to the highest time in maxByPartition: the minimum
// over partitions of that time, minus the bound, minus 1 (NoWatermark while
// a partition has given nothing).
func windowWatermark(maxByPartition map[int32]int64, partitions []int32) int64 {
	wm := int64(math.MaxInt64)
	for _, p := range partitions {
		m, ok := maxByPartition[p]
		if !ok {
			return engine.NoWatermark
		}
		wm = min(wm, m-windowBound.Milliseconds()-1)
	}
	if len(partitions) == 0 {
		return engine.NoWatermark
	}
	return wm
}

type windowKey struct {
	key   string
	start int64
}

type windowAcc struct{ count, sum int64 }

func init() {
	registry["window-sum"] = &Spec{
		Name: "window-sum",
		Description: "sliding event-time windows (100ms every 50ms) summed per key over out-of-order input (bound 40ms, " +
			"allowed lateness 20ms); each output is one firing of one window with its sum and count",
		Inputs: one("in"),
		Output: topic("windows"),
		Build: pipeline("window-sum", "in", "windows", func(s *engine.Stream, p Params) *engine.Stream {
			return s.WithWatermarks(engine.BoundedOutOfOrderness(windowBound).WithIdleness(windowIdleTimeout).WithTimestampAssigner(windowEventTime)).
				KeyBy(func(r engine.Record) string { return r.Key }).
				Window("window", p.Parallelism, engine.Sliding(windowSize, windowSlide), engine.Sum(windowAmount), engine.AllowedLateness(windowLateness))
		}),
		Generate: func(r *rand.Rand, p Params) []Input {
			out := make([]Input, 0, p.Records+int(p.Partitions))
			for i := 0; i < p.Records; i++ {
				k := fmt.Sprintf("k%d", r.IntN(p.Keys))
				t := windowTimeBase + int64(i) - r.Int64N(windowBound.Milliseconds()+1)
				out = append(out, Input{Topic: "in", Partition: engine.PartitionFor(k, p.Partitions, 0), Key: k,
					Value: windowInput(fmt.Sprintf("in-%d", i), 1+r.IntN(9), t), Time: t})
			}
			// The end markers: one per partition, all at the same time,
			// past every window of the data by more than the bound.
			end := windowTimeBase + int64(p.Records) + windowSize.Milliseconds() + windowBound.Milliseconds() + windowSlide.Milliseconds()
			for q := int32(0); q < p.Partitions; q++ {
				out = append(out, Input{Topic: "in", Partition: q, Key: fmt.Sprintf("end%d", q),
					Value: windowInput(fmt.Sprintf("end-%d", q), 0, end), Time: end})
			}
			return out
		},
		Oracle: func(in []Committed) []Output {
			maxT := map[int32]int64{}
			var parts []int32
			accs := map[windowKey]windowAcc{}
			for _, c := range in {
				a, t, ok := parseWindowInput(c.Value)
				if !ok {
					continue
				}
				if m, seen := maxT[c.Partition]; !seen {
					parts = append(parts, c.Partition)
					maxT[c.Partition] = t
				} else {
					maxT[c.Partition] = max(m, t)
				}
				for _, s := range windowStarts(t) {
					w := accs[windowKey{c.Key, s}]
					w.count++
					w.sum += a
					accs[windowKey{c.Key, s}] = w
				}
			}
			wm := windowWatermark(maxT, parts)
			var keys []windowKey
			for k := range accs { // lint:sorted sorted below
				if k.start+windowSize.Milliseconds()-1 <= wm {
					keys = append(keys, k)
				}
			}
			sort.Slice(keys, func(i, j int) bool {
				if keys[i].key != keys[j].key {
					return keys[i].key < keys[j].key
				}
				return keys[i].start < keys[j].start
			})
			out := make([]Output, 0, len(keys))
			for _, k := range keys {
				a := accs[k]
				id := windowID(k.key, k.start, 1)
				out = append(out, Output{Lineage: id, Key: k.key, Value: fmt.Sprintf("%s sum=%d count=%d", id, a.sum, a.count)})
			}
			return out
		},
		Lineage: func(_, v string) string {
			id, _, _ := strings.Cut(v, " ")
			return id
		},
		Order: order.PerKey,
		State: func(in []Committed, offsets map[string]int64) map[string]string {
			maxT := map[int32]int64{}
			var parts []int32
			for tp := range offsets { // lint:sorted sorted below
				var p int32
				if _, err := fmt.Sscanf(tp, "in/%d", &p); err == nil {
					parts = append(parts, p)
				}
			}
			sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
			var read []Committed
			for _, c := range in {
				if _, t, ok := parseWindowInput(c.Value); ok && c.Before(offsets) {
					read = append(read, c)
					if m, seen := maxT[c.Partition]; !seen || t > m {
						maxT[c.Partition] = t
					}
				}
			}
			wm := windowWatermark(maxT, parts)
			accs := map[windowKey]windowAcc{}
			for _, c := range read {
				a, t, _ := parseWindowInput(c.Value)
				for _, s := range windowStarts(t) {
					if s+windowSize.Milliseconds()-1+windowLateness.Milliseconds() > wm {
						w := accs[windowKey{c.Key, s}]
						w.count++
						w.sum += a
						accs[windowKey{c.Key, s}] = w
					}
				}
			}
			out := map[string]string{}
			for k, a := range accs { // lint:sorted writes into a map
				fires := 0
				if k.start+windowSize.Milliseconds()-1 <= wm {
					fires = 1
				}
				out[fmt.Sprintf("window@%d:%s", k.start, k.key)] = fmt.Sprintf("%d,%d,%d", a.count, a.sum, fires)
			}
			return out
		},
		Restored: KeyedState,
	}
}
