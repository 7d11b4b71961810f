package cluster_test

import (
	"github.com/onceproof/onceproof/sim/cluster"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
)

// unalignedOptions runs job with unaligned checkpoints and a slow operator,
// so that records queue at every task and barriers have something to
// overtake.
func unalignedOptions(job string, seed uint64) cluster.Options {
	o := cluster.DefaultOptions(job, seed)
	o.Task.Unaligned = true
	o.Task.RecordCost = 200 * time.Microsecond
	o.Params.Records = 1200
	if job == "join" {
		o.Params.Records = 400 // the join's output grows with the square of its input
	}
	return o
}

func TestUnalignedExact(t *testing.T) {
	for _, job := range allJobs {
		t.Run(job, func(t *testing.T) {
			withState := 0
			for seed := uint64(1); seed <= uint64(seeds(t, 60)); seed++ {
				o := unalignedOptions(job, seed)
				if seed > 1 {
					o.Kills = 3
					o.KillWindow = 400 * time.Millisecond
				}
				res := run(t, o)
				requireOK(t, o, res)
				withState += res.InFlightCheckpoints
			}
			if withState == 0 {
				t.Fatal("no checkpoint saved channel state: the unaligned path was not exercised")
			}
			t.Logf("%d checkpoints saved channel state", withState)
		})
	}
}

// TestUnalignedDropInflightCaught: without the channel state, a restore
// loses the records that were in flight at the barrier.
func TestUnalignedDropInflightCaught(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		o := unalignedOptions("keyed-count", seed)
		o.Kills = 3
		o.KillWindow = 400 * time.Millisecond
		o.Mutants = engine.Mutants{engine.MutantUnalignedDropInflight}
		if res := run(t, o); res.Verdict() != checkers.Ok {
			t.Logf("caught at seed %d: %s", seed, res.Verdict())
			return
		}
	}
	t.Fatal("unaligned-drop-inflight not caught in 30 seeds")
}

// TestUnalignedUnderBackpressure: with a slow operator, the backlog queued
// at each task is the channel credit. An aligned barrier waits behind it at
// every hop, so aligned checkpoints take longer as the backlog grows; an
// unaligned barrier overtakes it, so their duration stays flat.
func TestUnalignedUnderBackpressure(t *testing.T) {
	mean := func(unaligned bool, credits int) time.Duration {
		o := cluster.DefaultOptions("keyed-count", 1)
		o.Params.Records = 3000
		o.Task.RecordCost = time.Millisecond
		o.Task.ChannelCredits = credits
		// Small fetches, so the credit and not a fetch's size bounds what
		// queues at a task (a source emits a whole fetch at once).
		o.Task.FetchBytesMax = 512
		o.Task.Unaligned = unaligned
		o.Checkpoint.Retained = 1000
		o.Checkpoint.Timeout = 10 * time.Second
		res := run(t, o)
		requireOK(t, o, res)
		var sum time.Duration
		n := 0
		for _, md := range res.Checkpoints {
			if md.Checkpoint <= 3 {
				continue // the backlog is still building
			}
			sum += time.Duration(md.Metrics.EndToEndDuration)
			n++
		}
		if n == 0 {
			t.Fatalf("credits %d: no checkpoint under load", credits)
		}
		return sum / time.Duration(n)
	}
	var al, un [3]time.Duration
	backlogs := [3]int{8, 32, 128}
	for i, credits := range backlogs {
		al[i], un[i] = mean(false, credits), mean(true, credits)
		t.Logf("backlog %3d records/channel: aligned %8v   unaligned %8v", credits, al[i].Round(time.Millisecond), un[i].Round(time.Millisecond))
	}
	if al[2] < 2*al[0] {
		t.Errorf("aligned checkpoints did not slow down with the backlog: %v at %d, %v at %d", al[0], backlogs[0], al[2], backlogs[2])
	}
	if un[2] > un[0]+un[0]/2 || un[2] >= al[2] {
		t.Errorf("unaligned checkpoints grew with the backlog: %v at %d, %v at %d (aligned %v)", un[0], backlogs[0], un[2], backlogs[2], al[2])
	}
}

// TestAlignmentTimeoutSwitches: aligned checkpoints that take longer than
// the alignment timeout switch to unaligned, and the output stays exact
// under kills.
func TestAlignmentTimeoutSwitches(t *testing.T) {
	switched := 0
	for seed := uint64(1); seed <= uint64(seeds(t, 40)); seed++ {
		o := cluster.DefaultOptions("join", seed)
		o.Sim.KeepTrace = true
		o.Params.Records = 400
		o.Task.RecordCost = 500 * time.Microsecond
		o.Task.FetchBytesMax = 512
		o.Task.AlignmentTimeout = 2 * time.Millisecond
		o.Kills = 2
		o.KillWindow = 400 * time.Millisecond
		res := run(t, o)
		requireOK(t, o, res)
		for _, l := range res.Trace {
			if strings.Contains(l, "alignment timed out") {
				switched++
			}
		}
	}
	if switched == 0 {
		t.Fatal("no alignment timeout fired: no checkpoint switched to unaligned")
	}
	t.Logf("%d alignment timeouts fired (one per task and checkpoint)", switched)
}
