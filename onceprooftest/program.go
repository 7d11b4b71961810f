package onceprooftest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/target"
)

// ProgramOptions tune CheckProgram. The zero value is a sensible default
// for a test: two seeds, two instances, 200 records, drawn faults.
type ProgramOptions struct {
	// Seeds are the seeds to run (default 1 and 2). Each seed draws the
	// input and a fault schedule; it does not fix the interleaving.
	Seeds []uint64
	// Schedule, when set, is run for every seed instead of a drawn one.
	Schedule *target.Schedule
	// Faults per drawn schedule (0: 4 to 8; -1: none).
	Faults int
	// Kinds restricts the drawn fault kinds (default all, target.Kinds).
	Kinds []string
	// Instances, Brokers, Records and Keys size a run (defaults 2, 3, 200,
	// 16).
	Instances, Brokers, Records, Keys int
	// Window is the span the faults and the input are spread over
	// (default 4s).
	Window time.Duration
	// Deadline bounds each run (default 90s).
	Deadline time.Duration
	// NoShrink skips shrinking a failure (shrinking reruns the program,
	// ShrinkTries times per candidate, at most ShrinkRuns runs; defaults 2
	// and 16).
	NoShrink                bool
	ShrinkTries, ShrinkRuns int
	// BundleDir receives failure bundles (default: a directory under
	// os.TempDir() named for the test, kept after the test).
	BundleDir string
	// Verbose logs every run's progress.
	Verbose bool
}

// ExpectCopy is the contract of a program that copies each input record
// once, same key, value mapped by mapRule (see target.ParseMap; "" is
// identity).
func ExpectCopy(mapRule string) target.Contract {
	return target.Contract{Kind: target.Copy, Map: mapRule, Order: checkers.PerKey}
}

// ExpectCount is the contract of a program that writes a running count per
// key.
func ExpectCount() target.Contract {
	return target.Contract{Kind: target.Count, Order: checkers.PerKey}
}

// ExpectOracle is the contract an oracle program prints (see
// target.RunOracle for its protocol).
func ExpectOracle(cmd ...string) target.Contract {
	return target.Contract{Kind: target.Oracle, Oracle: cmd}
}

