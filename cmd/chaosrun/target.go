package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/internal/atomicfile"
	"github.com/onceproof/onceproof/internal/invoke"
	"github.com/onceproof/onceproof/scenarios"
	"github.com/onceproof/onceproof/target"
	"github.com/spf13/cobra"
)

type targetFlags struct {
	expect, mapRule, oracle, order string
	seed                           uint64
	seeds                          string
	schedule                       string
	faults                         int
	kinds                          []string
	window, deadline, grace        time.Duration
	inputSpan                      time.Duration
	settle                         time.Duration
	instances, brokers             int
	partitions, outPartitions      int
	records, keys                  int
	input                          string
	out                            string
	shrink                         bool
	shrinkTries, shrinkRuns        int
	shrinkBudget                   time.Duration
	parallel                       int
	build                          bool
	summary                        string
	verbose                        bool
}

func newTarget() *cobra.Command {
	var f targetFlags
	cmd := &cobra.Command{
		Use:   "target --expect copy|count | --oracle CMD [flags] -- CMD [ARGS...]",
		Short: "Run your own exactly-once Kafka program under faults and judge its output",
		Long: `target runs CMD, a consume-transform-produce program in any language, as
--instances processes against kfake (an in-process Kafka, --brokers brokers on
loopback), writes an input topic, hits the processes with a seeded fault
schedule, and judges the output topic with onceproof's checkers, read
independently of the program (every record labelled committed, aborted or open
from the log's own markers).

The program gets its connection details in its environment and, as
{{.Brokers}}-style substitutions, in ARGS:

  ONCEPROOF_BROKERS       {{.Brokers}}      host:port,host:port,...
  ONCEPROOF_INPUT_TOPIC   {{.InputTopic}}   consume this
  ONCEPROOF_OUTPUT_TOPIC  {{.OutputTopic}}  produce here, in transactions
  ONCEPROOF_GROUP         {{.Group}}        consumer group; commit offsets to it
  ONCEPROOF_TXN_PREFIX    {{.TxnPrefix}}    transactional IDs must start with it
                                            (one per instance, kept across restarts)
  ONCEPROOF_INSTANCE      {{.Instance}}     0, 1, ...

It must exit on SIGTERM (after --grace it gets SIGKILL; every instance is its
own process group, and none survives the run).

The contract (what the output must be):
  --expect copy    each input record once, same key, value mapped by --map
                   (identity, upper, lower, prefix:S, suffix:S, replace:OLD=NEW)
  --expect count   for the n-th input record of key k, one record k -> "n"
  --oracle CMD     CMD reads the input as JSON lines {"partition","offset",
                   "key","value"} on stdin and prints the expected output as
                   JSON lines {"key","value"}

Faults (--faults N drawn from --seed over --window, or --schedule FILE):
kill (SIGKILL, restart), pause (SIGSTOP/SIGCONT: a zombie), restart (SIGTERM),
kill-at (SIGKILL at the instance's next AddPartitionsToTxn, AddOffsetsToTxn,
TxnOffsetCommit or EndTxn, before the broker applies it or applied with the
answer withheld), error (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
CONCURRENT_TRANSACTIONS, REBALANCE_IN_PROGRESS, ...), withhold (an answer held
back: a timeout), move-leaders, move-coordinators, join (an extra instance
joins the group and leaves: rebalances mid-transaction). After the faults,
the program must finish: the group commits all input with no output
transaction open, within --deadline.

A target run is NOT deterministic: the program has its own threads and the
clock is real. The seed decides the input and the fault schedule, not the
interleaving, so a failure is shrunk by rerunning subsets of its schedule
(ddmin), each --shrink-tries times, and the bundle says how often the
smallest schedule failed.

Exit codes: 0 passed, 1 safety violation, 2 bad usage or input,
3 no progress (liveness), 4 inconclusive.`,
		Example: `  chaosrun target --expect copy -- go run ./examples/franzgo-eos
  chaosrun target --expect copy --seeds 1-50 --parallel 2 -- go run ./examples/franzgo-eos
  chaosrun target --expect copy --map upper -- ./my-service --brokers {{.Brokers}}
  chaosrun target --oracle "python3 oracle.py" -- java -jar streams-app.jar
  chaosrun target --expect copy --schedule chaosrun-failures/target-seed3/shrunk-schedule.json -- ./my-service`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash < 0 {
				if len(args) > 0 {
					return usageError("the program to test goes after --: chaosrun target --expect copy -- %s", strings.Join(args, " "))
				}
				return usageError("missing the program to test: chaosrun target --expect copy -- CMD [ARGS...]")
			}
			if dash > 0 {
				return usageError("unexpected arguments before --: %s (the program to test goes after --)", strings.Join(args[:dash], " "))
			}
			if len(args) == 0 {
				return usageError("missing the program to test after --: chaosrun target --expect copy -- CMD [ARGS...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runTarget(cmd, args, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.expect, "expect", "", "the output contract: copy or count")
	fl.StringVar(&f.mapRule, "map", "", "copy's value rule: identity, upper, lower, prefix:S, suffix:S, replace:OLD=NEW")
	fl.StringVar(&f.oracle, "oracle", "", "an oracle command (split on spaces) that prints the expected output for the input")
	fl.StringVar(&f.order, "order", "", "the order the output keeps: per-key (copy and count's default) or none")
	fl.Uint64Var(&f.seed, "seed", 1, "the seed of the input and the fault schedule (not of the interleaving)")
	fl.StringVar(&f.seeds, "seeds", "", `sweep these seeds: a range "A-B" (inclusive) or one seed "N"`)
	fl.StringVar(&f.schedule, "schedule", "", "run this schedule (a schedule.json, or a bundle directory) instead of drawing one")
	fl.IntVar(&f.faults, "faults", -1, "faults to draw per schedule (-1: 4 to 8; 0: none)")
	fl.StringSliceVar(&f.kinds, "kinds", nil, "fault kinds to draw from (default all: "+strings.Join(target.Kinds, ",")+")")
	fl.DurationVar(&f.window, "window", 4*time.Second, "the span the faults are drawn in")
	fl.DurationVar(&f.inputSpan, "input-span", 4*time.Second, "write the input in pieces over this span, while the faults run")
	fl.DurationVar(&f.deadline, "deadline", 90*time.Second, "give up on a run this long after its start")
	fl.DurationVar(&f.grace, "grace", 3*time.Second, "time between SIGTERM and SIGKILL when stopping an instance")
	fl.DurationVar(&f.settle, "settle", time.Second, "how long the output must stay complete before the run ends")
	fl.IntVar(&f.instances, "instances", 2, "instances of the program")
	fl.IntVar(&f.brokers, "brokers", 3, "kfake brokers")
	fl.IntVar(&f.partitions, "partitions", 4, "input topic partitions")
	fl.IntVar(&f.outPartitions, "output-partitions", 4, "output topic partitions")
	fl.IntVar(&f.records, "records", 200, "generated input records")
	fl.IntVar(&f.keys, "keys", 16, "keys of the generated input")
	fl.StringVar(&f.input, "input", "", `write this input instead: JSON lines {"key":"k","value":"v"} (optional "partition")`)
	fl.StringVar(&f.out, "out", defaultFailures, "directory for failure bundles")
	fl.BoolVar(&f.shrink, "shrink", true, "shrink a failing schedule (a sweep shrinks only with --shrink given)")
	fl.IntVar(&f.shrinkTries, "shrink-tries", 3, "runs of each candidate schedule while shrinking")
	fl.IntVar(&f.shrinkRuns, "shrink-runs", 40, "at most this many runs while shrinking")
	fl.DurationVar(&f.shrinkBudget, "shrink-budget", 8*time.Minute, "at most this long shrinking")
	fl.IntVar(&f.parallel, "parallel", 1, "runs at once in a sweep")
	fl.BoolVar(&f.build, "build", true, `build a "go run PKG" command once instead of go run per instance`)
	fl.StringVar(&f.summary, "summary", "", "write a sweep's summary as JSON to this file")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "progress lines of every run of a sweep")
	return cmd
}

func runTarget(cmd *cobra.Command, argv []string, f targetFlags) error {
	w, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var oracle []string
	if f.oracle != "" {
		oracle = strings.Fields(f.oracle)
	}
	contract, err := target.ParseContract(f.expect, f.mapRule, oracle, f.order)
	if err != nil {
		return usageError("%v", err)
	}
	if err := target.CheckCommand(argv); err != nil {
		return usageError("%v", err)
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"--instances", f.instances}, {"--brokers", f.brokers}, {"--partitions", f.partitions}, {"--output-partitions", f.outPartitions}, {"--records", f.records}, {"--keys", f.keys}, {"--parallel", f.parallel}, {"--shrink-tries", f.shrinkTries}} {
		if n.v < 1 {
			return usageError("%s: %d, want at least 1", n.name, n.v)
		}
	}
	for _, k := range f.kinds {
		if !contains(target.Kinds, k) {
			return usageError("--kinds: unknown kind %q (want some of %s)", k, strings.Join(target.Kinds, ","))
		}
	}
	if f.window <= 0 || f.deadline <= 0 || f.inputSpan <= 0 {
		return usageError("--window, --input-span and --deadline must be positive")
	}
	var input []target.InputRecord
	if f.input != "" {
		if input, err = readTargetInput(f.input); err != nil {
			return usageError("--input %v", err)
		}
	}
	var fixed *target.Schedule
	if f.schedule != "" {
		if fixed, err = target.LoadSchedule(f.schedule, f.instances); err != nil {
			return usageError("--schedule %v", describeReadErr(f.schedule, err))
		}
	}
	seeds := []uint64{f.seed}
	sweep := f.seeds != ""
	if sweep {
		r, err := scenarios.ParseSeedRange(f.seeds)
		if err != nil {
			return usageError("%v", err)
		}
		seeds = nil
		for s := r.First; ; s++ {
			seeds = append(seeds, s)
			if s == r.Last {
				break
			}
		}
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usageError("--out: %v", err)
	}
	buildDir, err := os.MkdirTemp(f.out, ".target-build-")
	if err != nil {
		return usageError("--out: %v", err)
	}
	defer os.RemoveAll(buildDir)
	program := argv
	if f.build {
		if program, err = target.Prebuild(argv, buildDir); err != nil {
			return usageError("%v", err)
		}
	}

	mk := func(seed uint64) target.Config {
		s := fixed
		if s == nil {
			s = &target.Schedule{Seed: seed}
			if f.faults != 0 {
				s = target.Generate(seed, target.GenerateOptions{Instances: f.instances, Window: f.window, Faults: max(f.faults, 0), Kinds: f.kinds})
			}
		}
		return target.Config{
			Command: program, Contract: contract, Seed: seed, Schedule: s,
			Instances: f.instances, Brokers: f.brokers, InputPartitions: f.partitions, OutputPartitions: f.outPartitions,
			Records: f.records, Keys: f.keys, Input: input,
			InputSpan: target.Duration(f.inputSpan), Deadline: target.Duration(f.deadline), Settle: target.Duration(f.settle), Grace: target.Duration(f.grace),
		}
	}
	reproduce := func(c target.Config, schedPath string) string {
		parts := []string{invoke.Command("chaosrun"), "target"}
		if c.Contract.Kind == target.Oracle {
			parts = append(parts, "--oracle", invoke.Quote(f.oracle))
		} else {
			parts = append(parts, "--expect", string(c.Contract.Kind))
		}
		if f.mapRule != "" {
			parts = append(parts, "--map", invoke.Quote(f.mapRule))
		}
		if f.order != "" {
			parts = append(parts, "--order", f.order)
		}
		parts = append(parts, fmt.Sprintf("--seed %d --schedule %s --instances %d --brokers %d --partitions %d --output-partitions %d --records %d --keys %d --deadline %s",
			c.Seed, invoke.Quote(schedPath), f.instances, f.brokers, f.partitions, f.outPartitions, f.records, f.keys, f.deadline))
		if f.input != "" {
			parts = append(parts, "--input", invoke.Quote(absOf(f.input)))
		}
		parts = append(parts, "--")
		for _, a := range argv {
			parts = append(parts, invoke.Quote(a))
		}
		return strings.Join(parts, " ")
	}
	// runIn runs c in a fresh directory under --out; keep says whether to
	// keep it (as a bundle) afterwards.
	runIn := func(ctx context.Context, c target.Config, progress io.Writer) (*target.Result, string, error) {
		dir, err := os.MkdirTemp(f.out, fmt.Sprintf(".target-seed%d-", c.Seed))
		if err != nil {
			return nil, "", err
		}
		c.Dir, c.Progress = dir, progress
		res, err := target.Run(ctx, c)
		if err != nil || res.Verdict == checkers.Ok {
			os.RemoveAll(dir)
			dir = ""
		}
		return res, dir, err
	}
	scratch := func(ctx context.Context, c target.Config) (*target.Result, error) {
		res, dir, err := runIn(ctx, c, nil)
		if dir != "" {
			os.RemoveAll(dir)
		}
		return res, err
	}
	finish := func(ctx context.Context, c target.Config, res *target.Result, dir string, shrink bool) (string, *target.ShrinkResult, error) {
		var sr *target.ShrinkResult
		if shrink && len(c.Schedule.Faults) > 0 && (res.Verdict == checkers.Violation || res.Verdict == checkers.NoProgress) {
			fmt.Fprintf(errw, "shrinking the %d-fault schedule (each candidate up to %d runs; not deterministic, so this reruns the program)\n", len(c.Schedule.Faults), f.shrinkTries)
			var err error
			sr, err = target.Shrink(ctx, c, res.Verdict, target.ShrinkOptions{
				Tries: f.shrinkTries, MaxRuns: f.shrinkRuns, Budget: target.Duration(f.shrinkBudget),
				Progress: func(format string, a ...any) { fmt.Fprintf(errw, format+"\n", a...) },
			}, scratch)
			if err != nil {
				fmt.Fprintf(errw, "shrink stopped: %v\n", err)
				sr = nil
			}
		}
		final := filepath.Join(f.out, fmt.Sprintf("target-seed%d", c.Seed))
		sched := filepath.Join(absOf(final), "schedule.json")
		if sr != nil {
			sched = filepath.Join(absOf(final), "shrunk-schedule.json")
		}
		b := &target.Bundle{Dir: dir, Command: argv, Config: c, Result: res, Shrink: sr, Build: scenarios.Build(), Reproduce: reproduce(c, sched)}
		if err := b.Write(); err != nil {
			return "", sr, err
		}
		if err := os.RemoveAll(final); err != nil {
			return "", sr, err
		}
		if err := os.Rename(dir, final); err != nil {
			return "", sr, err
		}
		return final, sr, nil
	}

	// SIGTERM, like Ctrl-C, ends the run with its instances stopped: they
	// are in process groups of their own, which no terminal signal reaches.
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fmt.Fprintf(w, "chaosrun target: %s, contract %s, %d instances, %d brokers, %d input records\n", strings.Join(argv, " "), contract, f.instances, f.brokers, recordsOf(input, f.records))
	fmt.Fprintln(w, "not deterministic: the seed decides the input and the fault schedule, not the interleaving")
	if !sweep {
		c := mk(f.seed)
		fmt.Fprintf(w, "seed %d, schedule of %d faults:\n", f.seed, len(c.Schedule.Faults))
		for _, l := range c.Schedule.Lines() {
			fmt.Fprintln(w, "  "+l)
		}
		res, dir, err := runIn(ctx, c, errw)
		if err != nil {
			return runError(err)
		}
		printTargetResult(w, res)
		code := exitFor(res.Verdict)
		if code == exitOK {
			fmt.Fprintf(w, "passed in %.1fs (%s)\n", time.Duration(res.Elapsed).Seconds(), firedLine(res.FiredByKind))
			return nil
		}
		final, sr, err := finish(ctx, c, res, dir, f.shrink)
		if err != nil {
			return &exitError{code: code, msg: "chaosrun: bundle: " + err.Error()}
		}
		printShrink(w, sr)
		fmt.Fprintf(w, "\nfailure bundle: %s (open %s)\nreproduce:      %s\n", final, filepath.Join(final, "report.html"), reproduce(c, filepath.Join(absOf(final), schedFile(sr))))
		return &exitError{code: code}
	}

	start := time.Now()
	shrinkSweep := cmd.Flags().Changed("shrink") && f.shrink
	var progress io.Writer
	if f.verbose {
		progress = errw
	}
	done := 0
	sum := target.Sweep(ctx, seeds, f.parallel, mk, func(ctx context.Context, c target.Config) (*target.Result, error) {
		res, dir, err := runIn(ctx, c, progress)
		if err == nil && dir != "" {
			final, sr, berr := finish(ctx, c, res, dir, shrinkSweep)
			if berr != nil {
				fmt.Fprintf(errw, "seed %d: bundle: %v\n", c.Seed, berr)
			} else {
				res.FirstBad += " [bundle " + final + "]"
				if sr != nil {
					res.FirstBad += fmt.Sprintf(" [shrunk to %d faults, failed %d/%d]", len(sr.Schedule.Faults), sr.Failed, sr.Tries)
				}
			}
		}
		return res, err
	}, func(o target.SeedOutcome, _ target.Config, _ *target.Result) {
		done++
		line := fmt.Sprintf("[%d/%d %.0fs] seed %d: %s in %.1fs, %d faults (%s)", done, len(seeds), time.Since(start).Seconds(), o.Seed, o.Verdict, time.Duration(o.Elapsed).Seconds(), o.Faults, firedLine(o.FiredByKind))
		if o.Evicted > 0 {
			line += fmt.Sprintf(", %d dead members evicted for kfake", o.Evicted)
		}
		if o.Error != "" {
			line += ": " + o.Error
		} else if o.FirstBad != "" {
			line += ": " + o.FirstBad
		}
		fmt.Fprintln(w, line)
	})
	sum.Wall = target.Duration(time.Since(start))
	fmt.Fprintf(w, "\nsweep of %d seeds in %.1fs: %s\n", len(seeds), time.Since(start).Seconds(), verdictCounts(sum.Verdicts))
	fmt.Fprintf(w, "faults per kind over all seeds:\n%s", sum.FaultTable())
	if sum.Evicted > 0 {
		fmt.Fprintf(w, "group members evicted because kfake kept them past their session timeout: %d (docs/findings.md)\n", sum.Evicted)
	}
	fmt.Fprintln(w, "not deterministic: a seed that passed here can fail on a rerun; the seed fixes the schedule, not the interleaving")
	if f.summary != "" {
		data, err := json.MarshalIndent(sum, "", "  ")
		if err == nil {
			err = atomicfile.WriteFile(f.summary, append(data, '\n'))
		}
		if err != nil {
			return &exitError{code: exitInconclusive, msg: "chaosrun: --summary: " + err.Error()}
		}
	}
	if ctx.Err() != nil {
		return &exitError{code: exitInconclusive, msg: "chaosrun: sweep interrupted"}
	}
	if code := exitFor(sum.Verdict); code != exitOK {
		return &exitError{code: code}
	}
	return nil
}

func schedFile(sr *target.ShrinkResult) string {
	if sr != nil {
		return "shrunk-schedule.json"
	}
	return "schedule.json"
}

func printTargetResult(w io.Writer, res *target.Result) {
	fmt.Fprintln(w, "faults:")
	for _, fd := range res.Faults {
		mark := "fired"
		if !fd.Fired {
			mark = "did not fire"
		}
		fmt.Fprintf(w, "  %-12s %s", mark, fd.Fault)
		if !fd.Fired && fd.Note != "" {
			fmt.Fprintf(w, " (%s)", fd.Note)
		}
		fmt.Fprintln(w)
	}
	if res.Evicted > 0 {
		fmt.Fprintf(w, "the harness evicted %d group members kfake kept past their session timeout (see docs/findings.md)\n", res.Evicted)
	}
	if res.SelfExits > 0 {
		fmt.Fprintf(w, "instances exited by themselves %d times (restarted)\n", res.SelfExits)
	}
	fmt.Fprintln(w, "checks:")
	for _, r := range res.Results {
		fmt.Fprintf(w, "  %s\n", r)
		if r.Verdict != checkers.Ok && r.Explanation != "" {
			fmt.Fprintf(w, "      %s\n", r.Explanation)
		}
	}
	fmt.Fprintf(w, "verdict: %s\n", res.Verdict)
}

func printShrink(w io.Writer, sr *target.ShrinkResult) {
	if sr == nil {
		return
	}
	fmt.Fprintf(w, "\nsmallest failing schedule: %d of %d faults, failed %d of %d reruns (%d runs in all%s):\n",
		len(sr.Schedule.Faults), sr.Original, sr.Failed, sr.Tries, sr.Runs, map[bool]string{true: "; budget ran out, may not be minimal"}[sr.Exhausted])
	for _, l := range sr.Schedule.Lines() {
		fmt.Fprintln(w, "  "+l)
	}
	if len(sr.Schedule.Faults) == 0 {
		fmt.Fprintln(w, "  (none: it fails without faults)")
	}
}

func firedLine(m map[string]int) string {
	var parts []string
	for _, k := range target.Kinds {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "no faults fired"
	}
	return "fired: " + strings.Join(parts, ", ")
}

func verdictCounts(m map[string]int) string {
	var parts []string
	for _, v := range []string{"ok", "violation", "no-progress", "unknown"} {
		if m[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[v], v))
		}
	}
	return strings.Join(parts, ", ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func absOf(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func recordsOf(in []target.InputRecord, n int) int {
	if in != nil {
		return len(in)
	}
	return n
}

func describeReadErr(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: no such file", path)
	}
	return err
}

// readTargetInput reads an input file: JSON lines {"key","value"} with an
// optional "partition".
func readTargetInput(path string) ([]target.InputRecord, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var out []target.InputRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var r struct {
			Key       *string `json:"key"`
			Value     *string `json:"value"`
			Partition *int32  `json:"partition"`
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s line %d: want a JSON object {\"key\":\"k\",\"value\":\"v\"} (optional \"partition\"): %v", path, line, err)
		}
		if r.Key == nil || r.Value == nil {
			return nil, fmt.Errorf("%s line %d: needs both \"key\" and \"value\"", path, line)
		}
		rec := target.InputRecord{Partition: -1, Key: *r.Key, Value: *r.Value}
		if r.Partition != nil {
			if *r.Partition < 0 {
				return nil, fmt.Errorf("%s line %d: partition %d is negative", path, line, *r.Partition)
			}
			rec.Partition = *r.Partition
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no records", path)
	}
	return out, nil
}
