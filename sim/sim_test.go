package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func newWorld(t *testing.T, mod func(*Config)) *World {
	t.Helper()
	cfg := DefaultConfig(7)
	cfg.KeepTrace = true
	if mod != nil {
		mod(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"zero workers", func(c *Config) { c.Workers = 0 }, "workers"},
		{"negative link latency", func(c *Config) { c.LinkLatency.Min = -time.Millisecond }, "link_latency.min"},
		{"max below min", func(c *Config) { c.KafkaLatency.Max = c.KafkaLatency.Min - 1 }, "kafka_latency.max"},
		{"zero buffer", func(c *Config) { c.LinkBufferMessages = 0 }, "link_buffer_messages"},
		{"zero kafka timeout", func(c *Config) { c.KafkaTimeout = 0 }, "kafka_timeout"},
		{"tail percent", func(c *Config) { c.LinkLatency.TailPercent = 101 }, "link_latency.tail_percent"},
		{"zero event budget", func(c *Config) { c.EventsMax = 0 }, "events_max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig(1)
			tc.mod(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("got %v, want an error naming %s", err, tc.field)
			}
		})
	}
	if _, err := New(DefaultConfig(1)); err != nil {
		t.Fatalf("default config: %v", err)
	}
}

func TestEventOrder(t *testing.T) {
	w := newWorld(t, nil)
	var got []string
	w.At(20, func() { got = append(got, "c") })
	w.At(10, func() { got = append(got, "a") })
	w.At(10, func() { got = append(got, "b") }) // same time: scheduling order
	w.At(30, func() {
		got = append(got, "d")
		w.After(0, func() { got = append(got, "e") })
	})
	if err := w.Run(100, nil); err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, ""); s != "abcde" {
		t.Fatalf("got order %q, want abcde", s)
	}
	if w.Now() != 30 {
		t.Fatalf("got now %v, want 30 (the queue drained)", w.Now())
	}
}

func TestRunStopsAtLimitAndBudget(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.EventsMax = 10 })
	var tick func()
	tick = func() { w.After(time.Millisecond, tick) }
	w.After(0, tick)
	err := w.Run(Time(time.Hour), nil)
	if !errors.Is(err, ErrEventBudget) {
		t.Fatalf("got %v, want ErrEventBudget", err)
	}
	w2 := newWorld(t, nil)
	tick2 := func() {}
	var loop func()
	loop = func() { tick2(); w2.After(time.Millisecond, loop) }
	w2.After(0, loop)
	if err := w2.Run(Time(10*time.Millisecond), nil); err != nil {
		t.Fatal(err)
	}
	if w2.Now() != Time(10*time.Millisecond) {
		t.Fatalf("got now %v, want 10ms", w2.Now())
	}
}

// TestRandStreamsIndependent shows that drawing from one subsystem's stream
// does not shift another's.
func TestRandStreamsIndependent(t *testing.T) {
	a := newWorld(t, nil)
	b := newWorld(t, nil)
	for i := 0; i < 100; i++ {
		a.Rand("net").Uint64()
	}
	for i := 0; i < 5; i++ {
		if x, y := a.Rand("faults").Uint64(), b.Rand("faults").Uint64(); x != y {
			t.Fatalf("draw %d: faults stream shifted by net draws: %d != %d", i, x, y)
		}
	}
	if a.Rand("x").Uint64() == newWorld(t, func(c *Config) { c.Seed = 8 }).Rand("x").Uint64() {
		t.Fatal("different seeds gave the same first draw")
	}
}

// recorder is a program that logs what it is told.
type recorder struct {
	log  *[]string
	name string
}

func (r *recorder) Start(p *Proc)              { *r.log = append(*r.log, r.name+" start") }
func (r *recorder) Receive(from ProcID, m any) { *r.log = append(*r.log, r.name+" got "+m.(string)) }
func (r *recorder) LinkDown(peer ProcID)       { *r.log = append(*r.log, r.name+" linkdown") }
func (r *recorder) Writable(peer ProcID)       { *r.log = append(*r.log, r.name+" writable") }

// spawnPair spawns the recorders a and b, which share one log, and runs w
// to time 0, where both have started.
func spawnPair(w *World) (*Proc, *Proc, *[]string) {
	var log []string
	a := w.Spawn("a", func(p *Proc) Program { return &recorder{&log, "a"} })
	b := w.Spawn("b", func(p *Proc) Program { return &recorder{&log, "b"} })
	_ = w.Run(0, nil)
	return a, b, &log
}

