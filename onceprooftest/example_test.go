package onceprooftest_test

import (
	"fmt"
	"github.com/onceproof/onceproof/checkers"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/onceprooftest"
)

// runningSum is a user's own job: a running sum of the values per key. Each
// output names the key, how many inputs of that key it has seen, and the
// sum so far ("k3#5=71"): that count is the output's lineage, so every
// output can be traced back to the input that caused it.
//
// The sum lives in keyed value state, so checkpoints capture it. sumInField
// is the same job with the classic mistake: the sum kept in a Go map in the
// operator, which a restore silently starts from scratch.
func runningSum(sumInField bool) *jobs.Spec {
	return &jobs.Spec{
		Name:   "running-sum",
		Inputs: func(p jobs.Params) []jobs.Topic { return []jobs.Topic{{Name: "in", Partitions: p.Partitions}} },
		Output: func(p jobs.Params) jobs.Topic { return jobs.Topic{Name: "sums", Partitions: p.Partitions} },
		Build: func(p jobs.Params) (*engine.Job, error) {
			b := engine.NewJob("running-sum")
			b.Source("src", "in", p.Partitions, p.Parallelism).
				KeyBy(func(r engine.Record) string { return r.Key }).
				Process("sum", p.Parallelism, func() engine.KeyedProcessFunction {
					if sumInField {
						return &fieldSum{sums: map[string][2]int{}}
					}
					return engine.ProcessFunc(stateSum)
				}).
				SinkTo("sink", "sums", p.Partitions, p.Parallelism, p.Guarantee)
			return b.Build()
		},
		Generate: func(r *rand.Rand, p jobs.Params) []jobs.Input {
			var in []jobs.Input
			for i := 0; i < p.Records; i++ {
				k := fmt.Sprintf("k%d", r.IntN(p.Keys))
				in = append(in, jobs.Input{Topic: "in", Partition: engine.PartitionFor(k, p.Partitions, 0), Key: k, Value: strconv.Itoa(r.IntN(100))})
			}
			return in
		},
		Oracle: func(in []jobs.Committed) []jobs.Output {
			n, sum := map[string]int{}, map[string]int{}
			var out []jobs.Output
			for _, c := range in {
				v, _ := strconv.Atoi(c.Value)
				n[c.Key]++
				sum[c.Key] += v
				out = append(out, jobs.Output{Lineage: fmt.Sprintf("%s#%d", c.Key, n[c.Key]), Key: c.Key, Value: fmt.Sprintf("%s#%d=%d", c.Key, n[c.Key], sum[c.Key])})
			}
			return out
		},
		Lineage: func(_, v string) string { return v[:strings.IndexByte(v, '=')] },
		Order:   checkers.PerKey,
	}
}

func stateSum(ctx *engine.Context, _ int, r engine.Record) {
	n, sum := 0, 0
	if s, ok := ctx.Value("n").Get(); ok {
		n, _ = strconv.Atoi(s)
	}
	if s, ok := ctx.Value("sum").Get(); ok {
		sum, _ = strconv.Atoi(s)
	}
	v, _ := strconv.Atoi(r.Value)
	n, sum = n+1, sum+v
	ctx.Value("n").Set(strconv.Itoa(n))
	ctx.Value("sum").Set(strconv.Itoa(sum))
	ctx.Emit(engine.Record{Key: r.Key, Value: fmt.Sprintf("%s#%d=%d", r.Key, n, sum)})
}

// fieldSum keeps its state where no checkpoint can see it.
type fieldSum struct{ sums map[string][2]int }

func (f *fieldSum) ProcessElement(ctx *engine.Context, _ int, r engine.Record) {
	v, _ := strconv.Atoi(r.Value)
	s := f.sums[r.Key]
	s[0], s[1] = s[0]+1, s[1]+v
	f.sums[r.Key] = s
	ctx.Emit(engine.Record{Key: r.Key, Value: fmt.Sprintf("%s#%d=%d", r.Key, s[0], s[1])})
}

func (f *fieldSum) OnTimer(*engine.Context, int64) {}

// TestUserJobIsExactlyOnce is what a user writes: their job, their oracle,
// and the full fault treatment.
func TestUserJobIsExactlyOnce(t *testing.T) {
	onceprooftest.CheckJob(t, runningSum(false), onceprooftest.Options{Seeds: "1-20"})
}

// recorder captures what a check reports, to test that a check can fail.
type recorder struct {
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper()             {}
func (r *recorder) Name() string        { return "TestUserJobIsExactlyOnce" }
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(f string, a ...any) {
	r.mu.Lock()
	r.errors = append(r.errors, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...) }

// TestBrokenUserJobFails: the same job with its state outside the state
// backend fails, with the seed, a minimal fault schedule and the command
// that replays it.
func TestBrokenUserJobFails(t *testing.T) {
	var r recorder
	onceprooftest.CheckJob(&r, runningSum(true), onceprooftest.Options{Seeds: "1-20"})
	if len(r.errors) != 1 {
		t.Fatalf("got %d failures, want 1: %v", len(r.errors), r.errors)
	}
	msg := r.errors[0]
	t.Logf("the check reported:\n%s", msg)
	for _, want := range []string{"failed at seed", "minimal fault schedule", "reproduce: go test -run '^TestUserJobIsExactlyOnce$' -onceproof.seeds="} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report lacks %q:\n%s", want, msg)
		}
	}
}

func TestScenario(t *testing.T) {
	onceprooftest.CheckScenario(t, "count-crash-before-commit", onceprooftest.Options{Seeds: "1-5"})
}

func TestBadSeeds(t *testing.T) {
	var r recorder
	onceprooftest.CheckJob(&r, runningSum(false), onceprooftest.Options{Seeds: "9-3"})
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "start after end") {
		t.Fatalf("got %v, want one error naming the empty range", r.errors)
	}
}
