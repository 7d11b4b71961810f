package checkers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// PartitionEnd is an output partition's offsets at the end of a run.
type PartitionEnd struct {
	// Name is "topic/partition".
	Name string `json:"name"`
	// HighWatermark is the offset after the last replicated record.
	HighWatermark int64 `json:"high_watermark"`
	// LastStableOffset is the offset before which every transaction is
	// decided; read_committed consumers read no further.
	LastStableOffset int64 `json:"last_stable_offset"`
}

// LivenessHistory is what Liveness needs from a run's liveness phase, which
// begins when the faults stop (HealAt).
type LivenessHistory struct {
	// HealAt is when the last fault was healed, in simulated nanoseconds.
	HealAt int64 `json:"heal_at"`
	// Bound is how long after HealAt a checkpoint must complete.
	Bound int64 `json:"bound"`
	// CheckpointsCompletedAfterHeal are completion times of checkpoints;
	// times outside [HealAt, HealAt+Bound] are allowed and ignored.
	CheckpointsCompletedAfterHeal []int64 `json:"checkpoints_completed_after_heal"`
	// InputEnd maps "topic/partition" to the input's end offset.
	InputEnd map[string]int64 `json:"input_end"`
	// Consumed maps "topic/partition" to the committed source position at
	// the end; a partition missing here consumed nothing.
	Consumed map[string]int64 `json:"consumed"`
	// Partitions are the output partitions at the end.
	Partitions []PartitionEnd `json:"partitions"`
	// End is when the run ended, in simulated nanoseconds.
	End int64 `json:"end"`
}

// Liveness checks that the job made progress once the faults stopped:
//
//   - "no-checkpoint-after-heal": no checkpoint completed in
//     [HealAt, HealAt+Bound]. If the run ended before HealAt+Bound the
//     verdict is Unknown instead: the run was too short to tell.
//   - "undrained-input": some source partition's committed position is
//     behind its end offset, named in sorted order.
//   - "stuck-lso": some output partition's last stable offset is below its
//     high watermark, so a transaction was left open and read_committed
//     readers are stuck behind it.
//
// All three are NoProgress, not Violation. A stuck LSO is a liveness failure
// of readers: nothing wrong was committed, but nothing after the open
// transaction will ever be visible. If it hides a real safety problem (the
// open transaction holds data that should have committed), the exactly-once
// checker reports that as lost writes. When several occur, Anomaly is the
// first in the order above and Stats counts each.
func Liveness(h LivenessHistory) Result {
	const name = "liveness"
	switch {
	case h.Bound < 0:
		return invalid(name, fmt.Errorf("negative bound %d", h.Bound))
	case h.End < h.HealAt:
		return invalid(name, fmt.Errorf("run ended at %d, before the heal at %d", h.End, h.HealAt))
	}

	stats := map[string]int{
		"checkpoints-in-bound":     0,
		"no-checkpoint-after-heal": 0,
		"undrained-input":          0,
		"stuck-lso":                0,
	}
	deadline := h.HealAt + h.Bound
	for _, at := range h.CheckpointsCompletedAfterHeal {
		if at >= h.HealAt && at <= deadline {
			stats["checkpoints-in-bound"]++
		}
	}
	var problems []string // "anomaly: detail", in precedence order
	var anomaly, firstBad string
	report := func(a, detail string) {
		stats[a]++
		problems = append(problems, a+": "+detail)
		if anomaly == "" {
			anomaly, firstBad = a, detail
		}
	}

	if stats["checkpoints-in-bound"] == 0 {
		if h.End < deadline {
			return Result{
				Checker: name,
				Verdict: Unknown,
				Explanation: fmt.Sprintf("inconclusive: the run ended at %d, before the bound for a checkpoint after the heal at %d expired at %d",
					h.End, h.HealAt, deadline),
				Stats: stats,
			}
		}
		report("no-checkpoint-after-heal", fmt.Sprintf("no checkpoint completed in [%d, %d] (healed at %d, bound %d)", h.HealAt, deadline, h.HealAt, h.Bound))
	}

	for _, p := range slices.Sorted(maps.Keys(h.InputEnd)) {
		end, consumed := h.InputEnd[p], h.Consumed[p]
		if consumed > end {
			return invalid(name, fmt.Errorf("source partition %s consumed up to %d, past its end %d", p, consumed, end))
		}
		if consumed < end {
			report("undrained-input", fmt.Sprintf("source partition %s consumed up to %d of %d", p, consumed, end))
		}
	}

	// Sorted by name so the first stuck partition reported does not depend
	// on the order the harness listed them in.
	parts := slices.Clone(h.Partitions)
	slices.SortStableFunc(parts, func(a, b PartitionEnd) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range parts {
		if p.LastStableOffset > p.HighWatermark {
			return invalid(name, fmt.Errorf("output partition %s: last stable offset %d above high watermark %d", p.Name, p.LastStableOffset, p.HighWatermark))
		}
		if p.LastStableOffset < p.HighWatermark {
			report("stuck-lso", fmt.Sprintf("output partition %s has last stable offset %d below high watermark %d at the end (%d): a transaction was left open",
				p.Name, p.LastStableOffset, p.HighWatermark, h.End))
		}
	}

	if anomaly == "" {
		return Result{
			Checker: name,
			Verdict: Ok,
			Explanation: fmt.Sprintf("%d checkpoints completed within %d of the heal at %d, %d source partitions drained, %d output partitions have no open transaction",
				stats["checkpoints-in-bound"], h.Bound, h.HealAt, len(h.InputEnd), len(h.Partitions)),
			Stats: stats,
		}
	}
	return Result{
		Checker:     name,
		Verdict:     NoProgress,
		Anomaly:     anomaly,
		FirstBad:    firstBad,
		Explanation: fmt.Sprintf("%d liveness failures after the heal at %d: %s", len(problems), h.HealAt, strings.Join(problems, "; ")),
		Stats:       stats,
	}
}
