package live

import (
	"testing"
)

// BenchmarkMailbox is one closure handed from one goroutine to a mailbox
// and run there: the cost of a channel between two tasks, per batch.
func BenchmarkMailbox(b *testing.B) {
	m := newMailbox("bench", 4096)
	go m.run()
	n := 0
	fn := func() { n++ }
	b.ResetTimer()
	for range b.N {
		m.post(fn)
	}
	m.call(func() {})
	b.StopTimer()
	m.stop()
	<-m.done
	if n != b.N {
		b.Fatalf("ran %d closures, want %d", n, b.N)
	}
}

func TestMailboxStopDropsQueued(t *testing.T) {
	m := newMailbox("t", 16)
	ran := 0
	for range 10 {
		m.post(func() { ran++ })
	}
	m.stop()
	go m.run()
	<-m.done
	if ran != 0 {
		t.Errorf("ran %d closures queued before stop, want 0", ran)
	}
	if m.post(func() {}) {
		t.Error("post after stop: got queued, want dropped")
	}
	if m.call(func() {}) {
		t.Error("call after stop: got ran, want false")
	}
}

func TestBatchesEnd(t *testing.T) {
	// Two batches: base 0 with 3 records, base 5 with 1 record, then a
	// truncated one that must be ignored.
	batch := func(base int64, delta int32) []byte {
		b := make([]byte, 61)
		putU64(b[0:8], uint64(base))
		putU32(b[8:12], uint32(len(b)-12))
		putU32(b[23:27], uint32(delta))
		return b
	}
	raw := append(batch(0, 2), batch(5, 0)...)
	raw = append(raw, batch(9, 3)[:30]...)
	if got := batchesEnd(raw); got != 6 {
		t.Errorf("batchesEnd: got %d, want 6", got)
	}
	if got := batchesEnd(nil); got != 0 {
		t.Errorf("batchesEnd(nil): got %d, want 0", got)
	}
}

func putU64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

func putU32(b []byte, v uint32) {
	for i := range 4 {
		b[i] = byte(v >> (24 - 8*i))
	}
}
