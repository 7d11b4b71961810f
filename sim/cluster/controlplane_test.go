package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/faults"
)

// TestStaleDeployAfterPause: a worker paused before its first deploy
// arrives, past the heartbeat timeout, wakes to find that deploy waiting in
// its socket. The job master has meanwhile restarted the job without it;
// starting the stale attempt would make a zombie whose sinks initialise the
// live attempt's transactional ids and fence its pre-committed
// transactions (found by the soak: swarm-copier seed 4057, 146 records
// lost). The worker closes its connection to the job master instead, and
// the stale deploy is lost with it.
func TestStaleDeployAfterPause(t *testing.T) {
	o := busy(1)
	o.Job = "copier"
	o.Sim.Workers, o.Params.Parallelism = 2, 3
	ms := time.Millisecond
	plan := faults.Plan{Faults: []faults.Fault{
		{Trigger: faults.At(22 * ms), Action: faults.Action{Kind: faults.PauseWorker, Worker: "w1", Duration: 335 * ms}},
	}}
	res := runPlan(t, o, plan, 3*time.Second)
	if res.Verdict() != checkers.Ok {
		t.Fatal(describe(o, res))
	}
	// Between w1's wake and the next attempt placed on it, w1 sends
	// Kafka nothing: no task of the stale attempt ran.
	woke := false
	for _, l := range res.Trace {
		switch {
		case strings.Contains(l, "resume w1 "):
			woke = true
		case woke && strings.Contains(l, "deploy attempt") && strings.Contains(l, "@w1"):
			return
		case woke && strings.Contains(l, " w1 -> "):
			t.Fatalf("w1 sent a Kafka request for a stale attempt after waking: %s", l)
		}
	}
	trace := strings.Join(res.Trace, "\n")
	if !woke || !strings.Contains(trace, "w1 woke after") || !strings.Contains(trace, "link w1-jm broken") {
		t.Fatalf("w1 did not give up on the job master on waking:\n%s", head(res.Trace, 40))
	}
}

// TestLostRunningNoticeIsReconciled: a worker whose link to the job master
// is cut one way just as an attempt is deployed cannot tell it its tasks
// run; the heartbeat's report does, so the job checkpoints and drains
// instead of waiting forever (found by the soak: swarm-copier seed 4365,
// no progress for 57 s of simulated time).
func TestLostRunningNoticeIsReconciled(t *testing.T) {
	o := busy(1)
	o.Job = "copier"
	ms := time.Millisecond
	// A one-way cut from the first deploy until after the tasks start:
	// the running notices of w1's tasks are lost on it.
	var res judged
	for _, at := range []time.Duration{38 * ms, 40 * ms, 42 * ms, 44 * ms} {
		plan := faults.Plan{Faults: []faults.Fault{
			{Trigger: faults.At(at), Action: faults.Action{Kind: faults.PartitionOneWay, Worker: "w1", Peer: "coordinator", Duration: 60 * ms}},
		}}
		res = runPlan(t, o, plan, 3*time.Second)
		if res.Verdict() != checkers.Ok {
			t.Fatalf("cut at %v: %s", at, describe(o, res))
		}
		if strings.Contains(strings.Join(res.Trace, "\n"), "runs (its notice was lost)") {
			return
		}
	}
	t.Fatalf("no cut lost a running notice; the first deploy:\n%s", head(res.Trace, 30))
}

func head(lines []string, n int) string {
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
