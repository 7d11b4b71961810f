package scenarios

import (
	"context"
	"testing"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/faults"
)

// TestExploreShrinksPlantedBug: with a sink that commits at the barrier
// instead of on completion, rapid finds a failing fault schedule and shrinks
// it to at most three faults.
func TestExploreShrinksPlantedBug(t *testing.T) {
	if testing.Short() {
		t.Skip("shrinking runs rapid for up to 30s of wall time")
	}
	s, _ := Lookup("count-crash-before-commit")
	res, err := Explore(context.Background(), s, ExploreOptions{Checks: 200, Seed: 1, FaultsMax: 4,
		Kinds:   []faults.ActionKind{faults.KillWorker, faults.KillCoordinator},
		Mutants: engine.Mutants{engine.MutantCommitBeforeComplete}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed {
		t.Fatalf("no failing schedule found in %d tries", res.Tried)
	}
	t.Logf("tried %d schedules; minimal:\n%s\nverdict %s", res.Tried, res.Minimal, res.Outcome.Verdict())
	if n := len(res.Minimal.Faults); n > 3 {
		t.Fatalf("shrunk schedule has %d faults, want at most 3:\n%s", n, res.Minimal)
	}
}

// TestExploreCorrectEngine: the same search on the correct engine finds
// nothing.
func TestExploreCorrectEngine(t *testing.T) {
	s, _ := Lookup("count-crash-before-commit")
	res, err := Explore(context.Background(), s, ExploreOptions{Checks: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed {
		t.Fatalf("false alarm on the correct engine: %s\n%s", res.Minimal, describe(res.Outcome))
	}
}
