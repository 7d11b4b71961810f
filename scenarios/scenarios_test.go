package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/faults"
)

func describe(o *Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s seed %d: %s %v", o.Scenario, o.Seed, o.Verdict(), o.Stats)
	for _, v := range o.Verdicts {
		fmt.Fprintf(&b, "\n  %s", v)
	}
	for _, l := range o.Timeline {
		fmt.Fprintf(&b, "\n    %s", l)
	}
	return b.String()
}

func runScenario(t *testing.T, s *Scenario, ro RunOptions) *Outcome {
	t.Helper()
	o, err := s.Run(context.Background(), ro)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestNamedScenarios runs every fixed scenario for 20 seeds on the correct
// engine: no false alarm, and every fault of the plan fires in every run.
// The CI gate (.ci/run) sweeps 100 seeds of each.
func TestNamedScenarios(t *testing.T) {
	n := uint64(20)
	if testing.Short() {
		n = 5
	}
	for _, s := range All() {
		if strings.HasPrefix(s.Name, "swarm-") {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			for seed := uint64(1); seed <= n; seed++ {
				o := runScenario(t, s, RunOptions{Seed: seed})
				if o.Verdict() != checkers.Ok {
					t.Fatal(describe(o))
				}
				if len(o.Fired) != len(o.Plan.Faults) {
					t.Fatalf("seed %d: %d of %d faults fired: %v\n%s", seed, len(o.Fired), len(o.Plan.Faults), o.Fired, describe(o))
				}
			}
		})
	}
}

// TestSwarmScenarios runs 40 swarm seeds per job; the CI gate sweeps 1000
// in total.
func TestSwarmScenarios(t *testing.T) {
	n := uint64(40)
	if testing.Short() {
		n = 10
	}
	for _, job := range []string{"copier", "keyed-count", "join"} {
		s, _ := Lookup("swarm-" + job)
		t.Run(job, func(t *testing.T) { passSwarmSeeds(t, s, n) })
	}
}

// passSwarmSeeds runs seeds 1 to n of the swarm scenario s, each of which
// must pass, and logs how many faults fired.
func passSwarmSeeds(t *testing.T, s *Scenario, n uint64) {
	t.Helper()
	fired := 0
	for seed := uint64(1); seed <= n; seed++ {
		o := runScenario(t, s, RunOptions{Seed: seed})
		if o.Verdict() != checkers.Ok {
			t.Fatalf("%s\nswarm: %s\nplan:\n%s", describe(o), o.Swarm, o.Plan)
		}
		fired += len(o.Fired)
	}
	t.Logf("%d seeds, %d faults fired", n, fired)
}

// TestExamplePlansApply: every scenario that takes a fault plan takes the
// example plan of its state backend (faults/testdata: example-plan.json has
// every fault kind and needs pebble, example-heap-plan.json every kind the
// heap backend takes) and passes with it at seed 1; the scenario's own
// expected anomalies do not apply to a given plan.
func TestExamplePlansApply(t *testing.T) {
	read := func(name string) *faults.Plan {
		data, err := os.ReadFile(filepath.Join("..", "faults", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		p, err := faults.Parse(data, 3)
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	full, heap := read("example-plan.json"), read("example-heap-plan.json")
	for _, s := range All() {
		ro := RunOptions{Seed: 1}
		if _, ok := s.Workers(ro); !ok {
			continue
		}
		ro.Plan = heap
		if s.Name == "count-pebble-disk-errors" {
			ro.Plan = full
		}
		o, err := s.Run(context.Background(), ro)
		if err != nil {
			t.Errorf("%s: %v", s.Name, err)
			continue
		}
		if v := o.Verdict(); v != checkers.Ok {
			t.Errorf("%s with its example plan: verdict %s: %v", s.Name, v, o.Verdicts)
		}
	}
}

// TestSoakFindings: the seeds on which the soak found the simulated
// cluster's control-plane bugs pass: a worker waking from a long pause
// started a deploy that had waited in its socket and fenced the live
// attempt's transactions (4057), and a running notice lost on a one-way cut
// left the job waiting forever (4365). The trace shows each remedy at work.
// The seeds were found before the swarm drew control-message faults: they
// draw from the kinds of then, so that they replay the schedules found.
func TestSoakFindings(t *testing.T) {
	before := slices.DeleteFunc(swarmKinds(), func(k faults.ActionKind) bool { return slices.Contains(faults.MessageKinds(), k) })
	for _, tc := range []struct {
		scenario string
		seed     uint64
		remedy   string
	}{
		{"swarm-copier", 4057, "w1 woke after"},
		{"swarm-join", 4057, "w1 woke after"},
		{"swarm-copier", 4365, "(its notice was lost)"},
		{"swarm-join", 4365, "(its notice was lost)"},
	} {
		s, err := Lookup(tc.scenario)
		if err != nil {
			t.Fatal(err)
		}
		o, err := s.Run(context.Background(), RunOptions{Seed: tc.seed, KeepTrace: true, SwarmKinds: before})
		if err != nil {
			t.Fatal(err)
		}
		if o.Verdict() != checkers.Ok {
			t.Errorf("%s", describe(o))
		}
		if !strings.Contains(strings.Join(o.Trace, "\n"), tc.remedy) {
			t.Errorf("%s seed %d: the trace lacks %q: the seed no longer exercises the fix", tc.scenario, tc.seed, tc.remedy)
		}
	}
}
