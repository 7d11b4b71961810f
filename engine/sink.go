package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SinkState is a sink task's snapshot: the transactions it pre-committed and
// has not seen committed. Restoring a checkpoint commits all of them.
type SinkState struct {
	Pending []PendingTxn `json:"pending,omitempty"`
}

// PendingTxn is a pre-committed transaction: every record produced and
// acknowledged, no EndTxn yet.
type PendingTxn struct {
	// Checkpoint is the checkpoint whose barrier pre-committed it; the
	// transaction is committed once that checkpoint (or a later one)
	// completes.
	Checkpoint int64           `json:"checkpoint"`
	Producer   kproto.Producer `json:"producer"`
	Records    int             `json:"records"`
	recs       []produced
}

// openTxn is the transaction records are currently written to.
type openTxn struct {
	prod    kproto.Producer
	seq     []int32
	records int
	// recs keeps the records, only under MutantRetryEndTxnAsNew, which
	// produces them again.
	recs []produced
}

type produced struct {
	p   int32
	rec kproto.StringRecord
}

// kop is one Kafka operation of the sink. The sink runs them one at a time,
// in order, so a produce never overtakes the InitProducerID of its
// transaction and a commit never overtakes the produces before it.
type kop struct {
	name string
	run  func(done func())
}

// sink is the exactly-once (or at-least-once) Kafka sink.
type sink struct {
	t    *Task
	spec *SinkSpec
	buf  [][]kproto.StringRecord
	// unflushed counts records buffered or in produce requests not yet
	// acknowledged; the sink takes no input past a bound on it.
	unflushed int
	cur       *openTxn
	pending   []PendingTxn
	ops       []kop
	running   bool
	// flushing counts pre-commits in flight. The sink takes no input
	// while one is: a record processed after its barrier must go to the
	// next transaction, never into the one being pre-committed. Unaligned
	// barriers arrive while a pre-commit is still flushing, so there can be
	// several.
	flushing int
	// committed is the highest checkpoint through which every pending
	// transaction is committed.
	committed int64
	// lost counts pre-committed transactions the broker refused to commit.
	lost int
	// restored is the checkpoint the sink restored from (0: none).
	restored int64
}

func newSink(t *Task) *sink {
	return &sink{t: t, spec: t.v.Sink, buf: make([][]kproto.StringRecord, t.v.Sink.Partitions)}
}

func (s *sink) exactlyOnce() bool { return s.spec.Guarantee == ExactlyOnce }

func (s *sink) txnID(k int64) string { return s.txnIDOf(s.t.id.Subtask, k) }

// txnIDOf names subtask sub's transaction for checkpoint k.
func (s *sink) txnIDOf(sub int, k int64) string {
	if s.t.cfg.Mutants.Has(MutantZombieUnfenced) {
		return fmt.Sprintf("%s-a%d-%d-%d", s.spec.TxnPrefix, s.t.dep.Attempt, sub, k)
	}
	return fmt.Sprintf("%s-%d-%d", s.spec.TxnPrefix, sub, k)
}

func (s *sink) txnTimeout() int32 {
	d := s.t.cfg.TxnTimeout
	if s.t.cfg.Mutants.Has(MutantShortTxnTimeout) {
		d = shortTxnTimeout
	}
	return int32(d / time.Millisecond)
}

