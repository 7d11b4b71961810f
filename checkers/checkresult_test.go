package checkers

import (
	"strings"
	"testing"
)

// checkResult fails t unless got has the wanted verdict and anomaly (fatally:
// nothing else about the result means anything otherwise), a FirstBad that
// contains firstBad, and the count stats names for each of its keys.
func checkResult(t *testing.T, got Result, verdict Verdict, anomaly, firstBad string, stats map[string]int) {
	t.Helper()
	if got.Verdict != verdict || got.Anomaly != anomaly {
		t.Fatalf("got %s %q (%s), want %s %q", got.Verdict, got.Anomaly, got.Explanation, verdict, anomaly)
	}
	if !strings.Contains(got.FirstBad, firstBad) {
		t.Errorf("first bad: got %q, want it to contain %q", got.FirstBad, firstBad)
	}
	for k, want := range stats {
		if got.Stats[k] != want {
			t.Errorf("stats[%q]: got %d, want %d", k, got.Stats[k], want)
		}
	}
}
