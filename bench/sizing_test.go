package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/engine/jobs"
)

func TestSizeInterval(t *testing.T) {
	warm := []CompareRun{
		{Contender: Engine, Elapsed: 3 * time.Second},
		{Contender: Ceiling, Elapsed: 905 * time.Millisecond},
		{Contender: FranzGo, Elapsed: 4 * time.Second},
	}
	got, err := SizeInterval(warm, 8_000_000)
	// The fastest run, 905ms, over twice MinCommits, to the millisecond.
	if want := 90 * time.Millisecond; err != nil || got != want {
		t.Fatalf("SizeInterval: got %v, %v; want %v", got, err, want)
	}
	if got*time.Duration(MinCommits) > warm[1].Elapsed {
		t.Errorf("interval %v: the fastest run (%v) spans fewer than %d of them", got, warm[1].Elapsed, MinCommits)
	}
	_, err = SizeInterval([]CompareRun{{Contender: Ceiling, Elapsed: 4 * time.Millisecond}}, 20_000)
	if err == nil || !strings.Contains(err.Error(), "--records") {
		t.Errorf("a 4ms warm-up: got %v, want an error naming the --records that would do", err)
	}
	if _, err := SizeInterval(nil, 1); err == nil {
		t.Error("no warm-up: got no error")
	}
}

// TestCompareRefusesFewCommits is the known-bad result: the 2M
// record compare, where the engine committed once per run. Its ratios and
// checkpoint cost must be refused, and say why.
func TestCompareRefusesFewCommits(t *testing.T) {
	bad := &CompareResult{Options: DefaultCompareOptions("copier"), Interval: time.Second,
		Median:          map[string]float64{Engine: 2.72e6, EngineOff: 2.8e6, Ceiling: 7.95e6, FranzGo: 1.9e6},
		MedianPerCPUSec: map[string]float64{Engine: 1e6, Ceiling: 3e6, FranzGo: 1e6}}
	for round := 1; round <= 3; round++ {
		bad.Runs = append(bad.Runs,
			CompareRun{Contender: Engine, Round: round, Elapsed: 735 * time.Millisecond, RecordsPerSec: 2.72e6, Commits: 1},
			CompareRun{Contender: EngineOff, Round: round, Elapsed: 714 * time.Millisecond, RecordsPerSec: 2.8e6, Commits: 1},
			CompareRun{Contender: Ceiling, Round: round, Elapsed: 251 * time.Millisecond, RecordsPerSec: 7.95e6, Commits: 1},
			CompareRun{Contender: FranzGo, Round: round, Elapsed: 1052 * time.Millisecond, RecordsPerSec: 1.9e6, Commits: 2})
	}
	bad.decide()
	if bad.EngineVsCeiling != 0 || bad.EngineVsFranzGo != 0 || bad.CheckpointCost != 0 {
		t.Errorf("got ratios %v, %v and cost %v; want none", bad.EngineVsCeiling, bad.EngineVsFranzGo, bad.CheckpointCost)
	}
	for _, name := range []string{"engine/ceiling", "engine/franz-go", "engine/ceiling CPU", "engine/franz-go CPU", "checkpoint cost"} {
		if !strings.Contains(bad.NoRatio[name], "too few commits") {
			t.Errorf("no_ratio[%q]: got %q, want why", name, bad.NoRatio[name])
		}
	}
	if why := bad.TooFewCommits[Engine]; !strings.Contains(why, "committed 1 times") || !strings.Contains(why, "--records 20000000") {
		t.Errorf("too_few_commits[engine]: got %q; want the commits and the records that would do", why)
	}
	if _, ok := bad.TooFewCommits[EngineOff]; ok {
		t.Error("engine-off commits once by design, and was refused for it")
	}

	// The same result with enough commits gives its ratios.
	good := *bad
	good.Runs = nil
	for _, r := range bad.Runs {
		r.Commits = MinCommits
		good.Runs = append(good.Runs, r)
	}
	good.decide()
	if good.NoRatio != nil || good.EngineVsCeiling == 0 || good.EngineVsFranzGo == 0 {
		t.Errorf("enough commits: got ratios %v, %v, refusals %v", good.EngineVsCeiling, good.EngineVsFranzGo, good.NoRatio)
	}
	if want := 1 - 2.72/2.8; len(good.CheckpointCostRounds) != 3 || good.CheckpointCost < want-1e-9 || good.CheckpointCost > want+1e-9 {
		t.Errorf("checkpoint cost: got %v (rounds %v), want %v", good.CheckpointCost, good.CheckpointCostRounds, want)
	}
}

// TestMultiset: the digest that checks every compare run tells a lost,
// doubled or changed record from the expected output, in any order.
func TestMultiset(t *testing.T) {
	spec, _ := jobs.Lookup("keyed-count")
	in := NewInput(spec, jobs.Params{Parallelism: 1, Partitions: 3, Records: 300, Keys: 7}, 1)
	want, copied := expectedDigests(spec, in.Records, 3)
	if want.N != 300 || copied.N != 300 || want == copied {
		t.Fatalf("digests %+v, %+v: want 300 records each, and an oracle output that is not the input", want, copied)
	}
	var all []jobs.Committed
	for _, r := range in.Records {
		all = append(all, jobs.Committed{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Value: r.Value})
	}
	outs := spec.Oracle(all) // one oracle over every partition: the same multiset
	digest := func(skip, twice int, change bool) multiset {
		var m multiset
		for i := len(outs) - 1; i >= 0; i-- { // another order
			o := outs[i]
			if i == skip {
				continue
			}
			if change && i == 0 {
				o.Value += "x"
			}
			m.add([]byte(o.Key), []byte(o.Value))
			if i == twice {
				m.add([]byte(o.Key), []byte(o.Value))
			}
		}
		return m
	}
	if got := digest(-1, -1, false); got != want {
		t.Errorf("the oracle's output in reverse: got %+v, want %+v", got, want)
	}
	for name, got := range map[string]multiset{"lost": digest(5, -1, false), "doubled": digest(-1, 5, false),
		"lost and doubled": digest(5, 6, false), "changed": digest(-1, -1, true)} {
		if got == want {
			t.Errorf("%s: the digest did not change", name)
		}
	}
}
