package scenarios

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
)

// maxSweepRuns bounds one sweep (scenarios times seeds), so that a typo in
// --seeds is an error rather than a run that never ends or a list that
// fills memory.
const maxSweepRuns = 10_000_000

// SweepOptions choose what a sweep runs.
type SweepOptions struct {
	// Scenarios to run, each over every seed.
	Scenarios []*Scenario
	// Seeds is the range of seeds, run for every scenario.
	Seeds SeedRange
	// Shard, when set, keeps only the seeds it owns (see Shard).
	Shard Shard
	// Parallel is the number of runs at once; 0 means runtime.NumCPU().
	Parallel int
	// Mutants are switched on in every run.
	Mutants engine.Mutants
	// SkipUnfit drops a scenario that refuses these options as bad input
	// (smoke-copier takes no mutant) instead of failing the sweep; the
	// summary lists it under Skipped.
	SkipUnfit bool
	// BundleDir, when set, receives a failure bundle for every seed whose
	// verdict is not ok, in BundleDir/BundleName(...).
	BundleDir string
	// Build names the code for the bundles; empty means Build().
	Build string
	// OnOutcome, if set, sees every outcome as it completes (completion
	// order, not seed order), before Progress. It and Progress are called
	// from the goroutine that called Sweep, never concurrently.
	OnOutcome func(o *Outcome)
	// Progress, if set, is called after every completed run.
	Progress func(done, total int, elapsed time.Duration)
	// CheckDeterminism runs every seed twice and compares the two runs
	// (CompareRuns): a mismatch is a failing seed, anomaly
	// "nondeterminism", with a bundle like any other.
	CheckDeterminism bool
	// MaxFailures, when positive, stops scheduling new runs once that many
	// seeds failed: a gate that already knows the engine is broken need
	// not spend its budget proving it again. Runs a worker already took
	// still finish (at most Parallel of them). The summary says so
	// (Stopped) and covers the runs that completed.
	MaxFailures int
}

// SweepSummary is what a sweep found, per scenario and in total. Runs lists
// every seed's verdict and digest in (scenario, seed) order, so that the
// summaries of several shards can be merged (MergeSummaries) into the
// summary of the whole sweep. Fields named Wall* and SeedsPerSecond depend
// on the machine; everything else is determined by the options.
//
// The verdict is decided in one place, tally (DESIGN.md, "Verdicts"): the
// worst verdict of the runs, but never Ok when no run reached a verdict or
// when runs of the sweep are missing (interrupted, stopped, shards left out
// of a merge). Incomplete says why, in words.
type SweepSummary struct {
	// Kind is SummaryKind and Format summaryFormat, so that a file that is
	// not a summary is refused (ReadSummary) rather than read as an empty
	// one.
	Kind string `json:"kind"`
	// Source is the file the summary was read from (ReadSummary), for
	// messages; not saved.
	Source string `json:"-"`
	Format int    `json:"format"`
	// Build names the code that ran the sweep (Build()): shards of one
	// sweep must have run the same build to be merged.
	Build     string    `json:"build,omitempty"`
	Seeds     SeedRange `json:"seeds"`
	Shard     string    `json:"shard,omitempty"`
	Mutants   []string  `json:"mutants,omitempty"`
	Scenarios []string  `json:"scenarios"`
	// CheckDeterminism: every run was to be run twice and compared.
	CheckDeterminism bool `json:"check_determinism,omitempty"`
	// Skipped are scenarios that refused the options, with the reason.
	Skipped map[string]string `json:"skipped,omitempty"`
	// PerScenario has one tally per scenario that ran, in Scenarios order.
	PerScenario []Tally          `json:"per_scenario"`
	Total       Tally            `json:"total"`
	Runs        []SeedRun        `json:"runs"`
	Verdict     checkers.Verdict `json:"verdict"`
	// Stopped says why the sweep stopped before its last seed, if it did.
	Stopped string `json:"stopped,omitempty"`
	// Interrupted is set when the sweep was cancelled (Ctrl-C) before it
	// ran every seed.
	Interrupted bool `json:"interrupted,omitempty"`
	// MissingShards, in a merged summary, lists the shards of the sweep
	// ("2/4") that no merged summary held.
	MissingShards []string `json:"missing_shards,omitempty"`
	// Incomplete says why the verdict cannot be Ok whatever the runs say:
	// runs missing, no run at all. Derived by tally from the rest.
	Incomplete []string `json:"incomplete,omitempty"`
}

