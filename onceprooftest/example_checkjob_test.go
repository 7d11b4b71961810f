package onceprooftest_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/onceprooftest"
)

// runningSum is a job of your own: a running sum of the values per key.
// Each output names the key, how many inputs of that key it has seen, and
// the sum so far ("k3#5=71"). That count is the output's lineage: it traces
// every output back to the input that caused it, so the check sees at once
// an output lost, duplicated or computed from the wrong state.
func runningSum() *jobs.Spec {
	return &jobs.Spec{
		Name: "running-sum",
		// The topics the run creates: the input it writes before the
		// job starts, and the output the job commits to.
		Inputs: func(p jobs.Params) []jobs.Topic { return []jobs.Topic{{Name: "in", Partitions: p.Partitions}} },
		Output: func(p jobs.Params) jobs.Topic { return jobs.Topic{Name: "sums", Partitions: p.Partitions} },
		// Build is the job graph: a Kafka source, a keyed process
		// function, an exactly-once Kafka sink.
		Build: func(p jobs.Params) (*engine.Job, error) {
			b := engine.NewJob("running-sum")
			b.Source("src", "in", p.Partitions, p.Parallelism).
				KeyBy(func(r engine.Record) string { return r.Key }).
				Process("sum", p.Parallelism, func() engine.KeyedProcessFunction { return engine.ProcessFunc(sum) }).
				SinkTo("sink", "sums", p.Partitions, p.Parallelism, p.Guarantee)
			return b.Build()
		},
		// Generate draws the input from r alone, so a seed replays it.
		Generate: func(r *rand.Rand, p jobs.Params) []jobs.Input {
			var in []jobs.Input
			for range p.Records {
				k := fmt.Sprintf("k%d", r.IntN(p.Keys))
				in = append(in, jobs.Input{Topic: "in", Partition: engine.PartitionFor(k, p.Partitions, 0), Key: k, Value: strconv.Itoa(r.IntN(100))})
			}
			return in
		},
		// Oracle is the job done sequentially: from the input that was
		// committed, exactly the output that must be, each record once.
		Oracle: func(in []jobs.Committed) []jobs.Output {
			n, total := map[string]int{}, map[string]int{}
			var out []jobs.Output
			for _, c := range in {
				v, _ := strconv.Atoi(c.Value)
				n[c.Key]++
				total[c.Key] += v
				out = append(out, jobs.Output{Lineage: fmt.Sprintf("%s#%d", c.Key, n[c.Key]), Key: c.Key, Value: fmt.Sprintf("%s#%d=%d", c.Key, n[c.Key], total[c.Key])})
			}
			return out
		},
		Lineage: func(_, v string) string { return v[:strings.IndexByte(v, '=')] },
		Order:   checkers.PerKey,
		// State is the oracle of the keyed state at a checkpoint: the
		// fold of the input read before it. Restored reads the state
		// back from the checkpoint; jobs.KeyedState renders the
		// engine's value states the same way, as "name:key" -> value.
		State: func(in []jobs.Committed, offsets map[string]int64) map[string]string {
			n, total := map[string]int{}, map[string]int{}
			out := map[string]string{}
			for _, c := range in {
				if !c.Before(offsets) {
					continue
				}
				v, _ := strconv.Atoi(c.Value)
				n[c.Key]++
				total[c.Key] += v
				out["n:"+c.Key] = strconv.Itoa(n[c.Key])
				out["sum:"+c.Key] = strconv.Itoa(total[c.Key])
			}
			return out
		},
		Restored: jobs.KeyedState,
	}
}

// sum keeps the count and the sum of its key in keyed value state, which
// every checkpoint captures and every restore brings back.
func sum(ctx *engine.Context, _ int, r engine.Record) error {
	n, err := intValue(ctx.Value("n"))
	if err != nil {
		return err
	}
	total, err := intValue(ctx.Value("sum"))
	if err != nil {
		return err
	}
	v, _ := strconv.Atoi(r.Value)
	n, total = n+1, total+v
	if err := errors.Join(ctx.Value("n").Set(strconv.Itoa(n)), ctx.Value("sum").Set(strconv.Itoa(total))); err != nil {
		return err
	}
	ctx.Emit(engine.Record{Key: r.Key, Value: fmt.Sprintf("%s#%d=%d", r.Key, n, total), Origin: r.Origin})
	return nil
}

// intValue reads an integer value state (0 when unset). A state the backend
// cannot read, or that holds no integer, is an error: the task fails and
// the job restores, rather than count from zero.
func intValue(st engine.ValueState) (int, error) {
	s, ok, err := st.Get()
	if err != nil || !ok {
		return 0, err
	}
	return strconv.Atoi(s)
}

// printTB prints what a check reports. In a test, pass the *testing.T:
//
//	func TestRunningSumIsExactlyOnce(t *testing.T) {
//		onceprooftest.CheckJob(t, runningSum(), onceprooftest.Options{})
//	}
type printTB struct{}

func (printTB) Helper()                   {}
func (printTB) Name() string              { return "TestRunningSumIsExactlyOnce" }
func (printTB) Logf(f string, a ...any)   { fmt.Printf(f+"\n", a...) }
func (printTB) Errorf(f string, a ...any) { fmt.Printf("FAIL: "+f+"\n", a...) }
func (printTB) Fatalf(f string, a ...any) { fmt.Printf("FATAL: "+f+"\n", a...) }

// Check a job of your own, its output and its keyed state, under a swarm
// of faults for three seeds. The simulator is deterministic, so the same
// seeds give the same verdict on every machine.
func ExampleCheckJob() {
	onceprooftest.CheckJob(printTB{}, runningSum(), onceprooftest.Options{Seeds: "1-3"})
	// Output: onceproof: job running-sum passed seeds 1-3
}
