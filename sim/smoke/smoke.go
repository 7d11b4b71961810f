// Package smoke is the simulator's own end-to-end workload, without the
// engine: one process copies an input topic to an output topic in Kafka
// transactions, saving its position in the durable store, while it is killed
// at seeded random moments and its requests and responses are lost. Whatever
// happens, the output read with read_committed must equal the committed input:
// no more, no less.
//
// It is what it is for now: a copier small enough to read in one sitting that
// exercises every part of the simulator the engine leans on (the Kafka
// adapter and its lost requests and ambiguous responses, kills and restarts,
// the durable store, the crashable local disk), so a simulator bug shows up
// here apart from any engine bug; it runs as the smoke-copier scenario; and
// BenchmarkSmokeCopier measures the simulator's own speed. It lives under sim/
// because the copier runs in the simulated path and obeys its rules (no
// clock, no goroutines, no global randomness). Like the rest of sim/ it
// records and does not judge: scenarios.JudgeSmoke reads the output with a
// consumer of its own and decides through package checkers.
//
// The copier commits by two-phase commit against the durable store, the way
// the engine's sink does against checkpoint metadata:
//
//  1. fetch a batch from the saved position (read_committed);
//  2. produce it to the output inside a transaction;
//  3. save {next position, producer id and epoch} durably: the commit point;
//  4. EndTxn(commit), retried with the same decision on a timeout;
//  5. save {next position, nothing pending}.
//
// A restarted copier first finishes a pending commit from step 3 with a raw
// EndTxn (never InitProducerID first, which would abort it), then calls
// InitProducerID, which aborts whatever its previous incarnation left open.
package smoke

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/onceproof/onceproof/sim"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Options shape one smoke run.
type Options struct {
	Sim sim.Config `json:"sim"`
	// Records is the number of committed input records.
	Records int `json:"records"`
	// Partitions of the input and the output topic.
	Partitions int32 `json:"partitions"`
	// InputTxnRecords is the size of the transactions the input is written
	// in; every fourth input transaction is aborted, so the input holds
	// aborted records and control markers the copier must skip.
	InputTxnRecords int `json:"input_txn_records"`
	// BatchBytesMax bounds one fetch.
	BatchBytesMax int32 `json:"batch_bytes_max"`
	// KillSchedule kills the copier Kills times, at times drawn uniformly in
	// [0, KillWindow), each followed by a restart after up to RestartDelayMax.
	sim.KillSchedule
	// LossPercent is the chance that a request is lost before the broker,
	// and separately that a response is lost after it.
	LossPercent int `json:"loss_percent"`
	// RunLimit bounds the simulated time of the run.
	RunLimit time.Duration `json:"run_limit"`
}

// DefaultOptions returns the options of the standard smoke run for seed.
func DefaultOptions(seed uint64) Options {
	return Options{
		Sim:             sim.DefaultConfig(seed),
		Records:         200,
		Partitions:      3,
		InputTxnRecords: 7,
		BatchBytesMax:   1 << 10,
		KillSchedule:    sim.KillSchedule{Kills: 3, KillWindow: 400 * time.Millisecond, RestartDelayMax: 100 * time.Millisecond},
		LossPercent:     2,
		RunLimit:        60 * time.Second,
	}
}

// Validate reports the first invalid option by name.
func (o Options) Validate() error {
	if err := o.Sim.Validate(); err != nil {
		return fmt.Errorf("sim.%w", err)
	}
	switch {
	case o.Records < 0:
		return fmt.Errorf("records: negative (%d)", o.Records)
	case o.Partitions <= 0:
		return fmt.Errorf("partitions: must be at least 1, got %d", o.Partitions)
	case o.InputTxnRecords <= 0:
		return fmt.Errorf("input_txn_records: must be at least 1, got %d", o.InputTxnRecords)
	case o.BatchBytesMax <= 0:
		return fmt.Errorf("batch_bytes_max: must be positive, got %d", o.BatchBytesMax)
	}
	if err := o.KillSchedule.Validate(); err != nil {
		return err
	}
	switch {
	case o.LossPercent < 0 || o.LossPercent > 50:
		return fmt.Errorf("loss_percent: %d is outside 0..50", o.LossPercent)
	case o.RunLimit <= 0:
		return fmt.Errorf("run_limit: must be positive, got %v", o.RunLimit)
	}
	return nil
}

// Topic names.
const (
	InputTopic  = "in"
	OutputTopic = "out"
	txnID       = "smoke-copier"
	stateKey    = "copier/state.json"
	scratchFile = "scratch/last-batch"
)

