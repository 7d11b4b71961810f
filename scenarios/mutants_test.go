package scenarios

import (
	"context"
	"testing"

	"github.com/onceproof/onceproof/engine"
)

// TestMutantsCaught: every mutant is caught by its scenario within a bounded
// number of seeds from each of 5 bases (median at most 50), its failing plan
// shrinks to at most 3 faults, and the correct engine shows no violation on
// any seed tried.
func TestMutantsCaught(t *testing.T) {
	bases := []uint64{1, 1001, 2001, 3001, 4001}
	if testing.Short() {
		bases = bases[:1]
	}
	rows, err := MutantTable(context.Background(), MutantOptions{Bases: bases, SeedsMax: 60})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(engine.AllMutants()) {
		t.Fatalf("got %d rows, want %d", len(rows), len(engine.AllMutants()))
	}
	for _, r := range rows {
		t.Logf("%-24s %-34s seeds=%v median=%.1f %s/%s shrunk=%d correct=%d/%d", r.Mutant, r.Scenario, r.SeedsUntilCaught, r.MedianSeeds, r.Checker, r.Anomaly, r.ShrunkFaults, r.CorrectFailures, r.CorrectRuns)
		switch {
		case !r.Caught || r.MedianSeeds > 50:
			t.Errorf("%s: median seeds until caught %.1f (seeds %v), want at most 50", r.Mutant, r.MedianSeeds, r.SeedsUntilCaught)
		case r.ShrunkFaults > 3:
			t.Errorf("%s: shrunk schedule has %d faults, want at most 3", r.Mutant, r.ShrunkFaults)
		case r.CorrectFailures > 0:
			t.Errorf("%s: the correct engine failed %d of %d runs of %s", r.Mutant, r.CorrectFailures, r.CorrectRuns, r.Scenario)
		}
	}
}