// CheckProgram runs cmd, the user's exactly-once consume-transform-produce
// program, as processes against an in-process Kafka under the faults of
// each seed (see package target and "chaosrun target"), and fails t for
// every seed whose output breaks contract: with the first bad record, the
// smallest schedule that still failed and how often, the bundle, and the
// chaosrun command that reruns it. A "go run PKG" command is built once.
//
// A run is not deterministic (real processes, real clock), so a pass is
// evidence, not proof; more seeds are more evidence.
func CheckProgram(t testing.TB, cmd []string, contract target.Contract, opts ProgramOptions) {
	t.Helper()
	if err := contract.Validate(); err != nil {
		t.Fatalf("onceproof: contract: %v", err)
	}
	if err := target.CheckCommand(cmd); err != nil {
		t.Fatalf("onceproof: command: %v", err)
	}
	seeds := opts.Seeds
	if len(seeds) == 0 {
		seeds = []uint64{1, 2}
	}
	instances := max(opts.Instances, 2)
	if opts.Instances > 0 {
		instances = opts.Instances
	}
	window := opts.Window
	if window <= 0 {
		window = 4 * time.Second
	}
	bundles := opts.BundleDir
	if bundles == "" {
		bundles = filepath.Join(os.TempDir(), "onceproof-target-"+strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	}
	if err := os.MkdirAll(bundles, 0o755); err != nil {
		t.Fatalf("onceproof: bundle directory: %v", err)
	}
	build, err := os.MkdirTemp("", "onceproof-build-")
	if err != nil {
		t.Fatalf("onceproof: %v", err)
	}
	defer os.RemoveAll(build)
	program, err := target.Prebuild(cmd, build)
	if err != nil {
		t.Fatalf("onceproof: %v", err)
	}
	ctx := context.Background()
	for _, seed := range seeds {
		s := opts.Schedule
		if s == nil {
			s = &target.Schedule{Seed: seed}
			if opts.Faults >= 0 {
				s = target.Generate(seed, target.GenerateOptions{Instances: instances, Window: window, Faults: opts.Faults, Kinds: opts.Kinds})
			}
		}
		cfg := target.Config{
			Command: program, Contract: contract, Seed: seed, Schedule: s,
			Instances: instances, Brokers: opts.Brokers, Records: opts.Records, Keys: opts.Keys,
			InputSpan: target.Duration(window), Deadline: target.Duration(opts.Deadline),
		}
		if opts.Verbose {
			cfg.Progress = logWriter{t}
		}
		res, dir, err := runProgram(ctx, cfg, bundles)
		if err != nil {
			t.Fatalf("onceproof: program %s seed %d: %v", strings.Join(cmd, " "), seed, err)
		}
		if res.Verdict == checkers.Ok {
			t.Logf("onceproof: program %s seed %d: ok in %.1fs, %d faults fired", strings.Join(cmd, " "), seed, time.Duration(res.Elapsed).Seconds(), fired(res))
			continue
		}
		var sr *target.ShrinkResult
		if !opts.NoShrink && len(s.Faults) > 0 && (res.Verdict == checkers.Violation || res.Verdict == checkers.NoProgress) {
			sr, err = target.Shrink(ctx, cfg, res.Verdict, target.ShrinkOptions{Tries: defaultInt(opts.ShrinkTries, 2), MaxRuns: defaultInt(opts.ShrinkRuns, 16)},
				func(ctx context.Context, c target.Config) (*target.Result, error) {
					c.Progress = nil
					r, d, err := runProgram(ctx, c, bundles)
					if d != "" {
						os.RemoveAll(d)
					}
					return r, err
				})
			if err != nil {
				t.Logf("onceproof: shrink stopped: %v", err)
				sr = nil
			}
		}
		final := filepath.Join(bundles, fmt.Sprintf("target-seed%d", seed))
		schedFile := "schedule.json"
		if sr != nil {
			schedFile = "shrunk-schedule.json"
		}
		repro := fmt.Sprintf("chaosrun target %s --seed %d --schedule %s --instances %d -- %s",
			contractFlags(contract), seed, filepath.Join(final, schedFile), instances, strings.Join(cmd, " "))
		b := &target.Bundle{Dir: dir, Command: cmd, Config: cfg, Result: res, Shrink: sr, Build: "onceprooftest", Reproduce: repro}
		where := final
		if err := b.Write(); err != nil {
			where = "not written: " + err.Error()
		} else if err := os.RemoveAll(final); err != nil {
			where = "not moved: " + err.Error()
		} else if err := os.Rename(dir, final); err != nil {
			where = "not moved: " + err.Error()
		}
		var msg strings.Builder
		fmt.Fprintf(&msg, "onceproof: program %s failed at seed %d: %s\n", strings.Join(cmd, " "), seed, res.Verdict)
		for _, r := range res.Results {
			if r.Verdict != checkers.Ok {
				fmt.Fprintf(&msg, "  %s\n", r)
			}
		}
		if sr != nil {
			fmt.Fprintf(&msg, "smallest failing schedule (%d of %d faults, failed %d of %d reruns):\n", len(sr.Schedule.Faults), sr.Original, sr.Failed, sr.Tries)
			for _, l := range sr.Schedule.Lines() {
				fmt.Fprintf(&msg, "  %s\n", l)
			}
		} else {
			fmt.Fprintf(&msg, "schedule (%d faults):\n", len(s.Faults))
			for _, l := range s.Lines() {
				fmt.Fprintf(&msg, "  %s\n", l)
			}
		}
		fmt.Fprintf(&msg, "bundle: %s\nrerun (not deterministic: it may pass): %s", where, repro)
		t.Errorf("%s", msg.String())
	}
}

// runProgram runs cfg in a fresh directory under dir and removes it unless
// the run failed.
func runProgram(ctx context.Context, cfg target.Config, dir string) (*target.Result, string, error) {
	d, err := os.MkdirTemp(dir, fmt.Sprintf(".seed%d-", cfg.Seed))
	if err != nil {
		return nil, "", err
	}
	cfg.Dir = d
	res, err := target.Run(ctx, cfg)
	if err != nil || res.Verdict == checkers.Ok {
		os.RemoveAll(d)
		d = ""
	}
	return res, d, err
}

func contractFlags(c target.Contract) string {
	switch c.Kind {
	case target.Oracle:
		return "--oracle '" + strings.Join(c.Oracle, " ") + "'"
	case target.Copy:
		if c.Map != "" {
			return "--expect copy --map '" + c.Map + "'"
		}
	}
	return "--expect " + string(c.Kind)
}

func fired(r *target.Result) int {
	n := 0
	for _, v := range r.FiredByKind { // lint:sorted a sum
		n += v
	}
	return n
}

func defaultInt(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