// start is step 8: keep what the restored snapshot pre-committed pending
// (it commits on complete(restored), once the whole job restored from that
// checkpoint), fence every id a previous attempt may have left open, then
// open a transaction.
func (s *sink) start(snap *TaskSnapshot) {
	restored := int64(0)
	if snap != nil {
		restored = snap.Checkpoint
		s.restored = restored
		if snap.Sink != nil {
			for _, p := range snap.Sink.Pending {
				if s.t.cfg.Mutants.Has(MutantNoRecoverCommit) {
					s.enqueueCommit(p, false, commitRecover) // Mutant: abort instead.
					continue
				}
				if s.t.cfg.Mutants.Has(MutantCommitRestoredEarly) {
					s.enqueueCommit(p, true, commitRecover) // Mutant: before the job restored.
					continue
				}
				// Committed when the coordinator says the whole job has
				// restored from this checkpoint (complete(restored)): if
				// another task cannot restore from it (a corrupt snapshot),
				// the job falls back to an older checkpoint, and these
				// must not have been committed.
				s.pending = append(s.pending, p)
			}
		}
	}
	if !s.exactlyOnce() {
		return
	}
	// Every transactional id of an earlier attempt lies in
	// (restored, FenceUpTo]: InitProducerID on each aborts whatever it left
	// open, so no stray transaction pins the last stable offset. The last
	// one becomes this attempt's first transaction.
	if !s.t.cfg.Mutants.Has(MutantNoFenceLingering) {
		for k := restored + 1; k < s.t.dep.FenceUpTo; k++ {
			s.enqueueInit(s.txnID(k), false)
		}
		// After a rescale down, the ids of old subtasks that are gone.
		for _, sub := range s.t.fenceSubtasks {
			if s.t.cfg.Mutants.Has(MutantForgetRemovedSinks) {
				break // Mutant: the gone subtasks' ids stay open.
			}
			for k := restored + 1; k <= s.t.dep.FenceUpTo; k++ {
				s.enqueueInit(s.txnIDOf(sub, k), false)
			}
		}
	}
	s.enqueueInit(s.txnID(max(s.t.dep.FenceUpTo, restored+1)), true)
}

// busy reports whether the sink must stop taking input: during a
// pre-commit, or while too much is unflushed.
func (s *sink) busy() bool {
	// No input before the first transaction is open: its records would
	// have no transaction to go to.
	if s.exactlyOnce() && s.cur == nil {
		return true
	}
	return s.flushing > 0 || s.unflushed >= 2*s.t.cfg.SinkBatchRecords*int(s.spec.Partitions)
}

func (s *sink) add(r Record) {
	p := PartitionFor(r.Key, s.spec.Partitions, s.t.id.Subtask)
	if s.buf[p] == nil {
		s.buf[p] = make([]kproto.StringRecord, 0, s.t.cfg.SinkBatchRecords)
	}
	s.buf[p] = append(s.buf[p], kproto.StringRecord{Key: r.Key, Value: r.Value})
	s.unflushed++
	if len(s.buf[p]) >= s.t.cfg.SinkBatchRecords {
		s.flushPartition(p)
	}
}

func (s *sink) flushPartition(p int32) {
	recs := s.buf[p]
	if len(recs) == 0 {
		return
	}
	s.buf[p] = nil
	s.enqueue(kop{name: "produce", run: func(done func()) {
		var req kmsg.Request
		if s.exactlyOnce() {
			c := s.cur
			req = kproto.Produce(c.prod.TxnID, s.spec.Topic, p, kproto.EncodeStringBatch(c.prod, c.seq[p], true, 0, recs))
		} else {
			req = kproto.Produce("", s.spec.Topic, p, kproto.EncodeStringBatch(kproto.Producer{ID: -1, Epoch: -1}, -1, false, 0, recs))
		}
		s.do(req, "produce", func(resp kmsg.Response) error {
			if _, err := kproto.ProduceResult(resp); err != nil {
				return err
			}
			if s.exactlyOnce() {
				s.cur.seq[p] += int32(len(recs))
				s.cur.records += len(recs)
				if s.t.cfg.Mutants.Has(MutantRetryEndTxnAsNew) {
					for _, r := range recs {
						s.cur.recs = append(s.cur.recs, produced{p: p, rec: r})
					}
				}
			}
			s.unflushed -= len(recs)
			done()
			return nil
		})
	}})
}

// preCommit is step 4: flush everything before barrier n, then hand the
// snapshot's sink state to done, and open the next transaction. The next
// transaction's InitProducerID is queued right behind the pre-commit, so
// that a second pre-commit queued meanwhile finds its own transaction open,
// not this one.
func (s *sink) preCommit(n int64, done func(*SinkState)) {
	s.flushing++
	for p := range s.buf {
		s.flushPartition(int32(p))
	}
	s.enqueue(kop{name: "pre-commit", run: func(next func()) {
		if s.exactlyOnce() && s.cur.records > 0 {
			pt := PendingTxn{Checkpoint: n, Producer: s.cur.prod, Records: s.cur.records, recs: s.cur.recs}
			s.pending = append(s.pending, pt)
			if s.t.cfg.Mutants.Has(MutantCommitBeforeComplete) {
				s.enqueueCommit(pt, true, commitEarly)
			}
		}
		done(&SinkState{Pending: append([]PendingTxn(nil), s.pending...)})
		s.flushing--
		next()
		s.t.pump()
	}})
	if s.exactlyOnce() {
		s.enqueueInit(s.txnID(n+1), true)
	}
}

