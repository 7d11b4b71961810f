package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/onceproof/onceproof/internal/kproto"
)

// stateOp is one write to a state backend.
type stateOp struct {
	kind            string // "set", "delete", "append", "clear"
	kg              int
	name, key, data string
}

func applyOps(b StateBackend, ops []stateOp) {
	for _, o := range ops {
		switch o.kind {
		case "set":
			b.Set(o.kg, o.name, o.key, o.data)
		case "delete":
			b.Delete(o.kg, o.name, o.key)
		case "append":
			b.Append(o.kg, o.name, o.key, o.data)
		case "clear":
			b.ClearList(o.kg, o.name, o.key)
		default:
			panic("unknown state op " + o.kind)
		}
	}
}

// sampleOps fill several key groups with values and lists, including
// entries that are later removed.
var sampleOps = []stateOp{
	{"set", 7, "count", "k1", "3"},
	{"set", 7, "count", "k2", "1"},
	{"set", 7, "sum", "k1", "40"},
	{"append", 7, "left", "k1", "l1"},
	{"append", 7, "left", "k1", "l2"},
	{"set", 0, "count", "k0", "9"},
	{"append", 127, "right", "kz", "r1"},
	{"append", 127, "left", "kz", "l9"},
	{"set", 127, "count", "kz", "2"},
	{"set", 42, "gone", "kx", "x"}, // deleted below: key group 42 ends empty
	{"delete", 42, "gone", "kx", ""},
	{"append", 64, "tmp", "ky", "t"}, // cleared below: key group 64 ends empty
	{"clear", 64, "tmp", "ky", ""},
	{"set", 7, "count", "k2", "2"}, // overwrite
}

// sampleState is what sampleOps leave, as Snapshot must return it: key
// groups ascending, entries by name then key, empty groups left out.
var sampleState = []KeyGroupState{
	{KG: 0, Values: []ValueEntry{{"count", "k0", "9"}}},
	{KG: 7,
		Values: []ValueEntry{{"count", "k1", "3"}, {"count", "k2", "2"}, {"sum", "k1", "40"}},
		Lists:  []ListEntry{{"left", "k1", []string{"l1", "l2"}}}},
	{KG: 127,
		Values: []ValueEntry{{"count", "kz", "2"}},
		Lists:  []ListEntry{{"left", "kz", []string{"l9"}}, {"right", "kz", []string{"r1"}}}},
}

func sampleSnapshot() *TaskSnapshot {
	return &TaskSnapshot{
		Task: "count/0", Checkpoint: 7, Keyed: sampleState,
		Timers: []timer{{KG: 7, Key: "k1", At: 1000}, {KG: 0, Key: "k0", At: 2000}},
		Source: &SourceState{Topic: "in", Positions: []kproto.Position{{Partition: 0, Offset: 12}, {Partition: 3, Offset: 5}}},
		Sink: &SinkState{Pending: []PendingTxn{
			{Checkpoint: 6, Producer: kproto.Producer{TxnID: "job-sink-0-6", ID: 4, Epoch: 1}, Records: 17}}},
	}
}

// getCase is a Get and what a backend must answer.
type getCase struct {
	kg        int
	name, key string
	want      string
	ok        bool
}

// checkGets asks b every Get of cases; when says at what point (for the
// messages).
func checkGets(t *testing.T, b StateBackend, when string, cases []getCase) {
	t.Helper()
	for _, c := range cases {
		if got, ok, _ := b.Get(c.kg, c.name, c.key); got != c.want || ok != c.ok {
			t.Errorf("Get(%d, %s, %s)%s: got %q, %v, want %q, %v", c.kg, c.name, c.key, when, got, ok, c.want, c.ok)
		}
	}
}

func TestHeapSnapshotSortedAndComplete(t *testing.T) {
	h := NewHeapBackend()
	applyOps(h, sampleOps)
	if got := h.Snapshot(); !reflect.DeepEqual(got, sampleState) {
		t.Errorf("Snapshot:\ngot  %+v\nwant %+v", got, sampleState)
	}
}

