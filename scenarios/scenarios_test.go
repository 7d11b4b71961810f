package scenarios

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
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
		t.Run(job, func(t *testing.T) {
			fired := 0
			for seed := uint64(1); seed <= n; seed++ {
				o := runScenario(t, s, RunOptions{Seed: seed})
				if o.Verdict() != checkers.Ok {
					t.Fatalf("%s\nswarm: %s\nplan:\n%s", describe(o), o.Swarm, o.Plan)
				}
				fired += len(o.Fired)
			}
			t.Logf("%d seeds, %d faults fired", n, fired)
		})
	}
}
