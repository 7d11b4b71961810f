package observe_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/onceproof/onceproof/internal/observe"
	"github.com/twmb/franz-go/pkg/kgo"
)

const partitions = 64

// writeReplays writes, in every partition, what a sink writes around a
// failure: a transaction that is aborted, then the same records again in a
// transaction that commits. Each record goes out in a batch of its own, so
// that a fetch can be cut in the middle of the aborted transaction.
func writeReplays(t *testing.T, opts []kgo.Opt, topic string, perPartition int) []checkers.Expected {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.TransactionalID("replayer"), kgo.TransactionTimeout(time.Minute),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var expected []checkers.Expected
	for _, commit := range []kgo.TransactionEndTry{kgo.TryAbort, kgo.TryCommit} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range perPartition {
			for p := range int32(partitions) {
				v := fmt.Sprintf("p%d-r%d", p, i)
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprint(p)), Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatal(err)
				}
				if commit == kgo.TryCommit {
					expected = append(expected, checkers.Expected{Lineage: v, Key: fmt.Sprint(p), Value: v})
				}
			}
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	return expected
}

// TestAbortedReplaysAreNoDuplicates is the false alarm that reading with
// kgo's default fetch sizes raised: 64 partitions, each with an aborted
// transaction followed by a committed copy of the same records. Whatever the
// read_committed pass is served, the records the log's markers say were
// aborted are not counted as output, so there is no duplicate. When the
// read_committed pass's responses are cut, kfake hands it the aborted
// records; that is reported as what it is, an aborted read by the broker.
func TestAbortedReplaysAreNoDuplicates(t *testing.T) {
	b, err := live.StartBrokers(1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const topic = "out"
	if err := b.CreateTopic(topic, partitions); err != nil {
		t.Fatal(err)
	}
	expected := writeReplays(t, b.ClientOpts(), topic, 3)

	judge := func(t *testing.T, committed observe.Limits) map[string]checkers.Result {
		log, err := observe.ReadWith(context.Background(), topic, time.Minute, committed, b.ClientOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		rs, observed := checkers.JudgeOutput(checkers.OutputHistory{Expected: expected, Log: log, Order: checkers.PerPartition,
			Lineage: func(_, v string) string { return v }})
		if len(observed) != len(expected) {
			t.Errorf("got %d committed records, want %d", len(observed), len(expected))
		}
		out := map[string]checkers.Result{}
		for _, r := range rs {
			out[r.Checker] = r
		}
		return out
	}

	t.Run("uncut", func(t *testing.T) {
		for name, r := range judge(t, observe.DefaultLimits) {
			if r.Verdict != checkers.Ok {
				t.Errorf("%s: got %s, want ok", name, r)
			}
		}
	})
	t.Run("cut", func(t *testing.T) {
		cut := observe.Limits{PartitionBytes: 1 << 20, PartitionsPerConsumer: partitions, ResponseBytes: 400}
		rs := judge(t, cut)
		if r := rs["exactly-once"]; r.Verdict != checkers.Ok {
			t.Errorf("exactly-once: got %s, want ok: aborted records were taken for output", r)
		}
		r := rs["read-committed"]
		if r.Verdict != checkers.Violation || r.Anomaly != "aborted-read" {
			t.Fatalf("read-committed: got %s, want violation aborted-read (kfake %s serves aborted batches of a cut response)", r, "v0.0.0-20260918054303")
		}
		t.Logf("read-committed with cut responses: %s", r.Explanation)
	})
}
