package scenarios

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/faults"
	"pgregory.net/rapid"
)

// ExploreOptions configure a rapid-driven search over fault schedules.
type ExploreOptions struct {
	// Checks is how many schedules rapid tries before it gives up.
	Checks int
	// Seed seeds rapid's search (and is the run's seed for every schedule).
	Seed uint64
	// Mutants switches on deliberate engine bugs.
	Mutants engine.Mutants
	// FaultsMax bounds a schedule's length.
	FaultsMax int
	// Window is the span of simulated time the faults fall in.
	Window time.Duration
	// Workers is the number of workers a schedule may name.
	Workers int
	// Kinds are the fault kinds drawn.
	Kinds []faults.ActionKind
	// Progress, if set, is called after every schedule tried.
	Progress func(tried int, failing bool)
}

// ExploreResult is what a search found.
type ExploreResult struct {
	// Tried counts the schedules run (shrinking included).
	Tried int
	// Failed is set when a schedule made the scenario fail; Minimal is the
	// smallest failing schedule rapid's shrinking reached, and Outcome its
	// run.
	Failed  bool
	Minimal faults.Plan
	Outcome *Outcome
	// Report is rapid's own account of the failure.
	Report string
}

// exploreKinds are the kinds drawn by default: each needs only a worker and
// a duration, so a schedule stays small and every element is meaningful.
var exploreKinds = []faults.ActionKind{faults.KillWorker, faults.PauseWorker, faults.Isolate, faults.KillCoordinator}

// rapidMu serializes Explore: rapid's settings are process-wide flags.
var rapidMu sync.Mutex

// Explore searches fault schedules for one that makes s fail, with rapid:
// schedules are a sorted rapid.SliceOfN of faults (which shrinks best: a
// failure shrinks to few faults, each at its smallest time and duration),
// then a deterministic pass makes the schedule 1-minimal. The run's seed is
// fixed, so the schedule alone decides the outcome.
func Explore(ctx context.Context, s *Scenario, o ExploreOptions) (*ExploreResult, error) {
	if o.Checks <= 0 {
		return nil, fmt.Errorf("checks: must be at least 1, got %d", o.Checks)
	}
	if o.FaultsMax <= 0 {
		o.FaultsMax = 6
	}
	if o.Window <= 0 {
		o.Window = 600 * time.Millisecond
	}
	if o.Workers <= 0 {
		o.Workers = 3
	}
	if len(o.Kinds) == 0 {
		o.Kinds = exploreKinds
	}
	rapidMu.Lock()
	defer rapidMu.Unlock()
	// rapid reads testing's flags; outside `go test` they must exist and be
	// parsed before it runs.
	if flag.Lookup("test.short") == nil {
		testing.Init()
	}
	if !flag.Parsed() {
		_ = flag.CommandLine.Parse(nil)
	}
	settings := map[string]string{"rapid.checks": fmt.Sprint(o.Checks), "rapid.seed": fmt.Sprint(o.Seed), "rapid.nofailfile": "true"}
	for _, k := range []string{"rapid.checks", "rapid.seed", "rapid.nofailfile"} {
		v := settings[k]
		if err := flag.Set(k, v); err != nil {
			return nil, fmt.Errorf("configure rapid: %w", err)
		}
	}

	faultGen := rapid.Custom(func(t *rapid.T) faults.Fault {
		at := time.Duration(rapid.IntRange(0, int(o.Window/time.Millisecond)).Draw(t, "at_ms")) * time.Millisecond
		kind := rapid.SampledFrom(o.Kinds).Draw(t, "kind")
		d := time.Duration(rapid.IntRange(10, 400).Draw(t, "duration_ms")) * time.Millisecond
		a := faults.Action{Kind: kind, Duration: d}
		if kind != faults.KillCoordinator {
			a.Worker = faults.WorkerName(rapid.IntRange(0, o.Workers-1).Draw(t, "worker"))
		}
		return faults.Fault{Trigger: faults.At(at), Action: a}
	})
	schedGen := rapid.Map(rapid.SliceOfN(faultGen, 0, o.FaultsMax), func(fs []faults.Fault) faults.Plan {
		slices.SortStableFunc(fs, func(a, b faults.Fault) int { return int(*a.Trigger.At - *b.Trigger.At) })
		return faults.Plan{Faults: fs}
	})

	res := &ExploreResult{}
	var runErr error
	prop := func(t *rapid.T) {
		p := schedGen.Draw(t, "schedule")
		res.Tried++
		out, err := s.Run(ctx, RunOptions{Seed: o.Seed, Plan: &p, Mutants: o.Mutants, KeepTrace: true})
		if err != nil {
			runErr = err
			return
		}
		failing := out.Verdict() != checkers.Ok
		if o.Progress != nil {
			o.Progress(res.Tried, failing)
		}
		if failing {
			// rapid shrinks by rerunning failing cases: the last failing
			// one it reports is the minimal one.
			res.Failed, res.Minimal, res.Outcome = true, p, out
			t.Fatalf("scenario %s failed with %d faults: %s", s.Name, len(p.Faults), out.Verdict())
		}
	}
	tb := &quietTB{name: "explore-" + s.Name}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(stopTB); !ok {
					panic(r)
				}
			}
		}()
		rapid.Check(tb, prop)
	}()
	if runErr != nil {
		return nil, runErr
	}
	res.Report = tb.report()
	if res.Failed {
		// rapid's shrinking stops after a wall-clock budget, so how far it
		// gets depends on the machine. A deterministic pass follows: drop
		// faults one at a time while the run still fails, until none can
		// go (1-minimal). The result no longer depends on machine speed.
		minimal, err := ShrinkPlan(ctx, s, o.Seed, o.Mutants, res.Minimal)
		if err != nil {
			return nil, err
		}
		if len(minimal.Faults) < len(res.Minimal.Faults) {
			out, err := s.Run(ctx, RunOptions{Seed: o.Seed, Plan: &minimal, Mutants: o.Mutants, KeepTrace: true})
			if err != nil {
				return nil, err
			}
			res.Minimal, res.Outcome = minimal, out
		}
	}
	return res, nil
}

