package engine

import (
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TaskEnv is everything a task asks of the world it runs in. The simulator
// and the live runner implement it; the task never does I/O any other way.
//
// Ordering duties of the implementer (the task relies on them):
//   - Callbacks (Kafka, Persist, Load, After) run later, one at a time, on
//     the task's own thread of control, never inside the call that asked
//     for them; and never after the task was cancelled.
//   - Send between two tasks is FIFO: messages arrive in the order they
//     were sent, or the connection breaks and the task fails.
//   - Persist calls its callback with nil only once the data is durable: a
//     task acks a checkpoint only after that, so an acknowledged snapshot
//     survives any crash.
type TaskEnv interface {
	// Now is the current time in nanoseconds.
	Now() int64
	// Send sends m (to another task, or to the coordinator) as message.go
	// says: later, FIFO on a channel between two tasks.
	Send(m Message)
	// Kafka issues req; cb gets the response, or an error (a timeout when
	// the request or its response was lost).
	Kafka(req kmsg.Request, cb func(kmsg.Response, error))
	// Persist writes data under name in checkpoint storage.
	Persist(name string, data []byte, cb func(error))
	// Load reads name from checkpoint storage.
	Load(name string, cb func([]byte, error))
	// After runs fn after d.
	After(d time.Duration, fn func())
	// Event reports a step of the checkpoint protocol (for the trace, for
	// metrics and for fault triggers).
	Event(e Event)
}

// StreamKind is the kind of a stream message.
type StreamKind uint8

// The kinds of stream message.
const (
	KindRecord StreamKind = iota
	KindBarrier
	// KindWatermark carries event time (eventtime.go): "no record with a
	// timestamp at or below Watermark follows on this channel", or, with
	// Idle set, "this channel is idle: do not wait for its watermark until
	// it sends a record or a watermark again". Like a barrier it carries no
	// data and needs no credit; unlike a barrier it never blocks a channel,
	// and it travels in order with the records around it.
	KindWatermark
)

// StreamMsg travels on a channel between two tasks.
//
// Every record is copied into a message at least twice on its way (into the
// sender's batch, into the receiver's queue), so the fields are ordered to
// keep it small: Kind packs next to Idle.
type StreamMsg struct {
	Record Record `json:"record,omitzero"`
	// Barrier fields: the checkpoint and when it was triggered.
	Checkpoint  int64 `json:"checkpoint,omitempty"`
	TriggeredAt int64 `json:"triggered_at,omitempty"`
	// Watermark fields: the event time in milliseconds, or Idle.
	Watermark int64      `json:"watermark,omitempty"`
	Kind      StreamKind `json:"kind"`
	Idle      bool       `json:"idle,omitempty"`
}

// msgType is the type of the message that carries sm.
func (sm StreamMsg) msgType() protocol.MsgType {
	switch sm.Kind {
	case KindBarrier:
		return protocol.MsgBarrier
	case KindWatermark:
		return protocol.MsgWatermark
	}
	return protocol.MsgRecord
}

// Event is one step of the protocol, reported by a task or the coordinator.
type Event struct {
	Phase      protocol.Phase
	Checkpoint int64
	Task       string
	Detail     string
	// Commit, Recover and Lost qualify an EndTxnSent event: the sink asks
	// the broker to commit (false: to abort); it commits what the
	// checkpoint it restored from pre-committed; the broker refused a
	// pre-committed transaction (data loss, Detail says which).
	Commit, Recover, Lost bool
}

// Ack acknowledges checkpoint Checkpoint for one task: its snapshot is
// durable under Handle.
type Ack struct {
	Task       TaskID      `json:"task"`
	Checkpoint int64       `json:"checkpoint"`
	Handle     string      `json:"handle"`
	Size       int64       `json:"size"`
	Metrics    TaskMetrics `json:"metrics"`
	// Offsets are a source task's positions in the snapshot, "topic/p" ->
	// next offset; the coordinator keeps them in the metadata so that the
	// harness can fold the oracle up to them.
	Offsets map[string]int64 `json:"offsets,omitempty"`
	// Shared are the shared state files (incremental checkpoints) the
	// snapshot references, sorted; the coordinator deletes one once no
	// retained checkpoint references it.
	Shared []string `json:"shared,omitempty"`
}

// TaskMetrics are one subtask's checkpoint metrics, named as Flink names
// them. Durations are in nanoseconds of the task's clock.
type TaskMetrics struct {
	// StartDelay: from the trigger to the first barrier reaching the task.
	StartDelay int64 `json:"start_delay"`
	// AlignmentDuration: from the first barrier to the last one.
	AlignmentDuration int64 `json:"alignment_duration"`
	// SyncDuration: taking the snapshot (and, for sinks, the pre-commit
	// flush) while the task processes nothing.
	SyncDuration int64 `json:"sync_duration"`
	// AsyncDuration: uploading the snapshot.
	AsyncDuration int64 `json:"async_duration"`
	// CheckpointedSize: bytes uploaded.
	CheckpointedSize int64 `json:"checkpointed_size"`
	// EndToEndDuration: from the trigger to the ack.
	EndToEndDuration int64 `json:"end_to_end_duration"`
}

// Failure says why a task stopped.
type Failure struct {
	Task   TaskID
	Reason string
	// RestoreCheckpoint is set when the task could not restore from that
	// checkpoint (its snapshot is missing or corrupt): the coordinator then
	// falls back to an older retained checkpoint.
	RestoreCheckpoint int64
}