// SummaryKind is the "kind" of a sweep summary's JSON.
const SummaryKind = "onceproof-sweep-summary"

// summaryFormat is the summary JSON's format version; ReadSummary rejects
// others.
const summaryFormat = 1

// Tally counts the verdicts of a set of runs. For a scenario, WallTime is
// the sum of its runs' own wall times (the time one worker would take); for
// the total, the sweep's elapsed time.
type Tally struct {
	Scenario     string `json:"scenario,omitempty"`
	Seeds        int    `json:"seeds"`
	Passed       int    `json:"passed"`
	Violated     int    `json:"violated"`
	NoProgress   int    `json:"no_progress"`
	Inconclusive int    `json:"inconclusive"`
	// CheckedTwice counts the runs run twice and compared (a determinism
	// sweep), Nondeterministic those whose two runs differed.
	CheckedTwice     int           `json:"checked_twice,omitempty"`
	Nondeterministic int           `json:"nondeterministic,omitempty"`
	SimTime          time.Duration `json:"sim_time_ns"`
	WallTime         time.Duration `json:"wall_time_ns"`
	SeedsPerSecond   float64       `json:"seeds_per_second"`
}

// SeedRun is one run of a sweep.
type SeedRun struct {
	Scenario string           `json:"scenario"`
	Seed     uint64           `json:"seed"`
	Verdict  checkers.Verdict `json:"verdict"`
	// Anomalies names what the failing checkers found.
	Anomalies []string `json:"anomalies,omitempty"`
	// Coverage are the coverage cells the run reached (coverage.go).
	Coverage []string      `json:"coverage,omitempty"`
	Digest   string        `json:"digest"`
	Events   int           `json:"events"`
	SimTime  time.Duration `json:"sim_time_ns"`
	WallTime time.Duration `json:"wall_time_ns"`
	// Bundle is the failure bundle's directory, if one was written.
	Bundle string `json:"bundle,omitempty"`
	// CheckedTwice: the seed was run twice and the runs compared;
	// Nondeterministic: they differed.
	CheckedTwice     bool `json:"checked_twice,omitempty"`
	Nondeterministic bool `json:"nondeterministic,omitempty"`
}

func (t *Tally) add(r SeedRun) {
	t.Seeds++
	switch r.Verdict {
	case checkers.Ok:
		t.Passed++
	case checkers.Violation:
		t.Violated++
	case checkers.NoProgress:
		t.NoProgress++
	default:
		t.Inconclusive++
	}
	if r.CheckedTwice {
		t.CheckedTwice++
	}
	if r.Nondeterministic {
		t.Nondeterministic++
	}
	t.SimTime += r.SimTime
}

func (t *Tally) rate() {
	t.SeedsPerSecond = 0
	if t.WallTime > 0 {
		t.SeedsPerSecond = float64(t.Seeds) / t.WallTime.Seconds()
	}
}

// Failed is the number of runs that did not pass.
func (t Tally) Failed() int { return t.Violated + t.NoProgress + t.Inconclusive }

type sweepJob struct {
	s    *Scenario
	seed uint64
}

type sweepResult struct {
	i    int // index into jobs; -1: the worker has exited
	out  *Outcome
	err  error
	wall time.Duration
	// det is the comparison of the seed's two runs, when it ran twice.
	det *checkers.Result
}