// commitReason says why a sink ends a transaction; the trace names it.
type commitReason uint8

const (
	// commitComplete: checkpoint n completed (step 7).
	commitComplete commitReason = iota
	// commitRecover: the job restored from n, so what n pre-committed
	// commits (step 8).
	commitRecover
	// commitEarly: a mutant commits before the checkpoint completes.
	commitEarly
)

func (r commitReason) String() string {
	return [...]string{commitComplete: "complete", commitRecover: "recover", commitEarly: "early"}[r]
}

// complete is step 7: commit every pending transaction up to n.
func (s *sink) complete(n int64) {
	var keep []PendingTxn
	why := commitComplete
	if n == s.restored {
		why = commitRecover // the job restored from n: commit what n pre-committed
	}
	for _, p := range s.pending {
		if p.Checkpoint < n && s.t.cfg.Mutants.Has(MutantCommitOnlyNotified) && why != commitRecover {
			continue // Mutant: older pending transactions are dropped.
		}
		if p.Checkpoint <= n || s.t.cfg.Mutants.Has(MutantCommitAheadOfNotice) {
			if !s.t.cfg.Mutants.Has(MutantCommitBeforeComplete) || why == commitRecover {
				s.enqueueCommit(p, true, why)
			}
		} else {
			keep = append(keep, p)
		}
	}
	s.pending = keep
	s.enqueueCommitted(n)
}

// abortPending aborts the transaction pre-committed for checkpoint n
// (MutantAbortDropsPrecommitted only).
func (s *sink) abortPending(n int64) {
	var keep []PendingTxn
	for _, p := range s.pending {
		if p.Checkpoint == n {
			s.enqueueCommit(p, false, commitComplete)
			continue
		}
		keep = append(keep, p)
	}
	s.pending = keep
}

// enqueueCommitted records, once every operation queued before it is done,
// that the sink has committed everything through checkpoint n.
func (s *sink) enqueueCommitted(n int64) {
	s.enqueue(kop{name: "committed-through", run: func(done func()) {
		s.committed = max(s.committed, n)
		done()
	}})
}

// CommittedThrough is the highest checkpoint through which the sink has
// committed every pre-committed transaction (0 for other tasks).
func (t *Task) CommittedThrough() int64 {
	if t.snk == nil {
		return 0
	}
	return t.snk.committed
}

// LostTransactions counts pre-committed transactions the broker refused to
// commit: data loss the engine reports instead of hiding.
func (t *Task) LostTransactions() int {
	if t.snk == nil {
		return 0
	}
	return t.snk.lost
}

func (s *sink) enqueueCommit(p PendingTxn, commit bool, why commitReason) {
	s.enqueue(kop{name: "end-txn", run: func(done func()) {
		s.t.env.Event(Event{Phase: protocol.EndTxnSent, Checkpoint: p.Checkpoint, Task: s.t.name, Detail: fmt.Sprintf("%s %s commit=%v", why, p.Producer, commit),
			Commit: commit, Recover: why == commitRecover})
		asNew := commit && s.t.cfg.Mutants.Has(MutantRetryEndTxnAsNew) && len(p.recs) > 0
		s.doRaw(kproto.EndTxn(p.Producer, commit), "end txn", !asNew, func(resp kmsg.Response, err error) {
			if err == nil {
				_, err = kproto.EndTxnResult(p.Producer, resp)
			}
			if asNew && errors.Is(err, protocol.ErrTimeout) {
				// Mutant: the commit "failed", so its records go out
				// again in the open transaction.
				for _, r := range p.recs {
					s.buf[r.p] = append(s.buf[r.p], r.rec)
					s.unflushed++
				}
				done()
				return
			}
			if err != nil && s.t.cfg.Mutants.Has(MutantShortTxnTimeout) {
				done() // Mutant: a refused commit is taken for done, silently.
				return
			}
			if err != nil && !(commit && txnGone(err)) {
				// Not known lost (still failing after every retry, or an
				// error that says nothing about the transaction):
				// restart, and the restore commits it again from the
				// snapshot.
				s.t.fail(Failure{Reason: fmt.Sprintf("sink end txn %s: %v", p.Producer, err)})
				return
			}
			if err != nil {
				// The commit point passed, so this transaction had to
				// commit. The broker refusing it (it timed out, or was
				// fenced) is data loss: say so loudly, as Flink does,
				// rather than retrying forever.
				s.lost++
				s.t.env.Event(Event{Phase: protocol.EndTxnSent, Checkpoint: p.Checkpoint, Task: s.t.name, Commit: true, Lost: true,
					Detail: fmt.Sprintf("LOST pre-committed transaction %s (%d records): %v", p.Producer, p.Records, err)})
			}
			done()
		})
	}})
}

