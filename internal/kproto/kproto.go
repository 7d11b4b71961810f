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
// not depend on the wall clock. A nil key or value is encoded as null.
func EncodeBatch(p Producer, firstSeq int32, txn bool, ts int64, recs []Record) []byte {
	size := 0
	for _, r := range recs {
		size += recordSize(len(r.Key), len(r.Value))
	}
	b := beginBatch(size)
	for i, r := range recs {
		b = appendRecord(b, i, r.Key, r.Key == nil, r.Value, r.Value == nil)
	}
	return endBatch(b, p, firstSeq, txn, ts, len(recs))
}

// StringRecord is a key and a value to produce, as strings: what a stream
// processor holds. It saves the conversion to Record's byte slices.
type StringRecord struct {
	Key, Value string
}

// EncodeStringBatch is EncodeBatch for StringRecords. Keys and values are
// never null.
func EncodeStringBatch(p Producer, firstSeq int32, txn bool, ts int64, recs []StringRecord) []byte {
	size := 0
	for _, r := range recs {
		size += recordSize(len(r.Key), len(r.Value))
	}
	b := beginBatch(size)
	for i, r := range recs {
		b = appendRecord(b, i, r.Key, false, r.Value, false)
	}
	return endBatch(b, p, firstSeq, txn, ts, len(recs))
}

// The v2 record batch header: FirstOffset int64, Length int32,
// PartitionLeaderEpoch int32, Magic int8, CRC uint32, Attributes int16,
// LastOffsetDelta int32, FirstTimestamp int64, MaxTimestamp int64,
// ProducerID int64, ProducerEpoch int16, FirstSequence int32, NumRecords
// int32; then the records. The CRC (Castagnoli) covers Attributes onward;
// Length counts everything after itself.
const (
	batchHeaderLen = 61
	offLength      = 8
	offCRC         = 17
	offAttributes  = 21
)

// recordSize is the encoded size of a record with no headers, a zero
// timestamp delta and an offset delta of at most 2^20: its length varint
// and its body.
func recordSize(key, value int) int {
	body := recordBody(key, value, 1<<20)
	return varintLen(int64(body)) + body
}

// recordBody is the body length of a record: attributes, timestamp delta,
// offset delta, key, value, header count.
func recordBody(key, value, delta int) int {
	return 1 + 1 + varintLen(int64(delta)) + varintLen(int64(key)) + key + varintLen(int64(value)) + value + 1
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

func beginBatch(records int) []byte {
	return make([]byte, batchHeaderLen, batchHeaderLen+records)
}

// appendRecord appends record delta of a batch.
func appendRecord[T string | []byte](b []byte, delta int, key T, nullKey bool, value T, nullValue bool) []byte {
	b = binary.AppendVarint(b, int64(recordBody(len(key), len(value), delta)))
	b = append(b, 0, 0) // attributes, timestamp delta 0
	b = binary.AppendVarint(b, int64(delta))
	b = appendBytes(b, key, nullKey)
	b = appendBytes(b, value, nullValue)
	return append(b, 0) // no headers
}

func appendBytes[T string | []byte](b []byte, v T, null bool) []byte {
	if null {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(v)))
	return append(b, v...)
}

func endBatch(b []byte, p Producer, firstSeq int32, txn bool, ts int64, n int) []byte {
	var attrs uint16
	if txn {
		attrs |= 0x0010
	}
	be := binary.BigEndian
	be.PutUint64(b[0:], 0)                         // FirstOffset
	be.PutUint32(b[offLength:], uint32(len(b)-12)) // Length
	be.PutUint32(b[12:], 0xffffffff)               // PartitionLeaderEpoch -1
	b[16] = 2                                      // Magic
	be.PutUint16(b[offAttributes:], attrs)         // Attributes
	be.PutUint32(b[23:], uint32(int32(n-1)))       // LastOffsetDelta
	be.PutUint64(b[27:], uint64(ts))               // FirstTimestamp
	be.PutUint64(b[35:], uint64(ts))               // MaxTimestamp
	be.PutUint64(b[43:], uint64(p.ID))             // ProducerID
	be.PutUint16(b[51:], uint16(p.Epoch))          // ProducerEpoch
	be.PutUint32(b[53:], uint32(firstSeq))         // FirstSequence
	be.PutUint32(b[57:], uint32(int32(n)))         // NumRecords
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32c))
	return b
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
