package smoke_test

import (
	"context"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/scenarios"
	"github.com/onceproof/onceproof/sim"
	"github.com/onceproof/onceproof/sim/smoke"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// mustRun runs h and judges it: the output must equal the input.
func mustRun(t *testing.T, h *smoke.Harness) smoke.Result {
	t.Helper()
	defer h.Close()
	res := h.Run()
	vs := scenarios.JudgeSmoke(context.Background(), h, res)
	if v := checkers.Worst(vs...); v != checkers.Ok {
		t.Fatalf("seed %d: %s: %v", res.Seed, v, vs)
	}
	total := 0
	for _, p := range res.Input {
		total += len(p)
	}
	if total != h.Opts.Records {
		t.Fatalf("seed %d: got %d input records, want %d", res.Seed, total, h.Opts.Records)
	}
	return res
}

// run builds, runs and judges the smoke run of opts.
func run(t testing.TB, opts smoke.Options) smoke.Result {
	t.Helper()
	h, err := smoke.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	res := h.Run()
	if v := scenarios.JudgeSmoke(context.Background(), h, res); checkers.Worst(v...) != checkers.Ok {
		t.Fatalf("seed %d: %s: %v", res.Seed, checkers.Worst(v...), v)
	}
	return res
}

func quiet(seed uint64) smoke.Options {
	o := smoke.DefaultOptions(seed)
	o.Kills, o.LossPercent = 0, 0
	o.Sim.KeepTrace = true
	return o
}

func TestCopyWithoutFaults(t *testing.T) {
	h, err := smoke.New(quiet(1))
	if err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, h)
	if res.Commits == 0 {
		t.Fatal("got 0 commits")
	}
}

// TestDeterminism runs 200 seeds of the faulty smoke job twice each: every
// pair of digests must be equal, and every run must be exact.
func TestDeterminism(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 40
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		a, b := run(t, smoke.DefaultOptions(seed)), run(t, smoke.DefaultOptions(seed))
		if a.Digest != b.Digest || a.Events != b.Events {
			t.Fatalf("seed %d: digests differ: %s (%d events) vs %s (%d events)", seed, a.Digest, a.Events, b.Digest, b.Events)
		}
	}
}

// TestSeedsDiffer shows the digest is not constant: different seeds give
// different runs.
func TestSeedsDiffer(t *testing.T) {
	seen := map[string]uint64{}
	for seed := uint64(1); seed <= 20; seed++ {
		r := run(t, smoke.DefaultOptions(seed))
		if prev, dup := seen[r.Digest]; dup {
			t.Fatalf("seeds %d and %d gave the same digest %s", prev, seed, r.Digest)
		}
		seen[r.Digest] = seed
	}
}

func isEndTxn(c *sim.KafkaCall) bool  { return c.Key == kmsg.EndTxn }
func isProduce(c *sim.KafkaCall) bool { return c.Key == kmsg.Produce }

// TestDroppedKafkaMessage loses the 2nd EndTxn and one Produce on the way
// to the broker or on the way back. A lost request is never applied. A lost
// response leaves both applied: the copier cannot know they were applied,
// retries them with the same decision and sequence numbers, and the output is
// still exact.
func TestDroppedKafkaMessage(t *testing.T) {
	for _, tc := range []struct {
		name             string
		seed             uint64
		fate             sim.KafkaFate
		endTxn, produce  string // the rules' names
		nthProduce       int
		traced, lostWhat string // the trace line, and its plural for the failure
	}{
		{"request", 2, sim.DropRequest, "lose 2nd EndTxn", "lose a Produce", 3, "request lost", "lost requests"},
		{"response", 3, sim.DropResponse, "ambiguous EndTxn", "ambiguous Produce", 4, "response lost", "lost responses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := smoke.New(quiet(tc.seed))
			if err != nil {
				t.Fatal(err)
			}
			endTxn := h.Kafka.Intercept(&sim.KafkaRule{Name: tc.endTxn, Fate: tc.fate, Count: 1, Match: nth(2, isEndTxn)})
			produce := h.Kafka.Intercept(&sim.KafkaRule{Name: tc.produce, Fate: tc.fate, Count: 1, Match: nth(tc.nthProduce, isProduce)})
			res := mustRun(t, h)
			if endTxn.Hits != 1 || produce.Hits != 1 {
				t.Fatalf("got hits EndTxn=%d Produce=%d, want 1 and 1", endTxn.Hits, produce.Hits)
			}
			if n := count(res.Trace, tc.traced); n != 2 {
				t.Fatalf("got %d %s in the trace, want 2", n, tc.lostWhat)
			}
		})
	}
}

// TestKfakeFault makes the broker refuse two produces; the copier fails,
// restarts from its saved position, and the output is still exact.
func TestKfakeFault(t *testing.T) {
	h, err := smoke.New(quiet(4))
	if err != nil {
		t.Fatal(err)
	}
	fh := h.Kafka.InjectFault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: smoke.OutputTopic, Err: kerr.NotLeaderForPartition, Count: 2})
	res := mustRun(t, h)
	if fh.Hits() != 2 {
		t.Fatalf("got %d fault hits, want 2", fh.Hits())
	}
	if res.Kills != 2 {
		t.Fatalf("got %d restarts, want 2 (one per refused produce)", res.Kills)
	}
}

// TestKillLosesUnsyncedData kills the copier while it has an unsynced file on
// its local disk: the restart must find the file gone, and the output must be
// exact all the same.
func TestKillLosesUnsyncedData(t *testing.T) {
	o := quiet(5)
	o.Kills = 3
	h, err := smoke.New(o)
	if err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, h)
	if res.Kills == 0 {
		t.Fatal("the copier was never killed")
	}
	if res.ScratchLost == 0 {
		t.Fatalf("got %d kills and no lost scratch file: unsynced data survived a crash", res.Kills)
	}
}

// TestManyFaultySeeds runs more seeds with a heavier fault load.
func TestManyFaultySeeds(t *testing.T) {
	for seed := uint64(1000); seed < 1050; seed++ {
		o := smoke.DefaultOptions(seed)
		o.Kills, o.LossPercent = 8, 10
		run(t, o)
	}
}

func TestInvalidOptions(t *testing.T) {
	o := smoke.DefaultOptions(1)
	o.Partitions = 0
	if _, err := smoke.New(o); err == nil || !strings.Contains(err.Error(), "partitions") {
		t.Fatalf("got %v, want an error naming partitions", err)
	}
}

func nth(n int, match func(*sim.KafkaCall) bool) func(*sim.KafkaCall) bool {
	seen := 0
	return func(c *sim.KafkaCall) bool {
		if !match(c) {
			return false
		}
		seen++
		return seen == n
	}
}

func count(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}
