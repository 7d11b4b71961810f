package engine

import (
	"fmt"

	"github.com/onceproof/onceproof/engine/protocol"
)

// Every interaction between the coordinator and the tasks, and between two
// tasks, is a Message. The engine defines them all; a driver (the simulator's
// cluster, the live runner) only routes and delivers them, by To, and owns
// no wire protocol of its own for them.
//
// The discipline is etcd raft's Step: a state machine (Task, Coordinator)
// takes one input at a time through Step or one of its callbacks, and every
// message it has to say goes out through its env's Send, never delivered
// inside the call that produced it.
//
// The duties of whoever routes messages:
//   - Deliver a message to the Step of the state machine named by To, later
//     (never inside the Send), or lose it. Between two tasks the channel is
//     FIFO: stream messages and credits arrive in the order they were sent,
//     or the connection breaks and the attempt fails (the credit protocol
//     and barrier alignment rely on it). Control messages (those to and from
//     the coordinator) may be late, lost, duplicated or reordered: the
//     protocol is correct under all of it, a lost one costing a checkpoint
//     or a restart.
//   - Deliver protocol.MsgDeploy and protocol.MsgCancel, whose To is the executor, to the
//     executor: it builds the tasks of Deployments (NewTask, then Start), and
//     cancels the tasks of an attempt (Task.Cancel).
//   - A message of an attempt may reach an executor before its deploy does
//     (a fast upstream task on another worker): hold it until then. The
//     state machines drop messages of any attempt but their own, so a
//     router never needs to sort out stale ones.

// Role is the kind of an Endpoint.
type Role uint8

// The roles.
const (
	RoleCoordinator Role = iota + 1
	RoleExecutor
	RoleTask
)

// Endpoint is a message's sender or receiver: the coordinator, the executor
// (whoever deploys and cancels tasks), or a task.
type Endpoint struct {
	Role Role
	Task TaskID // for RoleTask
}

// The endpoints that are not tasks.
var (
	CoordinatorEndpoint = Endpoint{Role: RoleCoordinator}
	ExecutorEndpoint    = Endpoint{Role: RoleExecutor}
)

// TaskEndpoint is task id's endpoint.
func TaskEndpoint(id TaskID) Endpoint { return Endpoint{Role: RoleTask, Task: id} }

// Message is one message of the engine's protocol. Which fields are set
// depends on Type (see the constants); the rest are zero.
//
// It is one flat struct, as raft's pb.Message is, so that a router can read
// the type, the endpoints and the checkpoint of any message without a type
// switch, and the bodies that only control messages carry sit behind
// pointers so that a record stays small.
type Message struct {
	Type protocol.MsgType
	// Attempt is the job attempt the message belongs to: every receiver
	// drops messages of attempts other than its own.
	Attempt  int
	From, To Endpoint
	// Checkpoint is the checkpoint a trigger, notification, ack, decline or
	// barrier is about (0 for the other types).
	Checkpoint int64
	// TriggeredAt is when a triggered checkpoint started (protocol.MsgTrigger).
	TriggeredAt int64
	// Input is the receiving vertex's input (edge) a stream message
	// arrives on; for protocol.MsgCredit, the input of From's vertex whose channel
	// the credit is for.
	Input int
	// Stream is a stream message's content.
	Stream StreamMsg
	// Credit is the number of credits a protocol.MsgCredit returns.
	Credit int
	// Reason is why a task declined a checkpoint.
	Reason string
	// Ack, Failure and Deploy are the bodies of protocol.MsgAck, protocol.MsgFailed and
	// protocol.MsgDeploy.
	Ack     *Ack
	Failure *Failure
	Deploy  *DeploySpec
}

// DeploySpec is what a deploy carries: the graph of the attempt (a rescale
// changes it) and the tasks to start.
type DeploySpec struct {
	Job         *Job
	Deployments []Deployment
}

// String renders a message for traces and test logs.
func (m Message) String() string {
	s := fmt.Sprintf("%s a%d %s->%s", m.Type, m.Attempt, m.From, m.To)
	switch m.Type {
	case protocol.MsgTrigger, protocol.MsgNotifyComplete, protocol.MsgNotifyAbort, protocol.MsgAck, protocol.MsgBarrier:
		s += fmt.Sprintf(" cp=%d", m.Checkpoint)
	case protocol.MsgDecline:
		s += fmt.Sprintf(" cp=%d: %s", m.Checkpoint, m.Reason)
	case protocol.MsgFailed:
		s += ": " + m.Failure.Reason
	case protocol.MsgCredit:
		s += fmt.Sprintf(" in%d +%d", m.Input, m.Credit)
	case protocol.MsgDeploy:
		s += fmt.Sprintf(" %d tasks", len(m.Deploy.Deployments))
	}
	return s
}

// String is "coordinator", "executor" or the task's id "v/s".
func (e Endpoint) String() string {
	switch e.Role {
	case RoleCoordinator:
		return "coordinator"
	case RoleExecutor:
		return "executor"
	}
	return fmt.Sprintf("%d/%d", e.Task.Vertex, e.Task.Subtask)
}
