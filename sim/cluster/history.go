package cluster

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/onceproof/onceproof/sim"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// History is what a run recorded for its judge, in the simulator's own
// terms: nothing in it is a verdict. The judge (scenarios.Judge) turns it
// into the checkers' histories and reads the committed output itself, with
// its own consumer, while the cluster is still open.
type History struct {
	// Spec and Params are the job and its workload: they give the oracle.
	Spec   *jobs.Spec
	Params jobs.Params
	// Input is every record the run wrote as committed input (the aborted
	// transactions' records are left out), in the order written.
	Input []jobs.Input
	// InputTopics are the topics the job reads; OutputTopic the one it
	// writes.
	InputTopics []string
	OutputTopic string
	// InputEnds maps "topic/partition" to its high watermark after the
	// input was written: where the job has read everything.
	InputEnds map[string]int64
	// Checkpoints are the completed checkpoints, each read back from
	// storage the moment its metadata was written; Retained are those the
	// coordinator still retains at the end of the run, read back once more
	// after every eviction and every deletion of shared files.
	Checkpoints []CheckpointRead
	Retained    []CheckpointRead
	// Latest is the latest completed checkpoint not known bad at the end
	// of the run, the one a restore would use; nil if none.
	Latest *engine.Metadata
	// Restores are the job's deployments, each from the checkpoint it
	// restored (0: from scratch).
	Restores []Restore
	// Register holds, for jobs whose output is a counter per key, the
	// sinks' commits and the output reader's reads, seen as operations on
	// one register per key. It is nil for other jobs.
	Register []RegisterOp
	// Faults are the faults of the injected plan that fired, in order.
	Faults []FiredFault
	// Triggered are the checkpoints the coordinator triggered, and
	// Completed those whose metadata was written, in the order they
	// happened, across coordinator failovers.
	Triggered, Completed []CheckpointEvent
	// HealAt is when the last fault ended (the liveness phase began); End
	// is when the run ended.
	HealAt, End sim.Time
	// ProgressBound is how long after HealAt a checkpoint may take to
	// complete in this configuration: a restart's delays, a deploy that
	// waits for its workers, a checkpoint that times out and the next.
	ProgressBound time.Duration
}

// CheckpointEvent is one checkpoint's trigger or completion.
type CheckpointEvent struct {
	Checkpoint int64
	At         sim.Time
}

// When a checkpoint was read back (CheckpointRead.Read).
const (
	ReadAtCompletion = "at completion"
	ReadAtEnd        = "at end of run"
)

// CheckpointRead is one completed checkpoint as read back from checkpoint
// storage the way a restore of every task reads it.
type CheckpointRead struct {
	// Checkpoint is the checkpoint's id; Offsets its recorded source
	// offsets ("topic/partition" to the next offset to read).
	Checkpoint int64
	Offsets    map[string]int64
	// Read says when it was read: ReadAtCompletion or ReadAtEnd.
	Read string
	// State is the keyed state the restore produced (the job's Restored
	// view), nil for jobs without one or when files are lost.
	State map[string]string
	// Lost lists the files that are missing, fail their checksum or do not
	// decode.
	Lost []LostFile
	// InFlight holds the origins ("topic/partition@offset") of the input
	// records a keyed task saved as channel state (unaligned checkpoints):
	// they are not in the task's state yet.
	InFlight map[string]bool
	// Err is set when the checkpoint could not be read for a reason that
	// says nothing about its data (not a missing or damaged file).
	Err error
}

// LostFile is one file of a completed checkpoint that cannot be read back.
type LostFile struct {
	// Object is the file's path in checkpoint storage.
	Object string
	// Reason is "missing", or the checksum or decoding failure found.
	Reason string
}

// Restore is one deployment of the job.
type Restore struct {
	// At is when the job master deployed the attempt.
	At      sim.Time
	Attempt int
	// Checkpoint is the checkpoint the tasks restore from, 0 for none.
	Checkpoint int64
}

// RegisterKind says whether a register operation is a commit or a read.
type RegisterKind int

const (
	// RegisterCommit is a sink transaction that made Value the key's
	// committed value.
	RegisterCommit RegisterKind = iota + 1
	// RegisterRead is a read_committed poll that saw Value as the key's
	// latest committed value.
	RegisterRead
)

// NoReturn is the Return of a commit that never became visible during the
// run: it may take effect at any time after its Call.
const NoReturn int64 = math.MaxInt64

