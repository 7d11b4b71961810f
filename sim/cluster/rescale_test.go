package cluster_test

import (
	"github.com/onceproof/onceproof/sim/cluster"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
)

// TestRescale restores a checkpoint taken mid-stream at another
// parallelism, 2 -> 3 and 3 -> 1, for every job: the output equals the
// oracle (state, source partitions and the old sinks' transactions are all
// redistributed).
func TestRescale(t *testing.T) {
	for _, tc := range []struct{ from, to int }{{2, 3}, {3, 1}} {
		for _, job := range allJobs {
			for seed := uint64(1); seed <= uint64(seeds(t, 20)); seed++ {
				o := cluster.DefaultOptions(job, seed)
				o.Sim.KeepTrace = true
				o.Params.Parallelism = tc.from
				o.Params.Records = 2000
				if job == "join" {
					o.Params.Records = 600
				}
				o.Task.FetchBytesMax = 2 << 10
				o.RescaleAt, o.RescaleTo = 2, tc.to
				if seed%2 == 0 {
					o.Kills, o.KillWindow = 2, 600*time.Millisecond
				}
				res := run(t, o)
				if !hasLine(res.Trace, "rescale") {
					t.Fatalf("%s %d->%d seed %d: the job was never rescaled", job, tc.from, tc.to, seed)
				}
				if res.Verdict() != checkers.Ok {
					t.Fatalf("%d -> %d: %s", tc.from, tc.to, describe(o, res))
				}
			}
		}
	}
}

// TestKeyGroupMisrouteCaught: assigning key groups with the old
// parallelism's ranges on a rescale loses or doubles state.
func TestKeyGroupMisrouteCaught(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		o := cluster.DefaultOptions("keyed-count", seed)
		o.Params.Records = 2000
		o.Task.FetchBytesMax = 2 << 10
		o.RescaleAt, o.RescaleTo = 2, 3
		o.Mutants = engine.Mutants{engine.MutantKeyGroupMisroute}
		if res := run(t, o); res.Verdict() != checkers.Ok {
			return
		}
	}
	t.Fatal("keygroup-misroute-on-rescale not caught in 10 seeds")
}

func hasLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}
