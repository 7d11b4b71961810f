package checkers

import (
	"maps"
	"strconv"
	"testing"
)

// stateInput is a two-partition input of keys; the job counts each key.
var stateInput = map[string][]string{
	"in/0": {"a", "b", "a", "c", "a"},
	"in/1": {"b", "b", "d"},
}

// countFold is the oracle: count each key over the input before offsets.
func countFold(offsets map[string]int64) map[string]string {
	counts := make(map[string]int)
	for p, recs := range stateInput {
		for i, k := range recs {
			if int64(i) < offsets[p] {
				counts[k]++
			}
		}
	}
	out := make(map[string]string, len(counts))
	for k, n := range counts {
		out[k] = strconv.Itoa(n)
	}
	return out
}

// goodCheckpoints are three checkpoints whose restored states were written
// out by hand, so the known-good case does not just compare the fold with
// itself.
func goodCheckpoints() []CheckpointState {
	return []CheckpointState{
		{ID: 1, Offsets: map[string]int64{"in/0": 0, "in/1": 0}, State: map[string]string{}},
		{ID: 2, Offsets: map[string]int64{"in/0": 3, "in/1": 1}, State: map[string]string{"a": "2", "b": "2"}},
		{ID: 3, Offsets: map[string]int64{"in/0": 5, "in/1": 3}, State: map[string]string{"a": "3", "b": "3", "c": "1", "d": "1"}},
	}
}

func TestStateAtCheckpoint(t *testing.T) {
	tests := []struct {
		name         string
		edit         func(cps []CheckpointState) []CheckpointState
		wantVerdict  Verdict
		wantAnomaly  string
		wantFirstBad string
		wantStats    map[string]int
	}{
		{
			name:        "good",
			edit:        func(cps []CheckpointState) []CheckpointState { return cps },
			wantVerdict: Ok,
			wantStats:   map[string]int{"checkpoints": 3, "mismatched-checkpoints": 0},
		},
		{
			name: "good in any order",
			edit: func(cps []CheckpointState) []CheckpointState {
				return []CheckpointState{cps[2], cps[0], cps[1]}
			},
			wantVerdict: Ok,
		},
		{
			name: "missing key",
			edit: func(cps []CheckpointState) []CheckpointState {
				delete(cps[2].State, "c")
				return cps
			},
			wantVerdict:  Violation,
			wantAnomaly:  "state-mismatch",
			wantFirstBad: `checkpoint 3 key "c": want "1", got <absent>`,
			wantStats:    map[string]int{"missing-keys": 1, "mismatched-checkpoints": 1},
		},
		{
			name: "extra key",
			edit: func(cps []CheckpointState) []CheckpointState {
				cps[1].State["z"] = ""
				return cps
			},
			wantVerdict:  Violation,
			wantAnomaly:  "state-mismatch",
			wantFirstBad: `checkpoint 2 key "z": want <absent>, got ""`,
			wantStats:    map[string]int{"extra-keys": 1},
		},
		{
			name: "changed value, state ahead of its offsets",
			edit: func(cps []CheckpointState) []CheckpointState {
				cps[1].State["a"] = "3"
				return cps
			},
			wantVerdict:  Violation,
			wantAnomaly:  "state-mismatch",
			wantFirstBad: `checkpoint 2 key "a": want "2", got "3"`,
			wantStats:    map[string]int{"changed-keys": 1},
		},
		{
			name: "first checkpoint by id and first key sorted",
			edit: func(cps []CheckpointState) []CheckpointState {
				cps[2].State["a"] = "0"
				cps[1].State["b"] = "9"
				cps[1].State["a"] = "9"
				return []CheckpointState{cps[2], cps[1], cps[0]}
			},
			wantVerdict:  Violation,
			wantAnomaly:  "state-mismatch",
			wantFirstBad: `checkpoint 2 key "a"`,
			wantStats:    map[string]int{"mismatched-checkpoints": 2, "changed-keys": 3},
		},
		{
			name: "restore of an empty state where one was due",
			edit: func(cps []CheckpointState) []CheckpointState {
				cps[2].State = nil
				return cps
			},
			wantVerdict:  Violation,
			wantAnomaly:  "state-mismatch",
			wantFirstBad: `checkpoint 3 key "a"`,
			wantStats:    map[string]int{"missing-keys": 4},
		},
		{
			name: "a retained checkpoint lost a shared state file",
			edit: func(cps []CheckpointState) []CheckpointState {
				cps[2].Read = "at end of run"
				cps[2].Lost = []LostFile{{Object: "checkpoints/job/shared/ab12.sst", Reason: "missing"}}
				return cps
			},
			wantVerdict:  Violation,
			wantAnomaly:  "lost-state",
			wantFirstBad: "checkpoint 3 (read at end of run): checkpoints/job/shared/ab12.sst: missing",
			wantStats:    map[string]int{"lost-checkpoints": 1, "lost-files": 1},
		},
		{
			name: "lost state outranks a mismatch, whatever the order",
			edit: func(cps []CheckpointState) []CheckpointState {
				cps[1].State["a"] = "9"
				cps[2].State = nil // what could be read of it: nothing
				cps[2].Lost = []LostFile{
					{Object: "checkpoints/job/chk-3/count-0", Reason: "corrupt snapshot: checksum mismatch"},
					{Object: "checkpoints/job/shared/cd34.sst", Reason: "missing"},
				}
				return []CheckpointState{cps[2], cps[1], cps[0]}
			},
			wantVerdict:  Violation,
			wantAnomaly:  "lost-state",
			wantFirstBad: "checkpoint 3: checkpoints/job/chk-3/count-0: corrupt snapshot",
			wantStats:    map[string]int{"lost-checkpoints": 1, "lost-files": 2},
		},
		{
			name:        "no checkpoints is vacuous",
			edit:        func(cps []CheckpointState) []CheckpointState { return nil },
			wantVerdict: Unknown,
		},
		{
			name: "duplicate id is malformed",
			edit: func(cps []CheckpointState) []CheckpointState {
				cps[1].ID = 1
				return cps
			},
			wantVerdict: Unknown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StateAtCheckpoint(tt.edit(goodCheckpoints()), countFold)
			checkResult(t, got, tt.wantVerdict, tt.wantAnomaly, tt.wantFirstBad, tt.wantStats)
		})
	}
}

