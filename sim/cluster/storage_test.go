package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/faults"
)

// TestDamagedCoordinatorStateIsNotDropped: a restarted coordinator whose
// state (its counter and attempt) does not decode must not start from
// zeros, which would reuse attempt numbers and checkpoint ids: it says so in
// the trace and keeps trying, and the run does not pass.
func TestDamagedCoordinatorStateIsNotDropped(t *testing.T) {
	o := busy(1)
	state := engine.Layout{Prefix: "checkpoints/" + o.Job}.CoordinatorState()
	plan := faults.Plan{Faults: []faults.Fault{
		{Trigger: faults.AtPhase(2, protocol.MetadataWritten, ""), Action: faults.Action{Kind: faults.CorruptCheckpoint, Object: state}},
		{Trigger: faults.AtPhase(2, protocol.MetadataWritten, ""), Action: faults.Action{Kind: faults.KillCoordinator, Duration: 50 * time.Millisecond}},
	}}
	res := runPlan(t, o, plan, time.Second)
	trace := strings.Join(res.Trace, "\n")
	if !strings.Contains(trace, "store corrupt "+state) {
		t.Fatalf("the fault did not corrupt %s:\n%s", state, head(res.Trace, 60))
	}
	if n := strings.Count(trace, "recover failed"); n != 1 || !strings.Contains(trace, "corrupt coordinator state") {
		t.Fatalf("got %d traces of the failed recovery, want one naming the damage:\n%s", n, trace)
	}
	if strings.Contains(trace, "recovered counter=") {
		t.Errorf("the coordinator recovered from a damaged state")
	}
	if res.Verdict() == checkers.Ok {
		t.Errorf("verdict ok for a job that could not restart: %s", describe(o, res))
	}
}