// Sweep runs every scenario over every seed of the options' range (those
// the shard owns) with a bounded pool of workers, and summarizes the
// verdicts in (scenario, seed) order whatever the order of completion.
//
// On a run error it stops: a *BadInputError (the scenario refuses the
// options) unless SkipUnfit, a panic in a run (reported with its seed), or
// ctx being cancelled; the summary of the runs that completed is returned
// with the error.
func Sweep(ctx context.Context, o SweepOptions) (*SweepSummary, error) {
	if err := o.Seeds.Validate(); err != nil {
		return nil, &BadInputError{Err: err}
	}
	if err := o.Shard.Validate(); err != nil {
		return nil, &BadInputError{Err: err}
	}
	if len(o.Scenarios) == 0 {
		return nil, &BadInputError{Err: errors.New("sweep: no scenario")}
	}
	if n := o.Seeds.Len(); n > maxSweepRuns/uint64(len(o.Scenarios)) {
		return nil, &BadInputError{Err: fmt.Errorf("seeds: %s is %d seeds, more than a sweep runs (%d runs at most)", o.Seeds, n, maxSweepRuns)}
	}
	if o.Parallel <= 0 {
		o.Parallel = runtime.NumCPU()
	}
	if o.Build == "" {
		o.Build = Build()
	}
	sum := &SweepSummary{Kind: SummaryKind, Format: summaryFormat, Build: o.Build, Seeds: o.Seeds, Shard: o.Shard.String(),
		CheckDeterminism: o.CheckDeterminism, Skipped: map[string]string{}}
	for _, m := range o.Mutants {
		sum.Mutants = append(sum.Mutants, string(m))
	}
	seeds := o.Shard.Seeds(o.Seeds)
	var jobs []sweepJob
	for _, s := range o.Scenarios {
		sum.Scenarios = append(sum.Scenarios, s.Name)
		for _, seed := range seeds {
			jobs = append(jobs, sweepJob{s, seed})
		}
	}
	runs := make([]*SeedRun, len(jobs))
	parallel := min(o.Parallel, max(len(jobs), 1))

	// The worker pool. Sweep owns the workers: each takes the next job by
	// an atomic counter until the jobs run out, ctx is cancelled or stop is
	// set, sends one result per job it took, then sends an exit marker
	// (i == -1) and returns. Sweep returns only after it has received every
	// worker's exit marker, so no worker outlives it.
	var next atomic.Int64
	var stop atomic.Bool
	results := make(chan sweepResult, parallel)
	for range parallel {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || stop.Load() || ctx.Err() != nil {
					results <- sweepResult{i: -1}
					return
				}
				results <- runJob(ctx, i, jobs[i], o)
			}
		}()
	}
	start := time.Now()
	var firstErr error
	done, failures := 0, 0
	for exited := 0; exited < parallel; {
		r := <-results
		if r.i < 0 {
			exited++
			continue
		}
		j := jobs[r.i]
		var bad *BadInputError
		switch {
		case ctx.Err() != nil:
			// Cancelled: the run may have been cut short (its output not
			// read), so its verdict would not be the seed's.
		case r.err != nil && o.SkipUnfit && errors.As(r.err, &bad):
			sum.Skipped[j.s.Name] = oneLine(bad)
		case r.err != nil:
			if firstErr == nil {
				firstErr = r.err
			}
			stop.Store(true)
		default:
			run := SeedRun{Scenario: j.s.Name, Seed: j.seed, Verdict: r.out.Verdict(), Digest: r.out.Digest,
				Events: r.out.Events, SimTime: r.out.SimTime, WallTime: r.wall, Coverage: r.out.Coverage}
			if r.det != nil {
				run.CheckedTwice, run.Nondeterministic = true, r.det.Verdict != checkers.Ok
			}
			for _, v := range r.out.Verdicts {
				if v.Verdict != checkers.Ok && v.Anomaly != "" && !slices.Contains(run.Anomalies, v.Anomaly) {
					run.Anomalies = append(run.Anomalies, v.Anomaly)
				}
			}
			if run.Verdict != checkers.Ok && o.BundleDir != "" {
				dir := filepath.Join(o.BundleDir, BundleName(j.s.Name, j.seed, sum.Mutants))
				ro := RunOptions{Seed: j.seed, KeepTrace: true, Mutants: o.Mutants}
				if err := WriteBundle(dir, r.out, ro, o.Build); err != nil {
					if firstErr == nil {
						firstErr = err
					}
					stop.Store(true)
				} else {
					run.Bundle = dir
				}
			}
			r.out.Trace, r.out.TraceEvents = nil, nil // keep memory flat over long sweeps
			runs[r.i] = &run
			done++
			if run.Verdict != checkers.Ok {
				failures++
				if o.MaxFailures > 0 && failures >= o.MaxFailures && !stop.Load() {
					stop.Store(true)
					sum.Stopped = fmt.Sprintf("stopped after %d failing seeds (--max-failures)", failures)
				}
			}
			if o.OnOutcome != nil {
				o.OnOutcome(r.out)
			}
			if o.Progress != nil {
				o.Progress(done, len(jobs), time.Since(start))
			}
		}
	}
	elapsed := time.Since(start)
	for _, r := range runs {
		if r != nil {
			sum.Runs = append(sum.Runs, *r)
		}
	}
	if len(sum.Skipped) == 0 {
		sum.Skipped = nil
	}
	if firstErr != nil && sum.Stopped == "" {
		sum.Stopped = "stopped by an error: " + oneLine(firstErr)
	}
	sum.Interrupted = ctx.Err() != nil && len(sum.Runs) < len(jobs)
	sum.tally(elapsed)
	if firstErr == nil && sum.Interrupted {
		firstErr = fmt.Errorf("sweep interrupted after %d of %d runs: %w", done, len(jobs), ctx.Err())
	}
	return sum, firstErr
}

