package cluster

import (
	"fmt"
	"slices"
	"time"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/sim"
)

// Every control message of the engine (deploy, cancel, trigger,
// notifications, running, ack, decline, failed) leaves its process through
// sendControl, the one place where a message can be addressed as such: "the
// notify-complete of checkpoint 3 to sink/0", not only "the link from the job
// master to w1". Stream messages and credits are not addressed here: their
// channel is FIFO, and what breaks it is a cut link, which the network
// models.

// MessageAction is what a MessageRule does to the messages it matches.
type MessageAction uint8

// The actions.
const (
	// MessageDrop loses the message.
	MessageDrop MessageAction = iota + 1
	// MessageDelay holds the message for Delay before it is sent, so that
	// messages sent after it may overtake it.
	MessageDelay
	// MessageDuplicate sends the message twice: the copy Delay later (0:
	// at once), as a retransmission would.
	MessageDuplicate
)

func (a MessageAction) String() string {
	switch a {
	case MessageDrop:
		return "drop"
	case MessageDelay:
		return "delay"
	case MessageDuplicate:
		return "duplicate"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// MessageRule matches control messages by type, endpoint and checkpoint.
type MessageRule struct {
	// Type is the message type (0: every control type).
	Type protocol.MsgType
	// From and To name endpoints: "coordinator", "executor" or a task
	// ("sink/0"). Empty matches any.
	From, To string
	// Checkpoint is the checkpoint the message is about (0: any).
	Checkpoint int64
	Action     MessageAction
	// Delay is how long MessageDelay holds a message, or how long after
	// it MessageDuplicate sends the copy.
	Delay time.Duration
	// Times bounds how many messages the rule acts on (0: no bound).
	Times int
	// Fired counts the messages it acted on.
	Fired int
}

// InterceptMessages adds r; it applies to control messages sent from now on.
func (c *Cluster) InterceptMessages(r *MessageRule) error {
	if r.Type != 0 && !r.Type.Control() {
		return fmt.Errorf("message rule: %s is a stream message; only control messages can be addressed (a channel's order is FIFO)", r.Type)
	}
	switch r.Action {
	case MessageDrop:
	case MessageDuplicate:
		if r.Delay < 0 {
			return fmt.Errorf("message rule: negative delay %v", r.Delay)
		}
	case MessageDelay:
		if r.Delay <= 0 {
			return fmt.Errorf("message rule: delay must be positive, got %v", r.Delay)
		}
	default:
		return fmt.Errorf("message rule: unknown action %d", r.Action)
	}
	c.msgRules = append(c.msgRules, r)
	return nil
}

// removeMessageRule lifts r: messages sent from now on pass it.
func (c *Cluster) removeMessageRule(r *MessageRule) {
	if i := slices.Index(c.msgRules, r); i >= 0 {
		c.msgRules = slices.Delete(c.msgRules, i, i+1)
	}
}

// endpointName is how rules and traces name e.
func (c *Cluster) endpointName(e engine.Endpoint) string {
	switch e.Role {
	case engine.RoleCoordinator:
		return "coordinator"
	case engine.RoleExecutor:
		return "executor"
	}
	return c.job.TaskName(e.Task)
}

func (c *Cluster) matches(r *MessageRule, m engine.Message) bool {
	return (r.Times == 0 || r.Fired < r.Times) &&
		(r.Type == 0 || r.Type == m.Type) &&
		(r.Checkpoint == 0 || r.Checkpoint == m.Checkpoint) &&
		(r.From == "" || r.From == c.endpointName(m.From)) &&
		(r.To == "" || r.To == c.endpointName(m.To))
}

// sendControl sends payload, which carries the control message m, from p to
// process to, through the message rules: the first rule that matches acts
// on it. A send error is the network's (no connection) and is returned as
// p.Send returns it; a dropped message reports no error, as a message lost
// in flight would not.
func (c *Cluster) sendControl(p *sim.Proc, to sim.ProcID, m engine.Message, payload any) error {
	for _, r := range c.msgRules {
		if !c.matches(r, m) {
			continue
		}
		r.Fired++
		p.Record(sim.Event{Kind: sim.EventMessageFault, Op: r.Action.String(), Name: m.Type.String(), Task: c.endpointName(m.From), Peer: c.endpointName(m.To), N: m.Checkpoint})
		switch r.Action {
		case MessageDrop:
			return nil
		case MessageDelay:
			p.After(r.Delay, func() { _ = p.Send(to, payload) }) // lost if the link broke meanwhile, as a late message is
			return nil
		case MessageDuplicate:
			if r.Delay > 0 {
				p.After(r.Delay, func() { _ = p.Send(to, payload) }) // the copy is lost if the link broke meanwhile
				break
			}
			if err := p.Send(to, payload); err != nil {
				return err
			}
		}
		break
	}
	return p.Send(to, payload)
}