// quietTB is a rapid.TB that records instead of failing a test, so Explore
// can run outside `go test` and report what rapid found.
type quietTB struct {
	mu     sync.Mutex
	name   string
	failed bool
	logs   []string
}

type stopTB struct{}

func (t *quietTB) Helper()                   {}
func (t *quietTB) Name() string              { return t.name }
func (t *quietTB) Log(a ...any)              { t.Logf("%s", fmt.Sprint(a...)) }
func (t *quietTB) Skip(a ...any)             { t.Log(a...); t.SkipNow() }
func (t *quietTB) SkipNow()                  { panic(stopTB{}) }
func (t *quietTB) Error(a ...any)            { t.Log(a...); t.Fail() }
func (t *quietTB) Fatal(a ...any)            { t.Log(a...); t.FailNow() }
func (t *quietTB) FailNow()                  { t.Fail(); panic(stopTB{}) }
func (t *quietTB) Fail()                     { t.mu.Lock(); t.failed = true; t.mu.Unlock() }
func (t *quietTB) Failed() bool              { t.mu.Lock(); defer t.mu.Unlock(); return t.failed }
func (t *quietTB) Skipf(f string, a ...any)  { t.Logf(f, a...); t.SkipNow() }
func (t *quietTB) Errorf(f string, a ...any) { t.Logf(f, a...); t.Fail() }
func (t *quietTB) Fatalf(f string, a ...any) { t.Logf(f, a...); t.FailNow() }
func (t *quietTB) Logf(f string, a ...any) {
	t.mu.Lock()
	t.logs = append(t.logs, fmt.Sprintf(f, a...))
	t.mu.Unlock()
}

func (t *quietTB) report() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := ""
	for _, l := range t.logs {
		out += l + "\n"
	}
	return out
}
