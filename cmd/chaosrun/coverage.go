package main

import (
	"runtime"

	"github.com/onceproof/onceproof/scenarios"
	"github.com/spf13/cobra"
)

func newCoverage() *cobra.Command {
	f := sweepFlags{coverage: true}
	var from []string
	cmd := &cobra.Command{
		Use:   "coverage SCENARIO...|all | --from SUMMARY.json...",
		Short: "Sweep scenarios and print which (checkpoint phase x fault kind) cells their faults reached",
		Long: `coverage sweeps each SCENARIO (or every one with "all") over --seeds, as
"chaosrun sweep" does, and prints after the summary the coverage grid: for
every fault kind, in how many runs a fault of that kind fired while the
checkpoint protocol was at each phase ("start": before the first phase); the
roles each kind hit (coordinator, source, operator, sink, broker, storage);
and, for the control-message faults, which message types they dropped,
delayed or repeated. A "." is a cell no run reached: a kind of schedule the
sweep never tried. With --from it reads the JSON summaries that
"chaosrun sweep --json" wrote (several are merged, as "chaosrun merge" does)
instead of sweeping. The exit code is the sweep's worst verdict.`,
		Example: `  chaosrun coverage all --seeds 1-100
  chaosrun sweep all --seeds 1-100 --json > sweep.json && chaosrun coverage --from sweep.json`,
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(from) > 0 && len(args) > 0:
				return usageError("give scenarios to sweep or --from summaries, not both")
			case len(from) == 0 && len(args) == 0:
				return usageError(`expected scenario names, "all" or --from SUMMARY.json (see chaosrun list)`)
			}
			return nil
		},
		ValidArgsFunction: completeScenarios("all"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(from) == 0 {
				return sweep(cmd, args, f)
			}
			merged, _, err := readSummaries("coverage", from)
			if err != nil {
				return err
			}
			return scenarios.WriteCoverage(cmd.OutOrStdout(), scenarios.CoverageOfSummary(merged))
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&from, "from", nil, "read these sweep summaries (chaosrun sweep --json) instead of sweeping")
	fl.StringVar(&f.seeds, "seeds", "1-100", `seeds to run: a range "A-B" (inclusive) or one seed "N"`)
	fl.IntVar(&f.parallel, "parallel", runtime.NumCPU(), "runs at once")
	fl.IntVar(&f.maxFailures, "max-failures", 0, "stop scheduling seeds after this many failed (0: run them all)")
	fl.StringVar(&f.out, "out", defaultFailures, "directory for the failure bundles")
	_ = cmd.MarkFlagDirname("out")
	return cmd
}
