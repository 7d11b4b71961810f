package bench

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// MinCommits is the fewest commits a contender's run may make for its
// throughput to be compared: a run that commits once or twice measures its
// start and its final commit, not the steady state, so compare refuses to
// put it in a ratio.
const MinCommits = 5

// spanIntervals is how many intervals the sizing rule fits into the
// shortest warm-up run: twice MinCommits, since the warm-up runs cold (the
// first consumer group, the first transactions, a heap still growing) and
// was seen to take up to three times as long as a measured run at 200k
// records, while at a long interval it commits less and so runs faster.
const spanIntervals = 2 * MinCommits

// SizeInterval is compare's sizing rule. The input is fixed (--records,
// written once and shared), so the run is sized by its checkpoint
// interval: the shortest warm-up run of any contender divided by
// spanIntervals (twice MinCommits), rounded down to the millisecond. Every contender then
// commits at that one interval, and even the fastest spans at least
// MinCommits of them. A warm-up too short for intervals of a millisecond is
// an error that says how many records would do.
func SizeInterval(warmup []CompareRun, records int) (time.Duration, error) {
	if len(warmup) == 0 {
		return 0, errors.New("sizing: no warm-up run to size from")
	}
	shortest := warmup[0]
	for _, r := range warmup[1:] {
		if r.Elapsed < shortest.Elapsed {
			shortest = r
		}
	}
	iv := (shortest.Elapsed / spanIntervals).Truncate(time.Millisecond)
	if iv < time.Millisecond {
		need := int(math.Ceil(float64(records)*float64(spanIntervals*time.Millisecond)/float64(max(shortest.Elapsed, 1))/100_000)) * 100_000
		return 0, fmt.Errorf("sizing: the fastest warm-up run (%s) took %v, too short to span %d checkpoints of at least 1ms; give --records %d or more",
			shortest.Contender, shortest.Elapsed, spanIntervals, need)
	}
	return iv, nil
}

// RecordsFor estimates the input that would make run commit spanIntervals
// times at the same interval: its records scaled by the commits it made
// (the commits, not the elapsed time over the interval, since a checkpoint
// that takes longer than the interval delays the next one). It is the hint
// a refusal gives, rounded up to 100k records.
func RecordsFor(run CompareRun, records int) int {
	need := float64(records) * float64(spanIntervals) / float64(max(run.Commits, 1))
	return int(math.Ceil(need/100_000)) * 100_000
}

// tooFewCommits says, for each contender with a measured run that committed
// fewer than MinCommits times, why its throughput is not compared. The
// loops' Commits are those of their slowest-committing subtask, the
// engine's its checkpoints.
func tooFewCommits(runs []CompareRun, records int, iv time.Duration) map[string]string {
	why := map[string]string{}
	for _, r := range runs {
		if r.Contender == EngineOff || r.Commits >= MinCommits || why[r.Contender] != "" {
			continue // checkpoints off commits once by design
		}
		why[r.Contender] = fmt.Sprintf("%s committed %d times in round %d (%v at a %v interval), fewer than %d: the run measured its start and end, not the steady state; give --records %d or more, or a shorter --interval",
			r.Contender, r.Commits, r.Round, r.Elapsed.Round(time.Millisecond), iv, MinCommits, RecordsFor(r, records))
	}
	return why
}

// decide fills the ratios and the checkpoint cost from the medians, or,
// for each that involves a contender with too few commits, says in NoRatio
// why it was not computed.
func (res *CompareResult) decide() {
	few := tooFewCommits(res.Runs, res.Options.Records, res.Interval)
	res.TooFewCommits = few
	if len(few) == 0 {
		res.TooFewCommits = nil
	}
	res.NoRatio = map[string]string{}
	pair := func(name, a, b string, med map[string]float64) float64 {
		var who []string
		for _, c := range []string{a, b} {
			if few[c] != "" {
				who = append(who, c)
			}
		}
		if len(who) > 0 {
			res.NoRatio[name] = fmt.Sprintf("too few commits: %s (see too_few_commits)", strings.Join(who, " and "))
			return 0
		}
		if med[a] == 0 || med[b] == 0 {
			res.NoRatio[name] = fmt.Sprintf("%s or %s did not run", a, b)
			return 0
		}
		return med[a] / med[b]
	}
	res.EngineVsCeiling = pair("engine/ceiling", Engine, Ceiling, res.Median)
	res.EngineVsFranzGo = pair("engine/franz-go", Engine, FranzGo, res.Median)
	res.EngineVsCeilingCPU = pair("engine/ceiling CPU", Engine, Ceiling, res.MedianPerCPUSec)
	res.EngineVsFranzGoCPU = pair("engine/franz-go CPU", Engine, FranzGo, res.MedianPerCPUSec)
	res.CheckpointCost, res.CheckpointCostRounds = checkpointCost(res.Runs)
	switch {
	case few[Engine] != "":
		res.NoRatio["checkpoint cost"] = "too few commits: engine (see too_few_commits)"
		res.CheckpointCost, res.CheckpointCostRounds = 0, nil
	case len(res.CheckpointCostRounds) == 0:
		res.NoRatio["checkpoint cost"] = "engine and engine-off did not both run in a round"
	}
	if len(res.NoRatio) == 0 {
		res.NoRatio = nil
	}
}