// RegisterOp is one operation on a key's register, with its interval in
// simulated nanoseconds: a commit from its first EndTxn(commit) being sent
// to its batch becoming visible to read_committed readers, a read from the
// poll being sent to its answer.
type RegisterOp struct {
	Kind         RegisterKind
	Key          string
	Value        int64
	Call, Return int64
	// Client numbers the operation's client (the reader is readerClient).
	Client int
}

// FiredFault is one fault of the plan that fired.
type FiredFault struct {
	At sim.Time
	// Index is the fault's position in the plan; Name its name there.
	Index  int
	Name   string
	Action faults.Action
}

// Kind is the fault's kind.
func (f FiredFault) Kind() faults.ActionKind { return f.Action.Kind }

// Target names what the fault hits: the worker (or the coordinator), the
// link, the Kafka request, the checkpoint object or the transaction.
func (f FiredFault) Target() string {
	a := f.Action
	switch {
	case a.Kind == faults.KillCoordinator:
		return faults.Coordinator
	case a.Worker != "" && a.Peer != "":
		return a.Worker + "|" + a.Peer
	case a.Worker != "":
		return a.Worker
	case a.Request != "":
		return a.Request
	case a.Object != "":
		return a.Object
	}
	return a.TxnID
}

// String renders the fault as the trace does: "fault 0 fired: kill w2 ...".
func (f FiredFault) String() string { return fmt.Sprintf("fault %d fired: %s", f.Index, f.Action) }

// history records, while the run goes, what History holds: the state each
// completed checkpoint holds and, for jobs whose output is a counter per
// key, the commits and reads of the output.
type history struct {
	c           *Cluster
	checkpoints []CheckpointRead
	// inFlightAt marks the checkpoints whose snapshots hold channel state
	// of any task: input still on its way through the job.
	inFlightAt map[int64]bool
	restores   []Restore
	fired      []FiredFault
	// triggered and completed are the checkpoints' triggers and
	// completions, in order.
	triggered, completed []CheckpointEvent

	// Writes to the output, per transaction (transactional id, producer
	// id, epoch): the batches it produced, when its first EndTxn(commit)
	// went out, and whether the broker committed it.
	batches   map[txnKey][]*outBatch
	commitAt  map[txnKey]int64
	order     []txnKey
	committed map[txnKey]bool
	reads     []RegisterOp
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

func (c *Cluster) recordHistory(generated []jobs.Input) {
	h := &history{c: c, inFlightAt: map[int64]bool{}, batches: map[txnKey][]*outBatch{}, commitAt: map[txnKey]int64{}, committed: map[txnKey]bool{}, seen: map[string]int64{}}
	c.hist = h
	c.OnEvent(func(_ *sim.Proc, e engine.Event) {
		switch e.Phase {
		case protocol.Triggered:
			h.triggered = append(h.triggered, CheckpointEvent{Checkpoint: e.Checkpoint, At: c.w.Now()})
		case protocol.MetadataWritten:
			h.completed = append(h.completed, CheckpointEvent{Checkpoint: e.Checkpoint, At: c.w.Now()})
			h.captureCheckpoint(e.Checkpoint)
		}
	})
	if c.spec.Register == nil {
		return
	}
	keys := map[string]bool{}
	for _, in := range generated {
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
			h.checkpoints = append(h.checkpoints, h.readBack(md, ReadAtCompletion, true))
			return
		}
	}
}

// ReadRetained reads back, now, every completed checkpoint the coordinator
// still retains: each is a promise that the job can be restored from it, so
// each must still be whole, and must still hold the fold of the input up to
// its offsets. Run calls it at the end, after every eviction and every
// deletion of shared files, for History.Retained; it does not touch the
// trace.
func (c *Cluster) ReadRetained() []CheckpointRead {
	if c.jm == nil || c.jm.coord == nil {
		return nil
	}
	var retained []CheckpointRead
	for _, md := range c.jm.coord.Completed() {
		retained = append(retained, c.hist.readBack(md, ReadAtEnd, false))
	}
	return retained
}

