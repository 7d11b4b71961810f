package faults

import (
	"testing"
	"time"
)

func TestShrinkKeepsOnlyWhatTheFailureNeeds(t *testing.T) {
	var p Plan
	for i := 0; i < 6; i++ {
		p.Faults = append(p.Faults, Fault{Trigger: At(time.Duration(i) * time.Millisecond), Action: Action{Kind: KillWorker, Worker: WorkerName(i % 3)}})
	}
	// The failure needs the faults at 1ms and 4ms together.
	needs := func(q Plan) bool {
		at := map[time.Duration]bool{}
		for _, f := range q.Faults {
			at[*f.Trigger.At] = true
		}
		return at[time.Millisecond] && at[4*time.Millisecond]
	}
	got := Shrink(p, needs)
	if len(got.Faults) != 2 || *got.Faults[0].Trigger.At != time.Millisecond || *got.Faults[1].Trigger.At != 4*time.Millisecond {
		t.Fatalf("got %s, want the faults at 1ms and 4ms", got)
	}
	if got := Shrink(p, func(Plan) bool { return true }); len(got.Faults) != 0 {
		t.Fatalf("a failure that needs no fault shrank to %d faults, want 0", len(got.Faults))
	}
}
