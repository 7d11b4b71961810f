package scenarios

import (
	"context"
	"fmt"
	"strings"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/internal/observe"
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
	for _, l := range res.Trace {
		if isTimeline(l) {
			out.Timeline = append(out.Timeline, l)
		}
	}
	if ro.KeepTrace {
		out.Trace = res.Trace
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
