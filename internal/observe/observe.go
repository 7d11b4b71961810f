package observe

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record is one committed data record as a read_committed consumer saw it.
type Record struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
}

// Partition describes the end of one partition when it was read.
type Partition struct {
	Partition     int32
	HighWatermark int64
	// LastStable is the last stable offset: a read_committed reader cannot
	// pass it. Below HighWatermark it means a transaction is still open.
	LastStable int64
}

// Topic is everything a read_committed reader could see in a topic.
type Topic struct {
	Name       string
	Records    []Record // in partition order, then offset order
	Partitions []Partition
}

// ReadCommitted reads topic to its last stable offset with a fresh kgo
// consumer (read_committed), built from opts (the seed brokers and dialer).
// It keeps control records while reading, so that it knows when it has
// reached the last stable offset even when the partition ends in commit or
// abort markers, and drops them from the result. timeout bounds the whole
// read on the wall clock.
func ReadCommitted(ctx context.Context, topic string, timeout time.Duration, opts ...kgo.Opt) (*Topic, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("observe %s: client: %w", topic, err)
	}
	defer admin.Close()
	ends, err := listEnds(ctx, admin, topic)
	if err != nil {
		return nil, fmt.Errorf("observe %s: %w", topic, err)
	}
	out := &Topic{Name: topic, Partitions: ends}

	assign := map[int32]kgo.Offset{}
	remaining := map[int32]int64{} // partition -> last stable offset still to reach
	for _, e := range ends {
		if e.LastStable > 0 {
			assign[e.Partition] = kgo.NewOffset().AtStart()
			remaining[e.Partition] = e.LastStable
		}
	}
	if len(assign) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(50*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("observe %s: consumer: %w", topic, err)
	}
	defer cl.Close()

	byPart := map[int32][]Record{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("observe %s: %d partitions not read to their last stable offset before the %v limit: %w", topic, len(remaining), timeout, err)
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("observe %s/%d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				byPart[r.Partition] = append(byPart[r.Partition], Record{
					Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value,
				})
			}
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	parts := make([]int32, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		recs := byPart[p]
		// Past the last stable offset only what was committed afterwards
		// could appear; the snapshot of the topic ends where ends says.
		for _, r := range recs {
			if r.Offset < endOf(ends, p) {
				out.Records = append(out.Records, r)
			}
		}
	}
	return out, nil
}

func endOf(ends []Partition, p int32) int64 {
	for _, e := range ends {
		if e.Partition == p {
			return e.LastStable
		}
	}
	return 0
}

// listEnds asks the broker for every partition's high watermark and last
// stable offset with two ListOffsets requests.
func listEnds(ctx context.Context, cl *kgo.Client, topic string) ([]Partition, error) {
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("metadata: %d topics in the answer", len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var parts []int32
	for _, p := range mresp.Topics[0].Partitions {
		parts = append(parts, p.Partition)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })

	ends := make([]Partition, len(parts))
	for i, p := range parts {
		ends[i].Partition = p
	}
	for iso, set := range []func(*Partition, int64){
		func(e *Partition, o int64) { e.HighWatermark = o },
		func(e *Partition, o int64) { e.LastStable = o },
	} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = int8(iso)
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for _, p := range parts {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = -1 // latest
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, fmt.Errorf("list offsets: %w", err)
		}
		for _, t := range resp.Topics {
			for _, rp := range t.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return nil, fmt.Errorf("list offsets %d: %w", rp.Partition, err)
				}
				for i := range ends {
					if ends[i].Partition == rp.Partition {
						set(&ends[i], rp.Offset)
					}
				}
			}
		}
	}
	return ends, nil
}
