// Package kproto builds the raw Kafka requests that onceproof's processes issue
// one at a time (record batches, Produce, Fetch, InitProducerID, EndTxn) and
// reads their responses. Raw requests keep every step under the caller's
// control: no client-side retries, buffering or timers.
//
// The independent reader the checkers use (package observe) must not use
// this package, so a bug here cannot hide from the judge.
package kproto

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// Record is a key and a value to produce.
type Record struct {
	Key, Value []byte
}

// Producer identifies a producer session: its id, its epoch and, for a
// transactional producer, its transactional id.
type Producer struct {
	TxnID string `json:"txn_id,omitempty"`
	ID    int64  `json:"producer_id"`
	Epoch int16  `json:"epoch"`
}

func (p Producer) String() string { return fmt.Sprintf("%s(pid=%d,e=%d)", p.TxnID, p.ID, p.Epoch) }

// EncodeBatch encodes recs as one v2 record batch. A transactional batch sets
// the transactional attribute; firstSeq is the producer's sequence number for
// the partition. ts is the batch timestamp, given explicitly so that bytes do
// not depend on the wall clock.
func EncodeBatch(p Producer, firstSeq int32, txn bool, ts int64, recs []Record) []byte {
	var raw []byte
	for i, r := range recs {
		rec := kmsg.Record{OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		// Length is the body length; encoding with Length 0 takes one
		// varint byte, which is subtracted.
		rec.Length = int32(len(rec.AppendTo(nil)) - 1)
		raw = rec.AppendTo(raw)
	}
	var attrs int16
	if txn {
		attrs |= 0x0010
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: attrs,
		LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: ts, MaxTimestamp: ts,
		ProducerID: p.ID, ProducerEpoch: p.Epoch, FirstSequence: firstSeq,
		NumRecords: int32(len(recs)), Records: raw,
	}
	enc := b.AppendTo(nil)
	b.Length = int32(len(enc) - 12) // everything after FirstOffset and Length
	enc = b.AppendTo(enc[:0])
	b.CRC = int32(crc32.Checksum(enc[21:], crc32c)) // CRC covers Attributes onward
	return b.AppendTo(enc[:0])
}

// Produce builds a produce request for one partition. txnID is empty for a
// non-transactional write. The topic ID is filled in by whoever issues it.
func Produce(txnID string, topic string, partition int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	if txnID != "" {
		req.TransactionID = &txnID
	}
	t := kmsg.NewProduceRequestTopic()
	t.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition = partition
	pp.Records = batch
	t.Partitions = append(t.Partitions, pp)
	req.Topics = append(req.Topics, t)
	return req
}

// ProduceResult reads the single-partition response of a Produce request.
func ProduceResult(resp kmsg.Response) (baseOffset int64, err error) {
	r, ok := resp.(*kmsg.ProduceResponse)
	if !ok || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("produce: malformed response %T", resp)
	}
	p := r.Topics[0].Partitions[0]
	return p.BaseOffset, kerr.ErrorForCode(p.ErrorCode)
}

// Position is a partition and the next offset to read from it.
type Position struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

// fetchResponseBytesMax is the response-level byte limit of every fetch: far
// above what the per-partition limits add up to, on purpose. kfake (as of
// v0.0.0-20260918054303) stops building a response when it passes the
// response-level limit before it lists the partition's aborted transactions,
// so a read_committed reader would take aborted batches for committed ones.
// Bounding only the per-partition bytes never takes that path.
const fetchResponseBytesMax = 1 << 30

// Fetch builds a fetch request that returns at once (no long poll) for the
// given positions of topic. readCommitted selects the isolation level;
// maxBytes bounds each partition's share (at least one batch is returned).
func Fetch(topic string, positions []Position, readCommitted bool, maxBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = fetchResponseBytesMax
	if readCommitted {
		req.IsolationLevel = 1
	}
	t := kmsg.NewFetchRequestTopic()
	t.Topic = topic
	for _, pos := range positions {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition = pos.Partition
		fp.FetchOffset = pos.Offset
		fp.PartitionMaxBytes = maxBytes
		t.Partitions = append(t.Partitions, fp)
	}
	req.Topics = append(req.Topics, t)
	return req
}

// Fetched is what one partition of a fetch response held.
type Fetched struct {
	Partition int32
	// Records are the data records at or after the requested offset; with
	// read_committed, records of aborted transactions are filtered out.
	Records []*kgo.Record
	// Next is the offset to fetch from next time: past every batch seen,
	// control batches and aborted batches included. Committed data is not
	// contiguous, so the next position is never "last offset + 1".
	Next          int64
	HighWatermark int64
	LastStable    int64
	Err           error
}

