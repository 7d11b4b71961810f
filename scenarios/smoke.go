package scenarios

import (
	"context"
	"fmt"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/internal/observe"
	"github.com/onceproof/onceproof/sim"
	"github.com/onceproof/onceproof/sim/smoke"
)

func init() {
	register(&Scenario{
		Name:        "smoke-copier",
		Description: "one process copies a topic in Kafka transactions while it is killed and its requests and responses are lost",
		Job:         "smoke-copier",
		Faults:      []string{"kill", "drop-request", "drop-response"},
		run:         runSmoke,
	})
}

func runSmoke(ctx context.Context, ro RunOptions) (*Outcome, error) {
	if ro.Plan != nil || len(ro.Mutants) > 0 {
		return nil, &BadInputError{Err: fmt.Errorf("smoke-copier draws its own kills and losses; it takes no fault plan and no mutant")}
	}
	opts := smoke.DefaultOptions(ro.Seed)
	opts.Sim.KeepTrace = true // the timeline is cut from the trace
	h, err := smoke.New(opts)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	res := h.Run()
	out := &Outcome{
		Digest: res.Digest, Events: res.Events, SimTime: res.SimTime,
		Options: map[string]string{
			"records":      fmt.Sprint(opts.Records),
			"partitions":   fmt.Sprint(opts.Partitions),
			"kills":        fmt.Sprint(opts.Kills),
			"loss_percent": fmt.Sprint(opts.LossPercent),
			"workers":      "1",
		},
	}
	out.Timeline = timelineLines(res.TraceEvents)
	if ro.KeepTrace {
		out.Trace, out.TraceEvents = res.Trace, res.TraceEvents
	}
	out.Verdicts = JudgeSmoke(ctx, h, res)
	return out, nil
}

// JudgeSmoke judges a smoke run that ended with res; h must still be open.
// It reads the output with an independent read_committed consumer: the
// copier copies partition p of the input to partition p of the output,
// value for value, so each output partition must be an ordered copy of the
// committed input's, with no transaction left open.
func JudgeSmoke(ctx context.Context, h *smoke.Harness, res smoke.Result) []checkers.Result {
	runErr := res.Err
	if runErr == nil && !res.Done {
		runErr = fmt.Errorf("no progress: the copier did not finish within %v of simulated time", res.RunLimit)
	}
	log, err := observe.Read(ctx, smoke.OutputTopic, judgeReadTimeout, h.Kafka.ClientOpts()...)
	if err != nil {
		// The output could not be read: nothing to judge it by.
		if runErr == nil {
			runErr = err
		}
		v := checkers.Result{Checker: "run", Verdict: checkers.Unknown, Explanation: runErr.Error()}
		if !res.Done && res.Err == nil {
			v.Verdict, v.Anomaly = checkers.NoProgress, "no-progress"
		}
		return []checkers.Result{v}
	}
	var expected []checkers.Expected
	for p, vals := range res.Input {
		for _, v := range vals {
			expected = append(expected, checkers.Expected{Lineage: v, Key: fmt.Sprint(p), Value: v})
		}
	}
	vs, _ := checkers.JudgeOutput(checkers.OutputHistory{
		Expected: expected, Log: log, Order: checkers.PerPartition,
		Lineage: func(_, v string) string { return v },
	})
	if runErr != nil && checkers.Worst(vs...) == checkers.Ok {
		vs = append(vs, checkers.Result{Checker: "run", Verdict: checkers.Violation, Anomaly: "run-error", Explanation: runErr.Error()})
	}
	return vs
}

// inTimeline picks the events a person wants in a compact timeline: what
// happened to processes and links, the faults and what they did, lost
// Kafka traffic, deployments, failovers, checkpoints' outcomes and commits.
func inTimeline(e sim.Event) bool {
	switch e.Kind {
	case sim.EventStart, sim.EventKill, sim.EventPause, sim.EventResume,
		sim.EventPartition, sim.EventCut, sim.EventHeal, sim.EventHealAll,
		sim.EventFaultFired, sim.EventMessageFault, sim.EventDiskError, sim.EventStoreLost,
		sim.EventKafkaFault, sim.EventKafkaRequestLost, sim.EventKafkaResponseLost, sim.EventKafkaTxnAborted,
		sim.EventDeploy, sim.EventFinished, sim.EventEnd:
		return true
	case sim.EventFaultSkipped:
		return e.Op == string(faults.ExpireTxn)
	case sim.EventKafkaRule:
		return e.M > 0 // a fault's own drops, not an outage's

	case sim.EventProtocol:
		switch e.Phase {
		case protocol.EventDeploy, protocol.EventRecovered, protocol.EventFailover,
			protocol.MetadataWritten, protocol.EventCheckpointFailed, protocol.EndTxnSent:
			return true
		}
	}
	return false
}

// timelineLines renders the events of trace that inTimeline picks.
func timelineLines(trace []sim.Event) []string {
	var out []string
	for _, e := range trace {
		if inTimeline(e) {
			out = append(out, e.Line())
		}
	}
	return out
}
