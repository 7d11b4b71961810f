package onceprooftest_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/onceprooftest"
)

// TestRunningSumIsExactlyOnce is what a user writes: their job (the running
// sum of example_checkjob_test.go), its oracles, and the full fault
// treatment.
func TestRunningSumIsExactlyOnce(t *testing.T) {
	onceprooftest.CheckJob(t, runningSum(), onceprooftest.Options{Seeds: "1-20"})
}

// sumInField is the running sum with the classic mistake: the sum kept in
// a Go map in the operator, where no checkpoint sees it, so a restore
// silently starts from scratch.
func sumInField() *jobs.Spec {
	s := runningSum()
	s.Build = func(p jobs.Params) (*engine.Job, error) {
		b := engine.NewJob("running-sum")
		b.Source("src", "in", p.Partitions, p.Parallelism).
			KeyBy(func(r engine.Record) string { return r.Key }).
			Process("sum", p.Parallelism, func() engine.KeyedProcessFunction { return &fieldSum{sums: map[string][2]int{}} }).
			SinkTo("sink", "sums", p.Partitions, p.Parallelism, p.Guarantee)
		return b.Build()
	}
	return s
}

// fieldSum keeps its state where no checkpoint can see it.
type fieldSum struct{ sums map[string][2]int }

func (f *fieldSum) ProcessElement(ctx *engine.Context, _ int, r engine.Record) error {
	v, _ := strconv.Atoi(r.Value)
	s := f.sums[r.Key]
	s[0], s[1] = s[0]+1, s[1]+v
	f.sums[r.Key] = s
	ctx.Emit(engine.Record{Key: r.Key, Value: fmt.Sprintf("%s#%d=%d", r.Key, s[0], s[1]), Origin: r.Origin})
	return nil
}

func (f *fieldSum) OnTimer(*engine.Context, int64) error { return nil }

// recorder captures what a check reports, to test that a check can fail.
type recorder struct {
	mu     sync.Mutex
	errors []string
	fatals []string
}