func TestLinkFIFO(t *testing.T) {
	w := newWorld(t, func(c *Config) {
		c.LinkLatency = Latency{Min: 0, Max: 10 * time.Millisecond}
		c.LinkBufferMessages = 1000
	})
	a, b, log := spawnPair(w)
	var want []string
	for i := 0; i < 200; i++ {
		m := string(rune('A' + i%26))
		if err := a.Send(b.ID(), m); err != nil {
			t.Fatal(err)
		}
		want = append(want, "b got "+m)
	}
	if err := w.Run(Time(time.Second), nil); err != nil {
		t.Fatal(err)
	}
	got := (*log)[2:]
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("messages reordered or lost:\n got %v\nwant %v", got[:10], want[:10])
	}
}

func TestBackpressure(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.LinkBufferMessages = 2 })
	a, b, log := spawnPair(w)
	for i, want := range []error{nil, nil, ErrBackpressure} {
		if err := a.Send(b.ID(), "m"); !errors.Is(err, want) {
			t.Fatalf("send %d: got %v, want %v", i, err, want)
		}
	}
	_ = w.Run(Time(time.Second), nil)
	if !strings.Contains(strings.Join(*log, ","), "a writable") {
		t.Fatalf("sender was never told the link has room: %v", *log)
	}
}

func TestPartitionBreaksBothEnds(t *testing.T) {
	w := newWorld(t, nil)
	a, b, log := spawnPair(w)
	if err := a.Send(b.ID(), "before"); err != nil {
		t.Fatal(err)
	}
	w.Net().Partition(a.ID(), b.ID()) // "before" is in flight: lost
	if err := a.Send(b.ID(), "during"); !errors.Is(err, ErrLinkDown) {
		t.Fatalf("send across a partition: got %v, want ErrLinkDown", err)
	}
	_ = w.Run(Time(time.Second), nil)
	got := strings.Join(*log, ",")
	if strings.Contains(got, "got before") {
		t.Fatalf("a message in flight survived the partition: %v", got)
	}
	if !strings.Contains(got, "a linkdown") || !strings.Contains(got, "b linkdown") {
		t.Fatalf("both ends must see the link fail: %v", got)
	}
	w.Net().Heal(a.ID(), b.ID())
	if err := a.Send(b.ID(), "after"); err != nil {
		t.Fatal(err)
	}
	_ = w.Run(Time(2*time.Second), nil)
	if !strings.Contains(strings.Join(*log, ","), "b got after") {
		t.Fatalf("healed link did not deliver: %v", *log)
	}
}

func TestKillLosesMemoryTimersAndMessages(t *testing.T) {
	w := newWorld(t, nil)
	a, b, log := spawnPair(w)
	fired := false
	b.After(time.Second, func() { fired = true })
	_ = a.Send(b.ID(), "lost")
	w.KillFor(b, "test", 10*time.Millisecond)
	_ = w.Run(Time(2*time.Second), nil)
	if fired {
		t.Fatal("a timer of the killed incarnation fired")
	}
	got := strings.Join(*log, ",")
	if strings.Contains(got, "got lost") {
		t.Fatalf("a message to the killed incarnation was delivered: %v", got)
	}
	if strings.Count(got, "b start") != 2 || !strings.Contains(got, "a linkdown") {
		t.Fatalf("want a restart of b and a LinkDown at a: %v", got)
	}
	if b.Incarnation() != 1 {
		t.Fatalf("got incarnation %d, want 1", b.Incarnation())
	}
}

func TestPauseHoldsThenResumes(t *testing.T) {
	w := newWorld(t, nil)
	a, b, log := spawnPair(w)
	w.Pause(b)
	_ = a.Send(b.ID(), "held")
	_ = w.Run(Time(time.Second), nil)
	if strings.Contains(strings.Join(*log, ","), "got held") {
		t.Fatal("a paused process received a message")
	}
	w.Resume(b)
	_ = w.Run(Time(2*time.Second), nil)
	if !strings.Contains(strings.Join(*log, ","), "b got held") {
		t.Fatalf("the message was not delivered after resume: %v", *log)
	}
}

func TestDiskKeepsOnlySyncedData(t *testing.T) {
	w := newWorld(t, nil)
	a, _, _ := spawnPair(w)
	write := func(name string, sync bool) {
		fs := a.Disk()
		f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(f, "data")
		if sync {
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			d, _ := fs.OpenDir("")
			_ = d.Sync()
			d.Close()
		}
		f.Close()
	}
	write("synced", true)
	write("unsynced", false)
	w.KillFor(a, "test", time.Millisecond)
	_ = w.Run(Time(time.Second), nil)
	if _, err := a.Disk().Stat("synced"); err != nil {
		t.Fatalf("synced file lost: %v", err)
	}
	if _, err := a.Disk().Stat("unsynced"); err == nil {
		t.Fatal("unsynced file survived a crash")
	}
}

