package engine

import (
	"testing"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchResponse is a read_committed fetch answer for partition 0 of topic:
// recs as one non-transactional batch at offset first.
func fetchResponse(topic string, first int64, recs ...kproto.Record) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.Partition = 0
	rp.HighWatermark = first + int64(len(recs))
	rp.LastStableOffset = rp.HighWatermark
	if len(recs) > 0 {
		batch := kproto.EncodeBatch(kproto.Producer{ID: -1, Epoch: -1}, -1, false, 0, recs)
		// FirstOffset is the batch's first 8 bytes, big-endian.
		for i := range 8 {
			batch[i] = byte(first >> (56 - 8*i))
		}
		rp.RecordBatches = batch
	}
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	return resp
}

func kafkaDone(resp kmsg.Response, err error) func(*taskHarness) {
	return func(h *taskHarness) { h.env.completeKafka(0, resp, err) }
}

func fireTasks(upTo time.Duration) func(*taskHarness) {
	return func(h *taskHarness) { h.env.fireTimers(upTo) }
}

// TestSourceTriggerRecordsPositionWithBarrier is step 1 of the protocol: in
// one step a source records the next offset after the last record it
// emitted and emits the barrier, so no record falls between the two; a
// fetch in flight at the trigger does not move the recorded position.
func TestSourceTriggerRecordsPositionWithBarrier(t *testing.T) {
	job := twoInputJob(t)
	env := newFakeTaskEnv()
	dep := Deployment{Task: TaskID{Vertex: vertexIndex(t, job, "a")}, StoragePrefix: "chk", FenceUpTo: 1}
	h := &taskHarness{task: NewTask(job, dep, env.forJob(job), DefaultTaskConfig(), nil), env: env}
	trigger := func(n int64) func(*taskHarness) {
		return func(h *taskHarness) { deliverControl(h.task, protocol.MsgTrigger, n, 0) }
	}
	runTaskScript(t, h, []step[*taskHarness]{
		{what: "start: fetch from offset 0", do: start(), want: lines(
			"running",
			"kafka Fetch isolation=1 in-a/0@0")},
		{what: "the fetch returns two records: both are emitted, the next fetch starts at 2", do: kafkaDone(fetchResponse("in-a", 0,
			kproto.Record{Key: []byte("a"), Value: []byte("a1")}, kproto.Record{Key: []byte("a"), Value: []byte("a2")}), nil), want: lines(
			"send g0/ch0 record k=a v=a1",
			"send g0/ch0 record k=a v=a2",
			"kafka Fetch isolation=1 in-a/0@2")},
		{what: "trigger 1 while that fetch is in flight: position 2 and the barrier, in one step", do: trigger(1), want: lines(
			"event barrier-injected cp=1",
			"send g0/ch0 barrier 1",
			"event snapshot-taken cp=1 bytes=192",
			"persist chk/chk-1/a-0 (192 bytes)")},
		{what: "the snapshot holds position 2", do: showSnapshot(0), want: lines(
			"snapshot a/0 cp=1",
			"  position in-a/0@2")},
		{what: "the fetch in flight times out: retry after the poll interval", do: kafkaDone(nil, protocol.ErrTimeout), want: lines(
			"after 5ms")},
		{what: "the poll interval passes: fetch again from 2", do: fireTasks(5 * time.Millisecond), want: lines(
			"kafka Fetch isolation=1 in-a/0@2")},
		{what: "the snapshot is durable: ack with the offsets", do: persistDone(0, nil), want: lines(
			"event snapshot-durable cp=1",
			"ack 1",
			"event ack-sent cp=1")},
	})
	if got := env.acks[0].Offsets; len(got) != 1 || got["in-a/0"] != 2 {
		t.Errorf("ack offsets: got %v, want map[in-a/0:2]", got)
	}
}
