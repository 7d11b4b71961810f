package engine

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SourceState is a source task's snapshot: the next offset to read in each
// partition it owns.
type SourceState struct {
	Topic     string            `json:"topic"`
	Positions []kproto.Position `json:"positions"`
	// Times is, for a source with event time, the highest timestamp read
	// from each partition (those read from at all).
	Times []PartitionTime `json:"times,omitempty"`
}

// source reads its partitions with read_committed fetches, one at a time,
// and emits records only while every output channel has credit.
//
// Its position is the next offset after the last record it emitted, never
// after the last record it fetched: a barrier placed between two emitted
// batches must see exactly the records before it.
type source struct {
	t        *Task
	topic    string
	pos      []kproto.Position
	fetching bool
	sleeping bool
	retries  int
	// deferred is a checkpoint whose position the late-offset-snapshot
	// mutant records only after the next batch.
	deferred *deferredSnapshot
	// Event time (nil ws: none): a clock per partition, parallel to pos,
	// and the watermark emitted last.
	ws      *WatermarkStrategy
	clocks  []partitionClock
	emitted int64
	// obuf is scratch space for building records; rot is where the next
	// fetch starts in pos.
	obuf []byte
	rot  int
}

// record builds the record read at offset off of partition p. Key, value
// and origin ("topic/partition@offset") share one allocation: this runs for
// every record read.
func (s *source) record(p int32, off int64, key, value []byte, ts int64) Record {
	b := append(s.obuf[:0], key...)
	b = append(b, value...)
	b = append(b, s.topic...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(p), 10)
	b = append(b, '@')
	b = strconv.AppendInt(b, off, 10)
	s.obuf = b
	all := string(b)
	k, v := len(key), len(key)+len(value)
	return Record{Key: all[:k], Value: all[k:v], Origin: all[v:], Time: ts}
}

type deferredSnapshot struct {
	n, triggeredAt int64
	m              TaskMetrics
}

func newSource(t *Task) *source {
	spec := t.v.Source
	s := &source{t: t, topic: spec.Topic, ws: spec.Watermarks, emitted: NoWatermark}
	for p := int32(0); p < spec.Partitions; p++ {
		if int(p)%t.v.Parallelism == t.id.Subtask {
			s.pos = append(s.pos, kproto.Position{Partition: p})
			s.clocks = append(s.clocks, newPartitionClock())
		}
	}
	return s
}

func (s *source) start(snap *TaskSnapshot) {
	if snap != nil && snap.Source != nil {
		for _, saved := range snap.Source.Positions {
			if i := s.index(saved.Partition); i >= 0 {
				s.pos[i].Offset = saved.Offset
			}
		}
		if s.ws != nil && !s.t.cfg.Mutants.Has(MutantWatermarkNotRestored) {
			for _, pt := range snap.Source.Times {
				if i := s.index(pt.Partition); i >= 0 {
					s.clocks[i].max = pt.Max
				}
			}
			if snap.Watermarks != nil {
				s.emitted = snap.Watermarks.Current
			}
		}
	}
	if s.ws != nil && len(s.pos) == 0 && !s.t.cfg.Mutants.Has(MutantIdleSourceSilent) {
		// A subtask with no partition has no event time to wait for.
		s.t.broadcastWatermark(StreamMsg{Kind: KindWatermark, Idle: true})
		s.t.outIdle = true
	}
	s.maybeFetch()
}

// index is the position of partition p in s.pos, or -1.
func (s *source) index(p int32) int {
	for i := range s.pos {
		if s.pos[i].Partition == p {
			return i
		}
	}
	return -1
}

func (s *source) snapshot() *SourceState {
	st := &SourceState{Topic: s.topic, Positions: append([]kproto.Position(nil), s.pos...)}
	if s.ws != nil {
		for i, c := range s.clocks {
			if c.max != NoWatermark {
				st.Times = append(st.Times, PartitionTime{Partition: s.pos[i].Partition, Max: c.max})
			}
		}
	}
	return st
}

// emitWatermark sends the source's watermark if it advanced, or tells
// downstream the source is idle when every partition is.
func (s *source) emitWatermark() {
	t := s.t
	wm, ok, allIdle := sourceWatermark(s.clocks, s.ws.OutOfOrderness)
	if ok && wm > s.emitted {
		s.emitted = wm
		t.broadcastWatermark(StreamMsg{Kind: KindWatermark, Watermark: wm})
	}
	if allIdle && !t.outIdle {
		t.broadcastWatermark(StreamMsg{Kind: KindWatermark, Idle: true})
		t.outIdle = true
	}
}

// offsets renders the positions as "topic/partition" -> next offset.
func (s *source) offsets() map[string]int64 {
	m := make(map[string]int64, len(s.pos))
	for _, p := range s.pos {
		m[protocol.TP(s.topic, p.Partition)] = p.Offset
	}
	return m
}

