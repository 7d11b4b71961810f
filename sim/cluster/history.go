package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/onceproof/onceproof/sim"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// history records what the checkers beyond the final output need: the state
// each completed checkpoint holds, and, for jobs whose output is a counter
// per key, the commits and reads the porcupine check judges.
type history struct {
	c           *Cluster
	checkpoints []checkers.CheckpointState
	// inflight holds, per checkpoint, the origins of the input records a
	// keyed task saved as channel state (unaligned checkpoints): they are
	// not in the task's state yet, so the oracle's fold leaves them out.
	inflight map[int64]map[string]bool
	// inFlightAt marks the checkpoints whose snapshots hold channel state
	// of any task: input still on its way through the job.
	inFlightAt map[int64]bool
	// retained are the checkpoints the coordinator retains at the end of
	// the run, read back once more then (rereadRetained).
	retained []checkers.CheckpointState
	// stateErrs are checkpoints that could not be read for a reason that
	// says nothing about the data (not a missing or damaged file).
	stateErrs []string

	// Writes to the output, per transaction (transactional id, producer
	// id, epoch): the batches it produced, when its first EndTxn(commit)
	// went out, and whether the broker committed it.
	batches   map[txnKey][]*outBatch
	commitAt  map[txnKey]int64
	order     []txnKey
	committed map[txnKey]bool
	reads     []checkers.RegisterOp
	seen      map[string]int64
	keys      []string
}

// outBatch is one produced batch of a transaction. It becomes visible to
// read_committed readers once its transaction is committed and the last
// stable offset passes its last offset: another producer's open transaction
// holds the last stable offset back, so a committed transaction can become
// visible a prefix at a time, batch by batch.
type outBatch struct {
	partition int32
	last      int64
	max       map[string]int64 // key -> highest counter in the batch
	visible   int64            // when it became visible, or NoReturn
}

type txnKey struct {
	id    string
	pid   int64
	epoch int16
}

// readerPoll is how often the simulated read_committed reader polls the
// output for the porcupine check.
const readerPoll = 25 * time.Millisecond

// readerClient is the porcupine client id of the reader.
const readerClient = 1000

func (c *Cluster) recordHistory() {
	h := &history{c: c, inFlightAt: map[int64]bool{}, batches: map[txnKey][]*outBatch{}, commitAt: map[txnKey]int64{}, committed: map[txnKey]bool{}, seen: map[string]int64{}}
	c.hist = h
	c.OnEvent(func(_ *sim.Proc, e engine.Event) {
		if e.Phase == protocol.MetadataWritten {
			h.captureCheckpoint(e.Checkpoint)
		}
	})
	if c.spec.Register == nil {
		return
	}
	keys := map[string]bool{}
	for _, in := range c.input {
		keys[in.Key] = true
	}
	for k := range keys { // lint:sorted sorted below
		h.keys = append(h.keys, k)
	}
	sort.Strings(h.keys)
	c.k.OnSend(h.onSend)
	c.k.OnApply(h.onApply)
	c.reader = c.w.Spawn("reader", func(p *sim.Proc) sim.Program { return &reader{h: h, p: p} })
}

// captureCheckpoint reads checkpoint n back from storage the moment its
// metadata is written, as a restore would, and keeps the state it holds.
func (h *history) captureCheckpoint(n int64) {
	c := h.c
	if c.jm == nil {
		return
	}
	for _, md := range c.jm.coord.Completed() {
		if md.Checkpoint == n {
			h.checkpoints = append(h.checkpoints, h.readBack(md, readAtCompletion, true))
			return
		}
	}
}

// When a checkpoint was read back, for reports.
const (
	readAtCompletion = "at completion"
	readAtEnd        = "at end of run"
)

// rereadRetained reads every completed checkpoint the coordinator still
// retains at the end of the run, after every eviction and every deletion
// of shared files: each is a promise that the job can be restored from it,
// so each must still be whole, and must still hold the fold of the input up
// to its offsets. It runs after the trace is sealed and does not touch it.
func (h *history) rereadRetained() {
	c := h.c
	if c.jm == nil || c.jm.coord == nil {
		return
	}
	for _, md := range c.jm.coord.Completed() {
		h.retained = append(h.retained, h.readBack(md, readAtEnd, false))
	}
}

// readBack reads md's checkpoint from storage and turns it into what the
// state checker judges: the restored state, or the files that are lost.
// during says the run is still going: only then does it record which
// checkpoints hold input in flight (drained relies on that).
func (h *history) readBack(md engine.Metadata, when string, during bool) checkers.CheckpointState {
	c := h.c
	cp := checkers.CheckpointState{ID: md.Checkpoint, Offsets: md.Offsets, Read: when}
	snaps, lost, err := c.readCheckpoint(md)
	if err != nil {
		h.stateErrs = append(h.stateErrs, fmt.Sprintf("checkpoint %d (read %s): %v", md.Checkpoint, when, err))
		return cp
	}
	cp.Lost = lost
	if len(lost) > 0 {
		return cp
	}
	inflight := map[string]bool{}
	for _, s := range snaps {
		if len(s.ChannelState) > 0 && during {
			h.inFlightAt[md.Checkpoint] = true
		}
		if !h.keyedTask(s.Task) {
			continue
		}
		for _, cs := range s.ChannelState {
			for _, r := range cs.Records {
				inflight[r.Origin] = true
			}
		}
	}
	if h.inflight == nil {
		h.inflight = map[int64]map[string]bool{}
	}
	h.inflight[md.Checkpoint] = inflight
	if c.spec.Restored != nil {
		cp.State = c.spec.Restored(snaps)
	}
	return cp
}

