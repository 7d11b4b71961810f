package checkers

import "testing"

func TestProgress(t *testing.T) {
	ms := int64(1_000_000)
	at := func(n, t int64) CheckpointAt { return CheckpointAt{Checkpoint: n, At: t * ms} }
	for _, tc := range []struct {
		name    string
		h       ProgressHistory
		verdict Verdict
		anomaly string
	}{
		{"ids grow, one completes after the heal", ProgressHistory{
			Triggered: []CheckpointAt{at(1, 10), at(2, 60), at(3, 500)}, Completed: []CheckpointAt{at(1, 20), at(3, 520)},
			HealAt: 400 * ms, Bound: 200 * ms, End: 600 * ms}, Ok, ""},
		{"an id repeats after a coordinator failover", ProgressHistory{
			Triggered: []CheckpointAt{at(1, 10), at(2, 60), at(3, 110), at(2, 300), at(3, 350)}, Completed: []CheckpointAt{at(1, 20), at(3, 360)},
			HealAt: 200 * ms, Bound: 500 * ms, End: 800 * ms}, Violation, "checkpoint-id-reused"},
		{"an id goes backwards", ProgressHistory{
			Triggered: []CheckpointAt{at(5, 10), at(4, 60)}, Completed: []CheckpointAt{at(4, 70)},
			HealAt: 0, Bound: 500 * ms, End: 800 * ms}, Violation, "checkpoint-id-reused"},
		{"nothing completes after the heal", ProgressHistory{
			Triggered: []CheckpointAt{at(1, 10), at(2, 60), at(3, 110)}, Completed: []CheckpointAt{at(1, 20)},
			HealAt: 100 * ms, Bound: 300 * ms, End: 900 * ms}, NoProgress, "no-checkpoint-after-heal"},
		{"a completion after the bound does not count", ProgressHistory{
			Triggered: []CheckpointAt{at(1, 10), at(2, 700)}, Completed: []CheckpointAt{at(1, 20), at(2, 710)},
			HealAt: 100 * ms, Bound: 300 * ms, End: 900 * ms}, NoProgress, "no-checkpoint-after-heal"},
		{"the run ended before the bound", ProgressHistory{
			Triggered: []CheckpointAt{at(1, 10)}, Completed: []CheckpointAt{at(1, 20)},
			HealAt: 100 * ms, Bound: 300 * ms, End: 200 * ms}, Unknown, "run-too-short"},
		{"negative bound", ProgressHistory{Bound: -1}, Unknown, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Progress(tc.h)
			if r.Verdict != tc.verdict || r.Anomaly != tc.anomaly {
				t.Fatalf("got %s %q (%s), want %s %q", r.Verdict, r.Anomaly, r.Explanation, tc.verdict, tc.anomaly)
			}
		})
	}
}