// PanicError is a run of a sweep that panicked: an assertion of the engine
// or the harness fired. It names the seed so that the panic can be rerun.
type PanicError struct {
	Scenario string
	Seed     uint64
	Mutants  []string
	Value    any
	Stack    []byte
}

func (e *PanicError) Error() string {
	rerun := fmt.Sprintf("chaosrun run %s --seed %d", e.Scenario, e.Seed)
	for _, m := range e.Mutants {
		rerun += " --mutant " + m
	}
	return fmt.Sprintf("scenario %s seed %d panicked: %v (rerun: %s)", e.Scenario, e.Seed, e.Value, rerun)
}

// runJob runs one job, turning a panic into an error that names the seed:
// the sweep must say which seed crashed, not just crash.
func runJob(ctx context.Context, i int, j sweepJob, o SweepOptions) (r sweepResult) {
	r.i = i
	t0 := time.Now()
	defer func() {
		if p := recover(); p != nil {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			pe := &PanicError{Scenario: j.s.Name, Seed: j.seed, Value: p, Stack: buf}
			for _, m := range o.Mutants {
				pe.Mutants = append(pe.Mutants, string(m))
			}
			r.out, r.err = nil, pe
		}
	}()
	ro := RunOptions{Seed: j.seed, KeepTrace: o.BundleDir != "" || o.CheckDeterminism, Mutants: o.Mutants}
	r.out, r.err = j.s.Run(ctx, ro)
	if r.err == nil && o.CheckDeterminism {
		again, err := j.s.Run(ctx, ro)
		if err != nil {
			r.out, r.err = nil, err
		} else {
			det := CompareRuns(r.out, again)
			r.out.Verdicts = append(r.out.Verdicts, det)
			r.det = &det
		}
	}
	r.wall = time.Since(t0)
	return r
}

// CompareRuns compares two runs of the same seed, options and build: the
// determinism check of chaosrun run --check-determinism and of a
// determinism sweep. The traces are compared event by event, so a mismatch
// names the first event where the runs went apart; equal events with
// different digests are a mismatch too. Both outcomes must carry their
// traces (RunOptions.KeepTrace).
func CompareRuns(a, b *Outcome) checkers.Result {
	det := checkers.Determinism(a.Trace, b.Trace)
	if det.Verdict == checkers.Ok && b.Digest != a.Digest {
		return checkers.Result{Checker: "determinism", Verdict: checkers.Violation, Anomaly: "nondeterminism",
			Explanation: fmt.Sprintf("same events, but digests %s and %s", short(a.Digest), short(b.Digest))}
	}
	if det.Verdict == checkers.Ok {
		det.Explanation += ", digest " + short(a.Digest)
	}
	return det
}

