package observe

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Limits bound a pass's fetches. The defaults never let a response be cut:
// a consumer reads at most PartitionsPerConsumer partitions, each at most
// PartitionBytes per response, and the response limit (and the client's
// read limit) sits at twice their sum.
type Limits struct {
	PartitionBytes        int32
	PartitionsPerConsumer int
	// ResponseBytes, when set, overrides the response limit. A limit below
	// what the partitions return cuts responses: the setting under which
	// kfake drops aborted-transaction lists, which tests use to show that
	// the checkers still see the truth.
	ResponseBytes int32
}

// DefaultLimits are the limits Read uses for both passes.
var DefaultLimits = Limits{PartitionBytes: 1 << 20, PartitionsPerConsumer: 32}

func (l Limits) responseBytes() int32 {
	if l.ResponseBytes > 0 {
		return l.ResponseBytes
	}
	return 2 * l.PartitionBytes * int32(l.PartitionsPerConsumer)
}

// Read reads topic's whole log, up to each partition's high watermark when
// it starts, with fresh kgo clients built from opts (the seed brokers and
// dialer). Every record of the result carries whether the read_committed
// pass returned it. timeout bounds the whole read on the wall clock.
func Read(ctx context.Context, topic string, timeout time.Duration, opts ...kgo.Opt) (*checkers.TopicLog, error) {
	return ReadWith(ctx, topic, timeout, DefaultLimits, opts...)
}

// ReadWith is Read with the read_committed pass's fetches bounded by
// committed instead of DefaultLimits.
func ReadWith(ctx context.Context, topic string, timeout time.Duration, committed Limits, opts ...kgo.Opt) (*checkers.TopicLog, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("observe %s: client: %w", topic, err)
	}
	ends, err := listEnds(ctx, admin, topic)
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("observe %s: %w", topic, err)
	}
	out := &checkers.TopicLog{Topic: topic, Ends: ends}

	hwm, lso := map[int32]int64{}, map[int32]int64{}
	for _, e := range ends {
		hwm[e.Partition], lso[e.Partition] = e.HighWatermark, e.LastStable
	}
	all, err := readPass(ctx, topic, hwm, false, DefaultLimits, timeout, opts)
	if err != nil {
		return nil, err
	}
	visible, err := readPass(ctx, topic, lso, true, committed, timeout, opts)
	if err != nil {
		return nil, err
	}
	for _, e := range ends {
		p := e.Partition
		seen := map[int64]bool{}
		for _, r := range visible[p] {
			if !r.Attrs.IsControl() {
				seen[r.Offset] = true
			}
		}
		for _, r := range all[p] {
			lr := checkers.LogRecord{
				Partition: p, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value),
				ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch,
				Transactional: r.Attrs.IsTransactional(),
			}
			if r.Attrs.IsControl() {
				commit, err := marker(r.Key)
				if err != nil {
					return nil, fmt.Errorf("observe %s/%d offset %d: %w", topic, p, r.Offset, err)
				}
				lr.Control, lr.Commit, lr.Key, lr.Value = true, commit, "", ""
			} else if seen[r.Offset] {
				lr.ReadCommitted = true
				delete(seen, r.Offset)
			}
			out.Records = append(out.Records, lr)
		}
		if len(seen) > 0 {
			var offs []int64
			for o := range seen { // lint:sorted sorted below
				offs = append(offs, o)
			}
			sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
			return nil, fmt.Errorf("observe %s/%d: read_committed returned %d data records that are not in the log read with read_uncommitted, first at offset %d", topic, p, len(offs), offs[0])
		}
	}
	return out, nil
}

// marker decodes a control record's key: version int16, then type int16
// (0 abort, 1 commit).
func marker(key []byte) (commit bool, err error) {
	if len(key) < 4 {
		return false, fmt.Errorf("control record with a %d-byte key", len(key))
	}
	switch t := binary.BigEndian.Uint16(key[2:4]); t {
	case 0:
		return false, nil
	case 1:
		return true, nil
	default:
		return false, fmt.Errorf("control record of unknown type %d", t)
	}
}

// readPass reads every partition of until from its start to until[p]
// (exclusive), keeping control records, read_committed or not. It returns
// the records per partition in offset order.
func readPass(ctx context.Context, topic string, until map[int32]int64, committed bool, lim Limits, timeout time.Duration, opts []kgo.Opt) (map[int32][]*kgo.Record, error) {
	iso, pass := kgo.ReadUncommitted(), "read_uncommitted"
	if committed {
		iso, pass = kgo.ReadCommitted(), "read_committed"
	}
	var parts []int32
	for p, end := range until { // lint:sorted sorted below
		if end > 0 {
			parts = append(parts, p)
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	out := map[int32][]*kgo.Record{}
	for len(parts) > 0 {
		n := min(len(parts), max(1, lim.PartitionsPerConsumer))
		chunk := parts[:n]
		parts = parts[n:]
		if err := readChunk(ctx, topic, chunk, until, iso, lim, opts, out); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("observe %s (%s): not read to the end before the %v limit: %w", topic, pass, timeout, err)
			}
			return nil, fmt.Errorf("observe %s (%s): %w", topic, pass, err)
		}
	}
	return out, nil
}

func readChunk(ctx context.Context, topic string, parts []int32, until map[int32]int64, iso kgo.IsolationLevel, lim Limits, opts []kgo.Opt, out map[int32][]*kgo.Record) error {
	assign := map[int32]kgo.Offset{}
	remaining := map[int32]int64{}
	for _, p := range parts {
		assign[p] = kgo.NewOffset().AtStart()
		remaining[p] = until[p]
	}
	copts := append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(iso),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(50*time.Millisecond),
	)
	copts = append(copts,
		kgo.FetchMaxPartitionBytes(lim.PartitionBytes),
		kgo.FetchMaxBytes(lim.responseBytes()),
		kgo.BrokerMaxReadBytes(max(2*lim.responseBytes(), 1<<20)))
	cl, err := kgo.NewClient(copts...)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer cl.Close()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%d partitions left: %w", len(remaining), err)
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("partition %d: %w", p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := until[r.Partition]
			if !ok || r.Offset >= end {
				return // past the end this read is for
			}
			out[r.Partition] = append(out[r.Partition], r)
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	return nil
}

// listEnds asks the broker for every partition's high watermark and last
// stable offset with two ListOffsets requests.
func listEnds(ctx context.Context, cl *kgo.Client, topic string) ([]checkers.LogEnd, error) {
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

	ends := make([]checkers.LogEnd, len(parts))
	for i, p := range parts {
		ends[i].Partition = p
	}
	for iso, set := range []func(*checkers.LogEnd, int64){
		func(e *checkers.LogEnd, o int64) { e.HighWatermark = o },
		func(e *checkers.LogEnd, o int64) { e.LastStable = o },
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

// ReadCommitted reads topic and returns its committed data records, as the
// log's markers label them, and the partitions' ends. A caller that judges
// what it reads should use Read and the checkers instead; this is for input
// read back as the oracle's committed input.
func ReadCommitted(ctx context.Context, topic string, timeout time.Duration, opts ...kgo.Opt) ([]checkers.Labeled, []checkers.LogEnd, error) {
	log, err := Read(ctx, topic, timeout, opts...)
	if err != nil {
		return nil, nil, err
	}
	labeled, err := checkers.Label(log)
	if err != nil {
		return nil, nil, fmt.Errorf("observe %s: %w", topic, err)
	}
	return checkers.CommittedRecords(labeled), log.Ends, nil
}
