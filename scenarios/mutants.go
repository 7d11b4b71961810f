package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/internal/atomicfile"
)

// CatchingScenario names, for every mutant, the scenario that catches it:
// the fault it needs at the moment it needs it.
var CatchingScenario = map[engine.Mutant]string{
	engine.MutantAckBeforeDurable:            "zombie-sink",
	engine.MutantCommitBeforeComplete:        "zombie-sink",
	engine.MutantLateOffsetSnapshot:          "count-kill-mid-stream",
	engine.MutantNoAlignment:                 "count-kill-mid-stream",
	engine.MutantNoFenceLingering:            "zombie-sink",
	engine.MutantNoRecoverCommit:             "count-crash-before-commit",
	engine.MutantRestoreIncomplete:           "copier-kill-mid-checkpoint",
	engine.MutantRetryEndTxnAsNew:            "count-ambiguous-endtxn",
	engine.MutantShortTxnTimeout:             "count-ambiguous-endtxn",
	engine.MutantStaleMetadataCommit:         "coordinator-crash-on-complete",
	engine.MutantZombieUnfenced:              "zombie-sink",
	engine.MutantUnalignedDropInflight:       "count-unaligned-under-backpressure",
	engine.MutantKeyGroupMisroute:            "count-rescale-mid-stream",
	engine.MutantWatermarkNotRestored:        "window-kill-late-events",
	engine.MutantSharedStateDiscarded:        "count-pebble-disk-errors",
	engine.MutantRetakeStaleTrigger:          "copier-retransmitted-trigger",
	engine.MutantCommitOnlyNotified:          "count-lost-notifications",
	engine.MutantCountDuplicateAcks:          "count-duplicate-acks",
	engine.MutantReuseCheckpointIDs:          "coordinator-crash-mid-checkpoint",
	engine.MutantIdleSourceSilent:            "window-idle-source-subtask",
	engine.MutantAbortDropsPrecommitted:      "count-tolerated-checkpoint-failure",
	engine.MutantCommitRestoredEarly:         "count-pebble-fallback",
	engine.MutantCommitAheadOfNotice:         "count-concurrent-checkpoints",
	engine.MutantTriggerBeforeCounterDurable: "coordinator-crash-mid-checkpoint",
	engine.MutantForgetRemovedSinks:          "count-rescale-down",
}

// MutantOptions configure a mutant check.
type MutantOptions struct {
	// Mutants to check (empty: all).
	Mutants []engine.Mutant
	// Bases are the base seeds; from each, seeds are tried in order until
	// the first violation.
	Bases []uint64
	// SeedsMax bounds the seeds tried from one base.
	SeedsMax int
	// GateSweep also runs the gate's own sweep (every scenario, seeds
	// 1-100) with each mutant switched on, until its first failing run,
	// and records that run (MutantRow.GateCatch): a mutant must be caught
	// by the gate, not only by the scenario written for it.
	GateSweep bool
	// Parallel is the number of runs at once in the gate sweep (0: every
	// CPU).
	Parallel int
	// Progress, if set, is told about every finished base.
	Progress func(m engine.Mutant, base uint64, caughtAfter int)
}

// MutantRow is one mutant's line of the table.
type MutantRow struct {
	Mutant      engine.Mutant `json:"mutant"`
	Description string        `json:"description"`
	Scenario    string        `json:"scenario"`
	// SeedsUntilCaught per base (0: not caught within SeedsMax).
	SeedsUntilCaught []int   `json:"seeds_until_caught"`
	MedianSeeds      float64 `json:"median_seeds_until_caught"`
	Caught           bool    `json:"caught"`
	Checker          string  `json:"checker"`
	Anomaly          string  `json:"anomaly"`
	FirstSeed        uint64  `json:"first_seed"`
	// Shrunk is the smallest fault schedule (from the first catch) that
	// still fails, and ShrunkFaults its length.
	Shrunk       faults.Plan `json:"shrunk"`
	ShrunkFaults int         `json:"shrunk_faults"`
	WallSeconds  float64     `json:"wall_seconds"`
	// CorrectRuns counts the same seeds run on the correct engine, and
	// CorrectFailures those that did not pass (must be 0).
	CorrectRuns     int `json:"correct_runs"`
	CorrectFailures int `json:"correct_failures"`
	// GateCatch is the gate sweep's first failing run with the mutant on,
	// "scenario/seed" ("" when the gate sweep was not run, "not caught"
	// when no run of it failed), and GateAnomalies what that run found.
	GateCatch     string   `json:"gate_catch,omitempty"`
	GateAnomalies []string `json:"gate_anomalies,omitempty"`
}