// trigger is step 1 of the protocol: record the position and emit the
// barrier, in the same step, so no record falls between the two.
func (s *source) trigger(n, triggeredAt int64) {
	t := s.t
	t.event(protocol.BarrierInjected, n, "")
	if t.cfg.Mutants.Has(MutantLateOffsetSnapshot) && s.fetching {
		t.lastBarrier = n
		t.broadcastBarrier(n, triggeredAt)
		s.deferred = &deferredSnapshot{n: n, triggeredAt: triggeredAt}
		return
	}
	t.checkpoint(n, triggeredAt, t.env.Now())
}

func (s *source) maybeFetch() {
	t := s.t
	if s.fetching || s.sleeping || !t.running || t.failed || len(s.pos) == 0 || !t.hasCredit() {
		return
	}
	s.fetching = true
	// Each fetch starts at the next partition, as Kafka's clients rotate
	// them: a broker returns a batch above the per-partition limit only
	// for the first partition with data, so a fixed order would read the
	// partitions one after another, and event time would wait for the
	// last one.
	s.rot %= len(s.pos)
	from := append(append(make([]kproto.Position, 0, len(s.pos)), s.pos[s.rot:]...), s.pos[:s.rot]...)
	s.rot++
	t.env.Kafka(kproto.Fetch(s.topic, from, true, t.cfg.FetchBytesMax), func(resp kmsg.Response, err error) {
		s.fetching = false
		var parts []kproto.Fetched
		if err == nil {
			parts, err = kproto.DecodeFetch(resp, s.topic, from, true)
		}
		for _, f := range parts {
			if err == nil && f.Err != nil {
				err = f.Err
			}
		}
		if err != nil {
			s.retry(err)
			return
		}
		s.retries = 0
		emitted := 0
		for _, f := range parts {
			i := s.index(f.Partition)
			for _, r := range f.Records {
				rec := s.record(f.Partition, r.Offset, r.Key, r.Value, r.Timestamp.UnixMilli())
				if s.ws != nil {
					rec.Time = s.ws.timestamp(rec)
					if i >= 0 {
						s.clocks[i].max = max(s.clocks[i].max, rec.Time)
					}
				}
				t.emit(rec)
				emitted++
			}
			if i >= 0 {
				s.pos[i].Offset = f.Next
				s.clocks[i].fetched(len(f.Records), t.env.Now(), s.idleTimeout())
			}
		}
		if s.ws != nil {
			// After the batch, in the same step: a barrier never falls
			// between records and the watermark they raise.
			s.emitWatermark()
		}
		if d := s.deferred; d != nil {
			s.deferred = nil
			// Mutant: the position now includes the batch emitted after
			// the barrier.
			t.upload(d.n, d.triggeredAt, &TaskSnapshot{Source: s.snapshot(), Watermarks: t.snapshotWatermarks()}, d.m, s.offsets())
		}
		if emitted == 0 {
			s.sleep()
			return
		}
		s.maybeFetch()
	})
}

func (s *source) idleTimeout() time.Duration {
	if s.ws == nil {
		return 0
	}
	return s.ws.IdleTimeout
}

func (s *source) sleep() {
	s.sleeping = true
	s.t.env.After(s.t.cfg.PollInterval, func() {
		s.sleeping = false
		s.maybeFetch()
	})
}

// retry handles a failed fetch: transient errors are retried after the poll
// interval, up to KafkaRetries in a row; anything else fails the task.
func (s *source) retry(err error) {
	s.retries++
	if s.retries > s.t.cfg.KafkaRetries || !retriable(err) {
		s.t.fail(Failure{Reason: fmt.Sprintf("fetch %s: %v", s.topic, err)})
		return
	}
	s.sleep()
}

// retriable reports whether a Kafka error is worth retrying with the same
// request. kerr's flag misses CONCURRENT_TRANSACTIONS, which a transaction
// coordinator answers while it finishes the previous EndTxn: the Java
// producer retries it, and so does the engine.
func retriable(err error) bool {
	if errors.Is(err, protocol.ErrTimeout) || errors.Is(err, kerr.ConcurrentTransactions) {
		return true
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	return false
}

// txnGone reports whether an EndTxn error means the broker no longer holds
// the transaction as it was pre-committed: it was aborted (a timeout) or its
// producer was fenced. Only these make a pre-committed transaction lost;
// any other error is retried by restarting from the checkpoint.
func txnGone(err error) bool {
	for _, e := range []error{kerr.InvalidTxnState, kerr.ProducerFenced, kerr.InvalidProducerEpoch,
		kerr.TransactionalIDNotFound, kerr.InvalidProducerIDMapping} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