// tally recomputes the per-scenario and total tallies, Incomplete and the
// verdict from Runs and the summary's own fields; elapsed is the total's
// wall time. It is the only place a sweep's verdict is decided: every
// summary, swept or merged, passes through it.
func (s *SweepSummary) tally(elapsed time.Duration) {
	if s.Runs == nil {
		s.Runs = []SeedRun{} // "runs": [], not null: ReadSummary requires the field
	}
	s.PerScenario = nil
	s.Total = Tally{}
	var results []checkers.Result
	for _, name := range s.Scenarios {
		if _, skipped := s.Skipped[name]; skipped {
			continue
		}
		t := Tally{Scenario: name}
		for _, r := range s.Runs {
			if r.Scenario == name {
				t.add(r)
				t.WallTime += r.WallTime
				s.Total.add(r)
				results = append(results, checkers.Result{Verdict: r.Verdict})
			}
		}
		t.rate()
		s.PerScenario = append(s.PerScenario, t)
	}
	s.Total.WallTime = elapsed
	s.Total.rate()
	s.Incomplete = s.incomplete()
	if len(s.Incomplete) > 0 {
		results = append(results, checkers.Result{Verdict: checkers.Unknown})
	}
	// With no results Worst is Unknown: nothing ran, nothing passed.
	s.Verdict = checkers.Worst(results...)
}

// incomplete lists why the summary does not cover every run its sweep (its
// shards, for a shard) owns. Empty means every run reached a verdict.
func (s *SweepSummary) incomplete() []string {
	var why []string
	ran := len(s.Runs)
	owned, err := s.ownedRuns()
	if err != nil {
		return []string{err.Error()}
	}
	switch {
	case ran >= owned:
	case s.Interrupted:
		why = append(why, fmt.Sprintf("interrupted after %d of %d runs", ran, owned))
	case s.Stopped != "":
		why = append(why, fmt.Sprintf("%s, after %d of %d runs", s.Stopped, ran, owned))
	default:
		why = append(why, fmt.Sprintf("%d of %d runs missing", owned-ran, owned))
	}
	if len(s.MissingShards) > 0 {
		why = append(why, "missing shards "+strings.Join(s.MissingShards, ", "))
	}
	if s.CheckDeterminism && s.Total.CheckedTwice < ran {
		// Every check that applies ran, or the verdict is not ok.
		why = append(why, fmt.Sprintf("%d of %d runs not checked twice", ran-s.Total.CheckedTwice, ran))
	}
	if ran == 0 && len(why) == 0 {
		ranAll := len(s.ranScenarios()) * int(min(s.Seeds.Len(), maxSweepRuns))
		switch {
		case len(s.ranScenarios()) == 0:
			why = append(why, "every scenario was skipped: no run reached a verdict")
		case s.Shard != "":
			why = append(why, fmt.Sprintf("shard %s holds none of the %d runs", s.Shard, ranAll))
		default:
			why = append(why, "no run reached a verdict")
		}
	}
	return why
}

// ranScenarios lists the scenarios that were not skipped.
func (s *SweepSummary) ranScenarios() []string {
	var out []string
	for _, name := range s.Scenarios {
		if _, skipped := s.Skipped[name]; !skipped {
			out = append(out, name)
		}
	}
	return out
}

// ownedRuns counts the runs the summary's shard (or merged shards) owns of
// the scenarios that were not skipped: the runs a complete summary has.
func (s *SweepSummary) ownedRuns() (int, error) {
	idx, n, err := parseShardSet(s.Shard)
	if err != nil {
		return 0, err
	}
	var seeds uint64
	if n <= 1 {
		seeds = s.Seeds.Len()
	} else {
		for _, i := range idx {
			seeds += Shard{Index: i, Count: n}.count(s.Seeds)
		}
	}
	return len(s.ranScenarios()) * int(min(seeds, maxSweepRuns)), nil
}