// onSend notes when the first EndTxn(commit) of a transaction goes out:
// the earliest moment its writes can take effect.
func (h *history) onSend(call *sim.KafkaCall) {
	if r, ok := call.Req.(*kmsg.EndTxnRequest); ok && r.Commit {
		k := txnKey{r.TransactionalID, r.ProducerID, r.ProducerEpoch}
		if _, seen := h.commitAt[k]; !seen {
			h.commitAt[k] = int64(call.Sent)
			h.order = append(h.order, k)
		}
	}
}

// onApply follows what the broker did: the batches each transaction wrote
// (partition, last offset, highest counter per key), which transactions it
// committed, and, after every request, which committed batches the last
// stable offset now covers. A write's interval runs from its EndTxn(commit)
// being sent to that moment, not to the EndTxn's answer: a read_committed
// reader may legitimately not see an acknowledged commit yet.
func (h *history) onApply(call *sim.KafkaCall, resp kmsg.Response, err error) {
	defer h.reveal()
	if err != nil {
		return
	}
	switch r := call.Req.(type) {
	case *kmsg.ProduceRequest:
		base, perr := kproto.ProduceResult(resp)
		if r.TransactionID == nil || perr != nil {
			return
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				prod, recs, derr := kproto.DecodeBatch(p.Records)
				if derr != nil || len(recs) == 0 {
					continue
				}
				k := txnKey{*r.TransactionID, prod.ID, prod.Epoch}
				b := &outBatch{partition: p.Partition, last: base + int64(len(recs)) - 1, max: map[string]int64{}, visible: checkers.NoReturn}
				for _, rec := range recs {
					if key, n, ok := h.c.spec.Register(string(rec.Key), string(rec.Value)); ok && n > b.max[key] {
						b.max[key] = n
					}
				}
				h.batches[k] = append(h.batches[k], b)
			}
		}
	case *kmsg.EndTxnRequest:
		if er, ok := resp.(*kmsg.EndTxnResponse); ok && er.ErrorCode == 0 && r.Commit {
			h.committed[txnKey{r.TransactionalID, r.ProducerID, r.ProducerEpoch}] = true
		}
	}
}

// reveal marks every committed batch below its partition's last stable
// offset as visible now.
func (h *history) reveal() {
	topic := h.c.spec.Output(h.c.opts.Params).Name
	for _, k := range h.order {
		if !h.committed[k] {
			continue
		}
		for _, b := range h.batches[k] {
			if b.visible != checkers.NoReturn {
				continue
			}
			if _, lso, ok := h.c.k.PartitionEnd(topic, b.partition); ok && lso > b.last {
				b.visible = int64(h.c.w.Now())
			}
		}
	}
}

// ops turns every batch of every transaction that was sent a commit into
// one register write per key, and adds the reads.
func (h *history) ops() []checkers.RegisterOp {
	var ops []checkers.RegisterOp
	client := 0
	for _, k := range h.order {
		for _, b := range h.batches[k] {
			keys := make([]string, 0, len(b.max))
			for key := range b.max { // lint:sorted sorted below
				keys = append(keys, key)
			}
			sort.Strings(keys)
			for _, key := range keys {
				client++
				ops = append(ops, checkers.RegisterOp{Kind: checkers.Commit, Key: key, Value: b.max[key],
					Call: h.commitAt[k], Return: b.visible, Client: client})
			}
		}
	}
	return append(ops, h.reads...)
}

// judge runs the state-at-checkpoint and porcupine checks. The retained
// checkpoints are read back first: by now every eviction and every shared
// file deletion of the run has happened.
func (h *history) judge(annotations []checkers.Annotation) (rs []checkers.Result, attachments map[string][]byte) {
	c := h.c
	h.rereadRetained()
	switch {
	case len(h.stateErrs) > 0:
		rs = append(rs, checkers.Result{Checker: "state-at-checkpoint", Verdict: checkers.Unknown,
			Explanation: "a completed checkpoint could not be read back: " + h.stateErrs[0]})
	case c.spec.State != nil:
		rs = append(rs, h.judgeState())
	case len(h.checkpoints)+len(h.retained) > 0:
		// No state oracle: what is left to judge is that every
		// completed checkpoint is still whole.
		rs = append(rs, checkers.CheckpointsIntact(append(slices.Clone(h.checkpoints), h.retained...)))
	}
	if c.spec.Register == nil {
		return rs, nil
	}
	dir, err := os.MkdirTemp("", "onceproof-porcupine-")
	if err != nil {
		return append(rs, checkers.Result{Checker: "porcupine", Verdict: checkers.Unknown, Explanation: err.Error()}), nil
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "porcupine.html")
	r := checkers.Register(h.ops(), checkers.RegisterOptions{Timeout: 10 * time.Second, VisualizePath: path, Annotations: annotations})
	rs = append(rs, r)
	if data, err := os.ReadFile(path); err == nil {
		attachments = map[string][]byte{"porcupine.html": data}
	}
	return rs, attachments
}

