package cluster_test

import (
	"context"
	"errors"
	"github.com/onceproof/onceproof/sim/cluster"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/scenarios"
)

// lostStateOpts is keyed-count on pebble, with input flowing long enough
// for several checkpoints, compactions and shared-file deletions.
func lostStateOpts(seed uint64) cluster.Options {
	o := busy(seed)
	o.Backend = cluster.BackendPebble
	return o
}

// stateVerdict returns the state-at-checkpoint result of res.
func stateVerdict(t *testing.T, res judged) checkers.Result {
	t.Helper()
	for _, v := range res.Verdicts {
		if v.Checker == "state-at-checkpoint" {
			return v
		}
	}
	t.Fatalf("no state-at-checkpoint verdict among %v", res.Verdicts)
	return checkers.Result{}
}

// TestDeletedSharedFileIsLostState: a planned storage fault deletes one
// shared state file (an SST) of the newest completed pebble checkpoint once
// the input has drained; every later checkpoint references that file too,
// so checkpoints the job still retains at the end have lost it. The run
// must fail with a lost-state violation naming a checkpoint and the file;
// the same run with no fault passes.
func TestDeletedSharedFileIsLostState(t *testing.T) {
	const heal = time.Second
	del := faults.Plan{Faults: []faults.Fault{{Name: "lose an SST", Trigger: faults.At(800 * time.Millisecond),
		Action: faults.Action{Kind: faults.DeleteCheckpointFile, Object: faults.LatestShared}}}}
	for seed := uint64(1); seed <= 3; seed++ {
		o := lostStateOpts(seed)
		clean := runPlan(t, o, faults.Plan{}, heal)
		if clean.Verdict() != checkers.Ok {
			t.Fatalf("without the fault: %s", describe(o, clean))
		}
		res := runPlan(t, o, del, heal)
		lost := index(res.Trace, "store lost checkpoints/keyed-count/shared/")
		if lost < 0 {
			t.Fatalf("seed %d: no trace line shows the shared file deleted", seed)
		}
		file := strings.Fields(res.Trace[lost][strings.Index(res.Trace[lost], "store lost "):])[2]
		v := stateVerdict(t, res)
		if v.Verdict != checkers.Violation || v.Anomaly != "lost-state" {
			t.Fatalf("seed %d: got %s %q, want violation lost-state\n%s", seed, v.Verdict, v.Anomaly, describe(o, res))
		}
		if !strings.HasPrefix(v.FirstBad, "checkpoint ") || !strings.Contains(v.FirstBad, file+": missing") {
			t.Errorf("seed %d: first bad %q, want it to name a checkpoint and %s as missing", seed, v.FirstBad, file)
		}
		if res.Verdict() != checkers.Violation {
			t.Errorf("seed %d: run verdict %s, want violation", seed, res.Verdict())
		}
		t.Logf("seed %d: %s", seed, v.Explanation)
	}
}

// TestRereadAtEndFindsLostFile: the end-of-run read is what judges the
// retained checkpoints: a shared file deleted after the run (so no read at
// completion could have seen it) is lost state, reported for the read at
// the end of the run.
func TestRereadAtEndFindsLostFile(t *testing.T) {
	o := lostStateOpts(2)
	c, res := runOK(t, o)
	retained := res.Checkpoints
	last := retained[len(retained)-1]
	if len(last.Shared) == 0 {
		t.Fatalf("checkpoint %d references no shared file", last.Checkpoint)
	}
	victim := last.Shared[len(last.Shared)-1]
	if err := c.World().Store().Delete(victim); err != nil {
		t.Fatal(err)
	}
	v := rejudgeState(t, c, res)
	if v.Checker != "state-at-checkpoint" || v.Verdict != checkers.Violation || v.Anomaly != "lost-state" {
		t.Fatalf("got %s %s %q (%s), want state-at-checkpoint violation lost-state", v.Checker, v.Verdict, v.Anomaly, v.Explanation)
	}
	if want := "(read at end of run): " + victim + ": missing"; !strings.Contains(v.FirstBad, want) {
		t.Errorf("first bad %q, want it to contain %q", v.FirstBad, want)
	}
}

// TestCorruptSnapshotIsLostState: a task snapshot of a retained checkpoint
// damaged after the run fails its checksum at the end-of-run read: lost
// state, not an inconclusive verdict.
func TestCorruptSnapshotIsLostState(t *testing.T) {
	o := lostStateOpts(4)
	o.Backend = cluster.BackendHeap
	c, res := runOK(t, o)
	last := res.Checkpoints[len(res.Checkpoints)-1]
	handle := last.Handles["count/0"]
	if err := c.World().Store().Corrupt(handle, 3); err != nil {
		t.Fatal(err)
	}
	if v := rejudgeState(t, c, res); v.Verdict != checkers.Violation || v.Anomaly != "lost-state" || !strings.Contains(v.FirstBad, handle+": corrupt snapshot") {
		t.Fatalf("got %s %q first bad %q, want violation lost-state naming %s as corrupt", v.Verdict, v.Anomaly, v.FirstBad, handle)
	}
}

// TestLatestSharedNeedsPebble: on the heap backend there is no shared file
// to delete; the plan is refused up front with a clear error.
func TestLatestSharedNeedsPebble(t *testing.T) {
	c := newCluster(t, busy(1))
	defer c.Close()
	err := c.Inject(faults.Plan{Faults: []faults.Fault{{Trigger: faults.At(0), Action: faults.Action{Kind: faults.DeleteCheckpointFile, Object: faults.LatestShared}}}}, time.Second)
	if !errors.Is(err, cluster.ErrUnsupportedFault) || !strings.Contains(err.Error(), "pebble") {
		t.Fatalf("got %v, want ErrUnsupportedFault naming pebble", err)
	}
}

// rejudgeState reads the retained checkpoints of res's run back again, as
// they are in storage now, and judges the run once more: it returns the
// state-at-checkpoint verdict.
func rejudgeState(t *testing.T, c *cluster.Cluster, res judged) checkers.Result {
	t.Helper()
	res.History.Retained = c.ReadRetained()
	return stateVerdict(t, judged{res.Result, scenarios.Judge(context.Background(), c, res.Result)})
}

// runPlan runs o under plan, healed at heal.
func runPlan(t *testing.T, o cluster.Options, plan faults.Plan, heal time.Duration) judged {
	t.Helper()
	c := newCluster(t, o)
	defer c.Close()
	if err := c.Inject(plan, heal); err != nil {
		t.Fatal(err)
	}
	return runJudged(c)
}
