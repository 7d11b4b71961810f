package smoke_test

import (
	"testing"
	"time"

	"github.com/onceproof/onceproof/sim/smoke"
)

// BenchmarkSmokeCopier measures the simulator's speed on the smoke job:
// simulated seconds per wall second and events per wall second. Each
// iteration is one whole run (kfake start, input, faults) and its judging
// (the output read back and checked).
func BenchmarkSmokeCopier(b *testing.B) {
	var simTime time.Duration
	events := 0
	seed := uint64(0)
	for b.Loop() {
		seed++
		r := run(b, smoke.DefaultOptions(seed))
		simTime += r.SimTime
		events += r.Events
	}
	wall := b.Elapsed().Seconds()
	b.ReportMetric(simTime.Seconds()/wall, "sim-s/wall-s")
	b.ReportMetric(float64(events)/wall, "events/s")
}
