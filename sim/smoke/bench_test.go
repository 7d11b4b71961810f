package smoke

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSmokeCopier measures the simulator's speed on the smoke job:
// simulated seconds per wall second and events per wall second. Each
// iteration is one whole run (kfake start, input, faults, output read).
func BenchmarkSmokeCopier(b *testing.B) {
	var simTime time.Duration
	events := 0
	seed := uint64(0)
	for b.Loop() {
		seed++
		r := Run(context.Background(), DefaultOptions(seed))
		if r.Err != nil {
			b.Fatalf("seed %d: %v", seed, r.Err)
		}
		simTime += r.SimTime
		events += r.Events
	}
	wall := b.Elapsed().Seconds()
	b.ReportMetric(simTime.Seconds()/wall, "sim-s/wall-s")
	b.ReportMetric(float64(events)/wall, "events/s")
}
