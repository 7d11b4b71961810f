package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/scenarios"
	"github.com/spf13/cobra"
)

type exploreFlags struct {
	checks  int
	seed    uint64
	mutants []string
	out     string
}

func newExplore() *cobra.Command {
	var f exploreFlags
	cmd := &cobra.Command{
		Use:   "explore SCENARIO",
		Short: "Search fault schedules with rapid; shrink a failing one to a minimal schedule",
		Long: `explore draws fault schedules (kills, pauses, isolations, coordinator kills at
drawn times) with rapid and runs SCENARIO's job under each, with the seed fixed.
When one fails, rapid shrinks it, a deterministic pass removes every fault the
failure does not need, and a failure bundle with the minimal schedule is
written. Nothing found in --checks schedules exits 0.`,
		Example:           "  chaosrun explore count-crash-before-commit --checks 200 --mutant commit-before-complete",
		Args:              exactArgs(1, "a scenario name (see chaosrun list)"),
		ValidArgsFunction: completeScenarios(),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := scenarios.Lookup(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			if s.Name == "smoke-copier" {
				return usageError("explore: smoke-copier draws its own faults; pick an engine scenario")
			}
			ms, err := scenarios.ParseMutants(f.mutants)
			if err != nil {
				return usageError("--mutant: %v", err)
			}
			if f.checks < 1 {
				return usageError("--checks: must be at least 1, got %d", f.checks)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "exploring %s: %d schedules, seed %d, build %s\n", s.Name, f.checks, f.seed, scenarios.Build())
			res, err := scenarios.Explore(cmd.Context(), s, scenarios.ExploreOptions{Checks: f.checks, Seed: f.seed, Mutants: ms,
				Progress: func(tried int, failing bool) {
					if tried%50 == 0 || failing {
						fmt.Fprintf(cmd.ErrOrStderr(), "  tried %d schedules%s\n", tried, map[bool]string{true: " (failing: shrinking)", false: ""}[failing])
					}
				}})
			if err != nil {
				return runError(err)
			}
			if !res.Failed {
				fmt.Fprintf(w, "no failing schedule in %d tries\n", res.Tried)
				return nil
			}
			fmt.Fprintf(w, "\nfailing schedule after %d tries, shrunk to %d faults:\n%s\n", res.Tried, len(res.Minimal.Faults), res.Minimal)
			printVerdicts(w, res.Outcome.Verdicts)
			dir := f.out
			if dir == "" {
				dir = filepath.Join(defaultFailures, scenarios.BundleName(s.Name, f.seed, append([]string{"explore"}, f.mutants...)))
			}
			ro := scenarios.RunOptions{Seed: f.seed, Plan: &res.Minimal, Mutants: ms, KeepTrace: true}
			if err := scenarios.WriteBundle(dir, res.Outcome, ro, scenarios.Build()); err != nil {
				return &exitError{code: exitFor(res.Outcome.Verdict()), msg: "chaosrun: " + err.Error()}
			}
			b := scenarios.NewBundle(dir, res.Outcome, ro, scenarios.Build())
			fmt.Fprintf(w, "\nfailure bundle: %s\nreproduce:      %s\n", dir, b.ReplayCommand())
			return &exitError{code: exitFor(res.Outcome.Verdict())}
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.checks, "checks", 100, "how many schedules to try")
	fl.Uint64Var(&f.seed, "seed", 1, "the run's seed, and rapid's")
	fl.StringSliceVar(&f.mutants, "mutant", nil, "switch on a deliberate engine bug (repeatable; see chaosrun mutants --list)")
	fl.StringVar(&f.out, "out", "", "where to write the failure bundle (default chaosrun-failures/...)")
	_ = cmd.RegisterFlagCompletionFunc("mutant", completeMutants)
	return cmd
}

type mutantsFlags struct {
	list     bool
	gate     bool
	parallel int
	bases    string
	seedsMax int
	only     []string
	out      string
}

func newMutants() *cobra.Command {
	var f mutantsFlags
	cmd := &cobra.Command{
		Use:   "mutants",
		Short: "Prove the harness catches every deliberate engine bug; write the mutant table",
		Long: `mutants runs every mutant of the reference engine (a deliberate bug that
re-creates a real exactly-once failure) against the scenario that catches it,
from each base seed until the first violation; shrinks the first failing fault
plan; runs the same seeds on the correct engine, which must pass; and prints the mutant table. With --out DIR
it also writes the table as DIR/mutants.md and DIR/mutants.json (the
repository keeps its copy in results/: --out results). Exits 1 if a mutant
escapes or the correct engine fails.`,
		Example: "  chaosrun mutants --out results\n  chaosrun mutants --list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if f.list {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MUTANT\tCAUGHT BY\tWHAT IT BREAKS")
				for _, m := range engine.AllMutants() {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", m, scenarios.CatchingScenario[m], m.Describe())
				}
				return tw.Flush()
			}
			var bases []uint64
			for _, b := range strings.Split(f.bases, ",") {
				n, err := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
				if err != nil || n == 0 {
					return usageError("--bases: %q is not a positive seed", b)
				}
				bases = append(bases, n)
			}
			if f.seedsMax < 1 {
				return usageError("--seeds-max: must be at least 1, got %d", f.seedsMax)
			}
			var ms []engine.Mutant
			for _, n := range f.only {
				m, err := engine.ParseMutant(n)
				if err != nil {
					return usageError("--mutant: %v", err)
				}
				ms = append(ms, m)
			}
			if f.parallel < 1 {
				return usageError("--parallel: must be at least 1, got %d", f.parallel)
			}
			rows, err := scenarios.MutantTable(cmd.Context(), scenarios.MutantOptions{Mutants: ms, Bases: bases, SeedsMax: f.seedsMax,
				GateSweep: f.gate, Parallel: f.parallel,
				Progress: func(m engine.Mutant, base uint64, after int) {
					caught := fmt.Sprintf("caught after %d seeds", after)
					if after == 0 {
						caught = "NOT CAUGHT"
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "  %-24s base %-5d %s\n", m, base, caught)
				}})
			if err != nil {
				return runError(err)
			}
			command := "go run ./cmd/chaosrun mutants"
			if f.gate {
				command += " --gate-sweep"
			}
			if f.out != "" {
				command += " --out " + f.out
			}
			if err := scenarios.WriteMutantTable(w, rows, command); err != nil {
				return err
			}
			if f.out != "" {
				if err := scenarios.WriteMutantResults(f.out, rows, command); err != nil {
					return &exitError{code: exitInconclusive, msg: "chaosrun: " + err.Error()}
				}
				fmt.Fprintf(w, "\nwrote %s and %s\n", filepath.Join(f.out, "mutants.md"), filepath.Join(f.out, "mutants.json"))
			}
			for _, r := range rows {
				if r.GateCatch == "not caught" {
					return &exitError{code: exitViolation, msg: fmt.Sprintf("chaosrun: mutant %s: the gate's sweep (every scenario, seeds 1-100) does not catch it", r.Mutant)}
				}
				if !r.Caught || r.CorrectFailures > 0 {
					return &exitError{code: exitViolation, msg: fmt.Sprintf("chaosrun: mutant %s: caught=%v, correct-engine failures=%d", r.Mutant, r.Caught, r.CorrectFailures)}
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.list, "list", false, "only list the mutants and the scenarios that catch them")
	fl.BoolVar(&f.gate, "gate-sweep", false, "also run the gate's sweep (every scenario, seeds 1-100) with each mutant on, until its first failing run, and add that run to the table")
	fl.IntVar(&f.parallel, "parallel", runtime.NumCPU(), "runs at once in the gate sweep")
	fl.StringVar(&f.bases, "bases", "1,1001,2001,3001,4001", "base seeds, comma-separated")
	fl.IntVar(&f.seedsMax, "seeds-max", 200, "seeds tried from each base before a mutant counts as escaped")
	fl.StringSliceVar(&f.only, "mutant", nil, "check only these mutants (repeatable)")
	fl.StringVar(&f.out, "out", "", "also write mutants.md and mutants.json to this directory (default: print the table only)")
	_ = cmd.MarkFlagDirname("out")
	_ = cmd.RegisterFlagCompletionFunc("mutant", completeMutants)
	return cmd
}