func TestStateAtCheckpointNilFold(t *testing.T) {
	if got := StateAtCheckpoint(goodCheckpoints(), nil); got.Verdict != Unknown {
		t.Errorf("nil fold: got %s, want unknown", got.Verdict)
	}
}

func TestStateAtCheckpointFoldCannotCorruptOffsets(t *testing.T) {
	cps := goodCheckpoints()
	want := maps.Clone(cps[2].Offsets)
	StateAtCheckpoint(cps, func(offsets map[string]int64) map[string]string {
		got := countFold(offsets)
		offsets["in/0"] = -1
		return got
	})
	if !maps.Equal(cps[2].Offsets, want) {
		t.Errorf("offsets after fold: got %v, want %v", cps[2].Offsets, want)
	}
}

func TestCheckpointsIntact(t *testing.T) {
	good := goodCheckpoints()
	if got := CheckpointsIntact(good); got.Verdict != Ok || got.Checker != "checkpoints-intact" {
		t.Fatalf("good: got %s %s (%s), want ok from checkpoints-intact", got.Checker, got.Verdict, got.Explanation)
	}
	bad := goodCheckpoints()
	bad[1].Lost = []LostFile{{Object: "checkpoints/job/chk-2/count-0", Reason: "missing"}}
	got := CheckpointsIntact(bad)
	if got.Verdict != Violation || got.Anomaly != "lost-state" {
		t.Fatalf("lost snapshot: got %s %q (%s), want violation lost-state", got.Verdict, got.Anomaly, got.Explanation)
	}
	if want := "checkpoint 2: checkpoints/job/chk-2/count-0: missing"; got.FirstBad != want {
		t.Errorf("first bad: got %q, want %q", got.FirstBad, want)
	}
	if got := CheckpointsIntact(nil); got.Verdict != Unknown {
		t.Errorf("no checkpoints: got %s, want unknown", got.Verdict)
	}
}
