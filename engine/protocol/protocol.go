// Package protocol is the vocabulary the engine, the fault model, the
// simulator and the checkers share: the phases of a checkpoint, the other
// events the engine reports, the timeout error, and the name of a Kafka
// partition. It imports nothing of onceproof, so that every package may use
// it without depending on the engine.
package protocol

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Phase names a moment of the checkpoint protocol (DESIGN.md, "The
// checkpoint protocol"): the engine reports it in its events, fault plans
// trigger on it, traces and coverage count it.
type Phase string

// The phases of a checkpoint, in protocol order.
const (
	// Triggered: the coordinator has decided to take checkpoint n and is
	// about to tell the sources. Coordinator phase: no task.
	Triggered Phase = "triggered"
	// BarrierInjected: a source recorded its Kafka position and emitted
	// barrier n.
	BarrierInjected Phase = "barrier-injected"
	// BarrierReceived: barrier n arrived at a task on one input channel.
	BarrierReceived Phase = "barrier-received"
	// Aligned: barrier n arrived on every input channel of a task.
	Aligned Phase = "aligned"
	// SnapshotTaken: a task took the synchronous part of its snapshot (a
	// sink has pre-committed its transaction) and forwarded the barrier.
	SnapshotTaken Phase = "snapshot-taken"
	// SnapshotDurable: a task's snapshot is in checkpoint storage.
	SnapshotDurable Phase = "snapshot-durable"
	// AckSent: a task acknowledged checkpoint n to the coordinator.
	AckSent Phase = "ack-sent"
	// MetadataWritten: the coordinator wrote the checkpoint's metadata: the
	// commit point. Coordinator phase: no task.
	MetadataWritten Phase = "metadata-written"
	// CompleteDelivered: a task received "checkpoint n complete".
	CompleteDelivered Phase = "complete-delivered"
	// EndTxnSent: a sink sent EndTxn(commit) for checkpoint n.
	EndTxnSent Phase = "endtxn-sent"
	// EndTxnApplied: the broker applied that EndTxn (its answer may still
	// be lost).
	EndTxnApplied Phase = "endtxn-applied"
)

var phaseOrder = []Phase{
	Triggered, BarrierInjected, BarrierReceived, Aligned, SnapshotTaken,
	SnapshotDurable, AckSent, MetadataWritten, CompleteDelivered, EndTxnSent, EndTxnApplied,
}

// Phases returns every phase, in protocol order.
func Phases() []Phase { return slices.Clone(phaseOrder) }

// Valid reports whether p is one of the phases.
func (p Phase) Valid() bool { return slices.Contains(phaseOrder, p) }

// TakesTask reports whether a trigger on phase p may name a task: every
// phase but the coordinator's own.
func (p Phase) TakesTask() bool { return p != Triggered && p != MetadataWritten }

// MsgType is what a message of the engine's protocol says (engine.Message
// holds the fields each type uses).
type MsgType uint8

// The message types, by sender and receiver.
const (
	// Coordinator to executor: start the tasks of Deployments in attempt
	// Attempt (placing them is the executor's business), or stop every task
	// of Attempt.
	MsgDeploy MsgType = iota + 1
	MsgCancel
	// Coordinator to task.
	//
	// MsgTrigger starts checkpoint Checkpoint at a source, triggered at
	// TriggeredAt. MsgNotifyComplete says checkpoint Checkpoint is complete:
	// a sink commits every transaction it pre-committed up to it.
	// MsgNotifyAbort says checkpoint Checkpoint was aborted: a task still
	// aligning it stops. Both notifications are best effort, as in Flink: a
	// later one subsumes one that was lost.
	MsgTrigger
	MsgNotifyComplete
	MsgNotifyAbort
	// Task to coordinator: the task restored and runs (MsgRunning), its
	// snapshot of a checkpoint is durable (MsgAck, Ack), it cannot take
	// checkpoint Checkpoint (MsgDecline, Reason), or it cannot go on
	// (MsgFailed, Failure).
	MsgRunning
	MsgAck
	MsgDecline
	MsgFailed
	// Task to task, on the channel from From to To's input Input: a
	// record, a barrier, a watermark (Stream), and credit returned the other
	// way (Credit, on the channel To sends to From's input Input).
	MsgRecord
	MsgBarrier
	MsgWatermark
	MsgCredit
)

var msgTypeNames = [...]string{
	MsgDeploy: "deploy", MsgCancel: "cancel",
	MsgTrigger: "trigger", MsgNotifyComplete: "notify-complete", MsgNotifyAbort: "notify-abort",
	MsgRunning: "running", MsgAck: "ack", MsgDecline: "decline", MsgFailed: "failed",
	MsgRecord: "record", MsgBarrier: "barrier", MsgWatermark: "watermark", MsgCredit: "credit",
}

// String is the type's name as fault plans and traces spell it.
func (t MsgType) String() string {
	if int(t) < len(msgTypeNames) && msgTypeNames[t] != "" {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("msg(%d)", uint8(t))
}

// MsgTypes lists every message type, in order.
func MsgTypes() []MsgType {
	out := make([]MsgType, 0, len(msgTypeNames)-1)
	for t := MsgDeploy; t <= MsgCredit; t++ {
		out = append(out, t)
	}
	return out
}

// ParseMsgType is the inverse of MsgType.String.
func ParseMsgType(s string) (MsgType, error) {
	for _, t := range MsgTypes() {
		if t.String() == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown message type %q", s)
}

// Control reports whether a message of this type goes to or from the
// coordinator or the executor (the rest travel on the channels between
// tasks).
func (t MsgType) Control() bool { return t < MsgRecord }

// The events that are not steps of one checkpoint's protocol: the
// coordinator's and the tasks' other news, for the trace, for metrics and
// for the live runner's reports. Fault plans do not trigger on them.
const (
	EventRecovered        Phase = "recovered"
	EventDeploy           Phase = "deploy"
	EventDeployDelayed    Phase = "deploy-delayed"
	EventRunning          Phase = "running"
	EventLateMetadata     Phase = "late-metadata"
	EventCheckpointFailed Phase = "checkpoint-failed"
	// EventCheckpointSubsumed: a checkpoint in flight was aborted because
	// a newer one completed (concurrent checkpoints).
	EventCheckpointSubsumed Phase = "checkpoint-subsumed"
	EventFailover           Phase = "failover"
	EventDeleteFailed       Phase = "delete-failed"
	EventAlignmentAborted   Phase = "alignment-aborted"
)

// ErrTimeout is what a Kafka request whose request or response was lost
// ends with, in the simulator and live: the caller cannot know whether the
// broker applied it.
var ErrTimeout = errors.New("kafka request timed out")

// TopicPartition names one partition of a topic. Its text form,
// "topic/partition", keys offsets in checkpoint metadata, source snapshots
// and the checkers' reports.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String is "topic/partition".
func (tp TopicPartition) String() string {
	return tp.Topic + "/" + strconv.FormatInt(int64(tp.Partition), 10)
}

// ParseTopicPartition parses "topic/partition" (the topic may hold
// slashes: the partition is after the last one).
func ParseTopicPartition(s string) (TopicPartition, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return TopicPartition{}, fmt.Errorf("topic partition %q: want topic/partition", s)
	}
	p, err := strconv.ParseInt(s[i+1:], 10, 32)
	if err != nil || p < 0 {
		return TopicPartition{}, fmt.Errorf("topic partition %q: partition is not a number", s)
	}
	return TopicPartition{Topic: s[:i], Partition: int32(p)}, nil
}

// TP is TopicPartition{topic, partition}.String() for any integer
// partition type.
func TP[P ~int | ~int32 | ~int64](topic string, partition P) string {
	return TopicPartition{Topic: topic, Partition: int32(partition)}.String()
}
