package checkers

import "testing"

// goodLiveness is a run that healed at 1000, checkpointed at 1500 (bound
// 1000), drained both source partitions and left no transaction open.
func goodLiveness() LivenessHistory {
	return LivenessHistory{
		HealAt:                        1000,
		Bound:                         1000,
		CheckpointsCompletedAfterHeal: []int64{900, 1500, 2500},
		InputEnd:                      map[string]int64{"in/0": 100, "in/1": 50},
		Consumed:                      map[string]int64{"in/0": 100, "in/1": 50},
		Partitions: []PartitionEnd{
			{Name: "out/0", HighWatermark: 80, LastStableOffset: 80},
			{Name: "out/1", HighWatermark: 0, LastStableOffset: 0},
		},
		End: 3000,
	}
}

func TestLiveness(t *testing.T) {
	tests := []struct {
		name         string
		edit         func(h *LivenessHistory)
		wantVerdict  Verdict
		wantAnomaly  string
		wantFirstBad string
		wantStats    map[string]int
	}{
		{
			name:        "good",
			edit:        func(h *LivenessHistory) {},
			wantVerdict: Ok,
			wantStats:   map[string]int{"checkpoints-in-bound": 1},
		},
		{
			name:        "checkpoint exactly at the bound",
			edit:        func(h *LivenessHistory) { h.CheckpointsCompletedAfterHeal = []int64{2000} },
			wantVerdict: Ok,
		},
		{
			name:         "no checkpoint after heal",
			edit:         func(h *LivenessHistory) { h.CheckpointsCompletedAfterHeal = nil },
			wantVerdict:  NoProgress,
			wantAnomaly:  "no-checkpoint-after-heal",
			wantFirstBad: "[1000, 2000]",
		},
		{
			name:         "checkpoints only before the heal and after the bound",
			edit:         func(h *LivenessHistory) { h.CheckpointsCompletedAfterHeal = []int64{999, 2001} },
			wantVerdict:  NoProgress,
			wantAnomaly:  "no-checkpoint-after-heal",
			wantFirstBad: "no checkpoint completed",
		},
		{
			name: "run too short to tell",
			edit: func(h *LivenessHistory) {
				h.CheckpointsCompletedAfterHeal = nil
				h.End = 1999
			},
			wantVerdict: Unknown,
		},
		{
			name: "undrained input, first partition by name",
			edit: func(h *LivenessHistory) {
				h.InputEnd["in/2"] = 10
				h.Consumed["in/1"] = 49
			},
			wantVerdict:  NoProgress,
			wantAnomaly:  "undrained-input",
			wantFirstBad: "in/1 consumed up to 49 of 50",
			wantStats:    map[string]int{"undrained-input": 2},
		},
		{
			name: "stuck lso",
			edit: func(h *LivenessHistory) {
				h.Partitions = append(h.Partitions, PartitionEnd{Name: "out/2", HighWatermark: 12, LastStableOffset: 7})
			},
			wantVerdict:  NoProgress,
			wantAnomaly:  "stuck-lso",
			wantFirstBad: "out/2 has last stable offset 7 below high watermark 12",
			wantStats:    map[string]int{"stuck-lso": 1},
		},
		{
			name: "no checkpoint outranks the rest, all counted",
			edit: func(h *LivenessHistory) {
				h.CheckpointsCompletedAfterHeal = nil
				h.Consumed["in/0"] = 0
				h.Partitions[0].LastStableOffset = 10
			},
			wantVerdict: NoProgress,
			wantAnomaly: "no-checkpoint-after-heal",
			wantStats:   map[string]int{"no-checkpoint-after-heal": 1, "undrained-input": 1, "stuck-lso": 1},
		},
		{
			name:        "consumed past the end is malformed",
			edit:        func(h *LivenessHistory) { h.Consumed["in/0"] = 101 },
			wantVerdict: Unknown,
		},
		{
			name:        "lso above hwm is malformed",
			edit:        func(h *LivenessHistory) { h.Partitions[0].LastStableOffset = 81 },
			wantVerdict: Unknown,
		},
		{
			name:        "negative bound is malformed",
			edit:        func(h *LivenessHistory) { h.Bound = -1 },
			wantVerdict: Unknown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := goodLiveness()
			tt.edit(&h)
			got := Liveness(h)
			checkResult(t, got, tt.wantVerdict, tt.wantAnomaly, tt.wantFirstBad, tt.wantStats)
		})
	}
}