func TestHeapSnapshotRestoreRoundTrip(t *testing.T) {
	h := NewHeapBackend()
	applyOps(h, sampleOps)
	snap := &TaskSnapshot{Task: "count/0", Checkpoint: 3, Keyed: h.Snapshot()}
	data, err := EncodeSnapshot(snap)
	if err != nil {
		t.Fatalf("EncodeSnapshot: %v", err)
	}
	dec, err := DecodeSnapshot(data)
	if err != nil {
		t.Fatalf("DecodeSnapshot: %v", err)
	}
	if !reflect.DeepEqual(dec, snap) {
		t.Fatalf("decoded snapshot:\ngot  %+v\nwant %+v", dec, snap)
	}

	r := NewHeapBackend()
	r.Set(99, "stale", "k", "must disappear on restore")
	r.Restore(dec.Keyed)
	if got := r.Snapshot(); !reflect.DeepEqual(got, sampleState) {
		t.Errorf("snapshot after restore:\ngot  %+v\nwant %+v", got, sampleState)
	}
	checkGets(t, r, " after restore", []getCase{
		{7, "count", "k1", "3", true},
		{7, "count", "k2", "2", true},
		{0, "count", "k0", "9", true},
		{127, "count", "kz", "2", true},
		{42, "gone", "kx", "", false},
		{99, "stale", "k", "", false},
		{0, "count", "k1", "", false}, // the same key in another key group is another entry
	})
	if got, _ := r.GetList(7, "left", "k1"); !slices.Equal(got, []string{"l1", "l2"}) {
		want := []string{"l1", "l2"}
		t.Errorf("GetList(7, left, k1) after restore: got %q, want %q", got, want)
	}

	// The restored backend owns its lists: appending to it does not reach
	// into the decoded snapshot.
	r.Append(7, "left", "k1", "l3")
	if got, want := dec.Keyed[1].Lists[0].Values, []string{"l1", "l2"}; !slices.Equal(got, want) {
		t.Errorf("decoded snapshot list after an append to the restored backend: got %q, want %q", got, want)
	}
}

// TestHeapSnapshotIsImmutable: Snapshot is the synchronous part of a
// checkpoint; what it returned must not change while processing goes on and
// the asynchronous upload runs.
func TestHeapSnapshotIsImmutable(t *testing.T) {
	h := NewHeapBackend()
	applyOps(h, sampleOps)
	snap := h.Snapshot()
	before, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	applyOps(h, []stateOp{
		{"set", 7, "count", "k1", "100"},
		{"append", 7, "left", "k1", "l3"},
		{"clear", 127, "right", "kz", ""},
		{"delete", 0, "count", "k0", ""},
		{"append", 5, "new", "k5", "n"},
	})
	after, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("snapshot changed after later writes:\nbefore %s\nafter  %s", before, after)
	}
}

// TestEncodeSnapshotDeterministic: equal state gives byte-identical
// snapshots, whatever order it was written in and however often it is
// snapshotted (map iteration order must not leak into checkpoints).
func TestEncodeSnapshotDeterministic(t *testing.T) {
	encode := func(ops []stateOp) []byte {
		h := NewHeapBackend()
		applyOps(h, ops)
		data, err := EncodeSnapshot(&TaskSnapshot{Task: "count/0", Checkpoint: 1, Keyed: h.Snapshot()})
		if err != nil {
			t.Fatalf("EncodeSnapshot: %v", err)
		}
		return data
	}
	want := encode(sampleOps)
	// The same state written in another order: every entry of
	// sampleState set or appended directly, in reverse.
	reordered := reversedWrites(sampleState)
	for i := range 20 {
		ops := sampleOps
		if i%2 == 1 {
			ops = reordered
		}
		if got := encode(ops); !bytes.Equal(got, want) {
			t.Fatalf("encoding %d differs:\ngot  %s\nwant %s", i, got, want)
		}
	}
}

