package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
)

func lookupAll(t *testing.T, names ...string) []*Scenario {
	t.Helper()
	var out []*Scenario
	for _, n := range names {
		s, err := Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// withoutWallClock zeroes the fields that depend on the machine.
func withoutWallClock(s *SweepSummary) string {
	c := *s
	c.Runs = append([]SeedRun(nil), s.Runs...)
	for i := range c.Runs {
		c.Runs[i].WallTime = 0
	}
	c.PerScenario = append([]Tally(nil), s.PerScenario...)
	for i := range c.PerScenario {
		c.PerScenario[i].WallTime, c.PerScenario[i].SeedsPerSecond = 0, 0
	}
	c.Total.WallTime, c.Total.SeedsPerSecond = 0, 0
	data, _ := json.Marshal(c)
	return string(data)
}

func TestSweepTwoScenarios(t *testing.T) {
	var progress []int
	outcomes := 0
	sum, err := Sweep(context.Background(), SweepOptions{
		Scenarios: lookupAll(t, "count-crash-before-commit", "smoke-copier"),
		Seeds:     SeedRange{1, 5},
		Parallel:  3,
		OnOutcome: func(*Outcome) { outcomes++ },
		Progress: func(done, total int, _ time.Duration) {
			if total != 10 {
				t.Errorf("progress total %d, want 10", total)
			}
			progress = append(progress, done)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Runs) != 10 || outcomes != 10 || len(progress) != 10 || progress[9] != 10 {
		t.Fatalf("got %d runs, %d outcomes, progress %v; want 10 of each", len(sum.Runs), outcomes, progress)
	}
	for i, r := range sum.Runs {
		wantScenario, wantSeed := "count-crash-before-commit", uint64(i+1)
		if i >= 5 {
			wantScenario, wantSeed = "smoke-copier", uint64(i-4)
		}
		if r.Scenario != wantScenario || r.Seed != wantSeed || len(r.Digest) != 64 || r.SimTime <= 0 {
			t.Errorf("run %d: got %s seed %d digest %q, want %s seed %d (seed order)", i, r.Scenario, r.Seed, r.Digest, wantScenario, wantSeed)
		}
	}
	// The tallies add up, whatever the verdicts (the correct engine passes
	// these seeds; this test is about the bookkeeping).
	var worst []checkers.Result
	for _, r := range sum.Runs {
		worst = append(worst, checkers.Result{Verdict: r.Verdict})
	}
	tot := sum.Total
	if len(sum.PerScenario) != 2 || tot.Seeds != 10 || tot.Passed+tot.Violated+tot.NoProgress+tot.Inconclusive != 10 ||
		sum.PerScenario[0].Seeds != 5 || sum.PerScenario[0].Passed+sum.PerScenario[1].Passed != tot.Passed ||
		tot.SimTime != sum.PerScenario[0].SimTime+sum.PerScenario[1].SimTime || tot.SeedsPerSecond <= 0 ||
		sum.Verdict != checkers.Worst(worst...) || tot.Failed() != len(sum.Failures()) {
		t.Errorf("tallies: %+v total %+v verdict %s", sum.PerScenario, tot, sum.Verdict)
	}
}

// TestSweepShardsMerge: shards 1/2 and 2/2, merged in either order, equal
// the unsharded sweep but for wall-clock fields; so do three shards of 3.
func TestSweepShardsMerge(t *testing.T) {
	run := func(sh Shard, parallel int) *SweepSummary {
		t.Helper()
		s, err := Sweep(context.Background(), SweepOptions{
			Scenarios: lookupAll(t, "count-crash-before-commit", "smoke-copier"), Seeds: SeedRange{3, 9}, Shard: sh, Parallel: parallel,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	whole := run(Shard{}, 4)
	a, b := run(Shard{1, 2}, 1), run(Shard{2, 2}, 2)
	for _, parts := range [][]*SweepSummary{{a, b}, {b, a}} {
		m, err := MergeSummaries(parts[0], parts[1])
		if err != nil {
			t.Fatal(err)
		}
		if got, want := withoutWallClock(m), withoutWallClock(whole); got != want {
			t.Errorf("merged:\ngot  %s\nwant %s", got, want)
		}
	}
	x, y, z := run(Shard{1, 3}, 2), run(Shard{2, 3}, 2), run(Shard{3, 3}, 2)
	xy, err := MergeSummaries(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if xy.Shard != "1+2/3" || !slices.Equal(xy.MissingShards, []string{"3/3"}) || xy.Verdict != checkers.Unknown ||
		!slices.Equal(xy.Incomplete, []string{"missing shards 3/3"}) {
		t.Errorf("partial merge: got shard %q, missing %q, verdict %s, incomplete %q; want 1+2/3, 3/3, unknown and why",
			xy.Shard, xy.MissingShards, xy.Verdict, xy.Incomplete)
	}
	all, err := MergeSummaries(xy, z)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := withoutWallClock(all), withoutWallClock(whole); got != want {
		t.Errorf("three shards merged:\ngot  %s\nwant %s", got, want)
	}

	// Not shards of one sweep, or a seed with two digests: errors.
	other := run(Shard{1, 2}, 1)
	other.Seeds = SeedRange{1, 9}
	if _, err := MergeSummaries(a, other); err == nil {
		t.Error("merging different seed ranges: got no error")
	}
	bad := run(Shard{1, 2}, 1)
	bad.Runs[0].Digest = strings.Repeat("0", 64)
	if _, err := MergeSummaries(a, bad); err == nil || !strings.Contains(err.Error(), "nondeterminism") {
		t.Errorf("conflicting digests: got %v", err)
	}
	if _, err := MergeSummaries(a, run(Shard{1, 3}, 1)); err == nil {
		t.Error("merging shards of 2 and of 3: got no error")
	}
	rebuilt := run(Shard{2, 2}, 1)
	rebuilt.Build = "0123456789ab go1.26.8"
	if _, err := MergeSummaries(a, rebuilt); err == nil || !strings.Contains(err.Error(), `build "0123456789ab go1.26.8": not shards of one sweep`) {
		t.Errorf("shards of two builds: got %v", err)
	}
	// A shard twice, or the whole sweep and a part of it: overlaps.
	for _, tc := range []struct {
		parts []*SweepSummary
		want  string
	}{
		{[]*SweepSummary{a, b, a}, "summary 0 and summary 2 both hold shard 1/2"},
		{[]*SweepSummary{xy, y, z}, "summary 0 and summary 1 both hold shard 2/3"},
		{[]*SweepSummary{whole, b}, "summary 0 and summary 1 both hold shard 2/2"},
		{[]*SweepSummary{b, whole}, "summary 1 holds the whole sweep, and summary 0 part of it again"},
	} {
		if _, err := MergeSummaries(tc.parts[0], tc.parts[1:]...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

// TestSweepFailuresWriteBundles: a mutant sweep fails, writes a bundle per
// failing seed, skips the scenario that takes no mutant when asked to, and
// otherwise stops with bad input.
func TestSweepFailuresWriteBundles(t *testing.T) {
	dir := t.TempDir()
	ms := engine.Mutants{engine.MutantNoRecoverCommit}
	sum, err := Sweep(context.Background(), SweepOptions{
		Scenarios: lookupAll(t, "count-crash-before-commit", "smoke-copier"), Seeds: SeedRange{1, 2},
		Mutants: ms, SkipUnfit: true, BundleDir: dir, Parallel: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Verdict != checkers.Violation || sum.Total.Violated != 2 || len(sum.Failures()) != 2 {
		t.Errorf("got verdict %s, %d violated, want 2 violations", sum.Verdict, sum.Total.Violated)
	}
	if _, ok := sum.Skipped["smoke-copier"]; !ok || len(sum.PerScenario) != 1 {
		t.Errorf("skipped %v, per scenario %d: want smoke-copier skipped", sum.Skipped, len(sum.PerScenario))
	}
	for _, r := range sum.Failures() {
		want := filepath.Join(dir, BundleName(r.Scenario, r.Seed, []string{"no-recover-commit"}))
		if r.Bundle != want || !strings.Contains(strings.Join(r.Anomalies, ","), "lost-write") {
			t.Errorf("seed %d: bundle %q anomalies %v, want %s and lost-write", r.Seed, r.Bundle, r.Anomalies, want)
		}
		b, err := ReadBundle(r.Bundle)
		if err != nil || b.Digest != r.Digest {
			t.Errorf("seed %d: bundle %v, %v", r.Seed, b, err)
		}
		if _, err := os.Stat(filepath.Join(r.Bundle, BundleTraceFile)); err != nil {
			t.Error(err)
		}
	}

	_, err = Sweep(context.Background(), SweepOptions{Scenarios: lookupAll(t, "smoke-copier"), Seeds: SeedRange{1, 2}, Mutants: ms})
	var bad *BadInputError
	if !errors.As(err, &bad) {
		t.Errorf("smoke-copier with a mutant, not skipping: got %v, want bad input", err)
	}
}

func TestSweepRejects(t *testing.T) {
	one := lookupAll(t, "smoke-copier")
	for name, o := range map[string]SweepOptions{
		"empty range": {Scenarios: one, Seeds: SeedRange{5, 1}},
		"bad shard":   {Scenarios: one, Seeds: SeedRange{1, 2}, Shard: Shard{3, 2}},
		"no scenario": {Seeds: SeedRange{1, 2}},
		"too many":    {Scenarios: one, Seeds: SeedRange{1, 1 << 40}},
	} {
		var bad *BadInputError
		if _, err := Sweep(context.Background(), o); !errors.As(err, &bad) {
			t.Errorf("%s: got %v, want bad input", name, err)
		}
	}
}

// TestSweepCancelled: a cancelled sweep returns what it finished and says
// it was interrupted; every worker has exited (the race detector and the
// test's own exit would notice a straggler writing to the summary).
func TestSweepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sum, err := Sweep(ctx, SweepOptions{
		Scenarios: lookupAll(t, "smoke-copier"), Seeds: SeedRange{1, 200}, Parallel: 2,
		Progress: func(done, _ int, _ time.Duration) {
			if done == 3 {
				cancel()
			}
		},
	})
	if err == nil || !strings.Contains(err.Error(), "interrupted") || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want interrupted", err)
	}
	if sum == nil || len(sum.Runs) < 3 || len(sum.Runs) > 10 {
		t.Fatalf("got %v runs, want the few finished before the cancel", sum)
	}
	want := fmt.Sprintf("interrupted after %d of 200 runs", len(sum.Runs))
	if !sum.Interrupted || sum.Verdict == checkers.Ok || !slices.Contains(sum.Incomplete, want) {
		t.Errorf("got interrupted %v, verdict %s, incomplete %q; want interrupted, not ok, %q", sum.Interrupted, sum.Verdict, sum.Incomplete, want)
	}
}

// TestSweepVerdict: the summary's verdict is the worst of its runs, and
// never ok when no run reached a verdict or runs of the sweep are missing.
func TestSweepVerdict(t *testing.T) {
	ok := func(scenario string, seeds ...uint64) []SeedRun {
		var out []SeedRun
		for _, s := range seeds {
			out = append(out, SeedRun{Scenario: scenario, Seed: s, Verdict: checkers.Ok})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		sum     SweepSummary
		verdict checkers.Verdict
		why     string
	}{
		{"complete", SweepSummary{Seeds: SeedRange{1, 3}, Scenarios: []string{"a"}, Runs: ok("a", 1, 2, 3)}, checkers.Ok, ""},
		{"complete shard", SweepSummary{Seeds: SeedRange{1, 5}, Shard: "2/2", Scenarios: []string{"a"}, Runs: ok("a", 2, 4)}, checkers.Ok, ""},
		{"a violation", SweepSummary{Seeds: SeedRange{1, 2}, Scenarios: []string{"a"},
			Runs: append(ok("a", 1), SeedRun{Scenario: "a", Seed: 2, Verdict: checkers.Violation})}, checkers.Violation, ""},
		{"no run", SweepSummary{Seeds: SeedRange{1, 3}, Scenarios: []string{"a"}}, checkers.Unknown, "3 of 3 runs missing"},
		{"empty shard", SweepSummary{Seeds: SeedRange{1, 2}, Shard: "3/4", Scenarios: []string{"a", "b"}}, checkers.Unknown, "shard 3/4 holds none of the 4 runs"},
		{"every scenario skipped", SweepSummary{Seeds: SeedRange{1, 2}, Scenarios: []string{"a"}, Skipped: map[string]string{"a": "no"}},
			checkers.Unknown, "every scenario was skipped: no run reached a verdict"},
		{"skipped aside", SweepSummary{Seeds: SeedRange{1, 2}, Scenarios: []string{"a", "b"}, Skipped: map[string]string{"b": "no"}, Runs: ok("a", 1, 2)}, checkers.Ok, ""},
		{"interrupted", SweepSummary{Seeds: SeedRange{1, 3}, Scenarios: []string{"a"}, Interrupted: true, Runs: ok("a", 1)},
			checkers.Unknown, "interrupted after 1 of 3 runs"},
		{"stopped", SweepSummary{Seeds: SeedRange{1, 3}, Scenarios: []string{"a"}, Stopped: "stopped after 1 failing seeds (--max-failures)",
			Runs: []SeedRun{{Scenario: "a", Seed: 1, Verdict: checkers.NoProgress}}}, checkers.NoProgress, "stopped after 1 failing seeds (--max-failures), after 1 of 3 runs"},
		{"runs missing", SweepSummary{Seeds: SeedRange{1, 4}, Shard: "1/2", Scenarios: []string{"a"}, Runs: ok("a", 1)}, checkers.Unknown, "1 of 2 runs missing"},
	} {
		s := tc.sum
		s.tally(0)
		if s.Verdict != tc.verdict || strings.Join(s.Incomplete, "; ") != tc.why {
			t.Errorf("%s: got %s %q, want %s %q", tc.name, s.Verdict, s.Incomplete, tc.verdict, tc.why)
		}
	}
}

// TestShardCount: count agrees with Seeds, seed 0 and the top of the range
// included.
func TestShardCount(t *testing.T) {
	for _, r := range []SeedRange{{1, 1}, {1, 10}, {0, 9}, {3, 17}, {5, 5}, {math.MaxUint64 - 7, math.MaxUint64}} {
		for n := 1; n <= 5; n++ {
			for i := 1; i <= n; i++ {
				sh := Shard{Index: i, Count: n}
				if got, want := sh.count(r), uint64(len(sh.Seeds(r))); got != want {
					t.Errorf("shard %d/%d of %s: got %d seeds, want %d", i, n, r, got, want)
				}
			}
		}
	}
}

// TestSweepMaxFailures: a sweep stops scheduling seeds once enough failed,
// and says so.
func TestSweepMaxFailures(t *testing.T) {
	s, _ := Lookup("count-crash-before-commit")
	sum, err := Sweep(context.Background(), SweepOptions{Scenarios: []*Scenario{s}, Seeds: SeedRange{First: 1, Last: 30},
		Parallel: 1, Mutants: engine.Mutants{engine.MutantNoRecoverCommit}, MaxFailures: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Runs already taken by a worker finish: at most MaxFailures + Parallel.
	if sum.Stopped == "" || len(sum.Runs) < 2 || len(sum.Runs) > 3 || sum.Total.Failed() < 2 {
		t.Fatalf("got %d runs, %d failed, stopped %q; want 2 or 3 runs, at least 2 failed, and a reason", len(sum.Runs), sum.Total.Failed(), sum.Stopped)
	}
}

// TestCompareRuns: equal traces and digests pass; a different event or a
// different digest is nondeterminism.
func TestCompareRuns(t *testing.T) {
	a := &Outcome{Trace: []string{"e1", "e2"}, Digest: "aaaa"}
	for _, tc := range []struct {
		name    string
		b       *Outcome
		verdict checkers.Verdict
		want    string
	}{
		{"same", &Outcome{Trace: []string{"e1", "e2"}, Digest: "aaaa"}, checkers.Ok, "digest aaaa"},
		{"another event", &Outcome{Trace: []string{"e1", "e3"}, Digest: "bbbb"}, checkers.Violation, `event 1: a has "e2", b has "e3"`},
		{"another digest", &Outcome{Trace: []string{"e1", "e2"}, Digest: "bbbb"}, checkers.Violation, "digests aaaa and bbbb"},
	} {
		got := CompareRuns(a, tc.b)
		if got.Verdict != tc.verdict || !strings.Contains(got.Explanation, tc.want) || (tc.verdict != checkers.Ok && got.Anomaly != "nondeterminism") {
			t.Errorf("%s: got %+v, want %s and %q", tc.name, got, tc.verdict, tc.want)
		}
	}
}

// flaky is a scenario whose every run differs from the last: what a
// determinism sweep must catch.
func flaky() *Scenario {
	var n atomic.Int64
	return &Scenario{Name: "flaky", run: func(_ context.Context, o RunOptions) (*Outcome, error) {
		i := n.Add(1)
		return &Outcome{Digest: fmt.Sprintf("%064x", i), Events: 2, Trace: []string{"start", fmt.Sprint("draw ", i)},
			Verdicts: []checkers.Result{{Checker: "exactly-once", Verdict: checkers.Ok}}}, nil
	}}
}

// TestSweepDeterminism: a determinism sweep runs every seed twice, counts
// the runs checked and the mismatches, fails (with a bundle) on a mismatch,
// and its merged shards add the counts up.
func TestSweepDeterminism(t *testing.T) {
	steady := lookupAll(t, "smoke-copier")
	sum, err := Sweep(context.Background(), SweepOptions{Scenarios: steady, Seeds: SeedRange{1, 3}, Parallel: 2, CheckDeterminism: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Verdict != checkers.Ok || sum.Total.CheckedTwice != 3 || sum.Total.Nondeterministic != 0 || !sum.CheckDeterminism {
		t.Errorf("steady: got verdict %s, %d checked twice, %d mismatched; want ok, 3, 0", sum.Verdict, sum.Total.CheckedTwice, sum.Total.Nondeterministic)
	}

	dir := t.TempDir()
	sum, err = Sweep(context.Background(), SweepOptions{Scenarios: []*Scenario{flaky()}, Seeds: SeedRange{1, 4}, Parallel: 2,
		CheckDeterminism: true, BundleDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Verdict != checkers.Violation || sum.Total.CheckedTwice != 4 || sum.Total.Nondeterministic != 4 || len(sum.Failures()) != 4 {
		t.Fatalf("flaky: got verdict %s, %d checked twice, %d mismatched, %d failures; want violation, 4, 4, 4",
			sum.Verdict, sum.Total.CheckedTwice, sum.Total.Nondeterministic, len(sum.Failures()))
	}
	for _, r := range sum.Failures() {
		if !r.Nondeterministic || !slices.Contains(r.Anomalies, "nondeterminism") || r.Bundle == "" {
			t.Errorf("flaky seed %d: got %+v, want nondeterminism with a bundle", r.Seed, r)
		} else if _, err := os.Stat(filepath.Join(r.Bundle, BundleRunFile)); err != nil {
			t.Error(err)
		}
	}

	var parts []*SweepSummary
	for i := 1; i <= 2; i++ {
		s, err := Sweep(context.Background(), SweepOptions{Scenarios: steady, Seeds: SeedRange{1, 3}, Shard: Shard{i, 2}, Parallel: 1, CheckDeterminism: true})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s)
	}
	m, err := MergeSummaries(parts[0], parts[1])
	if err != nil || m.Total.CheckedTwice != 3 || m.Verdict != checkers.Ok || !m.CheckDeterminism {
		t.Errorf("merged: got %v, %d checked twice, verdict %s; want 3, ok", err, m.Total.CheckedTwice, m.Verdict)
	}
	once, err := Sweep(context.Background(), SweepOptions{Scenarios: steady, Seeds: SeedRange{1, 3}, Shard: Shard{2, 2}, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MergeSummaries(parts[0], once); err == nil || !strings.Contains(err.Error(), "--check-determinism") {
		t.Errorf("merging a determinism shard with a plain one: got %v", err)
	}
	// A determinism summary with a run not checked twice is not ok.
	unchecked := *parts[0]
	unchecked.Runs = slices.Clone(parts[0].Runs)
	unchecked.Runs[0].CheckedTwice = false
	unchecked.tally(0)
	if unchecked.Verdict != checkers.Unknown || !slices.Contains(unchecked.Incomplete, "1 of 2 runs not checked twice") {
		t.Errorf("unchecked run: got %s %q", unchecked.Verdict, unchecked.Incomplete)
	}
}