// checkpointCost pairs the engine's exactly-once run with its run with
// checkpoints off in the same round: each round's cost is the share of
// throughput exactly-once gives up, 1 - eos/off (negative when the
// exactly-once run was the faster). It returns their median and the rounds'
// costs in round order.
func checkpointCost(runs []CompareRun) (float64, []float64) {
	eos, off := map[int]float64{}, map[int]float64{}
	var rounds []int
	for _, r := range runs {
		switch r.Contender {
		case Engine:
			eos[r.Round] = r.RecordsPerSec
			rounds = append(rounds, r.Round)
		case EngineOff:
			off[r.Round] = r.RecordsPerSec
		}
	}
	var costs []float64
	for _, rd := range rounds {
		if off[rd] > 0 && eos[rd] > 0 {
			costs = append(costs, 1-eos[rd]/off[rd])
		}
	}
	if len(costs) == 0 {
		return 0, nil
	}
	return medianOf(costs), slices.Clip(costs)
}

// Print writes the summary of a comparison: the interval and how it was
// chosen, the commits, the medians, the ratios or why there are none, and
// the checkpoint cost.
func (res *CompareResult) Print(w io.Writer) {
	how := "given"
	if res.IntervalSized {
		how = fmt.Sprintf("sized from the warm-up: its fastest run over %d", spanIntervals)
	}
	fmt.Fprintf(w, "interval  %v (%s)\n", res.Interval, how)
	var commits, medians, perCPU []string
	for _, who := range RoundOrder {
		var ns []int
		for _, r := range res.Runs {
			if r.Contender == who {
				ns = append(ns, r.Commits)
			}
		}
		if len(ns) == 0 {
			continue
		}
		commits = append(commits, fmt.Sprintf("%s %d-%d", who, slices.Min(ns), slices.Max(ns)))
		medians = append(medians, fmt.Sprintf("%s %.0f", who, res.Median[who]))
		perCPU = append(perCPU, fmt.Sprintf("%s %.0f", who, res.MedianPerCPUSec[who]))
	}
	fmt.Fprintf(w, "commits   %s  (fewest-most per measured run; a loop's: its slowest-committing subtask's)\n", strings.Join(commits, "  "))
	fmt.Fprintf(w, "median    %s records/s\n", strings.Join(medians, "  "))
	fmt.Fprintf(w, "per CPU-s %s records/CPU-s\n", strings.Join(perCPU, "  "))
	if len(res.Options.Only) > 0 {
		fmt.Fprintf(w, "ratios    none: --only ran %s\n", strings.Join(res.Options.Only, ", "))
	} else {
		show := func(name string, v float64) string {
			if _, refused := res.NoRatio[name]; refused {
				return name + " refused"
			}
			return fmt.Sprintf("%s %.2f", name, v)
		}
		fmt.Fprintf(w, "ratios    %s  %s  (per CPU-s: %s  %s)\n", show("engine/ceiling", res.EngineVsCeiling), show("engine/franz-go", res.EngineVsFranzGo),
			show("engine/ceiling CPU", res.EngineVsCeilingCPU), show("engine/franz-go CPU", res.EngineVsFranzGoCPU))
		if _, refused := res.NoRatio["checkpoint cost"]; !refused {
			var rounds []string
			for _, c := range res.CheckpointCostRounds {
				rounds = append(rounds, fmt.Sprintf("%.1f%%", 100*c))
			}
			fmt.Fprintf(w, "checkpoint cost  %.1f%% at %v (1 - engine/engine-off records/s, median of the rounds: %s)\n",
				100*res.CheckpointCost, res.Interval, strings.Join(rounds, " "))
		}
		for _, name := range slices.Sorted(maps.Keys(res.NoRatio)) {
			fmt.Fprintf(w, "no ratio  %s: %s\n", name, strings.TrimSuffix(res.NoRatio[name], " (see too_few_commits)"))
		}
		for _, who := range slices.Sorted(maps.Keys(res.TooFewCommits)) {
			fmt.Fprintf(w, "refused   %s\n", res.TooFewCommits[who])
		}
	}
	fmt.Fprintf(w, "verified  %s\n", res.Verified)
}
