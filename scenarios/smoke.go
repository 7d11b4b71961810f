package scenarios

import (
	"context"
	"fmt"
	"strings"

	"github.com/onceproof/onceproof/checkers"
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
	res := smoke.Run(ctx, opts)
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
	for _, l := range res.Trace {
		if isTimeline(l) {
			out.Timeline = append(out.Timeline, l)
		}
	}
	if ro.KeepTrace {
		out.Trace = res.Trace
	}
	if res.Output == nil {
		if res.Err == nil {
			return nil, fmt.Errorf("smoke run produced no output and no error")
		}
		// The run did not get as far as reading the output.
		v := checkers.Result{Checker: "run", Verdict: checkers.Unknown, Explanation: res.Err.Error()}
		if strings.HasPrefix(res.Err.Error(), "no progress") {
			v.Verdict, v.Anomaly = checkers.NoProgress, "no-progress"
		}
		out.Verdicts = append(out.Verdicts, v)
		return out, nil
	}
	// The smoke copier copies partition p of the input to partition p of
	// the output, value for value: each output partition is an ordered copy.
	var expected []checkers.Expected
	for p, vals := range res.Input {
		for _, v := range vals {
			expected = append(expected, checkers.Expected{Lineage: v, Key: fmt.Sprint(p), Value: v})
		}
	}
	judged, _ := checkers.JudgeOutput(checkers.OutputHistory{
		Expected: expected, Log: res.OutputLog, Order: checkers.PerPartition,
		Lineage: func(_, v string) string { return v },
	})
	out.Verdicts = append(out.Verdicts, judged...)
	if res.Err != nil && checkers.Worst(out.Verdicts...) == checkers.Ok {
		out.Verdicts = append(out.Verdicts, checkers.Result{Checker: "run", Verdict: checkers.Violation, Anomaly: "run-error", Explanation: res.Err.Error()})
	}
	return out, nil
}

// isTimeline picks the trace lines a person wants in a compact timeline.
func isTimeline(line string) bool {
	for _, s := range []string{" kill ", " start ", "request lost", "response lost", "finished", " partition ", "heal", " pause ",
		" resume ", "fault ", "deploy attempt", "failover", "metadata-written", "checkpoint-failed", "LOST", "recovered", "endtxn-sent", "expire-txn", "end drained", "isolate", "cut "} {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}
