package checkers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// CheckpointState is what one completed checkpoint recorded and what
// restoring from it produced.
type CheckpointState struct {
	// ID is the checkpoint id.
	ID int64 `json:"id"`
	// Offsets maps "topic/partition" to the next source offset to read,
	// as recorded in the checkpoint: the input the state must reflect.
	Offsets map[string]int64 `json:"offsets"`
	// State maps each key to its value as the restore produced it.
	State map[string]string `json:"state"`
	// Read says when the checkpoint was read back from checkpoint storage
	// ("at completion", "at end of run"), for reports; empty says nothing.
	Read string `json:"read,omitempty"`
	// Lost lists the files of the checkpoint (metadata, task snapshots,
	// state files) that checkpoint storage no longer holds intact. A
	// completed checkpoint is a promise that the job can be restored from
	// it while it is retained; a file lost from it breaks that promise
	// whether or not anything tried to restore from it, so State is not
	// compared for such a checkpoint: it is lost state.
	Lost []LostFile `json:"lost,omitempty"`
}

// LostFile is one file of a completed checkpoint that could not be read back
// intact.
type LostFile struct {
	// Object is the file's path in checkpoint storage.
	Object string `json:"object"`
	// Reason says what is wrong: "missing", or the checksum or decoding
	// failure that was found.
	Reason string `json:"reason"`
}

