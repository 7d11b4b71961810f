package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// countCommitted counts the data records a read_committed reader sees in
// topic, up to each partition's last stable offset, without keeping them
// (internal/observe keeps every record, which a million-record comparison
// cannot afford for each run).
func countCommitted(ctx context.Context, c *Cluster, topic string, partitions int32) (int, error) {
	lso, err := c.lastStable(ctx, topic, partitions)
	if err != nil {
		return 0, err
	}
	assign := map[int32]kgo.Offset{}
	for p, end := range lso {
		if end > 0 {
			assign[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(assign) == 0 {
		return 0, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), c.Opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(50*time.Millisecond))...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	n := 0
	for len(assign) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("count %s: %w", topic, err)
		}
		if err := fs.Err(); err != nil {
			return n, fmt.Errorf("count %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				n++
			}
			if r.Offset+1 >= lso[r.Partition] {
				delete(assign, r.Partition)
			}
		})
	}
	return n, nil
}
