package onceprooftest

import (
	"slices"
	"strconv"
	"testing"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/sim/cluster"
)

// countInField is keyed-count, with its State and Restored, but with the
// count kept in a Go map in the operator instead of keyed state: its state
// check fails at the first checkpoint, with no fault at all, and its
// output repeats counts only once a fault makes it restore.
func countInField(t *testing.T) *jobs.Spec {
	t.Helper()
	base, err := jobs.Lookup("keyed-count")
	if err != nil {
		t.Fatal(err)
	}
	s := *base
	s.Name = "count-in-field"
	s.Register = nil
	s.Build = func(p jobs.Params) (*engine.Job, error) {
		b := engine.NewJob("count-in-field")
		b.Source("src", "in", p.Partitions, p.Parallelism).
			KeyBy(func(r engine.Record) string { return r.Key }).
			Process("count", p.Parallelism, func() engine.KeyedProcessFunction { return &fieldCount{n: map[string]int{}} }).
			SinkTo("sink", "counts", p.Partitions, p.Parallelism, p.Guarantee)
		return b.Build()
	}
	return &s
}

type fieldCount struct{ n map[string]int }

func (f *fieldCount) ProcessElement(ctx *engine.Context, _ int, r engine.Record) error {
	f.n[r.Key]++
	ctx.Emit(engine.Record{Key: r.Key, Value: r.Key + "#" + strconv.Itoa(f.n[r.Key]), Origin: r.Origin})
	return nil
}

func (f *fieldCount) OnTimer(*engine.Context, int64) error { return nil }

// TestShrinkKeepsTheFailure is the report that offered "minimal fault
// schedule (0 of 2 faults): no faults" beside a duplicate: the state check
// fails without any fault, and a shrink that took any failure for the
// failure dropped every fault. The shrink now keeps every check of the
// seed failing: the minimal schedule is not empty, replayed it fails the
// same checks, and without it the duplicate is gone.
func TestShrinkKeepsTheFailure(t *testing.T) {
	spec := countInField(t)
	var (
		copts cluster.Options
		plan  faults.Plan
		first []checkers.Result
		seed  uint64
	)
	for seed = 1; seed <= 20 && first == nil; seed++ {
		c, p := jobOptions(spec, Options{}, seed)
		r, err := runJob(c, p)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(r.Verdicts, func(v checkers.Result) bool { return v.Anomaly == "duplicate" }) {
			copts, plan, first = c, p, r.Verdicts
		}
	}
	if first == nil {
		t.Fatal("no seed of 1-20 gave a duplicate")
	}
	seed--
	want := failing(first)
	if !slices.Contains(want, check{"state-at-checkpoint", checkers.Violation, "state-mismatch"}) {
		t.Fatalf("seed %d: got failing checks %v, want state-at-checkpoint among them", seed, want)
	}

	// The old shrink: any failure will do.
	old := faults.Shrink(plan, func(try faults.Plan) bool {
		r, err := runJob(copts, try)
		return err == nil && r.Verdict() != checkers.Ok
	})
	if len(old.Faults) != 0 {
		t.Errorf("seed %d: the old shrink kept %d of %d faults, want 0: the test no longer reproduces the wrong report", seed, len(old.Faults), len(plan.Faults))
	}

	minimal, unfaulted := shrinkJob(copts, plan, want)
	if len(minimal.Faults) == 0 {
		t.Fatalf("seed %d: got an empty minimal schedule for %v", seed, want)
	}
	if !slices.Equal(unfaulted, []check{{"state-at-checkpoint", checkers.Violation, "state-mismatch"}}) {
		t.Errorf("seed %d: got %v failing without faults, want only state-at-checkpoint", seed, unfaulted)
	}
	replay, err := runJob(copts, minimal)
	if err != nil {
		t.Fatal(err)
	}
	if got := failedAmong(want, replay.Verdicts); !slices.Equal(got, want) {
		t.Errorf("seed %d: the minimal schedule\n%s\nreplayed fails %v, want %v", seed, minimal, got, want)
	}
	none, err := runJob(copts, faults.Plan{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range none.Verdicts {
		if v.Checker == "exactly-once" && v.Verdict != checkers.Ok {
			t.Errorf("seed %d: without faults exactly-once fails too (%s): the test shows nothing", seed, v)
		}
	}
	t.Logf("seed %d: %d of %d faults still fail %s:\n%s", seed, len(minimal.Faults), len(plan.Faults), checkList(want), indent(minimal.String()))
}