// count is len(sh.Seeds(r)) without listing them: a summary may cover
// millions of seeds.
func (sh Shard) count(r SeedRange) uint64 {
	if r.First > r.Last {
		return 0
	}
	if sh.Whole() {
		return r.Len()
	}
	// upTo(x) counts the seeds 1..x that sh owns: s-1 = Index-1 + k*Count.
	n, i := uint64(sh.Count), uint64(sh.Index)
	upTo := func(x uint64) uint64 {
		if x < i {
			return 0
		}
		return (x-i)/n + 1
	}
	c := upTo(r.Last)
	if r.First > 0 {
		c -= upTo(r.First - 1)
	} else if sh.Owns(0) { // seed 0 wraps around in Owns
		c++
	}
	return c
}

// Failures lists the runs that did not pass, in order.
func (s *SweepSummary) Failures() []SeedRun {
	var out []SeedRun
	for _, r := range s.Runs {
		if r.Verdict != checkers.Ok {
			out = append(out, r)
		}
	}
	return out
}

// MergeSummaries merges the summaries of shards of one sweep (the same
// seeds, scenarios and mutants). The result equals the summary of the
// shards' union run at once, except for the wall-clock fields: the total's
// wall time is the longest shard's (shards run side by side). A seed run by
// two shards must have the same digest, else the build or the machine is
// not deterministic and merging is an error.
func MergeSummaries(a *SweepSummary, rest ...*SweepSummary) (*SweepSummary, error) {
	if a == nil {
		return nil, errors.New("merge: no summary")
	}
	m := &SweepSummary{Kind: SummaryKind, Format: summaryFormat, Build: a.Build, Seeds: a.Seeds, CheckDeterminism: a.CheckDeterminism, Mutants: slices.Clone(a.Mutants), Scenarios: slices.Clone(a.Scenarios), Skipped: map[string]string{}}
	wall := a.Total.WallTime
	byKey := map[string]SeedRun{}
	all := append([]*SweepSummary{a}, rest...)
	name := func(i int) string {
		if all[i].Source != "" {
			return all[i].Source
		}
		return fmt.Sprintf("summary %d", i)
	}
	// shards maps each shard index held to the summary that holds it; 0
	// stands for the whole sweep. A shard held twice is refused, but only
	// after every run was compared: two digests for one seed say more.
	shards := map[int]int{}
	count := 0
	var overlap error
	for i, s := range all {
		if s == nil {
			return nil, fmt.Errorf("merge: summary %d is nil", i)
		}
		if s.Seeds != a.Seeds || !slices.Equal(s.Mutants, a.Mutants) || !slices.Equal(s.Scenarios, a.Scenarios) {
			return nil, fmt.Errorf("merge: %s swept %s %v mutants %v, %s swept %s %v mutants %v: not shards of one sweep",
				name(i), s.Seeds, s.Scenarios, s.Mutants, name(0), a.Seeds, a.Scenarios, a.Mutants)
		}
		if s.Build != a.Build {
			return nil, fmt.Errorf("merge: %s ran build %q, %s build %q: not shards of one sweep", name(0), a.Build, name(i), s.Build)
		}
		if s.CheckDeterminism != a.CheckDeterminism {
			return nil, fmt.Errorf("merge: %s and %s differ in --check-determinism: not shards of one sweep", name(0), name(i))
		}
		idx, n, err := parseShardSet(s.Shard)
		if err != nil {
			return nil, fmt.Errorf("merge: %s: %w", name(i), err)
		}
		if n <= 1 {
			if len(shards) > 0 && overlap == nil {
				j := slices.Min(slices.Collect(maps.Values(shards)))
				overlap = fmt.Errorf("merge: %s holds the whole sweep, and %s part of it again", name(i), name(j))
			}
			shards[0] = i
		} else {
			if count != 0 && count != n {
				return nil, fmt.Errorf("merge: %s is shard %s, others are shards of %d", name(i), s.Shard, count)
			}
			count = n
			for _, x := range idx {
				j, dup := shards[x]
				if !dup {
					j, dup = shards[0]
				}
				if dup && overlap == nil {
					overlap = fmt.Errorf("merge: %s and %s both hold shard %d/%d", name(j), name(i), x, n)
				}
				shards[x] = i
			}
		}
		wall = max(wall, s.Total.WallTime)
		// A shard that did not finish leaves the merge short of its
		// runs: tally says so.
		m.Interrupted = m.Interrupted || s.Interrupted
		if s.Stopped != "" && !strings.Contains(m.Stopped, s.Stopped) {
			m.Stopped = strings.TrimPrefix(m.Stopped+"; "+s.Stopped, "; ")
		}
		for k, v := range s.Skipped {
			m.Skipped[k] = v
		}
		for _, r := range s.Runs {
			key := fmt.Sprintf("%s\x00%d", r.Scenario, r.Seed)
			if old, dup := byKey[key]; dup && old.Digest != r.Digest {
				return nil, fmt.Errorf("merge: %s seed %d has digests %s and %s: nondeterminism", r.Scenario, r.Seed, short(old.Digest), short(r.Digest))
			}
			byKey[key] = r
		}
	}
	if overlap != nil {
		return nil, overlap
	}
	// The merged shard: whole if a part was whole or every shard of N is
	// here, else the indexes present ("1+3/4"), and the missing ones
	// named: a merge is of the whole sweep, so it is incomplete.
	if _, whole := shards[0]; !whole && count > 1 {
		var idx []string
		for i := 1; i <= count; i++ {
			if _, ok := shards[i]; ok {
				idx = append(idx, fmt.Sprint(i))
			} else {
				m.MissingShards = append(m.MissingShards, fmt.Sprintf("%d/%d", i, count))
			}
		}
		if len(idx) < count {
			m.Shard = strings.Join(idx, "+") + "/" + fmt.Sprint(count)
		}
	}
	order := map[string]int{}
	for i, n := range m.Scenarios {
		order[n] = i
	}
	for _, r := range byKey {
		m.Runs = append(m.Runs, r)
	}
	sort.Slice(m.Runs, func(i, j int) bool {
		ri, rj := m.Runs[i], m.Runs[j]
		if ri.Scenario != rj.Scenario {
			return order[ri.Scenario] < order[rj.Scenario]
		}
		return ri.Seed < rj.Seed
	})
	if len(m.Skipped) == 0 {
		m.Skipped = nil
	}
	m.tally(wall)
	return m, nil
}

