package cluster_test

import (
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/sim/cluster"
)

// TestMessageRules: a rule addresses one control message by type,
// endpoint and checkpoint, fires on it, and the correct engine answers each
// fault as the protocol says: a lost or late notify-complete is subsumed by
// the next one, a repeated ack or notification counts once, a lost trigger
// or ack costs that checkpoint only.
func TestMessageRules(t *testing.T) {
	interval := cluster.DefaultOptions("keyed-count", 1).Checkpoint.Interval
	for _, tc := range []struct {
		name string
		rule cluster.MessageRule
	}{
		{"drop notify-complete to sink/0", cluster.MessageRule{Type: protocol.MsgNotifyComplete, To: "sink/0", Checkpoint: 2, Action: cluster.MessageDrop}},
		{"delay notify-complete past the next checkpoint", cluster.MessageRule{Type: protocol.MsgNotifyComplete, To: "sink/1", Checkpoint: 2, Action: cluster.MessageDelay, Delay: 3 * interval}},
		{"duplicate notify-complete", cluster.MessageRule{Type: protocol.MsgNotifyComplete, To: "sink/0", Checkpoint: 3, Action: cluster.MessageDuplicate}},
		{"duplicate ack", cluster.MessageRule{Type: protocol.MsgAck, From: "sink/0", Checkpoint: 2, Action: cluster.MessageDuplicate}},
		{"drop ack", cluster.MessageRule{Type: protocol.MsgAck, From: "count/1", Checkpoint: 2, Action: cluster.MessageDrop}},
		{"drop trigger", cluster.MessageRule{Type: protocol.MsgTrigger, To: "src/0", Checkpoint: 3, Action: cluster.MessageDrop}},
		{"duplicate trigger", cluster.MessageRule{Type: protocol.MsgTrigger, To: "src/1", Checkpoint: 2, Action: cluster.MessageDuplicate}},
		{"delay trigger past the next checkpoint", cluster.MessageRule{Type: protocol.MsgTrigger, To: "src/0", Checkpoint: 2, Action: cluster.MessageDelay, Delay: 3 * interval}},
		{"drop deploy", cluster.MessageRule{Type: protocol.MsgDeploy, Action: cluster.MessageDrop, Times: 1}},
		{"drop running", cluster.MessageRule{Type: protocol.MsgRunning, From: "sink/1", Action: cluster.MessageDrop, Times: 1}},
		{"duplicate deploy", cluster.MessageRule{Type: protocol.MsgDeploy, Action: cluster.MessageDuplicate, Times: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := busy(1)
			c := newCluster(t, o)
			defer c.Close()
			rule := tc.rule
			if err := c.InterceptMessages(&rule); err != nil {
				t.Fatal(err)
			}
			res := runJudged(c)
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
	c := newCluster(t, busy(1))
	defer c.Close()
	for _, r := range []cluster.MessageRule{
		{Type: protocol.MsgBarrier, Action: cluster.MessageDrop},
		{Type: protocol.MsgNotifyComplete, Action: cluster.MessageDelay},
		{Type: protocol.MsgAck},
	} {
		if err := c.InterceptMessages(&r); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
}
