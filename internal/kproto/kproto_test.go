package kproto

import "testing"

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