// Result is what a smoke run did. It holds no verdict: the output is read
// and judged by scenarios.JudgeSmoke while the harness is still open.
type Result struct {
	Seed    uint64        `json:"seed"`
	Digest  string        `json:"digest"`
	Events  int           `json:"events"`
	SimTime time.Duration `json:"sim_time"`
	Kills   int           `json:"kills"`
	// Commits is the number of output transactions committed.
	Commits int `json:"commits"`
	// ScratchLost counts restarts that found the unsynced scratch file of
	// the previous incarnation gone, as a crash must leave it.
	ScratchLost int `json:"scratch_lost"`
	// Done says the copier copied everything it was given before RunLimit
	// ran out.
	Done     bool          `json:"done"`
	RunLimit time.Duration `json:"run_limit"`
	// Input is the committed input, per partition, in order.
	Input [][]string `json:"-"`
	// Err is set when the simulation failed or the copier hit an error it
	// cannot recover from.
	Err   error    `json:"-"`
	Trace []string `json:"-"`
	// TraceEvents are the trace's typed events (Trace is their text).
	TraceEvents []sim.Event `json:"-"`
}

// Harness is one smoke run being set up; tests reach the world and Kafka
// through it to add faults before Run.
type Harness struct {
	Opts   Options
	World  *sim.World
	Kafka  *sim.Kafka
	Copier *sim.Proc
	stats  *stats
	input  [][]string
}

type stats struct {
	done        bool
	commits     int
	scratchLost int
	fatal       error
}

// New builds the world, starts Kafka, writes the input, and spawns the
// copier (which starts when the run starts).
func New(opts Options) (*Harness, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("smoke options: %w", err)
	}
	w, k, err := sim.NewWorldWithKafka(opts.Sim)
	if err != nil {
		return nil, err
	}
	h := &Harness{Opts: opts, World: w, Kafka: k, stats: &stats{}}
	for _, t := range []string{InputTopic, OutputTopic} {
		if err := k.CreateTopic(t, opts.Partitions); err != nil {
			k.Close()
			return nil, err
		}
	}
	if h.input, err = writeInput(k, opts, w); err != nil {
		k.Close()
		return nil, err
	}
	ends := make([]int64, opts.Partitions)
	for p := range ends {
		hwm, _, _ := k.PartitionEnd(InputTopic, int32(p))
		ends[p] = hwm
	}
	h.Copier = w.Spawn("w0", func(p *sim.Proc) sim.Program {
		return &copier{p: p, k: k, opts: opts, stats: h.stats, ends: ends}
	})
	if opts.LossPercent > 0 {
		rng := w.Rand("faults")
		k.Intercept(&sim.KafkaRule{Name: "random loss", Count: -1, Fate: sim.DropRequest,
			Match: func(*sim.KafkaCall) bool { return rng.IntN(100) < opts.LossPercent }})
		k.Intercept(&sim.KafkaRule{Name: "random response loss", Count: -1, Fate: sim.DropResponse,
			Match: func(*sim.KafkaCall) bool { return rng.IntN(100) < opts.LossPercent }})
	}
	rng := w.Rand("faults")
	for i := 0; i < opts.Kills; i++ {
		at := sim.Time(rng.Int64N(int64(opts.KillWindow)))
		delay := time.Duration(0)
		if opts.RestartDelayMax > 0 {
			delay = time.Duration(rng.Int64N(int64(opts.RestartDelayMax))) + time.Millisecond
		}
		w.At(at, func() { w.KillFor(h.Copier, "scheduled kill", delay) })
	}
	return h, nil
}

// Close releases the broker.
func (h *Harness) Close() { h.Kafka.Close() }

// Run runs the simulation until the copier has copied everything (or the
// limit). The harness stays open: the judge reads the output next.
func (h *Harness) Run() Result {
	w := h.World
	err := w.Run(sim.Time(h.Opts.RunLimit), func() bool { return h.stats.done || h.stats.fatal != nil })
	res := Result{
		Seed: h.Opts.Sim.Seed, Events: w.Events(), SimTime: w.Now().Duration(),
		Kills: h.Copier.Crashes(), Commits: h.stats.commits, ScratchLost: h.stats.scratchLost,
		Done: h.stats.done, RunLimit: h.Opts.RunLimit, Input: h.input,
	}
	switch {
	case err != nil:
		res.Err = fmt.Errorf("simulation: %w", err)
	case h.stats.fatal != nil:
		res.Err = h.stats.fatal
	}
	w.Tracef("end done=%v commits=%d kills=%d", h.stats.done, h.stats.commits, res.Kills)
	res.Digest = w.Trace().Digest()
	res.Trace = w.Trace().Lines()
	res.TraceEvents = w.Trace().Events()
	return res
}