// readBack reads md's checkpoint from storage and records what a restore
// finds: the restored state, or the files that are lost. during says the
// run is still going: only then does it record which checkpoints hold input
// in flight (drained relies on that).
func (h *history) readBack(md engine.Metadata, when string, during bool) CheckpointRead {
	c := h.c
	cp := CheckpointRead{Checkpoint: md.Checkpoint, Offsets: md.Offsets, Read: when}
	snaps, lost, err := c.readCheckpoint(md)
	if err != nil {
		cp.Err = err
		return cp
	}
	cp.Lost = lost
	if len(lost) > 0 {
		return cp
	}
	cp.InFlight = map[string]bool{}
	for _, s := range snaps {
		if len(s.ChannelState) > 0 && during {
			h.inFlightAt[md.Checkpoint] = true
		}
		if !h.keyedTask(s.Task) {
			continue
		}
		for _, cs := range s.ChannelState {
			for _, r := range cs.Records {
				cp.InFlight[r.Origin] = true
			}
		}
	}
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
				b := &outBatch{partition: p.Partition, last: base + int64(len(recs)) - 1, max: map[string]int64{}, visible: NoReturn}
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
			if b.visible != NoReturn {
				continue
			}
			if _, lso, ok := h.c.k.PartitionEnd(topic, b.partition); ok && lso > b.last {
				b.visible = int64(h.c.w.Now())
			}
		}
	}
}

// registerOps turns every batch of every transaction that was sent a
// commit into one register commit per key, and adds the reads.
func (h *history) registerOps() []RegisterOp {
	var ops []RegisterOp
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
				ops = append(ops, RegisterOp{Kind: RegisterCommit, Key: key, Value: b.max[key],
					Call: h.commitAt[k], Return: b.visible, Client: client})
			}
		}
	}
	return append(ops, h.reads...)
}

// recorded returns what the run recorded. The retained checkpoints are read
// back now: by the end of the run every eviction and every shared file
// deletion has happened.
func (c *Cluster) recorded() *History {
	h := c.hist
	p := c.opts.Params
	out := &History{Spec: c.spec, Params: p, Input: c.generated, OutputTopic: c.spec.Output(p).Name, InputEnds: c.inputEnd,
		Checkpoints: h.checkpoints, Retained: c.ReadRetained(), Restores: h.restores, Faults: h.fired,
		Triggered: h.triggered, Completed: h.completed, HealAt: c.faultsUntil, End: c.w.Now(), ProgressBound: c.progressBound()}
	for _, t := range c.spec.Inputs(p) {
		out.InputTopics = append(out.InputTopics, t.Name)
	}
	if c.jm != nil && c.jm.coord != nil {
		if md, err := c.jm.coord.LatestCompleted(); err == nil {
			out.Latest = &md
		}
	}
	if c.spec.Register != nil {
		out.Register = h.registerOps()
	}
	return out
}

// progressBound is ProgressBound for this cluster's options: the longest
// restart delay, a heartbeat timeout to notice a lost worker, the heartbeats
// a deploy waits for its workers, two checkpoint timeouts (one failing, one
// after it) and ten intervals.
func (c *Cluster) progressBound() time.Duration {
	o := c.opts
	restart := max(o.Restart.Delay, o.Restart.MaxDelay)
	return restart + o.HeartbeatTimeout + (deployWaitsMax+1)*o.Heartbeat + 2*o.Checkpoint.Timeout + 10*o.Checkpoint.Interval
}

// noteDeploy records a deployment of the job and the checkpoint it
// restores from.
func (h *history) noteDeploy(attempt int, deps []engine.Deployment) {
	r := Restore{At: h.c.w.Now(), Attempt: attempt}
	if len(deps) > 0 {
		r.Checkpoint = deps[0].Restore
	}
	h.restores = append(h.restores, r)
}

// fire records that fault i of plan fired and traces it.
func (h *history) fire(i int, f faults.Fault) {
	ff := FiredFault{At: h.c.w.Now(), Index: i, Name: f.Name, Action: f.Action}
	h.fired = append(h.fired, ff)
	h.c.w.Record(sim.Event{Kind: sim.EventFaultFired, N: int64(i), Name: f.Name, Op: string(f.Action.Kind), Detail: f.Action.String()})
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
			h.reads = append(h.reads, RegisterOp{Kind: RegisterRead, Key: key, Value: h.seen[key], Call: call, Return: ret, Client: readerClient})
		}
	})
}

func (r *reader) Receive(sim.ProcID, any) {}
func (r *reader) LinkDown(sim.ProcID)     {}
func (r *reader) Writable(sim.ProcID)     {}