// DecodeFetch reads a fetch response for topic. from gives the requested
// offset of each partition (records before it are dropped).
func DecodeFetch(resp kmsg.Response, topic string, from []Position, readCommitted bool) ([]Fetched, error) {
	r, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return nil, fmt.Errorf("fetch: unexpected response %T", resp)
	}
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	start := make(map[int32]int64, len(from))
	for _, p := range from {
		start[p.Partition] = p.Offset
	}
	iso := kgo.ReadUncommitted()
	if readCommitted {
		iso = kgo.ReadCommitted()
	}
	var out []Fetched
	for ti := range r.Topics {
		for pi := range r.Topics[ti].Partitions {
			rp := &r.Topics[ti].Partitions[pi]
			off, ok := start[rp.Partition]
			if !ok {
				return nil, fmt.Errorf("fetch: response for partition %d that was not asked for", rp.Partition)
			}
			fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
				Offset: off, IsolationLevel: iso, Topic: topic, Partition: rp.Partition,
			}, rp, kgo.DefaultDecompressor(), nil)
			if next < off {
				next = off
			}
			out = append(out, Fetched{
				Partition: rp.Partition, Records: fp.Records, Next: next,
				HighWatermark: rp.HighWatermark, LastStable: rp.LastStableOffset, Err: fp.Err,
			})
		}
	}
	return out, nil
}

// InitProducerID builds the request that starts (or fences and restarts) the
// transactional producer txnID. Any transaction the previous epoch left open
// is aborted by the broker.
func InitProducerID(txnID string, timeoutMillis int32) *kmsg.InitProducerIDRequest {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &txnID
	req.TransactionTimeoutMillis = timeoutMillis
	req.ProducerID = -1
	req.ProducerEpoch = -1
	return req
}

// InitProducerIDResult reads an InitProducerID response.
func InitProducerIDResult(txnID string, resp kmsg.Response) (Producer, error) {
	r, ok := resp.(*kmsg.InitProducerIDResponse)
	if !ok {
		return Producer{}, fmt.Errorf("init producer id: unexpected response %T", resp)
	}
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return Producer{}, fmt.Errorf("init producer id %s: %w", txnID, err)
	}
	return Producer{TxnID: txnID, ID: r.ProducerID, Epoch: r.ProducerEpoch}, nil
}

// EndTxn builds the request that commits or aborts p's open transaction.
func EndTxn(p Producer, commit bool) *kmsg.EndTxnRequest {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID = p.TxnID
	req.ProducerID = p.ID
	req.ProducerEpoch = p.Epoch
	req.Commit = commit
	return req
}

// EndTxnResult reads an EndTxn response. From EndTxn v5 on (KIP-890) the
// broker bumps the epoch at every commit or abort; the returned Producer
// carries the epoch to use next, and sequence numbers restart at 0.
func EndTxnResult(p Producer, resp kmsg.Response) (Producer, error) {
	r, ok := resp.(*kmsg.EndTxnResponse)
	if !ok {
		return p, fmt.Errorf("end txn: unexpected response %T", resp)
	}
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return p, fmt.Errorf("end txn %s: %w", p, err)
	}
	if r.Version >= 5 && r.ProducerID >= 0 {
		p.ID, p.Epoch = r.ProducerID, r.ProducerEpoch
	}
	return p, nil
}

// DecodeBatch reads back the records of an uncompressed v2 batch built by
// EncodeBatch (the harness uses it to see what a produce request carried).
func DecodeBatch(raw []byte) (Producer, []Record, error) {
	var b kmsg.RecordBatch
	if err := b.ReadFrom(raw); err != nil {
		return Producer{}, nil, fmt.Errorf("decode batch: %w", err)
	}
	if b.Attributes&0x0007 != 0 {
		return Producer{}, nil, fmt.Errorf("decode batch: compressed batches are not supported")
	}
	p := Producer{ID: b.ProducerID, Epoch: b.ProducerEpoch}
	buf := b.Records
	recs := make([]Record, 0, b.NumRecords)
	for i := int32(0); i < b.NumRecords; i++ {
		length, n := binary.Varint(buf)
		if n <= 0 || int64(len(buf)-n) < length {
			return p, nil, fmt.Errorf("decode batch: record %d truncated", i)
		}
		var r kmsg.Record
		if err := r.ReadFrom(buf[:n+int(length)]); err != nil {
			return p, nil, fmt.Errorf("decode batch: record %d: %w", i, err)
		}
		recs = append(recs, Record{Key: r.Key, Value: r.Value})
		buf = buf[n+int(length):]
	}
	return p, recs, nil
}
