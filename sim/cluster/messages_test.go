package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/protocol"
)

// TestMessageRules: a rule addresses one control message by type,
// endpoint and checkpoint, fires on it, and the correct engine answers each
// fault as the protocol says: a lost or late notify-complete is subsumed by
// the next one, a repeated ack or notification counts once, a lost trigger
// or ack costs that checkpoint only.
func TestMessageRules(t *testing.T) {
	interval := DefaultOptions("keyed-count", 1).Checkpoint.Interval
	for _, tc := range []struct {
		name string
		rule MessageRule
	}{
		{"drop notify-complete to sink/0", MessageRule{Type: protocol.MsgNotifyComplete, To: "sink/0", Checkpoint: 2, Action: MessageDrop}},
		{"delay notify-complete past the next checkpoint", MessageRule{Type: protocol.MsgNotifyComplete, To: "sink/1", Checkpoint: 2, Action: MessageDelay, Delay: 3 * interval}},
		{"duplicate notify-complete", MessageRule{Type: protocol.MsgNotifyComplete, To: "sink/0", Checkpoint: 3, Action: MessageDuplicate}},
		{"duplicate ack", MessageRule{Type: protocol.MsgAck, From: "sink/0", Checkpoint: 2, Action: MessageDuplicate}},
		{"drop ack", MessageRule{Type: protocol.MsgAck, From: "count/1", Checkpoint: 2, Action: MessageDrop}},
		{"drop trigger", MessageRule{Type: protocol.MsgTrigger, To: "src/0", Checkpoint: 3, Action: MessageDrop}},
		{"duplicate deploy", MessageRule{Type: protocol.MsgDeploy, Action: MessageDuplicate, Times: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := busy(1)
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rule := tc.rule
			if err := c.InterceptMessages(&rule); err != nil {
				t.Fatal(err)
			}
			res := c.Run(context.Background())
			if rule.Fired == 0 {
				t.Fatalf("the rule never fired:\n%s", head(res.Trace, 60))
			}
			if !strings.Contains(strings.Join(res.Trace, "\n"), "message fault: "+rule.Action.String()+" "+rule.Type.String()) {
				t.Fatal("the trace does not show the message fault")
			}
			if res.Verdict() != checkers.Ok {
				t.Fatal(describe(o, res))
			}
		})
	}
}

// TestMessageRulesRefuseStreamMessages: a channel between two tasks is
// FIFO, so its messages cannot be dropped or delayed one by one.
func TestMessageRulesRefuseStreamMessages(t *testing.T) {
	c, err := New(busy(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, r := range []MessageRule{
		{Type: protocol.MsgBarrier, Action: MessageDrop},
		{Type: protocol.MsgNotifyComplete, Action: MessageDelay},
		{Type: protocol.MsgAck},
	} {
		if err := c.InterceptMessages(&r); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
}
