package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/internal/invoke"
	"github.com/onceproof/onceproof/scenarios"
	"github.com/spf13/cobra"
)

type sweepFlags struct {
	maxFailures int
	seeds       string
	parallel    int
	shard       string
	mutants     []string
	json        bool
	out         string
	determinism bool
	// coverage prints the coverage grid after the summary.
	coverage bool
}

func newSweep() *cobra.Command {
	var f sweepFlags
	cmd := &cobra.Command{
		Use:   "sweep SCENARIO...|all",
		Short: "Run scenarios (or all of them) over a range of seeds and summarize the verdicts",
		Long: `sweep runs each SCENARIO, or every scenario with "all", over a range of seeds on a
pool of workers, shows progress on stderr, then prints a summary per scenario:
seeds run, passed, violated, no progress, inconclusive, simulated time covered,
wall time and seeds per second. Every seed that does not pass gets a failure
bundle under --out. The exit code is the worst verdict.

--shard I/N runs the seeds s with (s-1) % N == I-1, so N machines can split a
sweep deterministically; "sweep --json" summaries of the shards list every
seed's verdict and digest and can be merged ("chaosrun merge"). --shard auto
takes the shard from the environment: ONCEPROOF_SHARD=I/N (a CI matrix), a
Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with JOB_COMPLETIONS set by the
manifest), or GitLab, CircleCI or Buildkite parallel jobs; see docs/scale.md.

--check-determinism runs every seed twice and compares the two runs event by
event, as "chaosrun run --check-determinism" does: a mismatch is a failing
seed (anomaly nondeterminism) with a bundle, and the summary says how many
runs were checked twice and how many mismatched.

The verdict is OK only when every run of the sweep (of the shard) reached a
verdict and passed. A shard that holds no seed, or a sweep interrupted by
Ctrl-C, is inconclusive (exit 4) and says why.`,
		Example: `  chaosrun sweep all --seeds 1-200
  chaosrun sweep swarm-join --seeds 1-1000 --parallel 4 --shard 2/3 --json
  chaosrun sweep count-crash-before-commit --seeds 1-20 --mutant no-recover-commit
  chaosrun sweep all --seeds 1-1000 --check-determinism --json > determinism.json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(`expected scenario names or "all" (see chaosrun list), got none`)
			}
			return nil
		},
		ValidArgsFunction: completeScenarios("all"),
		RunE:              func(cmd *cobra.Command, args []string) error { return sweep(cmd, args, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.seeds, "seeds", "1-100", `seeds to run: a range "A-B" (inclusive) or one seed "N"`)
	fl.IntVar(&f.parallel, "parallel", runtime.NumCPU(), "runs at once")
	fl.IntVar(&f.maxFailures, "max-failures", 0, "stop scheduling seeds after this many failed (0: run them all)")
	fl.StringVar(&f.shard, "shard", "", `run only shard I of N ("I/N"): the seeds s with (s-1) % N == I-1; "auto": from the environment (see above)`)
	fl.StringSliceVar(&f.mutants, "mutant", nil, "switch on a deliberate engine bug by name (repeatable)")
	fl.BoolVar(&f.json, "json", false, "print the summary as JSON (every seed's verdict and digest)")
	fl.StringVar(&f.out, "out", defaultFailures, "directory for the failure bundles")
	fl.BoolVar(&f.determinism, "check-determinism", false, "run every seed twice and compare the two runs")
	_ = cmd.RegisterFlagCompletionFunc("mutant", completeMutants)
	_ = cmd.MarkFlagDirname("out")
	return cmd
}

func sweep(cmd *cobra.Command, names []string, f sweepFlags) error {
	if f.maxFailures < 0 {
		return usageError("--max-failures: negative (%d)", f.maxFailures)
	}
	o := scenarios.SweepOptions{Parallel: f.parallel, BundleDir: f.out, MaxFailures: f.maxFailures, CheckDeterminism: f.determinism}
	var err error
	if o.Seeds, err = scenarios.ParseSeedRange(f.seeds); err != nil {
		return usageError("%v", err)
	}
	if strings.TrimSpace(f.shard) == "auto" {
		var from string
		if o.Shard, from, err = scenarios.ShardFromEnv(os.Getenv); err != nil {
			return usageError("--shard auto: %v", err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "shard %s (from %s)\n", o.Shard, from)
	} else if o.Shard, err = scenarios.ParseShard(f.shard); err != nil {
		return usageError("%v", err)
	}
	if f.parallel < 1 {
		return usageError("--parallel: %d, want at least 1", f.parallel)
	}
	if o.Mutants, err = scenarios.ParseMutants(f.mutants); err != nil {
		return usageError("--mutant: %v", err)
	}
	if len(names) == 1 && names[0] == "all" {
		o.Scenarios, o.SkipUnfit = scenarios.All(), true
	} else {
		seen := map[string]bool{}
		for _, name := range names {
			if name == "all" {
				return usageError(`"all" sweeps every scenario; give it alone`)
			}
			s, err := scenarios.Lookup(name)
			if err != nil {
				return usageError("%v", err)
			}
			if !seen[name] {
				seen[name] = true
				o.Scenarios = append(o.Scenarios, s)
			}
		}
	}
	p := newProgress(cmd.ErrOrStderr())
	o.OnOutcome = p.outcome
	o.Progress = p.update
	sum, err := scenarios.Sweep(cmd.Context(), o)
	p.finish()
	if sum == nil {
		return sweepError(err)
	}
	w := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		printSummary(w, sum, o.Parallel)
	}
	if f.coverage && !f.json {
		fmt.Fprintln(w)
		if err := scenarios.WriteCoverage(w, scenarios.CoverageOfSummary(sum)); err != nil {
			return err
		}
	}
	// An interrupted sweep's summary says so and its verdict is not Ok:
	// the summary decides the exit code, as for a complete one.
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return sweepError(err)
	}
	if code := exitFor(sum.Verdict); code != exitOK {
		return &exitError{code: code}
	}
	return nil
}

func sweepError(err error) error {
	var bad *scenarios.BadInputError
	var crash *scenarios.PanicError
	switch {
	case errors.As(err, &bad):
		return usageError("%v", err)
	case errors.As(err, &crash):
		// A panic is an assertion of the engine or the harness firing:
		// a failure, with the stack for whoever fixes it.
		return &exitError{code: exitViolation, msg: fmt.Sprintf("chaosrun: %v\n%s", crash, crash.Stack)}
	}
	return &exitError{code: exitInconclusive, msg: "chaosrun: " + err.Error()}
}

// printSummary prints the per-scenario table, the failures with their
// bundles, and the verdict.
func printSummary(w io.Writer, s *scenarios.SweepSummary, parallel int) {
	what := fmt.Sprintf("seeds %s", s.Seeds)
	if s.Shard != "" {
		what += " shard " + s.Shard
	}
	if len(s.Mutants) > 0 {
		what += " mutants " + strings.Join(s.Mutants, ",")
	}
	if s.CheckDeterminism {
		what += ", each run twice"
	}
	if parallel > 0 {
		what += fmt.Sprintf(", parallel %d", parallel)
	}
	build := s.Build
	if build == "" {
		build = "unrecorded"
	}
	fmt.Fprintf(w, "sweep %s, build %s\n\n", what, build)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	width := len("SCENARIO")
	for _, t := range s.PerScenario {
		width = max(width, len(t.Scenario))
	}
	fmt.Fprintf(tw, "%-*s\tSEEDS\tPASSED\tVIOLATED\tNO-PROGRESS\tINCONCLUSIVE\tSIM-TIME\tWALL\tSEEDS/S\t\n", width, "SCENARIO")
	row := func(name string, t scenarios.Tally) {
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%.1f\t\n", width, name, t.Seeds, t.Passed, t.Violated, t.NoProgress, t.Inconclusive,
			t.SimTime.Round(time.Millisecond), t.WallTime.Round(10*time.Millisecond), t.SeedsPerSecond)
	}
	for _, t := range s.PerScenario {
		row(t.Scenario, t)
	}
	row("total", s.Total)
	tw.Flush()
	fmt.Fprintln(w, "(WALL: per scenario, its runs' time summed over workers; total, the elapsed time)")
	if s.CheckDeterminism {
		fmt.Fprintf(w, "determinism: %d runs checked twice, %d mismatched\n", s.Total.CheckedTwice, s.Total.Nondeterministic)
	}
	skipped := slices.Sorted(maps.Keys(s.Skipped))
	for _, name := range skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", name, s.Skipped[name])
	}
	fails := s.Failures()
	if len(fails) > 0 {
		fmt.Fprintf(w, "\n%d failing seeds:\n", len(fails))
		const shown = 20
		for i, r := range fails {
			if i == shown {
				fmt.Fprintf(w, "  ... and %d more (see --json)\n", len(fails)-shown)
				break
			}
			what := r.Verdict.String()
			if r.Nondeterministic {
				what = "nondeterministic: its two runs differ,"
			}
			fmt.Fprintf(w, "  %s seed %d: %s %s\n", r.Scenario, r.Seed, what, strings.Join(r.Anomalies, ","))
			if r.Bundle != "" {
				fmt.Fprintf(w, "    %s replay %s\n", invoke.Command("chaosrun"), invoke.Quote(absPath(r.Bundle)))
			}
		}
	}
	verdict := strings.ToUpper(s.Verdict.String())
	if s.Verdict == checkers.Unknown {
		verdict = "INCONCLUSIVE"
	}
	if len(s.Incomplete) > 0 {
		verdict += " — " + strings.Join(s.Incomplete, "; ")
	} else if s.Stopped != "" {
		fmt.Fprintf(w, "\n%s\n", s.Stopped)
	}
	fmt.Fprintf(w, "\nverdict: %s\n", verdict)
}

// progress reports a sweep's progress on stderr: a bar redrawn in place on
// a terminal, a plain line every so often otherwise (CI logs).
type progress struct {
	w        io.Writer
	terminal bool
	failed   int
	last     time.Time
	lastDone int
	drawn    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) outcome(o *scenarios.Outcome) {
	if o.Verdict() != checkers.Ok {
		p.failed++
	}
}

func (p *progress) update(done, total int, elapsed time.Duration) {
	now := time.Now()
	rate := float64(done) / max(elapsed.Seconds(), 1e-9)
	left := time.Duration(float64(total-done) / max(rate, 1e-9) * float64(time.Second))
	if p.terminal {
		if done < total && now.Sub(p.last) < 100*time.Millisecond {
			return
		}
		const width = 30
		n := width * done / max(total, 1)
		bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
		if n < width {
			bar = bar[:n] + ">" + bar[n+1:]
		}
		fmt.Fprintf(p.w, "\r[%s] %d/%d seeds  %d failed  %.1f seeds/s  ETA %s \x1b[K", bar, done, total, p.failed, rate, eta(left))
		p.last, p.drawn = now, true
		return
	}
	// Plain lines: every 10% or 10 seconds, whichever comes first, and at
	// the end.
	if p.last.IsZero() {
		p.last = now.Add(-elapsed) // the sweep's start
	}
	step := max(total/10, 1)
	if done < total && done/step == p.lastDone/step && now.Sub(p.last) < 10*time.Second {
		return
	}
	fmt.Fprintf(p.w, "swept %d/%d seeds, %d failed, %.1f seeds/s, ~%s left\n", done, total, p.failed, rate, eta(left))
	p.last, p.lastDone = now, done
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func eta(d time.Duration) string {
	switch {
	case d < time.Second:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// absPath is path made absolute, so that a printed command works from any
// directory; path itself when that fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}