// writeInput writes the input topic in transactions, every fourth one
// aborted, and returns the committed values per partition.
func writeInput(k *sim.Kafka, opts Options, w *sim.World) ([][]string, error) {
	committed := make([][]string, opts.Partitions)
	resp, err := k.Sync(kproto.InitProducerID("smoke-input", sim.TxnTimeoutMillis))
	if err != nil {
		return nil, fmt.Errorf("write input: %w", err)
	}
	prod, err := kproto.InitProducerIDResult("smoke-input", resp)
	if err != nil {
		return nil, fmt.Errorf("write input: %w", err)
	}
	rng := w.Rand("workload")
	written, txn := 0, 0
	for written < opts.Records {
		abort := txn%4 == 3
		txn++
		byPart := make([][]kproto.Record, opts.Partitions)
		var vals [][]string = make([][]string, opts.Partitions)
		for i := 0; i < opts.InputTxnRecords && written < opts.Records; i++ {
			p := rng.Int32N(opts.Partitions)
			v := fmt.Sprintf("in-%d-t%d-%d", p, txn, i)
			if abort {
				v = "aborted-" + v
			} else {
				written++
			}
			byPart[p] = append(byPart[p], kproto.Record{Key: []byte(fmt.Sprint(p)), Value: []byte(v)})
			vals[p] = append(vals[p], v)
		}
		for p, recs := range byPart {
			if len(recs) == 0 {
				continue
			}
			batch := kproto.EncodeBatch(prod, 0, true, 0, recs)
			r, err := k.Sync(kproto.Produce(prod.TxnID, InputTopic, int32(p), batch))
			if err == nil {
				_, err = kproto.ProduceResult(r)
			}
			if err != nil {
				return nil, fmt.Errorf("write input: produce: %w", err)
			}
		}
		r, err := k.Sync(kproto.EndTxn(prod, !abort))
		if err == nil {
			prod, err = kproto.EndTxnResult(prod, r)
		}
		if err != nil {
			return nil, fmt.Errorf("write input: end txn: %w", err)
		}
		if !abort {
			for p := range vals {
				committed[p] = append(committed[p], vals[p]...)
			}
		}
	}
	w.Tracef("input written records=%d txns=%d", written, txn)
	return committed, nil
}

// state is what the copier keeps in the durable store.
type state struct {
	Next    []int64          `json:"next"`
	Pending *kproto.Producer `json:"pending,omitempty"`
}

// copier is the smoke job's program. It issues one Kafka request at a time.
type copier struct {
	p     *sim.Proc
	k     *sim.Kafka
	opts  Options
	stats *stats
	ends  []int64 // input high watermarks: the copy is done when Next reaches them

	st       state
	prod     kproto.Producer
	seq      []int32
	retries  int
	produced []kproto.Record
}

func (c *copier) Receive(sim.ProcID, any) {}
func (c *copier) LinkDown(sim.ProcID)     {}
func (c *copier) Writable(sim.ProcID)     {}

func (c *copier) Start(p *sim.Proc) {
	c.checkScratch()
	data, err := p.World().Store().Get(stateKey)
	switch {
	case errors.Is(err, sim.ErrNotFound):
		c.st = state{Next: make([]int64, c.opts.Partitions)}
	case err != nil:
		p.Fail(fmt.Sprintf("load state: %v", err))
		return
	default:
		if err := json.Unmarshal(data, &c.st); err != nil {
			c.stats.fatal = fmt.Errorf("copier state is corrupt: %w", err)
			return
		}
	}
	if c.st.Pending != nil {
		// Recover and commit: the transaction was pre-committed and the
		// commit point passed, so it must be committed, never re-produced.
		c.endTxn(*c.st.Pending, true)
		return
	}
	c.initProducer()
}

// checkScratch looks for the unsynced file the previous incarnation wrote.
// A kill must have taken it: the restart may not depend on it.
func (c *copier) checkScratch() {
	if c.p.Incarnation() == 0 {
		return
	}
	if _, err := c.p.Disk().Stat(scratchFile); err != nil {
		c.stats.scratchLost++
		c.p.Tracef("scratch lost in crash")
	}
}

func (c *copier) writeScratch(n int) {
	fs := c.p.Disk()
	if err := fs.MkdirAll("scratch", 0o755); err != nil {
		return
	}
	f, err := fs.Create(scratchFile, vfs.WriteCategoryUnspecified)
	if err != nil {
		return
	}
	_, _ = io.WriteString(f, fmt.Sprint(n)) // deliberately never synced
	_ = f.Close()
}

func (c *copier) save() bool {
	data, _ := json.Marshal(c.st)
	if err := c.p.World().Store().Put(stateKey, data); err != nil {
		c.p.Fail(fmt.Sprintf("save state: %v", err))
		return false
	}
	return true
}