func (r *recorder) Helper()             {}
func (r *recorder) Name() string        { return "TestRunningSumIsExactlyOnce" }
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(f string, a ...any) {
	r.mu.Lock()
	r.errors = append(r.errors, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}
func (r *recorder) Fatalf(f string, a ...any) {
	r.mu.Lock()
	r.fatals = append(r.fatals, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}

// TestBrokenUserJobFails: the running sum with its state outside the state
// backend fails, with the seed, the checks that failed, a minimal fault
// schedule that is not empty (the duplicate needs a fault to restore from,
// even though the state check fails without one), and the command that
// replays it.
func TestBrokenUserJobFails(t *testing.T) {
	var r recorder
	onceprooftest.CheckJob(&r, sumInField(), onceprooftest.Options{Seeds: "1-20"})
	if len(r.errors) != 1 || len(r.fatals) != 0 {
		t.Fatalf("got %d failures and %d fatal errors, want 1 and 0: %v %v", len(r.errors), len(r.fatals), r.errors, r.fatals)
	}
	msg := r.errors[0]
	t.Logf("the check reported:\n%s", msg)
	for _, want := range []string{
		"failed at seed",
		"exactly-once: violation duplicate",
		"state-at-checkpoint: violation state-mismatch",
		"minimal fault schedule (1 of ",
		"which still fails exactly-once (violation duplicate), state-at-checkpoint (violation state-mismatch):\n  at ",
		"without any fault, the job already fails state-at-checkpoint (violation state-mismatch)\n",
		"reproduce: go test -run '^TestRunningSumIsExactlyOnce$' -onceproof.seeds=",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "(0 of") || strings.Contains(msg, "no faults") {
		t.Errorf("the report offers an empty schedule for a failure that needs a fault:\n%s", msg)
	}
}

// TestCheckJobRefusesBadInput: a nil or incomplete spec, or bad options,
// stop the test with one Fatalf that names the problem, before any run.
func TestCheckJobRefusesBadInput(t *testing.T) {
	without := func(spoil func(s *jobs.Spec)) *jobs.Spec {
		s := runningSum()
		spoil(s)
		return s
	}
	for _, tc := range []struct {
		name string
		spec *jobs.Spec
		o    onceprooftest.Options
		want string
	}{
		{"nil spec", nil, onceprooftest.Options{}, "onceproof: CheckJob needs a job spec, got a nil *jobs.Spec"},
		{"no name", without(func(s *jobs.Spec) { s.Name = "" }), onceprooftest.Options{}, "onceproof: job spec: Name is empty"},
		{"no build", without(func(s *jobs.Spec) { s.Build = nil }), onceprooftest.Options{}, `onceproof: job spec "running-sum": Build is nil`},
		{"no inputs", without(func(s *jobs.Spec) { s.Inputs = nil }), onceprooftest.Options{}, `job spec "running-sum": Inputs is nil`},
		{"no output", without(func(s *jobs.Spec) { s.Output = nil }), onceprooftest.Options{}, `job spec "running-sum": Output is nil`},
		{"no input", without(func(s *jobs.Spec) { s.Generate = nil }), onceprooftest.Options{}, `job spec "running-sum": Generate is nil`},
		{"no oracle", without(func(s *jobs.Spec) { s.Oracle = nil }), onceprooftest.Options{}, `job spec "running-sum": Oracle is nil`},
		{"no lineage", without(func(s *jobs.Spec) { s.Lineage = nil }), onceprooftest.Options{}, `job spec "running-sum": Lineage is nil`},
		{"state without restored", without(func(s *jobs.Spec) { s.Restored = nil }), onceprooftest.Options{}, "State is set without Restored"},
		{"restored without state", without(func(s *jobs.Spec) { s.State = nil }), onceprooftest.Options{}, "Restored is set without State"},
		{"bad params", runningSum(), onceprooftest.Options{Params: jobs.Params{Parallelism: 2, Partitions: 0, Records: 10, Keys: 2}}, "onceproof: job running-sum: options: Params: partitions: must be at least 1, got 0"},
		{"negative workers", runningSum(), onceprooftest.Options{Workers: -1}, "options: Workers: negative (-1)"},
		{"empty seed range", runningSum(), onceprooftest.Options{Seeds: "9-3"}, "onceproof: seed range from Options.Seeds: seeds: 9-3 is empty (start after end)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r recorder
			onceprooftest.CheckJob(&r, tc.spec, tc.o)
			if len(r.fatals) != 1 || len(r.errors) != 0 {
				t.Fatalf("got fatal errors %q and errors %q, want one fatal error", r.fatals, r.errors)
			}
			if !strings.Contains(r.fatals[0], tc.want) {
				t.Errorf("got %q, want it to contain %q", r.fatals[0], tc.want)
			}
		})
	}
}

// TestWrongStateFoldNeedsNoFault: a correct job with a State fold that
// disagrees with it fails its state check at the first seed, faults or
// not, and the report says that no fault is needed.
func TestWrongStateFoldNeedsNoFault(t *testing.T) {
	spec := runningSum()
	fold := spec.State
	spec.State = func(in []jobs.Committed, offsets map[string]int64) map[string]string {
		out := fold(in, offsets)
		for k := range out { // every value changes alike: order does not matter
			out[k] += "0"
		}
		return out
	}
	var r recorder
	onceprooftest.CheckJob(&r, spec, onceprooftest.Options{Seeds: "1"})
	if len(r.errors) != 1 {
		t.Fatalf("got %d failures, want 1: %v", len(r.errors), r.errors)
	}
	msg := r.errors[0]
	want := "faults): none: the job fails state-at-checkpoint (violation state-mismatch) without any fault\n"
	if !strings.Contains(msg, want) || strings.Contains(msg, "exactly-once: ") {
		t.Errorf("got the report\n%s\nwant only state-at-checkpoint to fail, and %q", msg, want)
	}
}

func TestScenario(t *testing.T) {
	onceprooftest.CheckScenario(t, "count-crash-before-commit", onceprooftest.Options{Seeds: "1-5"})
}
