package engine

import (
	"fmt"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
)

// Unaligned checkpoints (FLIP-76), as this engine does them.
//
// An aligned barrier waits in its channel's queue behind the records sent
// before it, and blocks its channel until the barrier has come on every
// input: under backpressure, a checkpoint waits for the whole backlog. An
// unaligned barrier is handled the moment it arrives, overtaking the records
// queued ahead of it:
//
//  1. At the first barrier of checkpoint n on any input, the task snapshots
//     its state at once and forwards the barrier; nothing is blocked.
//  2. The records it has not processed yet that belong before the barrier
//     are saved with the snapshot as channel state: every record queued at
//     that moment, and every record that arrives on an input until that
//     input's own barrier n arrives. They are still processed now, as
//     usual; the channel state is what a restore would otherwise lose,
//     since upstream will not send them again.
//  3. When barrier n has arrived on every input, the channel state is
//     complete: the snapshot is uploaded, and acked once durable.
//  4. A restore replays the channel state of each input before any new
//     input on it. Replayed records return no credit upstream: upstream did
//     not send them in this attempt.
//
// A checkpoint that starts aligned switches to unaligned when alignment
// takes longer than TaskConfig.AlignmentTimeout: inputs whose barrier has
// come unblock (what is queued behind it belongs after the barrier), and the
// others' queued records up to their barrier become channel state.
//
// Where it differs from Flink: the network keeps records and barriers in
// order (a barrier cannot overtake records still in flight on a link, only
// those queued at the receiving task), and the sender's output buffers are
// not part of the channel state, since a record leaves the sender the moment
// it is emitted.

// channelCapture collects the channel state of one unaligned checkpoint.
type channelCapture struct {
	checkpoint int64
	// collecting is set for the inputs whose barrier has not come yet.
	collecting []bool
	left       int
	state      [][]Record
	// upload is the snapshot's upload, waiting for the channel state.
	upload  func()
	firstAt int64
}

// unaligned reports whether barrier n is handled on arrival: in unaligned
// mode, or when its aligned checkpoint switched to unaligned.
func (t *Task) unaligned(n int64) bool {
	if t.capture != nil && t.capture.checkpoint == n {
		return true
	}
	return t.cfg.Unaligned && t.align == nil
}

// enqueueUnaligned handles a message on arrival for an unaligned
// checkpoint: a barrier is taken at once; a record on an input still owed
// its barrier is added to the channel state. It reports whether the message
// was consumed (a barrier never enters the queue).
func (t *Task) enqueueUnaligned(in int, m StreamMsg) bool {
	if len(t.inputs) == 0 {
		return false
	}
	switch m.Kind {
	case KindRecord:
		if cs := t.capture; cs != nil && cs.collecting[in] {
			cs.state[in] = append(cs.state[in], m.Record)
		}
		return false
	case KindBarrier:
		if !t.unaligned(m.Checkpoint) {
			return false
		}
		t.onUnalignedBarrier(in, m)
		return true
	}
	return false
}

func (t *Task) onUnalignedBarrier(in int, m StreamMsg) {
	n := m.Checkpoint
	t.event(protocol.BarrierReceived, n, fmt.Sprintf("input %d (unaligned)", in))
	if cs := t.capture; cs != nil && cs.checkpoint == n {
		t.captureDone(in)
		return
	}
	if n <= t.lastBarrier {
		return
	}
	// A newer checkpoint: whatever was captured for an older one belongs
	// to a checkpoint that can no longer complete.
	t.capture = nil
	t.startCapture(n, t.env.Now(), func(i int) bool { return i != in }, func(i int) []Record { return queuedRecords(t.inputs[i].queue.items(), 0) })
	t.event(protocol.Aligned, n, "unaligned")
	t.checkpoint(n, m.TriggeredAt, t.env.Now())
}

// startCapture begins collecting channel state for checkpoint n: owed
// reports which inputs still owe their barrier, queued what each input
// already holds that belongs before the barrier.
func (t *Task) startCapture(n, firstAt int64, owed func(int) bool, queued func(int) []Record) {
	cs := &channelCapture{checkpoint: n, collecting: make([]bool, len(t.inputs)), state: make([][]Record, len(t.inputs)), firstAt: firstAt}
	for i := range t.inputs {
		cs.state[i] = queued(i)
		if owed(i) {
			cs.collecting[i] = true
			cs.left++
		}
	}
	t.capture = cs
}

