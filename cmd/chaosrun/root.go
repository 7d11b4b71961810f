package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/internal/flagerr"
	"github.com/onceproof/onceproof/internal/invoke"
	"github.com/onceproof/onceproof/scenarios"
	"github.com/onceproof/onceproof/target"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK           = 0
	exitViolation    = 1
	exitUsage        = 2
	exitNoProgress   = 3
	exitInconclusive = 4
)

// defaultFailures is where failure bundles go when --out is not given.
const defaultFailures = "chaosrun-failures"

// exitError carries an exit code out of a command; msg (if any) goes to
// stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

// usageError is a bad-usage exit with a one-line message.
func usageError(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &exitError{code: exitUsage, msg: "chaosrun: " + strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; ")}
}

func exitFor(v checkers.Verdict) int {
	switch v {
	case checkers.Ok:
		return exitOK
	case checkers.Violation:
		return exitViolation
	case checkers.NoProgress:
		return exitNoProgress
	}
	return exitInconclusive
}

// NewRoot builds the command tree. It is a factory so that every test gets
// fresh flag state.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "chaosrun",
		Short: "Run exactly-once fault scenarios in onceproof's deterministic simulator",
		Long: `chaosrun runs a stream-processing job in a simulated world (virtual clock,
simulated network, an in-process Kafka) while faults hit it at chosen moments,
then judges the committed output with independent checkers.

One seed decides everything: the same scenario and seed give the same run,
event for event, on any machine. A failing run writes a failure bundle
(run.json, trace.txt, report.html, plan.json, REPRODUCE) that
"chaosrun replay" reproduces to the same trace digest.

Exit codes: 0 passed, 1 safety violation, 2 bad usage or input,
3 no progress (liveness), 4 inconclusive.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       invoke.Read().String(),
	}
	root.SetVersionTemplate("chaosrun {{.Version}}\n")
	// A flag's bad value is bad usage, said in the user's terms.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", flagerr.Describe(err)) })
	root.AddCommand(newList(), newRun(), newSweep(), newReplay(), newExplore(), newMutants(), newMerge(), newTarget(), newCoverage())
	return root
}

func newList() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the scenarios with their jobs and fault kinds",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCENARIO\tJOB\tFAULTS\tDESCRIPTION")
			for _, s := range scenarios.All() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Job, strings.Join(s.Faults, ","), s.Description)
			}
			return tw.Flush()
		},
	}
}

// completeScenarios completes scenario names by prefix. With all (sweep),
// several names may be given and "all" is offered as the first; without,
// one name (run).
func completeScenarios(all ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 && (len(all) == 0 || slices.Contains(all, args[0])) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, e := range all {
			if len(args) == 0 && strings.HasPrefix(e, toComplete) {
				out = append(out, cobra.CompletionWithDesc(e, "every scenario"))
			}
		}
		for _, s := range scenarios.All() {
			if strings.HasPrefix(s.Name, toComplete) && !slices.Contains(args, s.Name) {
				out = append(out, cobra.CompletionWithDesc(s.Name, s.Description))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeMutants completes --mutant by prefix.
func completeMutants(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, m := range engine.AllMutants() {
		if strings.HasPrefix(string(m), toComplete) {
			out = append(out, cobra.CompletionWithDesc(string(m), m.Describe()))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

type runFlags struct {
	seed             uint64
	faults           string
	mutants          []string
	out              string
	trace            bool
	checkDeterminism bool
	json             bool
}

func newRun() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run one seed of a scenario and print the timeline and the verdicts",
		Long: `run executes one seed of SCENARIO. It prints the seed, the build and every
option derived from the seed (topology, swarm draws, the fault plan), then a
compact timeline (checkpoints completed, faults, kills, restarts, commits,
lost requests), then the verdict of every checker.

A run that does not pass writes a failure bundle to --out (default
./chaosrun-failures/SCENARIO-seedN) and prints the command that replays it.`,
		Example: `  chaosrun run count-crash-before-commit --seed 7
  chaosrun run count-crash-before-commit --seed 7 --mutant no-recover-commit
  chaosrun run copier-kill-mid-checkpoint --faults plan.json --trace
  chaosrun run smoke-copier --seed 7 --check-determinism`,
		Args:              exactArgs(1, "a scenario name (see chaosrun list)"),
		ValidArgsFunction: completeScenarios(),
		RunE:              func(cmd *cobra.Command, args []string) error { return runOne(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 1, "the seed that decides every random choice of the run")
	fl.StringVar(&f.faults, "faults", "", "replace the scenario's fault plan with this JSON plan file (as in a bundle's plan.json)")
	fl.StringSliceVar(&f.mutants, "mutant", nil, "switch on a deliberate engine bug by name (repeatable; see chaosrun mutants)")
	fl.StringVar(&f.out, "out", "", "write the failure bundle to this directory (default ./"+defaultFailures+"/SCENARIO-seedN)")
	fl.BoolVar(&f.trace, "trace", false, "print the full event trace")
	fl.BoolVar(&f.checkDeterminism, "check-determinism", false, "run the seed twice and compare the trace digests")
	fl.BoolVar(&f.json, "json", false, "print the outcome as JSON instead of text")
	_ = cmd.RegisterFlagCompletionFunc("mutant", completeMutants)
	_ = cmd.RegisterFlagCompletionFunc("faults", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"json"}, cobra.ShellCompDirectiveFilterFileExt
	})
	_ = cmd.MarkFlagDirname("out")
	return cmd
}

// exactArgs is cobra.ExactArgs with a message that says what is missing, and
// the usage exit code.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("expected %s, got %d arguments", what, len(args))
		}
		return nil
	}
}

// runError maps an error from a run, of a scenario or of a target: bad
// input is exit 2, anything else is a failure of the harness, reported as
// inconclusive.
func runError(err error) error {
	var bad *scenarios.BadInputError
	var badTarget *target.BadInputError
	if errors.As(err, &bad) || errors.As(err, &badTarget) {
		return usageError("%v", err)
	}
	return &exitError{code: exitInconclusive, msg: "chaosrun: " + err.Error()}
}

func runOne(cmd *cobra.Command, name string, f runFlags) error {
	s, err := scenarios.Lookup(name)
	if err != nil {
		return usageError("%v", err)
	}
	ms, err := scenarios.ParseMutants(f.mutants)
	if err != nil {
		return usageError("--mutant: %v", err)
	}
	ro := scenarios.RunOptions{Seed: f.seed, KeepTrace: true, Mutants: ms}
	if f.faults != "" {
		p, err := readPlan(s, ro, f.faults)
		if err != nil {
			return err
		}
		ro.Plan = &p
	}
	w := cmd.OutOrStdout()
	out, err := s.Run(cmd.Context(), ro)
	if err != nil {
		return runError(err)
	}
	if f.checkDeterminism {
		again, err := s.Run(cmd.Context(), ro)
		if err != nil {
			return runError(err)
		}
		// The same comparison as a determinism sweep's.
		out.Verdicts = append(out.Verdicts, scenarios.CompareRuns(out, again))
	}
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printHeader(w, out, ro)
		printOutcome(w, out, f.trace)
	}
	code := exitFor(out.Verdict())
	if code == exitOK {
		return nil
	}
	dir := f.out
	if dir == "" {
		dir = filepath.Join(defaultFailures, scenarios.BundleName(out.Scenario, out.Seed, f.mutants))
	}
	if err := scenarios.WriteBundle(dir, out, ro, scenarios.Build()); err != nil {
		return &exitError{code: code, msg: "chaosrun: " + err.Error()}
	}
	b := scenarios.NewBundle(dir, out, ro, scenarios.Build())
	info := w
	if f.json {
		info = cmd.ErrOrStderr() // keep stdout valid JSON
	}
	fmt.Fprintf(info, "\nfailure bundle: %s (open %s)\nreproduce:      %s\n", dir, filepath.Join(dir, scenarios.BundleReportFile), b.ReplayCommand())
	return &exitError{code: code}
}

// readPlan reads a --faults file and checks it against the workers a run of
// s with ro has, so that a worker the scenario lacks is named before the
// run, with its place in the file.
func readPlan(s *scenarios.Scenario, ro scenarios.RunOptions, path string) (faults.Plan, error) {
	ro.Plan = &faults.Plan{} // the topology of a run with a given plan
	workers, ok := s.Workers(ro)
	if !ok {
		return faults.Plan{}, usageError("--faults: scenario %s draws its own faults and takes no fault plan", s.Name)
	}
	data, err := readFile(path)
	if err != nil {
		return faults.Plan{}, usageError("--faults %v", err)
	}
	p, err := faults.Parse(data, workers)
	if err != nil {
		return faults.Plan{}, usageError("--faults %s (scenario %s): %v", path, s.Name, err)
	}
	return p, nil
}

// readFile reads a file named on the command line; its errors start with
// the path and say what is wrong with it in a few words.
func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: no such file", path)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%s: permission denied", path)
	}
	if st, serr := os.Stat(path); serr == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a file", path)
	}
	return nil, fmt.Errorf("%s: %w", path, err)
}

// printHeader prints what identifies the run: seed, build, mutants, every
// option derived from the seed and the fault plan.
func printHeader(w io.Writer, out *scenarios.Outcome, ro scenarios.RunOptions) {
	fmt.Fprintf(w, "scenario %s  seed %d  build %s\n", out.Scenario, out.Seed, scenarios.Build())
	if len(ro.Mutants) > 0 {
		fmt.Fprintf(w, "mutants  %s\n", strings.Trim(fmt.Sprint(ro.Mutants), "[]"))
	}
	fmt.Fprintf(w, "options  %s\n", formatOptions(out.Options))
	if out.Swarm != "" {
		fmt.Fprintf(w, "swarm    %s\n", strings.TrimPrefix(out.Swarm, "swarm: "))
	}
	source := "the scenario's"
	if ro.Plan != nil {
		source = "given"
	} else if out.Swarm != "" {
		source = "drawn from the seed"
	}
	fmt.Fprintf(w, "plan     (%s)\n", source)
	for _, l := range strings.Split(out.Plan.String(), "\n") {
		fmt.Fprintln(w, "  "+l)
	}
}

// printOutcome prints the trace (when asked), the timeline and the verdicts.
func printOutcome(w io.Writer, out *scenarios.Outcome, trace bool) {
	if trace {
		fmt.Fprintln(w, "\ntrace")
		for _, l := range out.Trace {
			fmt.Fprintln(w, "  "+l)
		}
	}
	fmt.Fprintln(w, "\ntimeline (simulated ns)")
	// A run that fails over and over (a mutant, a stuck job) can have
	// thousands of timeline lines; the start and the end tell the story,
	// the bundle's report.html and --trace have everything.
	const head, tail = 150, 50
	for i, l := range out.Timeline {
		if n := len(out.Timeline); n > head+tail && i >= head && i < n-tail {
			if i == head {
				fmt.Fprintf(w, "  ... %d timeline lines left out (--trace prints every event)\n", n-head-tail)
			}
			continue
		}
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintf(w, "\nran %d events, %v simulated, digest %s\n\nverdicts\n", out.Events, out.SimTime, short(out.Digest))
	printVerdicts(w, out.Verdicts)
	fmt.Fprintf(w, "\nverdict: %s\n", strings.ToUpper(out.Verdict().String()))
}

func printVerdicts(w io.Writer, vs []checkers.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, v := range vs {
		detail := v.Explanation
		if v.FirstBad != "" {
			detail += "; first bad: " + v.FirstBad
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.Checker, strings.ToUpper(v.Verdict.String()), v.Anomaly, detail)
	}
	tw.Flush()
}

func formatOptions(o map[string]string) string {
	parts := make([]string, 0, len(o))
	for _, k := range slices.Sorted(maps.Keys(o)) {
		parts = append(parts, k+"="+o[k])
	}
	return strings.Join(parts, " ")
}

func short(d string) string {
	if len(d) > 16 {
		return d[:16]
	}
	return d
}

func newReplay() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay BUNDLE",
		Short: "Rerun a failure bundle and check that it reproduces to the same trace digest",
		Long: `replay reads the failure bundle in directory BUNDLE, reruns its scenario with
the same seed, mutants and (if it was given) fault plan, and compares the
trace digest with the bundle's. The same digest means the same run, event for
event; the exit code is then the run's verdict. A different digest is a
determinism failure (exit 1), unless the code changed since the bundle was
written: the bundle names its build.

First it checks the bundle against the SHA-256 checksums its run.json
records, of every file and of run.json itself: a file edited or missing since
the bundle was written is bad input (exit 2), named, and nothing is replayed.
A bundle from before checksums is replayed with a warning.`,
		Example: "  chaosrun replay chaosrun-failures/count-crash-before-commit-seed7-mutant-no-recover-commit",
		Args:    exactArgs(1, "a failure bundle's directory"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := scenarios.ReadBundle(args[0])
			if err != nil {
				return usageError("%v", err)
			}
			w := cmd.OutOrStdout()
			if !b.Verified {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: bundle %s has no checksums (written before bundles carried them): an edit to its files cannot be detected\n", b.Dir)
			}
			fmt.Fprintf(w, "replaying %s seed %d", b.Scenario, b.Seed)
			if len(b.Mutants) > 0 {
				fmt.Fprintf(w, " with mutants %s", strings.Join(b.Mutants, ","))
			}
			fmt.Fprintf(w, " (plan: %s)\n", b.PlanSource)
			build := scenarios.Build()
			if b.Build != build {
				fmt.Fprintf(w, "note: the bundle was written by build %s, this is %s\n", b.Build, build)
			}
			out, same, err := scenarios.Replay(cmd.Context(), b)
			if err != nil {
				return runError(err)
			}
			fmt.Fprintln(w, "\nverdicts")
			printVerdicts(w, out.Verdicts)
			fmt.Fprintf(w, "\nverdict: %s (bundle: %s)\n", strings.ToUpper(out.Verdict().String()), strings.ToUpper(b.Verdict.String()))
			if !same {
				msg := fmt.Sprintf("chaosrun: not reproduced: digest %s differs from the bundle's %s", out.Digest, b.Digest)
				if b.Build != build {
					msg += fmt.Sprintf(" (the bundle comes from build %s; a code change can explain it)", b.Build)
				} else {
					msg += " on the same build: nondeterminism"
				}
				return &exitError{code: exitViolation, msg: msg}
			}
			fmt.Fprintf(w, "reproduced: digest %s\n", out.Digest)
			if code := exitFor(out.Verdict()); code != exitOK {
				return &exitError{code: code}
			}
			return nil
		},
	}
	return cmd
}
