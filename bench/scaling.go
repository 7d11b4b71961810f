package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/live/livetest"
)

// ScalingResult is one job run live at several parallelisms, one after
// another on the same machine, each on a broker of its own: how its
// throughput grows with the subtasks.
type ScalingResult struct {
	Parallelism []int        `json:"parallelism"`
	Runs        []*RunResult `json:"runs"`
}

// ValidateScaling reports what makes ps an invalid list of parallelisms
// for o: each at least 1, none twice, and none of the options that tie a
// run to one job (a kill, a resume, a job id, named topics, a rate).
func ValidateScaling(o RunOptions, ps []int) error {
	for i, p := range ps {
		if p < 1 {
			return fmt.Errorf("--parallelism: must be at least 1, got %d", p)
		}
		if slices.Contains(ps[:i], p) {
			return fmt.Errorf("--parallelism: %d twice", p)
		}
	}
	switch {
	case len(ps) < 2:
		return nil
	case o.Rate > 0 || o.Duration > 0:
		return errors.New("--parallelism with several values measures throughput over preloaded --records; --rate and --duration bound it by the input instead")
	case o.KillAt > 0:
		return errors.New("--parallelism with several values and --kill-at: a scaling table measures throughput, not recovery; give one parallelism")
	case o.Resume:
		return errors.New("--parallelism with several values and --from-checkpoint: a resume runs the killed run's parallelism")
	case o.JobID != "" || o.CheckpointDir != "" || len(o.InputTopics) > 0 || o.OutputTopic != "":
		return errors.New("--parallelism with several values and --job-id, --checkpoint-dir, --input-topic or --output-topic: each run is a job of its own, with topics and checkpoints of its own")
	}
	return nil
}

// RunScaling runs o once at each parallelism of ps, in that order.
func RunScaling(ctx context.Context, o RunOptions, ps []int) (*ScalingResult, error) {
	if err := ValidateScaling(o, ps); err != nil {
		return nil, err
	}
	res := &ScalingResult{Parallelism: ps}
	for i, p := range ps {
		o.Parallelism = p
		logf(o.Log, "scaling: run %d of %d, parallelism %d", i+1, len(ps), p)
		r, err := Run(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("parallelism %d: %w", p, err)
		}
		res.Runs = append(res.Runs, r)
	}
	return res, nil
}

// Verdicts are every run's, so that the table passes only if each did.
func (s *ScalingResult) Verdicts() []checkers.Result {
	var out []checkers.Result
	for _, r := range s.Runs {
		for _, v := range r.Verdicts {
			v.Explanation = fmt.Sprintf("parallelism %d: %s", r.Options.Parallelism, v.Explanation)
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Print writes the scaling table: throughput, its speed-up over the
// first row and the efficiency (speed-up over the parallelism's ratio).
func (s *ScalingResult) Print(w io.Writer) {
	if len(s.Runs) == 0 {
		return
	}
	o := s.Runs[0].Options
	fmt.Fprintf(w, "scaling   %s  %d partitions  %d records  %s  %s state  checkpoints %s every %v\n",
		o.Job, o.Partitions, o.Records, o.Guarantee, o.Backend, o.Checkpoints, o.Interval)
	fmt.Fprintf(w, "%11s %14s %9s %10s %14s %11s %10s  %s\n", "parallelism", "records/s", "speed-up", "efficiency", "records/CPU-s", "checkpoints", "peak RSS", "verdict")
	base := s.Runs[0]
	for _, r := range s.Runs {
		up := r.RecordsPerSec / base.RecordsPerSec
		eff := up / (float64(r.Options.Parallelism) / float64(base.Options.Parallelism))
		verdict := livetest.Verdict(r.Verdicts).String()
		if len(r.Verdicts) == 0 {
			verdict = "not checked"
		}
		fmt.Fprintf(w, "%11d %14.0f %8.2fx %9.0f%% %14.0f %11d %10s  %s\n", r.Options.Parallelism, r.RecordsPerSec, up, 100*eff,
			r.RecordsPerCPUSec, len(r.Checkpoints), bytesString(r.PeakRSSBytes), verdict)
	}
	if maxP := slices.Max(s.Parallelism); int(o.Partitions) < maxP {
		fmt.Fprintf(w, "note      %d partitions: at parallelism above that, some source subtasks have nothing to read (give --partitions %d)\n", o.Partitions, maxP)
	}
}