// reversedWrites returns writes that build state directly (no overwrite,
// delete or clear), in the reverse of snapshot order: the last key group
// first, and in each the last value and the last list first. The writes
// that do not commute, appends to one list, keep their order.
func reversedWrites(state []KeyGroupState) []stateOp {
	var ops []stateOp
	for _, g := range slices.Backward(state) {
		for _, v := range slices.Backward(g.Values) {
			ops = append(ops, stateOp{"set", g.KG, v.Name, v.Key, v.Value})
		}
		for _, l := range slices.Backward(g.Lists) {
			for _, e := range l.Values {
				ops = append(ops, stateOp{"append", g.KG, l.Name, l.Key, e})
			}
		}
	}
	return ops
}

// TestDecodeSnapshotRejectsEveryFlippedByte flips each byte of an encoded
// snapshot in several ways. Decoding must fail with ErrCorruptSnapshot or,
// where the change is meaningless to JSON (Go matches field names without
// regard to case), return the original snapshot; it must never return a
// different one.
func TestDecodeSnapshotRejectsEveryFlippedByte(t *testing.T) {
	orig := sampleSnapshot()
	data, err := EncodeSnapshot(orig)
	if err != nil {
		t.Fatalf("EncodeSnapshot: %v", err)
	}
	if got, err := DecodeSnapshot(data); err != nil || !reflect.DeepEqual(got, orig) {
		t.Fatalf("DecodeSnapshot of intact data: got %+v, %v, want %+v, nil", got, err, orig)
	}
	rejected, harmless := 0, 0
	for _, mask := range []byte{0x01, 0x02, 0x20, 0x80, 0xff} {
		for i := range data {
			bad := slices.Clone(data)
			bad[i] ^= mask
			got, err := DecodeSnapshot(bad)
			switch {
			case err != nil && errors.Is(err, ErrCorruptSnapshot):
				rejected++
			case err != nil:
				t.Errorf("byte %d ^ %#x (%q): got error %v, want one wrapping ErrCorruptSnapshot", i, mask, data[i], err)
			case !reflect.DeepEqual(got, orig):
				t.Errorf("byte %d ^ %#x (%q): decoded a different snapshot without error:\ngot  %+v\nwant %+v", i, mask, data[i], got, orig)
			default:
				harmless++
			}
		}
	}
	t.Logf("%d bytes: %d flips rejected, %d harmless (case of a field name)", len(data), rejected, harmless)
	if rejected == 0 {
		t.Errorf("no flip was rejected")
	}
}

func TestDecodeSnapshotRejectsTruncation(t *testing.T) {
	data, err := EncodeSnapshot(sampleSnapshot())
	if err != nil {
		t.Fatalf("EncodeSnapshot: %v", err)
	}
	for n := range len(data) {
		if _, err := DecodeSnapshot(data[:n]); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("first %d of %d bytes: got error %v, want one wrapping ErrCorruptSnapshot", n, len(data), err)
		}
	}
}

func TestDecodeSnapshotRejectsOtherFormats(t *testing.T) {
	body, err := json.Marshal(sampleSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	for _, format := range []int{0, 2, -1, snapshotFormat + 100} {
		// A well-formed envelope with a correct checksum: only the format
		// is wrong.
		data, err := json.Marshal(envelope{Format: format, SHA256: hex.EncodeToString(sum[:]), Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeSnapshot(data); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("format %d: got error %v, want one wrapping ErrCorruptSnapshot", format, err)
		}
	}
	// The same envelope with the right format decodes: the rejections
	// above are about the format alone.
	data, _ := json.Marshal(envelope{Format: snapshotFormat, SHA256: hex.EncodeToString(sum[:]), Body: body})
	if got, err := DecodeSnapshot(data); err != nil || !reflect.DeepEqual(got, sampleSnapshot()) {
		t.Errorf("format %d: got %+v, %v, want the sample snapshot", snapshotFormat, got, err)
	}
}