// ReadSummary reads the JSON summary that chaosrun sweep --json (or merge
// --json) wrote to path, strictly: a file that is not a summary, a field
// this chaosrun does not know, a run the summary's sweep does not own or a
// verdict that does not follow from the runs is an error naming path, never
// an empty summary that passes.
func ReadSummary(path string) (*SweepSummary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, fmt.Errorf("read summary %s: %w", path, err)
	}
	// A long sweep's summary is kept compressed (results/soak): gzip is
	// recognised by its magic number, whatever the file is called.
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err == nil {
			data, err = io.ReadAll(zr)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: damaged gzip file: %w", path, err)
		}
	}
	s, err := decodeSummary(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not a sweep summary: %w", path, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%s: damaged sweep summary: %w", path, err)
	}
	s.Source = path
	return s, nil
}

func decodeSummary(data []byte) (*SweepSummary, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty file")
	}
	// Required fields are decoded as pointers so that "missing" differs
	// from zero.
	var req struct {
		Kind      *string          `json:"kind"`
		Format    *int             `json:"format"`
		Seeds     *json.RawMessage `json:"seeds"`
		Scenarios *json.RawMessage `json:"scenarios"`
		Total     *json.RawMessage `json:"total"`
		Runs      *json.RawMessage `json:"runs"`
		Verdict   *json.RawMessage `json:"verdict"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, errors.New(jsonError(data, err))
	}
	switch {
	case req.Kind == nil:
		return nil, fmt.Errorf(`it has no "kind" field (a summary from chaosrun sweep --json has "kind": %q)`, SummaryKind)
	case *req.Kind != SummaryKind:
		return nil, fmt.Errorf(`"kind" is %q, want %q`, *req.Kind, SummaryKind)
	case req.Format == nil:
		return nil, errors.New(`field "format" is missing`)
	case *req.Format != summaryFormat:
		return nil, fmt.Errorf("format %d, this chaosrun reads format %d", *req.Format, summaryFormat)
	}
	for _, f := range []struct {
		name string
		v    *json.RawMessage
	}{{"seeds", req.Seeds}, {"scenarios", req.Scenarios}, {"total", req.Total}, {"runs", req.Runs}, {"verdict", req.Verdict}} {
		if f.v == nil {
			return nil, fmt.Errorf("field %q is missing", f.name)
		}
	}
	var s SweepSummary
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, errors.New(jsonError(data, err))
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return &s, nil
}

// check verifies that a decoded summary is one a sweep could have written:
// its runs belong to its sweep and its verdict follows from them.
func (s *SweepSummary) check() error {
	if err := s.Seeds.Validate(); err != nil {
		return err
	}
	if len(s.Scenarios) == 0 {
		return errors.New(`field "scenarios" is empty`)
	}
	if s.Seeds.Len() > maxSweepRuns/uint64(len(s.Scenarios)) {
		return fmt.Errorf("seeds: %s is more than a sweep runs", s.Seeds)
	}
	idx, n, err := parseShardSet(s.Shard)
	if err != nil {
		return err
	}
	owns := func(seed uint64) bool {
		if n <= 1 {
			return true
		}
		for _, i := range idx {
			if (Shard{Index: i, Count: n}).Owns(seed) {
				return true
			}
		}
		return false
	}
	known := map[string]bool{}
	for _, name := range s.Scenarios {
		if known[name] {
			return fmt.Errorf("scenario %s is listed twice", name)
		}
		known[name] = true
	}
	for name := range s.Skipped {
		if !known[name] {
			return fmt.Errorf("skipped scenario %s is not one of the sweep's", name)
		}
	}
	seen := map[string]bool{}
	for i, r := range s.Runs {
		key := fmt.Sprintf("%s\x00%d", r.Scenario, r.Seed)
		_, skipped := s.Skipped[r.Scenario]
		switch {
		case !known[r.Scenario] || skipped:
			return fmt.Errorf("run %d: scenario %q is not one the sweep ran", i+1, r.Scenario)
		case r.Seed < s.Seeds.First || r.Seed > s.Seeds.Last:
			return fmt.Errorf("run %d: seed %d is outside seeds %s", i+1, r.Seed, s.Seeds)
		case !owns(r.Seed):
			return fmt.Errorf("run %d: seed %d does not belong to shard %s", i+1, r.Seed, s.Shard)
		case seen[key]:
			return fmt.Errorf("run %d: %s seed %d is listed twice", i+1, r.Scenario, r.Seed)
		}
		seen[key] = true
	}
	again := *s
	again.tally(s.Total.WallTime)
	if again.Verdict != s.Verdict {
		return fmt.Errorf("verdict %q does not follow from its runs (%q)", s.Verdict, again.Verdict)
	}
	return nil
}

// parseShardSet reads a summary's shard: "" (whole), "I/N", or "I+J/N"
// (merged shards).
func parseShardSet(s string) (idx []int, count int, err error) {
	if s == "" {
		return nil, 0, nil
	}
	set, n, ok := strings.Cut(s, "/")
	if !ok {
		return nil, 0, fmt.Errorf("shard: %q is not of the form I/N", s)
	}
	for _, part := range strings.Split(set, "+") {
		sh, err := ParseShard(part + "/" + n)
		if err != nil {
			return nil, 0, err
		}
		idx, count = append(idx, sh.Index), sh.Count
	}
	return idx, count, nil
}

func short(d string) string {
	if len(d) > 16 {
		return d[:16]
	}
	return d
}