// captureDone records that input in delivered its barrier.
func (t *Task) captureDone(in int) {
	cs := t.capture
	if !cs.collecting[in] {
		return
	}
	cs.collecting[in] = false
	cs.left--
	if cs.left == 0 && cs.upload != nil {
		up := cs.upload
		cs.upload = nil
		up()
	}
}

// queuedRecords returns the records of q before the first barrier at or
// after from (the whole queue if there is none).
func queuedRecords(q []StreamMsg, from int64) []Record {
	var out []Record
	for _, m := range q {
		if m.Kind == KindBarrier && m.Checkpoint >= from {
			break
		}
		if m.Kind == KindRecord {
			out = append(out, m.Record)
		}
	}
	return out
}

// holdUpload defers the upload of checkpoint n until its channel state is
// complete, and attaches the channel state to the snapshot. It reports
// whether the upload must wait (upload is then called again later).
func (t *Task) holdUpload(n int64, snap *TaskSnapshot, upload func()) bool {
	cs := t.capture
	if cs == nil || cs.checkpoint != n {
		return false
	}
	if cs.left > 0 {
		cs.upload = upload
		return true
	}
	if !t.cfg.Mutants.Has(MutantUnalignedDropInflight) {
		for i, recs := range cs.state {
			if len(recs) > 0 {
				c := t.inputs[i]
				snap.ChannelState = append(snap.ChannelState, ChannelState{Input: c.input, Upstream: c.upstream, Records: recs})
			}
		}
	}
	t.capture = nil
	return false
}

// ChannelState is the in-flight input of one channel saved by an unaligned
// checkpoint, replayed before new input on restore.
type ChannelState struct {
	Input    int      `json:"input"`
	Upstream int      `json:"upstream"`
	Records  []Record `json:"records"`
}

// restoreChannelState queues the channel state of s ahead of any input.
func (t *Task) restoreChannelState(s *TaskSnapshot) {
	for _, c := range s.ChannelState {
		for i, in := range t.inputs {
			// Upstream -1: rescaled channel state, replayed on the
			// first channel of its input (rescale.go).
			if in.input != c.Input || (in.upstream != c.Upstream && c.Upstream != -1) {
				continue
			}
			replay := make([]StreamMsg, 0, len(c.Records))
			for _, r := range c.Records {
				replay = append(replay, StreamMsg{Kind: KindRecord, Record: r})
			}
			t.inputs[i].queue.prepend(replay)
			t.inputs[i].replay += len(c.Records)
			break
		}
	}
}

// armAlignmentTimeout switches the aligned checkpoint n to unaligned if it
// is still aligning after AlignmentTimeout.
func (t *Task) armAlignmentTimeout(n int64) {
	if t.cfg.AlignmentTimeout <= 0 {
		return
	}
	t.env.After(t.cfg.AlignmentTimeout, func() {
		a := t.align
		if t.failed || a == nil || a.checkpoint != n {
			return
		}
		t.align = nil
		t.startCapture(n, a.firstAt,
			func(i int) bool { return !a.received[i] && !queuedBarrier(t.inputs[i].queue.items(), n) },
			func(i int) []Record {
				if a.received[i] {
					return nil // what is queued behind a barrier belongs after it
				}
				return queuedRecords(t.inputs[i].queue.items(), n)
			})
		t.unblockAll()
		t.event(protocol.Aligned, n, fmt.Sprintf("alignment timed out after %v: unaligned", t.cfg.AlignmentTimeout))
		t.checkpoint(n, a.triggeredAt, a.firstAt)
		t.pump()
	})
}

// queuedBarrier reports whether q holds barrier n (it came, but waits
// behind records in aligned mode).
func queuedBarrier(q []StreamMsg, n int64) bool {
	for _, m := range q {
		if m.Kind == KindBarrier && m.Checkpoint == n {
			return true
		}
	}
	return false
}

// busy reports whether the task is still working on its last record (a
// simulated per-record cost), and arranges to pump again when it is done.
func (t *Task) busy() bool {
	if t.cfg.RecordCost <= 0 {
		return false
	}
	now := t.env.Now()
	if now >= t.busyUntil {
		return false
	}
	if !t.wakeSet {
		t.wakeSet = true
		t.env.After(time.Duration(t.busyUntil-now), func() {
			t.wakeSet = false
			t.pump()
		})
	}
	return true
}