func TestStoreAtomicAndFaults(t *testing.T) {
	w := newWorld(t, nil)
	s := w.Store()
	if err := s.Put("ckpt/1/meta", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	s.SetFault(func(op StoreOp, name string) error {
		if op == StorePut {
			return errors.New("injected")
		}
		return nil
	})
	if err := s.Put("ckpt/1/meta", []byte("v2")); err == nil {
		t.Fatal("injected put failure was not reported")
	}
	s.SetFault(nil)
	got, err := s.Get("ckpt/1/meta")
	if err != nil || string(got) != "v1" {
		t.Fatalf("got %q, %v; want the old object v1 after a failed put", got, err)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	names, _ := s.List("ckpt/1")
	if len(names) != 1 || names[0] != "meta" {
		t.Fatalf("got %v, want [meta] (no temp files)", names)
	}
	if err := s.Corrupt("ckpt/1/meta", 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get("ckpt/1/meta"); string(got) == "v1" {
		t.Fatal("corrupt did not change the object")
	}
}

func TestPebbleLoggerNeverExits(t *testing.T) {
	defer func() {
		r := recover()
		if _, ok := r.(PebbleFatal); !ok {
			t.Fatalf("got panic %v, want PebbleFatal", r)
		}
	}()
	PebbleLogger{}.Fatalf("boom %d", 1)
}

func TestTraceDigest(t *testing.T) {
	run := func(seed uint64) string {
		w := newWorld(t, func(c *Config) { c.Seed = seed })
		for i := 0; i < 10; i++ {
			w.After(time.Duration(w.Rand("x").IntN(1000)), func() { w.Tracef("event") })
		}
		_ = w.Run(Time(time.Second), nil)
		return w.Trace().Digest()
	}
	if run(1) != run(1) {
		t.Fatal("same seed, different digest")
	}
	if run(1) == run(2) {
		t.Fatal("different seeds, same digest")
	}
}

// TestTraceKeptOrNot: a trace that keeps its events and one that does not
// (and so hashes them in batches) give the same digest, and the kept events
// render to the lines a tap saw and to the digest's lines.
func TestTraceKeptOrNot(t *testing.T) {
	run := func(keep bool) (*World, []string) {
		w := newWorld(t, func(c *Config) { c.KeepTrace = keep })
		var tapped []string
		w.Trace().Tap(func(line string) { tapped = append(tapped, line) })
		var log []string
		a := w.Spawn("a", func(*Proc) Program { return &recorder{&log, "a"} })
		b := w.Spawn("b", func(*Proc) Program { return &recorder{&log, "b"} })
		for i := 0; i < 3*hashBatch; i++ {
			w.After(time.Duration(i), func() {
				w.Record(Event{Kind: EventKafkaSent, N: int64(i), Proc: "a", Op: "EndTxn", Commit: true, Detail: "EndTxn txn=t pid=1 e=0 commit=true"})
				if i%100 == 0 {
					w.Net().Partition(a.ID(), b.ID())
					w.Net().Heal(a.ID(), b.ID())
				}
			})
		}
		_ = w.Run(Time(time.Second), nil)
		return w, tapped
	}
	kept, tapped := run(true)
	notKept, _ := run(false)
	if kept.Trace().Digest() != notKept.Trace().Digest() {
		t.Fatal("keeping the trace changed its digest")
	}
	if notKept.Trace().Len() != kept.Trace().Len() || len(notKept.Trace().Events()) != 0 || len(notKept.Trace().Lines()) != 0 {
		t.Fatal("a trace that keeps nothing kept something, or counted differently")
	}
	lines := kept.Trace().Lines()
	if !slices.Equal(lines, tapped) || !slices.Equal(lines, Lines(kept.Trace().Events())) {
		t.Fatal("kept lines differ from the tapped ones")
	}
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l + "\n"))
	}
	if hex.EncodeToString(h.Sum(nil)) != kept.Trace().Digest() {
		t.Fatal("the digest is not the SHA-256 of the lines")
	}
	if want := "         500 kafka#500 a -> EndTxn txn=t pid=1 e=0 commit=true"; !slices.Contains(lines, want) {
		t.Fatalf("no line %q", want)
	}
}