// gateSeeds are the seeds the gate sweeps every scenario over (.ci/run).
var gateSeeds = SeedRange{First: 1, Last: 100}

// gateCatch runs the gate's sweep with m on until its first failing run,
// seed by seed over every scenario (the gate runs the same runs, in
// another order), so that a mutant caught at a low seed is found at once.
func gateCatch(ctx context.Context, m engine.Mutant, parallel int) (string, []string, error) {
	for seed := gateSeeds.First; seed <= gateSeeds.Last; seed++ {
		sum, err := Sweep(ctx, SweepOptions{Scenarios: All(), Seeds: SeedRange{First: seed, Last: seed}, Parallel: parallel,
			Mutants: engine.Mutants{m}, SkipUnfit: true, MaxFailures: 1})
		if err != nil {
			return "", nil, err
		}
		for _, r := range sum.Runs {
			if r.Verdict != checkers.Ok {
				return fmt.Sprintf("%s/%d", r.Scenario, r.Seed), r.Anomalies, nil
			}
		}
	}
	return "not caught", nil, nil
}

// MutantTable runs every mutant against its catching scenario from each base
// seed until the first violation, shrinks the first failing plan, and runs
// the same seeds on the correct engine.
func MutantTable(ctx context.Context, o MutantOptions) ([]MutantRow, error) {
	if len(o.Mutants) == 0 {
		o.Mutants = engine.AllMutants()
	}
	if len(o.Bases) == 0 {
		o.Bases = []uint64{1, 1001, 2001, 3001, 4001}
	}
	if o.SeedsMax <= 0 {
		o.SeedsMax = 200
	}
	var rows []MutantRow
	for _, m := range o.Mutants {
		name, ok := CatchingScenario[m]
		if !ok {
			return nil, fmt.Errorf("mutant %s has no catching scenario", m)
		}
		s, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		row := MutantRow{Mutant: m, Description: m.Describe(), Scenario: name}
		var first *Outcome
		for _, base := range o.Bases {
			caughtAfter := 0
			for i := 0; i < o.SeedsMax; i++ {
				seed := base + uint64(i)
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				bad, err := s.Run(ctx, RunOptions{Seed: seed, Mutants: engine.Mutants{m}})
				if err != nil {
					return nil, err
				}
				good, err := s.Run(ctx, RunOptions{Seed: seed})
				if err != nil {
					return nil, err
				}
				row.CorrectRuns++
				if good.Verdict() != checkers.Ok {
					row.CorrectFailures++
				}
				if bad.Verdict() != checkers.Ok {
					caughtAfter = i + 1
					if first == nil {
						first = bad
					}
					break
				}
			}
			row.SeedsUntilCaught = append(row.SeedsUntilCaught, caughtAfter)
			if o.Progress != nil {
				o.Progress(m, base, caughtAfter)
			}
		}
		row.MedianSeeds = median(row.SeedsUntilCaught, o.SeedsMax)
		if first != nil {
			row.Caught = true
			row.FirstSeed = first.Seed
			row.Checker, row.Anomaly = catcher(first.Verdicts)
			shrunk, err := ShrinkPlan(ctx, s, first.Seed, engine.Mutants{m}, first.Plan)
			if err != nil {
				return nil, err
			}
			row.Shrunk, row.ShrunkFaults = shrunk, len(shrunk.Faults)
		}
		if o.GateSweep {
			if row.GateCatch, row.GateAnomalies, err = gateCatch(ctx, m, o.Parallel); err != nil {
				return nil, err
			}
		}
		row.WallSeconds = time.Since(start).Seconds()
		rows = append(rows, row)
	}
	return rows, nil
}

// catcher names the checker that caught a run: the first safety violation,
// else the first other failing verdict.
func catcher(vs []checkers.Result) (checker, anomaly string) {
	for _, want := range []checkers.Verdict{checkers.Violation, checkers.NoProgress, checkers.Unknown} {
		for _, v := range vs {
			if v.Verdict == want {
				return v.Checker, v.Anomaly
			}
		}
	}
	return "", ""
}

