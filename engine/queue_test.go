package engine

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestMsgQueueModel checks msgQueue against a plain slice under random
// pushes, pops and prepends.
func TestMsgQueueModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var q msgQueue
		var model []StreamMsg
		next := int64(0)
		msg := func() StreamMsg { next++; return StreamMsg{Kind: KindRecord, Checkpoint: next} }
		for range rapid.IntRange(0, 300).Draw(rt, "ops") {
			switch op := rapid.IntRange(0, 9).Draw(rt, "op"); {
			case op < 5:
				m := msg()
				q.push(m)
				model = append(model, m)
			case op < 9:
				if len(model) == 0 {
					continue
				}
				if got := q.pop(); got != model[0] {
					rt.Fatalf("pop: got %+v, want %+v", got, model[0])
				}
				model = model[1:]
			default:
				ms := []StreamMsg{msg(), msg()}
				q.prepend(ms)
				model = append(slices.Clone(ms), model...)
			}
			if q.len() != len(model) || !slices.Equal(q.items(), model) {
				rt.Fatalf("queue %v, model %v", q.items(), model)
			}
			if len(model) > 0 && *q.front() != model[0] {
				rt.Fatalf("front %+v, want %+v", *q.front(), model[0])
			}
		}
	})
}

// TestMsgQueueReusesArray checks that a queue that drains and refills does
// not allocate.
func TestMsgQueueReusesArray(t *testing.T) {
	var q msgQueue
	for range 64 {
		q.push(StreamMsg{})
	}
	for q.len() > 0 {
		q.pop()
	}
	allocs := testing.AllocsPerRun(100, func() {
		for range 64 {
			q.push(StreamMsg{})
		}
		for q.len() > 0 {
			q.pop()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per drain and refill, want 0", allocs)
	}
}