// judgeState checks every completed checkpoint, as read at its completion
// and, if still retained, as read at the end of the run, against the
// oracle's fold of the input up to its offsets, leaving out the records the
// checkpoint holds as channel state. Each checkpoint has its own set of such
// records, so each read is judged on its own. Lost state is reported first,
// then the first mismatch.
func (h *history) judgeState() checkers.Result {
	c := h.c
	reads := append(slices.Clone(h.checkpoints), h.retained...)
	withChannelState, lostReads := 0, 0
	var firstLost, firstBad *checkers.Result
	for _, cp := range reads {
		ex := h.inflight[cp.ID]
		if len(ex) > 0 && cp.Read == readAtCompletion {
			withChannelState++
		}
		r := checkers.StateAtCheckpoint([]checkers.CheckpointState{cp}, func(offsets map[string]int64) map[string]string {
			var in []jobs.Committed
			for _, rec := range c.input {
				if !ex[fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)] {
					in = append(in, rec)
				}
			}
			return c.spec.State(in, offsets)
		})
		switch {
		case r.Anomaly == "lost-state":
			lostReads++
			if firstLost == nil {
				firstLost = &r
			}
		case r.Verdict != checkers.Ok && firstBad == nil:
			firstBad = &r
		}
	}
	switch {
	case firstLost != nil:
		r := *firstLost
		r.Explanation = fmt.Sprintf("%d of %d reads of completed checkpoints (%d at completion, %d retained at the end) found files lost from checkpoint storage; first %s",
			lostReads, len(reads), len(h.checkpoints), len(h.retained), r.FirstBad)
		return r
	case firstBad != nil:
		return *firstBad
	case len(reads) == 0:
		return checkers.StateAtCheckpoint(nil, nil) // inconclusive: nothing to judge
	}
	return checkers.Result{Checker: "state-at-checkpoint", Verdict: checkers.Ok,
		Explanation: fmt.Sprintf("restored state equals the fold of the input at all %d checkpoints (%d with channel state), and the %d retained at the end read back whole and equal to it again",
			len(h.checkpoints), withChannelState, len(h.retained))}
}

// keyedTask reports whether the task named "vertex/subtask" has keyed state.
func (h *history) keyedTask(task string) bool {
	name, _, _ := strings.Cut(task, "/")
	for _, v := range h.c.job.Vertices {
		if v.Name == name {
			return v.Keyed
		}
	}
	return false
}

// reader is a read_committed consumer of the output that polls during the
// run; each poll reads every key's counter as a porcupine read. It reads
// through the simulated Kafka, one poll at a time.
type reader struct {
	h   *history
	p   *sim.Proc
	pos []kproto.Position
}

func (r *reader) Start(p *sim.Proc) {
	out := r.h.c.spec.Output(r.h.c.opts.Params)
	for i := int32(0); i < out.Partitions; i++ {
		r.pos = append(r.pos, kproto.Position{Partition: i})
	}
	p.After(readerPoll, r.poll)
}

func (r *reader) poll() {
	c := r.h.c
	topic := c.spec.Output(c.opts.Params).Name
	from := append([]kproto.Position(nil), r.pos...)
	call := int64(c.w.Now())
	c.k.Do(r.p, kproto.Fetch(topic, from, true, 1<<20), func(resp kmsg.Response, err error) {
		defer r.p.After(readerPoll, r.poll)
		if err != nil {
			return
		}
		parts, err := kproto.DecodeFetch(resp, topic, from, true)
		if err != nil {
			return
		}
		h := r.h
		for _, f := range parts {
			if f.Err != nil {
				return // read nothing from a failed poll
			}
		}
		for _, f := range parts {
			for _, rec := range f.Records {
				if key, n, ok := c.spec.Register(string(rec.Key), string(rec.Value)); ok && n > h.seen[key] {
					h.seen[key] = n
				}
			}
			r.pos[f.Partition].Offset = f.Next
		}
		ret := int64(c.w.Now())
		for _, key := range h.keys {
			h.reads = append(h.reads, checkers.RegisterOp{Kind: checkers.Read, Key: key, Value: h.seen[key], Call: call, Return: ret, Client: readerClient})
		}
	})
}

func (r *reader) Receive(sim.ProcID, any) {}
func (r *reader) LinkDown(sim.ProcID)     {}
func (r *reader) Writable(sim.ProcID)     {}
