// Package judge reads a job's topics after a run, simulated or live, and
// judges them: the input as the broker kept it against the input as it was
// generated, and the output against the job's oracle. The simulator and the
// live runner call the same code, so a verdict means the same in both.
//
// It reads through package observe (kgo consumers of its own, never the
// engine's fetch path) and decides through package checkers.
package judge

import (
	"context"
	"fmt"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/internal/observe"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Input is the input of a run as the broker kept it.
type Input struct {
	// Committed are the committed input records with their offsets, named
	// by the topic names the job's oracle knows.
	Committed []jobs.Committed
	// Ends maps "topic/partition" (the actual topic name) to its high
	// watermark: where a job has read everything.
	Ends map[string]int64
	// Check compares what was read back with what was generated; an input
	// the broker lost, duplicated or altered makes it Unknown.
	Check checkers.Result
}

// ReadInput reads topics back (each from actual(topic), for benchmarks that
// rename topics) and checks them against generated, the records the
// workload wrote as committed data.
func ReadInput(ctx context.Context, opts []kgo.Opt, timeout time.Duration, actual func(string) string, generated []jobs.Input, topics ...string) (*Input, error) {
	in := &Input{Ends: map[string]int64{}}
	var gen, back []checkers.InputRecord
	for _, g := range generated {
		gen = append(gen, checkers.InputRecord{Topic: g.Topic, Partition: g.Partition, Offset: -1, Key: g.Key, Value: g.Value})
	}
	for _, t := range topics {
		recs, ends, err := observe.ReadCommitted(ctx, actual(t), timeout, opts...)
		if err != nil {
			return nil, fmt.Errorf("read back input: %w", err)
		}
		for _, r := range recs {
			in.Committed = append(in.Committed, jobs.Committed{Topic: t, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value})
			back = append(back, checkers.InputRecord{Topic: t, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value})
		}
		for _, e := range ends {
			in.Ends[protocol.TP(actual(t), e.Partition)] = e.HighWatermark
		}
	}
	in.Check = checkers.Input(gen, back)
	return in, nil
}

// Output reads topic, spec's output, and judges it against spec's oracle
// over in: "exactly-once", "read-committed" and "open-transactions". It
// also returns the committed records it judged. A read that fails gives an
// Unknown exactly-once result, never a pass.
func Output(ctx context.Context, opts []kgo.Opt, timeout time.Duration, spec *jobs.Spec, topic string, in []jobs.Committed) ([]checkers.Result, []checkers.Observed) {
	log, err := observe.Read(ctx, topic, timeout, opts...)
	if err != nil {
		return []checkers.Result{{Checker: "exactly-once", Verdict: checkers.Unknown, Anomaly: "unread-output",
			Explanation: "could not read the output: " + err.Error()}}, nil
	}
	var expected []checkers.Expected
	for _, o := range spec.Oracle(in) {
		expected = append(expected, checkers.Expected{Lineage: o.Lineage, Key: o.Key, Value: o.Value})
	}
	return checkers.JudgeOutput(checkers.OutputHistory{Expected: expected, Log: log, Lineage: spec.Lineage, Order: spec.Order})
}
