package engine

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestTimerQueueModel checks timerQueue against a sorted set under random
// registrations, deletions and pops, duplicates included.
func TestTimerQueueModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var q timerQueue
		model := map[timer]bool{}
		draw := func() timer {
			return timer{At: rapid.Int64Range(0, 20).Draw(rt, "at"), KG: rapid.IntRange(0, 3).Draw(rt, "kg"),
				Key: fmt.Sprint(rapid.IntRange(0, 3).Draw(rt, "key"))}
		}
		sortedModel := func() []timer {
			var out []timer
			for tm := range model { // lint:sorted sorted below
				out = append(out, tm)
			}
			sortTimers(out)
			return out
		}
		for range rapid.IntRange(0, 200).Draw(rt, "ops") {
			switch rapid.IntRange(0, 2).Draw(rt, "op") {
			case 0:
				tm := draw()
				q.add(tm)
				model[tm] = true
			case 1:
				tm := draw()
				q.remove(tm)
				delete(model, tm)
			case 2:
				want := sortedModel()
				got, ok := q.peek()
				if ok != (len(want) > 0) {
					rt.Fatalf("peek found %v, model holds %d timers", ok, len(want))
				}
				if !ok {
					continue
				}
				if got != want[0] {
					rt.Fatalf("peek %+v, want %+v", got, want[0])
				}
				if p := q.pop(); p != got {
					rt.Fatalf("pop %+v after peek %+v", p, got)
				}
				delete(model, got)
			}
			if q.len() != len(model) || !slices.Equal(q.sorted(), sortedModel()) {
				rt.Fatalf("queue %v, model %v", q.sorted(), sortedModel())
			}
		}
	})
}
