package target

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/onceproof/onceproof/checkers"
)

// SeedOutcome is one seed of a sweep.
type SeedOutcome struct {
	Seed    uint64           `json:"seed"`
	Verdict checkers.Verdict `json:"verdict"`
	// Faults is the schedule's length; FiredByKind counts those that acted.
	Faults      int            `json:"faults"`
	FiredByKind map[string]int `json:"fired_by_kind"`
	Elapsed     Duration       `json:"elapsed"`
	// Evicted counts the group members the harness evicted for kfake.
	Evicted  int    `json:"evicted,omitempty"`
	FirstBad string `json:"first_bad,omitempty"`
	Error    string `json:"error,omitempty"`
	// Bundle is the failure bundle's directory, if one was written.
	Bundle string `json:"bundle,omitempty"`
}

// SweepSummary totals a sweep.
type SweepSummary struct {
	Seeds []SeedOutcome `json:"seeds"`
	// Verdict is the worst verdict (Unknown for an empty sweep or one with
	// an errored seed).
	Verdict checkers.Verdict `json:"verdict"`
	// Verdicts counts seeds per verdict.
	Verdicts map[string]int `json:"verdicts"`
	// Scheduled and Fired count faults per kind over every seed.
	Scheduled map[string]int `json:"scheduled"`
	Fired     map[string]int `json:"fired"`
	// Evicted totals the members evicted for kfake over every seed.
	Evicted int      `json:"evicted"`
	Wall    Duration `json:"wall"`
}

// Sweep runs each seed's configuration (made by mk) with up to parallel
// runs at once and calls done for each outcome as it comes, in completion
// order. The summary lists seeds in seed order.
func Sweep(ctx context.Context, seeds []uint64, parallel int, mk func(seed uint64) Config, run RunFunc, done func(SeedOutcome, Config, *Result)) *SweepSummary {
	parallel = max(parallel, 1)
	outs := make([]SeedOutcome, len(seeds))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, seed := range seeds {
		if ctx.Err() != nil {
			outs[i] = SeedOutcome{Seed: seed, Verdict: checkers.Unknown, Error: "interrupted before it ran"}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cfg := mk(seed)
			o := SeedOutcome{Seed: seed, Faults: len(cfg.Schedule.Faults), FiredByKind: map[string]int{}}
			res, err := run(ctx, cfg)
			if err != nil {
				o.Verdict, o.Error = checkers.Unknown, err.Error()
			} else {
				o.Verdict, o.FiredByKind, o.Elapsed, o.FirstBad, o.Evicted = res.Verdict, res.FiredByKind, res.Elapsed, res.FirstBad, res.Evicted
			}
			mu.Lock()
			defer mu.Unlock()
			if done != nil {
				done(o, cfg, res)
			}
			outs[i] = o
		}()
	}
	wg.Wait()
	sum := &SweepSummary{Seeds: outs, Verdicts: map[string]int{}, Scheduled: map[string]int{}, Fired: map[string]int{}}
	var vs []checkers.Result
	for _, o := range outs {
		sum.Verdicts[o.Verdict.String()]++
		vs = append(vs, checkers.Result{Verdict: o.Verdict})
		sum.Evicted += o.Evicted
		for k, n := range o.FiredByKind { // lint:sorted sums
			sum.Fired[k] += n
		}
	}
	for _, s := range seeds {
		cfg := mk(s)
		for _, f := range cfg.Schedule.Faults {
			sum.Scheduled[f.Kind]++
		}
	}
	sum.Verdict = checkers.Worst(vs...)
	return sum
}

// FaultTable formats the per-kind counts of s, one kind a line.
func (s *SweepSummary) FaultTable() string {
	var b strings.Builder
	for _, k := range Kinds {
		if s.Scheduled[k] == 0 && s.Fired[k] == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %-18s %4d fired of %4d scheduled\n", k, s.Fired[k], s.Scheduled[k])
	}
	return b.String()
}

// Prebuild turns "go run [build flags] PKG [args]" into a binary built once
// in dir and the same args, so that a sweep or a restart does not pay for
// go run each time; any other command is returned as it is.
func Prebuild(cmd []string, dir string) ([]string, error) {
	if len(cmd) < 3 || filepath.Base(cmd[0]) != "go" || cmd[1] != "run" {
		return cmd, nil
	}
	// Build flags that take their value as the next argument.
	valued := map[string]bool{"-C": true, "-tags": true, "-ldflags": true, "-gcflags": true, "-asmflags": true, "-mod": true,
		"-modfile": true, "-p": true, "-exec": true, "-overlay": true, "-pgo": true, "-toolexec": true, "-installsuffix": true}
	i := 2
	for i < len(cmd) && strings.HasPrefix(cmd[i], "-") {
		if valued[cmd[i]] {
			i++
		}
		i++
	}
	if i >= len(cmd) {
		return cmd, nil
	}
	bin := filepath.Join(dir, "target-program")
	args := append(append([]string{"build", "-o", bin}, cmd[2:i]...), cmd[i])
	b := exec.Command(cmd[0], args...)
	b.Stderr = os.Stderr
	if err := b.Run(); err != nil {
		return nil, fmt.Errorf("go build %s (for go run): %w", cmd[i], err)
	}
	return append([]string{bin}, cmd[i+1:]...), nil
}
