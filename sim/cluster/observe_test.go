package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/internal/observe"
)

// TestAbortedReadInTheSimulator plants an aborted read in a simulated run's
// output: kills leave aborted transactions in the output, and a
// read_committed pass whose fetch responses are cut is served their records
// by kfake. The judge reports the aborted read with the record's offset,
// and still counts none of those records as output.
func TestAbortedReadInTheSimulator(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		o := DefaultOptions("copier", seed)
		o.Kills = 2
		o.KillWindow = 300 * time.Millisecond
		c, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		res := c.Run(context.Background())
		requireOK(t, o, res)

		out := c.spec.Output(o.Params).Name
		cut := observe.Limits{PartitionBytes: 1 << 20, PartitionsPerConsumer: 64, ResponseBytes: 200}
		log, err := observe.ReadWith(context.Background(), out, 30*time.Second, cut, c.k.ClientOpts()...)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		var expected []checkers.Expected
		for _, e := range c.spec.Oracle(c.input) {
			expected = append(expected, checkers.Expected{Lineage: e.Lineage, Key: e.Key, Value: e.Value})
		}
		rs, _ := checkers.JudgeOutput(checkers.OutputHistory{Expected: expected, Log: log, Lineage: c.spec.Lineage, Order: c.spec.Order})
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
