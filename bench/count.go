package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/onceproof/onceproof/engine/jobs"

	"github.com/twmb/franz-go/pkg/kgo"
)

// multiset is an order-independent digest of a multiset of key/value
// records: their count and the sums of two 64-bit hashes of each. Two
// multisets that differ (a record lost, one twice, one with another value)
// have different digests but with a chance of about 2^-64 for each. It
// takes constant memory, so that every run of a comparison of millions of
// records can be checked against its oracle, where the exactly-once checker
// keeps every record.
type multiset struct {
	N    int
	A, B uint64
}

func (m *multiset) add(key, value []byte) {
	h := fnv.New128a()
	h.Write(key)
	h.Write([]byte{0})
	h.Write(value)
	var sum [16]byte
	h.Sum(sum[:0])
	m.N++
	for i := range 8 {
		m.A += uint64(sum[i]) << (8 * i)
		m.B += uint64(sum[8+i]) << (8 * i)
	}
}

// expectedDigests returns the digests of spec's oracle output over recs
// (written in order, so each partition's records are in offset order) and
// of recs themselves (what a plain copy commits). The oracle runs one
// partition at a time, to bound its memory: right for the jobs compare
// runs, whose output depends on a record or on its key, and a key always
// lives in one partition.
func expectedDigests(spec *jobs.Spec, recs []jobs.Input, partitions int32) (oracle, copied multiset) {
	for p := int32(0); p < partitions; p++ {
		var in []jobs.Committed
		for _, r := range recs {
			if r.Partition == p {
				in = append(in, jobs.Committed{Topic: r.Topic, Partition: p, Offset: int64(len(in)), Key: r.Key, Value: r.Value})
				copied.add([]byte(r.Key), []byte(r.Value))
			}
		}
		for _, o := range spec.Oracle(in) {
			oracle.add([]byte(o.Key), []byte(o.Value))
		}
	}
	return oracle, copied
}

// digestCommitted digests the data records a read_committed reader sees in
// topic, up to each partition's last stable offset, without keeping them
// (internal/observe keeps every record, which a million-record comparison
// cannot afford for each run).
func digestCommitted(ctx context.Context, c *Cluster, topic string, partitions int32) (multiset, error) {
	var d multiset
	lso, err := c.lastStable(ctx, topic, partitions)
	if err != nil {
		return d, err
	}
	assign := map[int32]kgo.Offset{}
	for p, end := range lso {
		if end > 0 {
			assign[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(assign) == 0 {
		return d, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), c.Opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(50*time.Millisecond))...)
	if err != nil {
		return d, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for len(assign) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return d, fmt.Errorf("count %s: %w", topic, err)
		}
		if err := fs.Err(); err != nil {
			return d, fmt.Errorf("count %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				d.add(r.Key, r.Value)
			}
			if r.Offset+1 >= lso[r.Partition] {
				delete(assign, r.Partition)
			}
		})
	}
	return d, nil
}