// do issues req; a timeout is retried with the same request up to a bound,
// any other outcome goes to next.
func (c *copier) do(req kmsg.Request, next func(kmsg.Response, error)) {
	c.k.Do(c.p, req, func(resp kmsg.Response, err error) {
		if errors.Is(err, protocol.ErrTimeout) {
			c.retries++
			if c.retries > 20 {
				c.p.Fail("too many timeouts")
				return
			}
			c.do(req, next)
			return
		}
		c.retries = 0
		next(resp, err)
	})
}

func (c *copier) endTxn(prod kproto.Producer, commit bool) {
	c.do(kproto.EndTxn(prod, commit), func(resp kmsg.Response, err error) {
		if err == nil {
			_, err = kproto.EndTxnResult(prod, resp)
		}
		if err != nil {
			// The decision was made durable; the broker refusing it now
			// means the transaction is lost. That is a loss to report,
			// not to retry.
			c.stats.fatal = fmt.Errorf("committing pre-committed transaction %s failed: %w", prod, err)
			return
		}
		c.stats.commits++
		c.st.Pending = nil
		if c.save() {
			c.initProducer()
		}
	})
}

func (c *copier) initProducer() {
	c.do(kproto.InitProducerID(txnID, sim.TxnTimeoutMillis), func(resp kmsg.Response, err error) {
		if err == nil {
			c.prod, err = kproto.InitProducerIDResult(txnID, resp)
		}
		if err != nil {
			c.p.Fail(err.Error())
			return
		}
		c.seq = make([]int32, c.opts.Partitions)
		c.fetch()
	})
}

func (c *copier) positions() []kproto.Position {
	pos := make([]kproto.Position, len(c.st.Next))
	for p, off := range c.st.Next {
		pos[p] = kproto.Position{Partition: int32(p), Offset: off}
	}
	return pos
}

func (c *copier) fetch() {
	if c.finished() {
		c.p.Record(sim.Event{Kind: sim.EventFinished, Detail: "copy"})
		c.stats.done = true
		return
	}
	from := c.positions()
	c.do(kproto.Fetch(InputTopic, from, true, c.opts.BatchBytesMax), func(resp kmsg.Response, err error) {
		var parts []kproto.Fetched
		if err == nil {
			parts, err = kproto.DecodeFetch(resp, InputTopic, from, true)
		}
		if err != nil {
			c.p.Fail(fmt.Sprintf("fetch: %v", err))
			return
		}
		next := append([]int64(nil), c.st.Next...)
		var work []partBatch
		for _, f := range parts {
			if f.Err != nil {
				c.p.Fail(fmt.Sprintf("fetch %d: %v", f.Partition, f.Err))
				return
			}
			next[f.Partition] = f.Next
			if len(f.Records) > 0 {
				b := partBatch{partition: f.Partition}
				for _, r := range f.Records {
					b.recs = append(b.recs, kproto.Record{Key: r.Key, Value: r.Value})
				}
				work = append(work, b)
			}
		}
		if len(work) == 0 {
			c.st.Next = next
			c.p.After(5*time.Millisecond, c.fetch)
			return
		}
		c.produce(work, next)
	})
}

func (c *copier) finished() bool {
	for p, off := range c.st.Next {
		if off < c.ends[p] {
			return false
		}
	}
	return true
}

type partBatch struct {
	partition int32
	recs      []kproto.Record
}

// produce writes the batches one partition at a time, then commits.
func (c *copier) produce(work []partBatch, next []int64) {
	if len(work) == 0 {
		c.commit(next)
		return
	}
	b := work[0]
	batch := kproto.EncodeBatch(c.prod, c.seq[b.partition], true, 0, b.recs)
	c.do(kproto.Produce(txnID, OutputTopic, b.partition, batch), func(resp kmsg.Response, err error) {
		if err == nil {
			_, err = kproto.ProduceResult(resp)
		}
		if err != nil {
			c.p.Fail(fmt.Sprintf("produce: %v", err))
			return
		}
		c.seq[b.partition] += int32(len(b.recs))
		c.writeScratch(len(b.recs))
		c.produce(work[1:], next)
	})
}

func (c *copier) commit(next []int64) {
	c.st.Next = next
	pending := c.prod
	c.st.Pending = &pending
	if !c.save() { // the commit point
		return
	}
	c.do(kproto.EndTxn(c.prod, true), func(resp kmsg.Response, err error) {
		if err == nil {
			c.prod, err = kproto.EndTxnResult(c.prod, resp)
		}
		if err != nil {
			// Restart: recovery commits the pending transaction.
			c.p.Fail(fmt.Sprintf("end txn: %v", err))
			return
		}
		c.stats.commits++
		c.st.Pending = nil
		if !c.save() {
			return
		}
		for p := range c.seq {
			c.seq[p] = 0 // KIP-890: a new epoch starts sequences at 0
		}
		c.fetch()
	})
}
