package cluster_test

import (
	"context"
	"github.com/onceproof/onceproof/sim/cluster"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/internal/judge"
	"github.com/onceproof/onceproof/internal/observe"
)

// TestAbortedReadInTheSimulator plants an aborted read in a simulated run's
// output: kills leave aborted transactions in the output, and a
// read_committed pass whose fetch responses are cut is served their records
// by kfake. The judge reports the aborted read with the record's offset,
// and still counts none of those records as output.
func TestAbortedReadInTheSimulator(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		o := cluster.DefaultOptions("copier", seed)
		o.Kills = 2
		o.KillWindow = 300 * time.Millisecond
		c := newCluster(t, o)
		res := runJudged(c)
		requireOK(t, o, res)

		h := res.History
		opts := c.Kafka().ClientOpts()
		in, err := judge.ReadInput(context.Background(), opts, 30*time.Second, func(t string) string { return t }, h.Input, h.InputTopics...)
		if err != nil {
			t.Fatal(err)
		}
		cut := observe.Limits{PartitionBytes: 1 << 20, PartitionsPerConsumer: 64, ResponseBytes: 200}
		log, err := observe.ReadWith(context.Background(), h.OutputTopic, 30*time.Second, cut, opts...)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		var expected []checkers.Expected
		for _, e := range h.Spec.Oracle(in.Committed) {
			expected = append(expected, checkers.Expected{Lineage: e.Lineage, Key: e.Key, Value: e.Value})
		}
		rs, _ := checkers.JudgeOutput(checkers.OutputHistory{Expected: expected, Log: log, Lineage: h.Spec.Lineage, Order: h.Spec.Order})
		var rc checkers.Result
		for _, r := range rs {
			switch r.Checker {
			case "exactly-once":
				if r.Verdict != checkers.Ok {
					t.Fatalf("seed %d: exactly-once: got %s, want ok: aborted records were taken for output", seed, r)
				}
			case "read-committed":
				rc = r
			}
		}
		if rc.Verdict == checkers.Ok {
			continue // this seed's kills left no aborted batch where a cut fell
		}
		if rc.Verdict != checkers.Violation || rc.Anomaly != "aborted-read" {
			t.Fatalf("seed %d: read-committed: got %s, want violation aborted-read", seed, rc)
		}
		t.Logf("seed %d: %s", seed, rc.FirstBad)
		return
	}
	t.Fatal("no seed of 1-10 left an aborted transaction that a cut read_committed fetch served")
}
