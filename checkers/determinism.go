package checkers

import "fmt"

// Determinism compares two traces of the same seed and build line by line.
// They must be identical: any divergence means something outside the seed
// (the wall clock, map order, a goroutine race) reached the run.
//
// A divergence gives Violation with anomaly "nondeterminism" and FirstBad
// naming the index of the first differing event and both lines. When one
// trace is a strict prefix of the other, the first event past the shorter
// one is reported, with the missing side shown as ended.
func Determinism(a, b []string) Result {
	const name = "determinism"
	stats := map[string]int{"events-a": len(a), "events-b": len(b)}
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == len(a) && i == len(b) {
		return Result{
			Checker:     name,
			Verdict:     Ok,
			Explanation: fmt.Sprintf("both traces have the same %d events", len(a)),
			Stats:       stats,
		}
	}
	stats["first-divergence"] = i
	var firstBad, why string
	switch {
	case i == len(a):
		firstBad = fmt.Sprintf("event %d: a ended, b has %q", i, b[i])
		why = fmt.Sprintf("trace a (%d events) is a strict prefix of trace b (%d events)", len(a), len(b))
	case i == len(b):
		firstBad = fmt.Sprintf("event %d: a has %q, b ended", i, a[i])
		why = fmt.Sprintf("trace b (%d events) is a strict prefix of trace a (%d events)", len(b), len(a))
	default:
		firstBad = fmt.Sprintf("event %d: a has %q, b has %q", i, a[i], b[i])
		why = fmt.Sprintf("traces of %d and %d events diverge after %d equal events", len(a), len(b), i)
	}
	return Result{
		Checker:     name,
		Verdict:     Violation,
		Anomaly:     "nondeterminism",
		FirstBad:    firstBad,
		Explanation: why + "; first difference at " + firstBad,
		Stats:       stats,
	}
}