// median of the seeds-until-caught; a base that never caught counts as
// past the bound.
func median(xs []int, bound int) float64 {
	v := make([]int, len(xs))
	for i, x := range xs {
		if x == 0 {
			x = bound + 1
		}
		v[i] = x
	}
	sort.Ints(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return float64(v[n/2])
	}
	return float64(v[n/2-1]+v[n/2]) / 2
}

// ShrinkPlan makes a failing plan of s at seed 1-minimal (faults.Shrink):
// the smaller plan must still fail every check the whole plan failed, with
// the same anomaly. Were any failure good enough, a check that fails with
// fewer faults in another way (a liveness failure standing in for a
// duplicate, say) would shrink the schedule to one that shows a different
// bug. A run that errors counts as not failing.
func ShrinkPlan(ctx context.Context, s *Scenario, seed uint64, ms engine.Mutants, p faults.Plan) (faults.Plan, error) {
	whole, err := s.Run(ctx, RunOptions{Seed: seed, Plan: &p, Mutants: ms})
	if err != nil {
		return p, err
	}
	want := failedChecks(whole.Verdicts)
	if len(want) == 0 {
		return p, nil // nothing to keep failing
	}
	return faults.Shrink(p, func(try faults.Plan) bool {
		o, err := s.Run(ctx, RunOptions{Seed: seed, Plan: &try, Mutants: ms})
		if err != nil {
			return false
		}
		got := failedChecks(o.Verdicts)
		for k := range want {
			if !got[k] {
				return false
			}
		}
		return true
	}), nil
}

// failedChecks names each failing check by checker, verdict and anomaly.
func failedChecks(vs []checkers.Result) map[string]bool {
	out := map[string]bool{}
	for _, v := range vs {
		if v.Verdict != checkers.Ok {
			out[v.Checker+"\x00"+v.Verdict.String()+"\x00"+v.Anomaly] = true
		}
	}
	return out
}

// WriteMutantTable renders rows as a Markdown table, with the command that
// made it.
func WriteMutantTable(w io.Writer, rows []MutantRow, command string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Mutants\n\nEach mutant is a deliberate bug in the reference engine that re-creates a real exactly-once failure. Generated by:\n\n```\n%s\n```\n\n", command)
	gate := len(rows) > 0 && rows[0].GateCatch != ""
	b.WriteString("| mutant | scenario | caught by | anomaly | seeds until caught (5 bases) | median | shrunk schedule | correct engine, same seeds |")
	if gate {
		b.WriteString(" caught by the gate sweep: scenario/seed |")
	}
	b.WriteString(" wall time |\n|---|---|---|---|---|---|---|---|")
	if gate {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, r := range rows {
		var seeds []string
		for _, s := range r.SeedsUntilCaught {
			if s == 0 {
				seeds = append(seeds, "not caught")
			} else {
				seeds = append(seeds, fmt.Sprint(s))
			}
		}
		shrunk := "—"
		if r.Caught {
			var fs []string
			for _, f := range r.Shrunk.Faults {
				fs = append(fs, f.String())
			}
			shrunk = fmt.Sprintf("%d: %s", r.ShrunkFaults, strings.Join(fs, "; "))
			if r.ShrunkFaults == 0 {
				shrunk = "0 (fails without faults)"
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %.1f | %s | %d runs, %d failures |",
			r.Mutant, r.Scenario, r.Checker, r.Anomaly, strings.Join(seeds, ", "), r.MedianSeeds, shrunk, r.CorrectRuns, r.CorrectFailures)
		if gate {
			fmt.Fprintf(&b, " %s (%s) |", r.GateCatch, strings.Join(r.GateAnomalies, ", "))
		}
		fmt.Fprintf(&b, " %.1fs |\n", r.WallSeconds)
	}
	b.WriteString("\nWhat each mutant does:\n\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "- `%s`: %s.\n", r.Mutant, r.Description)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMutantResults writes the table as mutants.md and mutants.json in dir,
// each atomically.
func WriteMutantResults(dir string, rows []MutantRow, command string) error {
	var md strings.Builder
	if err := WriteMutantTable(&md, rows, command); err != nil {
		return err
	}
	data, err := json.MarshalIndent(struct {
		Command string      `json:"command"`
		Build   string      `json:"build"`
		Rows    []MutantRow `json:"rows"`
	}{command, Build(), rows}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode mutant table: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write mutant table: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "mutants.md"), []byte(md.String())); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "mutants.json"), append(data, '\n'))
}
