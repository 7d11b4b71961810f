package target

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// askEpoch sends OffsetForLeaderEpoch for t/0 and epoch le to the leader.
func askEpoch(t *testing.T, c *kfake.Cluster, cl *kgo.Client, le int32) (epoch int32, end int64) {
	t.Helper()
	info := c.PartitionInfo("t", 0)
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, info.Epoch, le
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl.Broker(int(info.Leader)))
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("OffsetForLeaderEpoch(%d): error code %d", le, p.ErrorCode)
	}
	return p.LeaderEpoch, p.EndOffset
}

func produce(t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	var rs []*kgo.Record
	for range n {
		rs = append(rs, &kgo.Record{Topic: "t", Value: []byte("x")})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestKfakeEpochEndAfterLeaderMove pins the kfake behaviour the harness
// works around (docs/findings.md): after a leader move with no produce
// since, kfake answers OffsetForLeaderEpoch for the previous epoch with
// UNDEFINED (-1), where Kafka answers with the offset the new epoch
// started at. If this test fails, kfake was fixed and the workaround in
// broker.go can go.
func TestKfakeEpochEndAfterLeaderMove(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.CreateTopic("t", 1, nil); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce(t, cl, 10)
	c.ShufflePartitionLeaders()
	if e, end := askEpoch(t, c, cl, 0); e != -1 || end != -1 {
		t.Errorf("kfake answered epoch 0 with (%d, %d) after a move, no longer (-1, -1): kfake changed; Kafka's answer is (0, 10)", e, end)
	}
}

// TestHarnessEpochEndAfterLeaderMove checks the harness's own answers,
// which a run's consumers get: the end of an epoch is where the next one
// started, whether or not anything was produced since.
func TestHarnessEpochEndAfterLeaderMove(t *testing.T) {
	cl, err := startCluster(3, txnStem)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.close()
	if err := cl.createTopic("t", 1); err != nil {
		t.Fatal(err)
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(cl.addrs...), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	move := func() {
		done := make(chan struct{})
		cl.arm(&hook{api: anyRequest, instance: -1, act: func(int32, kmsg.Request, int) (string, bool, error) {
			cl.moveLeaders()
			close(done)
			return "", false, nil
		}})
		produce(t, kc, 0) // any request runs the hook
		if err := kc.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-done
	}
	produce(t, kc, 10)
	move()
	for _, tc := range []struct {
		ask       int32
		epoch     int32
		endOffset int64
	}{{0, 0, 10}, {1, 1, 10}} {
		if e, end := askEpoch(t, cl.c, kc, tc.ask); e != tc.epoch || end != tc.endOffset {
			t.Errorf("after one move: epoch %d ends at (%d, %d), want (%d, %d)", tc.ask, e, end, tc.epoch, tc.endOffset)
		}
	}
	produce(t, kc, 5)
	move()
	move()
	for _, tc := range []struct {
		ask       int32
		epoch     int32
		endOffset int64
	}{{0, 0, 10}, {1, 1, 15}, {2, 2, 15}, {3, 3, 15}} {
		if e, end := askEpoch(t, cl.c, kc, tc.ask); e != tc.epoch || end != tc.endOffset {
			t.Errorf("after three moves: epoch %d ends at (%d, %d), want (%d, %d)", tc.ask, e, end, tc.epoch, tc.endOffset)
		}
	}
}
