package checkers

import (
	"fmt"
	"time"
)

// CheckpointAt is one checkpoint's trigger or completion, at a simulated
// (or wall-clock) time in nanoseconds.
type CheckpointAt struct {
	Checkpoint int64 `json:"checkpoint"`
	At         int64 `json:"at"`
}

// ProgressHistory is what Progress needs: every checkpoint the coordinator
// triggered and every one it completed, in the order they happened across
// coordinator failovers, and when the faults healed.
type ProgressHistory struct {
	Triggered []CheckpointAt `json:"triggered"`
	Completed []CheckpointAt `json:"completed"`
	// HealAt is when the last fault healed; Bound is how long after it a
	// checkpoint must complete; End is when the run ended.
	HealAt int64 `json:"heal_at"`
	Bound  int64 `json:"bound"`
	End    int64 `json:"end"`
}

// Progress checks that checkpointing itself works, which a drained input
// does not show (a job can consume everything and still never complete
// another checkpoint):
//
//   - "checkpoint-id-reused" (Violation): a triggered id is not above every
//     id triggered before it. Sinks name transactions after checkpoint ids
//     and tasks drop a barrier they have passed, so a reused id can commit
//     another checkpoint's transaction, or stall every later checkpoint.
//   - "no-checkpoint-after-heal" (NoProgress): no checkpoint completed in
//     [HealAt, HealAt+Bound]. If the run ended before that deadline without
//     one, the verdict is Unknown: the run was too short to tell.
func Progress(h ProgressHistory) Result {
	const name = "progress"
	if h.Bound < 0 {
		return invalid(name, fmt.Errorf("negative bound %d", h.Bound))
	}
	for i := 1; i < len(h.Triggered); i++ {
		prev, cur := h.Triggered[i-1], h.Triggered[i]
		if cur.Checkpoint <= prev.Checkpoint {
			return Result{Checker: name, Verdict: Violation, Anomaly: "checkpoint-id-reused",
				Explanation: fmt.Sprintf("checkpoint %d was triggered at %v after checkpoint %d at %v: ids must only grow, across coordinator failovers too",
					cur.Checkpoint, time.Duration(cur.At), prev.Checkpoint, time.Duration(prev.At)),
				Stats: map[string]int{"triggered": len(h.Triggered), "completed": len(h.Completed)}}
		}
	}
	deadline := h.HealAt + h.Bound
	for _, c := range h.Completed {
		if c.At >= h.HealAt && c.At <= deadline {
			return Result{Checker: name, Verdict: Ok,
				Explanation: fmt.Sprintf("%d checkpoints triggered with growing ids; checkpoint %d completed %v after the faults healed (bound %v)",
					len(h.Triggered), c.Checkpoint, time.Duration(c.At-h.HealAt), time.Duration(h.Bound)),
				Stats: map[string]int{"triggered": len(h.Triggered), "completed": len(h.Completed)}}
		}
	}
	if h.End < deadline {
		return Result{Checker: name, Verdict: Unknown, Anomaly: "run-too-short",
			Explanation: fmt.Sprintf("inconclusive: no checkpoint completed after the heal at %v, and the run ended at %v, before the bound expired at %v",
				time.Duration(h.HealAt), time.Duration(h.End), time.Duration(deadline))}
	}
	last := "none completed"
	if n := len(h.Completed); n > 0 {
		last = fmt.Sprintf("the last, %d, at %v", h.Completed[n-1].Checkpoint, time.Duration(h.Completed[n-1].At))
	}
	return Result{Checker: name, Verdict: NoProgress, Anomaly: "no-checkpoint-after-heal",
		Explanation: fmt.Sprintf("no checkpoint completed within %v of the heal at %v (%s)", time.Duration(h.Bound), time.Duration(h.HealAt), last),
		Stats:       map[string]int{"triggered": len(h.Triggered), "completed": len(h.Completed)}}
}