// enqueueInit runs InitProducerID on id: it fences and aborts whatever an
// earlier producer left open on it. use makes it the open transaction.
func (s *sink) enqueueInit(id string, use bool) {
	s.enqueue(kop{name: "init", run: func(done func()) {
		s.do(kproto.InitProducerID(id, s.txnTimeout()), "init producer id", func(resp kmsg.Response) error {
			prod, err := kproto.InitProducerIDResult(id, resp)
			if err != nil {
				return err
			}
			if use {
				s.cur = &openTxn{prod: prod, seq: make([]int32, s.spec.Partitions)}
			}
			done()
			return nil
		})
	}})
}

func (s *sink) enqueue(op kop) {
	s.ops = append(s.ops, op)
	s.next()
}

// next runs the next queued operation if none is running.
func (s *sink) next() {
	if s.running || len(s.ops) == 0 || s.t.failed {
		return
	}
	op := s.ops[0]
	s.ops = s.ops[1:]
	s.running = true
	op.run(func() {
		s.running = false
		s.next()
		s.t.pump()
	})
}

// do issues req, retries it unchanged on a timeout or a retriable error, and
// fails the task on any other error; handle turns a response into an error.
func (s *sink) do(req kmsg.Request, what string, handle func(kmsg.Response) error) {
	s.doRaw(req, what, true, func(resp kmsg.Response, err error) {
		if err == nil {
			err = handle(resp)
		}
		if err != nil {
			s.t.fail(Failure{Reason: fmt.Sprintf("sink %s: %v", what, err)})
		}
	})
}

// doRaw issues req and retries it unchanged (same sequence numbers, same
// decision) on a retriable error, up to KafkaRetries times; timeouts are
// retried only if retryTimeouts is set.
func (s *sink) doRaw(req kmsg.Request, what string, retryTimeouts bool, cb func(kmsg.Response, error)) {
	tries := 0
	var attempt func()
	attempt = func() {
		s.t.env.Kafka(req, func(resp kmsg.Response, err error) {
			if err == nil {
				err = responseErr(resp)
			}
			if err != nil && retriable(err) && tries < s.t.cfg.KafkaRetries && (retryTimeouts || !errors.Is(err, protocol.ErrTimeout)) {
				tries++
				s.t.env.After(s.t.cfg.PollInterval, attempt)
				return
			}
			cb(resp, err)
		})
	}
	attempt()
}

// responseErr extracts a retriable error from a response, so that doRaw can
// retry it; non-retriable codes are left to the caller's decoding.
func responseErr(resp kmsg.Response) error {
	var code int16
	switch r := resp.(type) {
	case *kmsg.EndTxnResponse:
		code = r.ErrorCode
	case *kmsg.InitProducerIDResponse:
		code = r.ErrorCode
	case *kmsg.ProduceResponse:
		if len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1 {
			code = r.Topics[0].Partitions[0].ErrorCode
		}
	}
	if err := kerrFor(code); err != nil && retriable(err) {
		return err
	}
	return nil
}

// OpenTxn is the transactional id a sink task writes to now ("" for other
// tasks, or before its first transaction is open).
func (t *Task) OpenTxn() string {
	if t.snk == nil || t.snk.cur == nil {
		return ""
	}
	return t.snk.cur.prod.TxnID
}