// StateAtCheckpoint checks that, for every completed checkpoint, the state a
// restore produced equals the oracle's fold of the input up to the
// checkpoint's offsets. fold receives a copy of the offsets, so it cannot
// corrupt the history it is judged against.
//
// Checkpoints are judged in ID order. A checkpoint with Lost files is a
// violation, "lost-state", naming the checkpoint and its first lost file; it
// is reported before any mismatch, since a state that cannot be read says
// nothing about the fold. Otherwise the first mismatch is reported as
// "state-mismatch", naming the checkpoint, the first differing key in sorted
// order, and the wanted and restored values. A key the restore lost and a
// key it invented both count. With no checkpoints the check is vacuous and
// the verdict is Unknown, as it is for duplicate IDs or a nil fold.
func StateAtCheckpoint(cps []CheckpointState, fold func(offsets map[string]int64) map[string]string) Result {
	const name = "state-at-checkpoint"
	if fold == nil {
		return invalid(name, fmt.Errorf("no fold function"))
	}
	if len(cps) == 0 {
		return Result{
			Checker:     name,
			Verdict:     Unknown,
			Explanation: "no completed checkpoint to compare: the check is vacuous",
			Stats:       map[string]int{"checkpoints": 0},
		}
	}
	sorted := slices.Clone(cps)
	slices.SortStableFunc(sorted, func(a, b CheckpointState) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	for i := 1; i < len(sorted); i++ {
		if sorted[i].ID == sorted[i-1].ID {
			return invalid(name, fmt.Errorf("checkpoint id %d appears twice", sorted[i].ID))
		}
	}

	stats := map[string]int{
		"checkpoints":            len(sorted),
		"mismatched-checkpoints": 0,
		"missing-keys":           0,
		"extra-keys":             0,
		"changed-keys":           0,
	}
	if r, lost := lostState(name, sorted, stats); lost {
		return r
	}
	var firstBad, firstOffsets string
	var firstID int64
	for _, cp := range sorted {
		want := fold(maps.Clone(cp.Offsets))
		bad := ""
		for _, k := range unionKeys(want, cp.State) {
			w, inWant := want[k]
			g, inGot := cp.State[k]
			switch {
			case inWant && !inGot:
				stats["missing-keys"]++
			case !inWant && inGot:
				stats["extra-keys"]++
			case w != g:
				stats["changed-keys"]++
			default:
				continue
			}
			if bad == "" {
				bad = fmt.Sprintf("checkpoint %d%s key %q: want %s, got %s", cp.ID, readSuffix(cp.Read), k, describeValue(w, inWant), describeValue(g, inGot))
			}
		}
		if bad != "" {
			stats["mismatched-checkpoints"]++
			if firstBad == "" {
				firstBad, firstID, firstOffsets = bad, cp.ID, describeOffsets(cp.Offsets)
			}
		}
	}

	if firstBad == "" {
		return Result{
			Checker:     name,
			Verdict:     Ok,
			Explanation: fmt.Sprintf("restored state equals the fold of the input at all %d checkpoints", len(sorted)),
			Stats:       stats,
		}
	}
	return Result{
		Checker:  name,
		Verdict:  Violation,
		Anomaly:  "state-mismatch",
		FirstBad: firstBad,
		Explanation: fmt.Sprintf("%d of %d checkpoints restored a state that differs from the fold of the input (%d missing, %d extra, %d changed keys); first at checkpoint %d at offsets %s: %s",
			stats["mismatched-checkpoints"], len(sorted), stats["missing-keys"], stats["extra-keys"], stats["changed-keys"],
			firstID, firstOffsets, firstBad),
		Stats: stats,
	}
}

// CheckpointsIntact checks only that every completed checkpoint was read
// back whole: the part of StateAtCheckpoint that applies to a job with no
// state oracle (a stateless copier still checkpoints its offsets and its
// sinks' transactions). A checkpoint with Lost files is a violation,
// "lost-state"; with no checkpoints the check is vacuous: Unknown.
func CheckpointsIntact(cps []CheckpointState) Result {
	const name = "checkpoints-intact"
	if len(cps) == 0 {
		return Result{Checker: name, Verdict: Unknown, Explanation: "no completed checkpoint to read back: the check is vacuous",
			Stats: map[string]int{"checkpoints": 0}}
	}
	sorted := slices.Clone(cps)
	slices.SortStableFunc(sorted, func(a, b CheckpointState) int { return cmpInt64(a.ID, b.ID) })
	stats := map[string]int{"checkpoints": len(sorted)}
	if r, lost := lostState(name, sorted, stats); lost {
		return r
	}
	return Result{Checker: name, Verdict: Ok, Stats: stats,
		Explanation: fmt.Sprintf("all %d completed checkpoints read back whole from checkpoint storage", len(sorted))}
}

// lostState counts the lost files of sorted into stats and, if there are
// any, returns the lost-state violation naming the first.
func lostState(name string, sorted []CheckpointState, stats map[string]int) (Result, bool) {
	stats["lost-checkpoints"], stats["lost-files"] = 0, 0
	var first string
	for _, cp := range sorted {
		if len(cp.Lost) == 0 {
			continue
		}
		stats["lost-checkpoints"]++
		stats["lost-files"] += len(cp.Lost)
		if first == "" {
			first = fmt.Sprintf("checkpoint %d%s: %s: %s", cp.ID, readSuffix(cp.Read), cp.Lost[0].Object, cp.Lost[0].Reason)
		}
	}
	if first == "" {
		return Result{}, false
	}
	return Result{Checker: name, Verdict: Violation, Anomaly: "lost-state", FirstBad: first, Stats: stats,
		Explanation: fmt.Sprintf("%d of %d completed checkpoints lost %d files from checkpoint storage while retained; first %s",
			stats["lost-checkpoints"], len(sorted), stats["lost-files"], first)}, true
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readSuffix names when a checkpoint was read, for a report: " (read at
// end of run)".
func readSuffix(read string) string {
	if read == "" {
		return ""
	}
	return " (read " + read + ")"
}

// unionKeys returns the keys of a and b, sorted, so the first difference
// reported does not depend on map iteration order.
func unionKeys(a, b map[string]string) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// describeValue quotes a value, or says it is absent, so that an empty value
// and a missing key read differently in a report.
func describeValue(v string, present bool) string {
	if !present {
		return "<absent>"
	}
	return fmt.Sprintf("%q", v)
}

// describeOffsets prints offsets sorted by partition.
func describeOffsets(offsets map[string]int64) string {
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(offsets)) {
		parts = append(parts, fmt.Sprintf("%s=%d", p, offsets[p]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}
