package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/scenarios"
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

// exitError carries an exit code out of a command; msg (if any) goes to
// stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

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
event for event, on any machine.

Exit codes: 0 passed, 1 safety violation, 2 bad usage or input,
3 no progress (liveness), 4 inconclusive.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newList(), newRun())
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

type runFlags struct {
	seed             uint64
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
option derived from the seed, then a compact timeline (kills, restarts,
commits, lost requests), then the verdict of every checker.`,
		Example: "  chaosrun run smoke-copier --seed 7\n  chaosrun run smoke-copier --seed 7 --check-determinism",
		Args:    exactArgs(1, "a scenario name (see chaosrun list)"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return scenarios.Names(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runOne(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 1, "the seed that decides every random choice of the run")
	fl.BoolVar(&f.trace, "trace", false, "print the full event trace")
	fl.BoolVar(&f.checkDeterminism, "check-determinism", false, "run the seed twice and compare the trace digests")
	fl.BoolVar(&f.json, "json", false, "print the outcome as JSON instead of text")
	return cmd
}

// exactArgs is cobra.ExactArgs with a message that says what is missing, and
// the usage exit code.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("chaosrun: expected %s, got %d arguments", what, len(args))}
		}
		return nil
	}
}

func runOne(cmd *cobra.Command, name string, f runFlags) error {
	s, err := scenarios.Lookup(name)
	if err != nil {
		return &exitError{code: exitUsage, msg: "chaosrun: " + err.Error()}
	}
	w := cmd.OutOrStdout()
	ro := scenarios.RunOptions{Seed: f.seed, KeepTrace: f.trace}
	if !f.json {
		fmt.Fprintf(w, "scenario %s  seed %d  build %s\n", s.Name, f.seed, build())
	}
	out, err := s.Run(cmd.Context(), ro)
	if err != nil {
		return &exitError{code: exitUsage, msg: "chaosrun: " + err.Error()}
	}
	if f.checkDeterminism {
		again, err := s.Run(cmd.Context(), ro)
		if err != nil {
			return &exitError{code: exitUsage, msg: "chaosrun: " + err.Error()}
		}
		det := checkers.Result{Checker: "determinism", Verdict: checkers.Ok, Explanation: "two runs, digest " + short(out.Digest)}
		if again.Digest != out.Digest {
			det = checkers.Result{Checker: "determinism", Verdict: checkers.Violation, Anomaly: "nondeterminism",
				Explanation: fmt.Sprintf("same seed, digests %s and %s", short(out.Digest), short(again.Digest))}
		}
		out.Verdicts = append(out.Verdicts, det)
	}
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printOutcome(w, out, f.trace)
	}
	if code := exitFor(out.Verdict()); code != exitOK {
		return &exitError{code: code}
	}
	return nil
}

func printOutcome(w io.Writer, out *scenarios.Outcome, trace bool) {
	fmt.Fprintf(w, "options  %s\n", formatOptions(out.Options))
	if trace {
		fmt.Fprintln(w, "\ntrace")
		for _, l := range out.Trace {
			fmt.Fprintln(w, "  "+l)
		}
	}
	fmt.Fprintln(w, "\ntimeline (simulated ns)")
	for _, l := range out.Timeline {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintf(w, "\nran %d events, %v simulated, digest %s\n\nverdicts\n", out.Events, out.SimTime, short(out.Digest))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, v := range out.Verdicts {
		detail := v.Explanation
		if v.FirstBad != "" {
			detail += "; first bad: " + v.FirstBad
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.Checker, strings.ToUpper(v.Verdict.String()), v.Anomaly, detail)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nverdict: %s\n", strings.ToUpper(out.Verdict().String()))
}

func formatOptions(o map[string]string) string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%s", k, o[k])
	}
	return b.String()
}

func short(d string) string {
	if len(d) > 16 {
		return d[:16]
	}
	return d
}

// build names the code that ran: the module version or VCS revision when the
// binary carries one, and the Go version.
func build() string {
	rev := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = s.Value[:12]
			}
		}
	}
	return rev + " " + runtime.Version()
}
