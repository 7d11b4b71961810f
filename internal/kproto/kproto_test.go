package kproto

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

func TestBatchRoundTrip(t *testing.T) {
	want := []Record{{Key: []byte("k1"), Value: []byte("v1")}, {Key: nil, Value: []byte("")}, {Key: []byte("k3"), Value: make([]byte, 300)}}
	raw := EncodeBatch(Producer{ID: 7, Epoch: 2}, 5, true, 123, want)
	p, got, err := DecodeBatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != 7 || p.Epoch != 2 {
		t.Fatalf("got producer %+v, want id 7 epoch 2", p)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i].Key) != string(want[i].Key) || string(got[i].Value) != string(want[i].Value) {
			t.Fatalf("record %d: got %q=%q, want %q=%q", i, got[i].Key, got[i].Value, want[i].Key, want[i].Value)
		}
	}
	if _, _, err := DecodeBatch(raw[:len(raw)-5]); err == nil {
		t.Fatal("a truncated batch decoded without error")
	}
}

// referenceBatch encodes a batch with kmsg's own encoder: the reference the
// hand-written encoder must match byte for byte.
func referenceBatch(p Producer, firstSeq int32, txn bool, ts int64, recs []Record) []byte {
	var raw []byte
	for i, r := range recs {
		rec := kmsg.Record{OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
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
	b.Length = int32(len(enc) - 12)
	enc = b.AppendTo(enc[:0])
	b.CRC = int32(crc32.Checksum(enc[21:], crc32c))
	return b.AppendTo(enc[:0])
}

// TestEncodeBatchMatchesKmsg checks both encoders against kmsg's over
// random batches: null and empty keys and values, lengths across varint
// widths, offset deltas past one varint byte.
func TestEncodeBatchMatchesKmsg(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		bytesOf := func(label string) []byte {
			switch rapid.IntRange(0, 3).Draw(rt, label+"-kind") {
			case 0:
				return nil
			case 1:
				return []byte{}
			case 2:
				return rapid.SliceOfN(rapid.Byte(), 0, 20).Draw(rt, label)
			}
			return make([]byte, rapid.IntRange(100, 20000).Draw(rt, label+"-len"))
		}
		n := rapid.IntRange(1, 300).Draw(rt, "records")
		recs := make([]Record, n)
		strs := make([]StringRecord, n)
		allNonNil := true
		for i := range recs {
			recs[i] = Record{Key: bytesOf("key"), Value: bytesOf("value")}
			strs[i] = StringRecord{Key: string(recs[i].Key), Value: string(recs[i].Value)}
			allNonNil = allNonNil && recs[i].Key != nil && recs[i].Value != nil
		}
		p := Producer{ID: rapid.Int64Range(-1, 1<<40).Draw(rt, "pid"), Epoch: int16(rapid.IntRange(-1, 1000).Draw(rt, "epoch"))}
		seq := int32(rapid.IntRange(-1, 1<<30).Draw(rt, "seq"))
		txn := rapid.Bool().Draw(rt, "txn")
		ts := rapid.Int64Range(0, 1<<45).Draw(rt, "ts")
		want := referenceBatch(p, seq, txn, ts, recs)
		if got := EncodeBatch(p, seq, txn, ts, recs); !bytes.Equal(got, want) {
			rt.Fatalf("EncodeBatch differs from kmsg's encoding:\n got %x\nwant %x", got, want)
		}
		if allNonNil {
			if got := EncodeStringBatch(p, seq, txn, ts, strs); !bytes.Equal(got, want) {
				rt.Fatalf("EncodeStringBatch differs from kmsg's encoding:\n got %x\nwant %x", got, want)
			}
		}
	})
}

func BenchmarkEncodeStringBatch(b *testing.B) {
	recs := make([]StringRecord, 1000)
	for i := range recs {
		recs[i] = StringRecord{Key: fmt.Sprintf("k%d", i), Value: fmt.Sprintf("copy(in-%d)", i)}
	}
	b.ReportAllocs()
	for b.Loop() {
		EncodeStringBatch(Producer{ID: 1}, 0, true, 0, recs)
	}
}
