package target

import (
	"context"
	"fmt"
	"time"

	"github.com/onceproof/onceproof/checkers"
)

// ShrinkOptions bound a shrink.
type ShrinkOptions struct {
	// Tries is how many times a candidate schedule is run before it is
	// taken to pass (default 3); a candidate fails at its first failing
	// run. The final schedule is run Tries times to say how often it
	// fails.
	Tries int `json:"tries"`
	// MaxRuns bounds the program runs (default 40).
	MaxRuns int `json:"max_runs"`
	// Budget bounds the shrink's wall time (default 8m).
	Budget Duration `json:"budget"`
	// Progress, when set, gets a line per candidate.
	Progress func(format string, a ...any) `json:"-"`
}

// ShrinkResult is the smallest schedule found that still fails.
type ShrinkResult struct {
	// Original is the number of faults of the failing schedule.
	Original int `json:"original"`
	// Schedule is the smallest failing schedule found.
	Schedule *Schedule `json:"schedule"`
	// Failed of Tries final runs of Schedule failed the same way.
	Failed int `json:"failed"`
	Tries  int `json:"tries"`
	// Verdict is the failure being kept: a candidate "fails" when its run
	// ends in this verdict.
	Verdict checkers.Verdict `json:"verdict"`
	// Runs is the number of program runs the shrink took.
	Runs int `json:"runs"`
	// Exhausted is set when the run or time budget ended the search
	// before ddmin finished: Schedule still fails but may not be minimal.
	Exhausted bool `json:"exhausted,omitempty"`
	// Steps logs each candidate and its outcome.
	Steps []string `json:"steps"`
}

// RunFunc runs one configuration; Shrink and Sweep take it so that tests
// can count or fake runs.
type RunFunc func(ctx context.Context, cfg Config) (*Result, error)

// Shrink reduces cfg's failing schedule with ddmin: it reruns subsets of the
// faults (each candidate up to Tries times, since a target run is not
// deterministic) and keeps the smallest subset that still ends in verdict.
// cfg.Dir must be empty or writable for every run; run sets it as needed.
func Shrink(ctx context.Context, cfg Config, verdict checkers.Verdict, o ShrinkOptions, run RunFunc) (*ShrinkResult, error) {
	defaultTo(&o.Tries, 3)
	defaultTo(&o.MaxRuns, 40)
	defaultTo(&o.Budget, Duration(8*time.Minute))
	say := func(format string, a ...any) {
		if o.Progress != nil {
			o.Progress(format, a...)
		}
	}
	full := cfg.Schedule
	sr := &ShrinkResult{Original: len(full.Faults), Schedule: full, Verdict: verdict, Tries: o.Tries}
	end := time.Now().Add(time.Duration(o.Budget))
	out := func() bool { return sr.Runs >= o.MaxRuns || time.Now().After(end) || ctx.Err() != nil }

	// fails runs the subset until it fails or Tries runs pass.
	fails := func(idx []int) (bool, error) {
		s := full.Subset(idx)
		for try := 1; try <= o.Tries; try++ {
			if out() {
				sr.Exhausted = true
				return false, nil
			}
			c := cfg
			c.Schedule = s
			sr.Runs++
			res, err := run(ctx, c)
			if err != nil {
				return false, err
			}
			if res.Verdict == verdict {
				sr.Steps = append(sr.Steps, fmt.Sprintf("%d faults %v: %s on try %d", len(idx), idx, res.Verdict, try))
				say("shrink: %d of %d faults %v: still %s (try %d)", len(idx), len(full.Faults), idx, res.Verdict, try)
				return true, nil
			}
		}
		sr.Steps = append(sr.Steps, fmt.Sprintf("%d faults %v: passed %d tries", len(idx), idx, o.Tries))
		say("shrink: %d of %d faults %v: did not fail in %d tries", len(idx), len(full.Faults), idx, o.Tries)
		return false, nil
	}

	c := make([]int, len(full.Faults))
	for i := range c {
		c[i] = i
	}
	// The empty schedule first: a program that fails without faults needs
	// none to reproduce.
	if ok, err := fails(nil); err != nil {
		return nil, err
	} else if ok {
		c = nil
	}
	n := 2
	for len(c) >= 2 && !sr.Exhausted {
		chunks := split(c, n)
		reduced := false
		for _, s := range chunks {
			ok, err := fails(s)
			if err != nil {
				return nil, err
			}
			if ok {
				c, n, reduced = s, 2, true
				break
			}
		}
		if !reduced && n > 2 {
			for i := range chunks {
				comp := complement(c, chunks[i])
				ok, err := fails(comp)
				if err != nil {
					return nil, err
				}
				if ok {
					c, n, reduced = comp, max(n-1, 2), true
					break
				}
			}
		}
		if !reduced {
			if n >= len(c) {
				break
			}
			n = min(2*n, len(c))
		}
	}
	sr.Schedule = full.Subset(c)
	// How often the result fails, counted over fresh runs.
	for range o.Tries {
		if ctx.Err() != nil {
			break
		}
		cc := cfg
		cc.Schedule = sr.Schedule
		sr.Runs++
		res, err := run(ctx, cc)
		if err != nil {
			return nil, err
		}
		if res.Verdict == verdict {
			sr.Failed++
		}
	}
	say("shrink: %d of %d faults, failed %d of %d reruns, %d runs in all", len(sr.Schedule.Faults), sr.Original, sr.Failed, sr.Tries, sr.Runs)
	return sr, nil
}

// split cuts c into n nearly equal, non-empty chunks.
func split(c []int, n int) [][]int {
	var out [][]int
	start := 0
	for i := range n {
		end := start + (len(c)-start)/(n-i)
		if end > start {
			out = append(out, c[start:end])
		}
		start = end
	}
	return out
}

func complement(c, s []int) []int {
	drop := map[int]bool{}
	for _, x := range s {
		drop[x] = true
	}
	var out []int
	for _, x := range c {
		if !drop[x] {
			out = append(out, x)
		}
	}
	return out
}
