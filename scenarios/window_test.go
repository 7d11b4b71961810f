package scenarios

// window-sum under kills: the acceptance runs of issue 4 ("window-sum with
// out-of-order input equals its oracle with workers killed at seeded random
// moments, over at least 200 seeds").

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/sim/cluster"
)

func windowSeeds() uint64 {
	if testing.Short() {
		return 20
	}
	return 200
}

// TestWindowKillLateEvents runs the fixed-plan scenario (window/0's worker
// killed right after checkpoint 3's commit point) over 200 seeds: every
// window fires exactly once with the right sum, and every checkpoint holds
// exactly the window contents the input up to its offsets implies.
func TestWindowKillLateEvents(t *testing.T) {
	s, err := Lookup("window-kill-late-events")
	if err != nil {
		t.Fatal(err)
	}
	restarts := 0
	for seed := uint64(1); seed <= windowSeeds(); seed++ {
		o := runScenario(t, s, RunOptions{Seed: seed})
		if o.Verdict() != checkers.Ok {
			t.Fatal(describe(o))
		}
		if len(o.Fired) != 1 {
			t.Fatalf("seed %d: the kill did not fire\n%s", seed, describe(o))
		}
		restarts += o.Stats["restarts"]
	}
	t.Logf("%d seeds, %d restarts, no violation", windowSeeds(), restarts)
}

// TestWindowSumRandomKills kills 1 to 3 workers at seeded random moments
// while window-sum's 2000 out-of-order records are read (sim/cluster's
// Options.Kills), over 200 seeds.
func TestWindowSumRandomKills(t *testing.T) {
	kills, restarts := 0, 0
	for seed := uint64(1); seed <= windowSeeds(); seed++ {
		o := cluster.DefaultOptions("window-sum", seed)
		o.Params.Records = 2000
		o.Task.FetchBytesMax = 2 << 10
		o.Checkpoint.Interval = 30 * time.Millisecond
		o.Kills = 1 + int(seed%3)
		o.KillWindow = 500 * time.Millisecond
		res, j, err := RunCluster(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if j.Verdict() != checkers.Ok {
			msg := fmt.Sprintf("seed %d (%d kills, %d restarts): %s", seed, res.Kills, res.Restarts, j.Verdict())
			for _, v := range j.Verdicts {
				msg += "\n  " + v.String()
			}
			t.Fatal(msg)
		}
		kills += res.Kills
		restarts += res.Restarts
	}
	t.Logf("%d seeds, %d kills, %d restarts, no violation", windowSeeds(), kills, restarts)
}

// TestWindowSwarm runs swarm-window-sum: the seed draws the topology
// (parallelism up to 3 over 3 partitions, so a source subtask may read one
// partition or, at parallelism 1, all three) and a plan of every fault kind
// the engine must survive.
func TestWindowSwarm(t *testing.T) {
	s, err := Lookup("swarm-window-sum")
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(60)
	if testing.Short() {
		n = 10
	}
	passSwarmSeeds(t, s, n)
}
