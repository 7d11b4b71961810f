package engine

import (
	"fmt"
	"sort"
	"strings"
)

// Restoring at a different parallelism (rescaling).
//
// A checkpoint records each vertex's parallelism. When a vertex runs at
// another one after the restore, every new subtask reads the snapshots of
// all the vertex's old subtasks and takes its share:
//
//   - keyed state and timers of the key groups it now owns (key groups are
//     the unit that moves; a key never changes key group);
//   - the positions of the source partitions it now reads (partition p
//     belongs to subtask p mod parallelism);
//   - for a sink, the pending transactions of every old subtask k with
//     k mod newParallelism = its index, which it commits on restore, and
//     those old subtasks' transactional ids, which it fences, since no
//     subtask with their index exists any more to do it;
//   - channel state (unaligned checkpoints): records of a keyed vertex go
//     to the subtask owning their key group, others by old subtask index.
//
// Pebble-backed state is not rescaled: its snapshot is one database per
// subtask, and merging databases is not implemented.

// startRescaled loads every old snapshot of the vertex, merges this task's
// share and starts from it.
func (t *Task) startRescaled() {
	snaps := make([]*TaskSnapshot, 0, len(t.dep.Handles))
	var load func(i int)
	load = func(i int) {
		if i == len(t.dep.Handles) {
			merged, err := t.mergeSnapshots(snaps)
			if err != nil {
				t.fail(Failure{Reason: fmt.Sprintf("restore from checkpoint %d at parallelism %d: %v", t.dep.Restore, t.v.Parallelism, err)})
				return
			}
			t.begin(merged)
			return
		}
		t.env.Load(t.dep.Handles[i], func(data []byte, err error) {
			var s *TaskSnapshot
			if err == nil {
				s, err = DecodeSnapshot(data)
			}
			if err != nil {
				t.fail(Failure{Reason: fmt.Sprintf("restore from checkpoint %d: %s: %v", t.dep.Restore, t.dep.Handles[i], err), RestoreCheckpoint: t.dep.Restore})
				return
			}
			snaps = append(snaps, s)
			load(i + 1)
		})
	}
	load(0)
}

// oldSubtask reads the subtask index from a snapshot's task name
// "vertex/subtask".
func oldSubtask(s *TaskSnapshot) (int, error) {
	_, idx, ok := strings.Cut(s.Task, "/")
	var k int
	if _, err := fmt.Sscan(idx, &k); !ok || err != nil {
		return 0, fmt.Errorf("snapshot of %q names no subtask", s.Task)
	}
	return k, nil
}

// mergeSnapshots builds this task's snapshot from the old subtasks'.
func (t *Task) mergeSnapshots(snaps []*TaskSnapshot) (*TaskSnapshot, error) {
	newPar := t.v.Parallelism
	kgPar := newPar
	if t.cfg.Mutants.Has(MutantKeyGroupMisroute) {
		// Mutant: the key-group ranges are computed with the old
		// parallelism, so some groups land on no subtask and others on
		// two.
		kgPar = t.dep.OldParallelism
	}
	start, end := KeyGroupRange(t.id.Subtask, t.job.MaxParallelism, kgPar)
	mine := func(kg int) bool { return kg >= start && kg < end }
	out := &TaskSnapshot{Task: t.name, Checkpoint: t.dep.Restore}
	for _, s := range snaps {
		if len(s.Files) > 0 {
			return nil, fmt.Errorf("%s: rescaling pebble-backed state is not supported", s.Task)
		}
		k, err := oldSubtask(s)
		if err != nil {
			return nil, err
		}
		for _, g := range s.Keyed {
			if mine(g.KG) {
				out.Keyed = append(out.Keyed, g)
			}
		}
		for _, tm := range s.Timers {
			if mine(tm.KG) {
				out.Timers = append(out.Timers, tm)
			}
		}
		for _, tm := range s.EventTimers {
			if mine(tm.KG) {
				out.EventTimers = append(out.EventTimers, tm)
			}
		}
		if s.Watermarks != nil && (out.Watermarks == nil || s.Watermarks.Current < out.Watermarks.Current) {
			out.Watermarks = s.Watermarks // the lowest: nothing fires early
		}
		if s.Source != nil {
			if out.Source == nil {
				out.Source = &SourceState{Topic: s.Source.Topic}
			}
			out.Source.Positions = append(out.Source.Positions, s.Source.Positions...)
		}
		if s.Sink != nil && k%newPar == t.id.Subtask {
			if out.Sink == nil {
				out.Sink = &SinkState{}
			}
			out.Sink.Pending = append(out.Sink.Pending, s.Sink.Pending...)
		}
		if t.snk != nil && k%newPar == t.id.Subtask && k != t.id.Subtask {
			t.fenceSubtasks = append(t.fenceSubtasks, k)
		}
		for _, cs := range s.ChannelState {
			for _, r := range cs.Records {
				if t.takesChannelRecord(k, r) {
					out.ChannelState = appendChannelRecord(out.ChannelState, cs.Input, r)
				}
			}
		}
	}
	sort.Ints(t.fenceSubtasks)
	return out, nil
}

// takesChannelRecord reports whether a record an old subtask k held as
// channel state is replayed here.
func (t *Task) takesChannelRecord(k int, r Record) bool {
	if t.v.Keyed {
		return SubtaskForKeyGroup(KeyGroup(r.Key, t.job.MaxParallelism), t.job.MaxParallelism, t.v.Parallelism) == t.id.Subtask
	}
	return k%t.v.Parallelism == t.id.Subtask
}

// appendChannelRecord adds r to the channel state of vertex input in, on
// the task's first channel of that input.
func appendChannelRecord(cs []ChannelState, in int, r Record) []ChannelState {
	for i := range cs {
		if cs[i].Input == in {
			cs[i].Records = append(cs[i].Records, r)
			return cs
		}
	}
	return append(cs, ChannelState{Input: in, Upstream: -1, Records: []Record{r}})
}
