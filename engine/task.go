package engine

import (
	"fmt"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
)

// TaskConfig tunes a task.
type TaskConfig struct {
	// ChannelCredits is how many records may be in flight on one channel
	// before the sender must wait for the receiver (credit-based flow
	// control, as in Flink). It bounds every queue in the job.
	ChannelCredits int `json:"channel_credits"`
	// PollInterval is how long an idle source waits before fetching again.
	PollInterval time.Duration `json:"poll_interval"`
	// FetchBytesMax bounds one source fetch per partition.
	FetchBytesMax int32 `json:"fetch_bytes_max"`
	// SinkBatchRecords is how many records a sink buffers per partition
	// before it produces them.
	SinkBatchRecords int `json:"sink_batch_records"`
	// KafkaRetries bounds consecutive retries of one Kafka request.
	KafkaRetries int `json:"kafka_retries"`
	// TxnTimeout is the transaction timeout sinks ask the broker for. It
	// must exceed the longest time from a transaction's first write to its
	// commit, a recovery included, or the broker aborts pre-committed data.
	TxnTimeout time.Duration `json:"txn_timeout"`
	// Unaligned takes every checkpoint unaligned (unaligned.go): barriers
	// overtake queued records, which are saved as channel state.
	Unaligned bool `json:"unaligned,omitempty"`
	// AlignmentTimeout switches an aligned checkpoint that is still aligning
	// after it to unaligned (0: never).
	AlignmentTimeout time.Duration `json:"alignment_timeout,omitempty"`
	// RecordCost is the simulated time an operator spends on one record
	// (0: none). It makes slow operators, and so backpressure, possible in
	// the simulator.
	RecordCost time.Duration `json:"record_cost,omitempty"`
	// Mutants switch on deliberate bugs, by name (see mutants.go).
	Mutants Mutants `json:"mutants,omitempty"`
}

// DefaultTaskConfig returns the defaults.
func DefaultTaskConfig() TaskConfig {
	return TaskConfig{
		ChannelCredits:   32,
		PollInterval:     5 * time.Millisecond,
		FetchBytesMax:    16 << 10,
		SinkBatchRecords: 64,
		KafkaRetries:     10,
		TxnTimeout:       time.Hour,
	}
}

// Deployment is what a task needs to start: who it is and where to restore
// from.
type Deployment struct {
	Task TaskID `json:"task"`
	// Attempt is the job attempt the task belongs to.
	Attempt int `json:"attempt"`
	// Restore is the checkpoint to restore from (0: start empty) and Handle
	// the task's snapshot in it.
	Restore int64  `json:"restore,omitempty"`
	Handle  string `json:"handle,omitempty"`
	// FenceUpTo is one past the highest checkpoint id ever triggered: every
	// transactional id a sink of a previous attempt may have opened has a
	// checkpoint id below it.
	FenceUpTo int64 `json:"fence_up_to"`
	// StoragePrefix is where the task writes its snapshots.
	StoragePrefix string `json:"storage_prefix"`
	// Handles, set instead of Handle when the vertex's parallelism changed
	// since the checkpoint, are the snapshots of all its old subtasks, and
	// OldParallelism their number (rescale.go).
	Handles        []string `json:"handles,omitempty"`
	OldParallelism int      `json:"old_parallelism,omitempty"`
}

// inChannel is one input channel: one upstream subtask on one input edge.
type inChannel struct {
	input    int // the vertex input (edge) it belongs to
	upstream int // the upstream subtask
	queue    msgQueue
	blocked  bool // barrier received, waiting for the others (aligned mode)
	unacked  int  // records consumed but not yet returned as credit
	replay   int  // records at the head replayed from channel state: no credit
}

// outGate is one downstream edge: a channel per downstream subtask, with
// its credit; channels a forward edge does not connect hold unconnected.
type outGate struct {
	part    Partitioning
	credits []int
	// to and input name the downstream vertex and its input (edge) this
	// gate feeds.
	to, input int
	// tag is the side output the edge reads ("": the main output); keyOf,
	// on an edge into a keyed vertex, keys each record before routing it.
	tag   string
	keyOf func(Record) string
}

// unconnected marks a channel of a gate that does not exist.
const unconnected = -1 << 40

func (g *outGate) connected(ch int) bool { return g.credits[ch] > unconnected/2 }

// alignment tracks the barriers of one checkpoint at a task with inputs.
type alignment struct {
	checkpoint  int64
	triggeredAt int64
	firstAt     int64
	received    []bool
	count       int
}

// Task is one subtask: a synchronous state machine. Its inputs are Start,
// Step (every Message for it: stream messages, credit, triggers,
// notifications), Cancel and the callbacks of its TaskEnv; its outputs are
// the Messages it sends through TaskEnv.Send and its requests to the env.
//
// The checkpoint protocol, in the order it happens at a task:
//
//  1. A source is sent protocol.MsgTrigger(n). In one step it records its Kafka
//     positions in its snapshot and emits barrier n on every output
//     channel (source.go).
//  2. A task with inputs receives barrier n on a channel and blocks that
//     channel; records behind the barrier wait (aligned mode).
//  3. When barrier n has come on every input, the task unblocks its inputs
//     (nothing is taken from them until this step is over), snapshots its
//     state (the synchronous part) and forwards barrier n on every output.
//  4. A sink at barrier n first flushes its open transaction (every record
//     produced, no EndTxn) and records {transactional id, producer id,
//     epoch} in its snapshot: the pre-commit (sink.go).
//  5. The snapshot is uploaded (the asynchronous part); only once it is
//     durable does the task send protocol.MsgAck(n). With a file backend (pebble)
//     the state files storage does not hold yet go first, then the
//     snapshot that names them (pebble_task.go).
//  6. The coordinator writes the checkpoint's metadata: the commit point
//     (coordinator.go). Then it sends every task protocol.MsgNotifyComplete(n).
//  7. On protocol.MsgNotifyComplete(n) a sink commits every transaction it
//     pre-committed up to n (a lost notification is subsumed by the next).
//  8. On restore, a sink fences every other id the previous attempt may
//     have opened and opens its first transaction; the transactions its
//     restored snapshot pre-committed wait, and commit on the
//     protocol.MsgNotifyComplete(restored) the coordinator sends once every task of
//     the attempt restored from that checkpoint (a task that cannot makes
//     the job fall back to an older one, whose transactions these are not).
//
// Event time rides on the same channels (eventtime.go): watermarks follow
// the records they cover, a blocked channel's watermark waits with its
// records, and the snapshot of step 3 holds the task's channel watermarks,
// its own watermark and its event-time timers, so that after a restore
// every pending window fires as it would have without the failure.
type Task struct {
	id    TaskID
	ep    Endpoint
	name  string
	job   *Job
	v     *Vertex
	env   TaskEnv
	cfg   TaskConfig
	dep   Deployment
	state StateBackend

	inputs []*inChannel
	// chans maps (vertex input, upstream subtask) to the index in inputs
	// (-1: no such channel).
	chans [][]int
	gates []*outGate
	rr    int

	op  Operator
	src *source
	snk *sink

	timers  []timer
	running bool
	failed  bool

	// Event time: valve combines the input channels' watermarks (operator
	// tasks only); etimers are the event-time timers, sorted; outIdle says
	// the task last told downstream it is idle; late counts late records.
	valve   *valve
	etimers timerQueue
	outIdle bool
	late    int

	align *alignment
	// capture collects an unaligned checkpoint's channel state.
	capture *channelCapture
	// fenceSubtasks are old sink subtasks, gone after a rescale, whose
	// transactional ids this sink fences (rescale.go).
	fenceSubtasks []int
	// busyUntil is when the record being worked on is done (RecordCost);
	// wakeSet is set while a pump is scheduled for then.
	busyUntil int64
	wakeSet   bool
	// lastBarrier is the highest checkpoint whose barrier this task has
	// passed; an older barrier is a leftover of an aborted checkpoint.
	lastBarrier int64
	ctx         Context
}

// NewTask builds the task for dep. state is its backend (nil: heap).
func NewTask(job *Job, dep Deployment, env TaskEnv, cfg TaskConfig, state StateBackend) *Task {
	v := job.Vertices[dep.Task.Vertex]
	if state == nil {
		state = NewHeapBackend()
	}
	t := &Task{id: dep.Task, ep: TaskEndpoint(dep.Task), name: job.TaskName(dep.Task), job: job, v: v, env: env, cfg: cfg, dep: dep, state: state}
	t.ctx.t = t
	// A forward edge connects subtask i to subtask i only; a hash edge
	// connects every upstream subtask to every downstream one.
	t.chans = make([][]int, len(v.Inputs))
	for in, e := range v.Inputs {
		t.chans[in] = make([]int, job.Vertices[e.From].Parallelism)
		for u := range t.chans[in] {
			t.chans[in][u] = -1
			if e.Partitioning == Hash || u == dep.Task.Subtask {
				t.chans[in][u] = len(t.inputs)
				t.inputs = append(t.inputs, &inChannel{input: in, upstream: u})
			}
		}
	}
	for _, d := range job.Downstream(dep.Task.Vertex) {
		dv := job.Vertices[d.Vertex]
		e := dv.Inputs[d.Input]
		g := &outGate{part: e.Partitioning, credits: make([]int, dv.Parallelism), to: d.Vertex, input: d.Input, tag: e.Tag, keyOf: e.KeyOf}
		for i := range g.credits {
			if g.part == Hash || i == dep.Task.Subtask {
				g.credits[i] = cfg.ChannelCredits
			} else {
				g.credits[i] = unconnected
			}
		}
		t.gates = append(t.gates, g)
	}
	switch v.Kind {
	case SourceVertex:
		t.src = newSource(t)
	case SinkVertex:
		t.snk = newSink(t)
	default:
		t.op = v.NewOperator()
		t.valve = newValve(len(t.inputs))
	}
	return t
}

// ID is the task's id; Name is "vertex/subtask".
func (t *Task) ID() TaskID   { return t.id }
func (t *Task) Name() string { return t.name }

// Start restores the task (if it has a checkpoint) and starts processing.
func (t *Task) Start() {
	if len(t.dep.Handles) > 0 {
		t.startRescaled()
		return
	}
	if t.dep.Restore == 0 {
		if t.openState() {
			t.begin(nil)
		}
		return
	}
	t.env.Load(t.dep.Handle, func(data []byte, err error) {
		if err == nil {
			var s *TaskSnapshot
			if s, err = DecodeSnapshot(data); err == nil {
				// Keyed state first (a file backend loads its files),
				// then everything else.
				t.restoreState(s, func() { t.begin(s) })
				return
			}
		}
		t.fail(Failure{Reason: fmt.Sprintf("restore from checkpoint %d: %v", t.dep.Restore, err), RestoreCheckpoint: t.dep.Restore})
	})
}

func (t *Task) begin(s *TaskSnapshot) {
	if s != nil {
		if !t.restoreKeyed(s) {
			return
		}
		for _, tm := range s.Timers {
			t.scheduleTimer(tm)
		}
		t.restoreEventTime(s)
		t.restoreChannelState(s)
		t.lastBarrier = s.Checkpoint
	}
	t.running = true
	t.send(Message{Type: protocol.MsgRunning, To: CoordinatorEndpoint})
	switch {
	case t.src != nil:
		t.src.start(s)
	case t.snk != nil:
		t.snk.start(s)
	}
	t.pump()
}

// Step takes one message for the task. Messages of another attempt are
// dropped; a message for another task, or of a type no task receives, is a
// routing bug.
func (t *Task) Step(m Message) {
	if m.To != t.ep {
		panic(fmt.Sprintf("task %s: message for %s: %s", t.name, m.To, m))
	}
	if m.Attempt != t.dep.Attempt {
		return
	}
	switch m.Type {
	case protocol.MsgRecord, protocol.MsgBarrier, protocol.MsgWatermark:
		if m.From.Role != RoleTask || m.Input < 0 || m.Input >= len(t.chans) || m.From.Task.Subtask >= len(t.chans[m.Input]) || t.chans[m.Input][m.From.Task.Subtask] < 0 {
			panic(fmt.Sprintf("task %s: no input channel for %s", t.name, m))
		}
		t.enqueue(t.chans[m.Input][m.From.Task.Subtask], m.Stream)
	case protocol.MsgCredit:
		t.credit(t.gateTo(m.From.Task.Vertex, m.Input), m.From.Task.Subtask, m.Credit)
	case protocol.MsgTrigger:
		t.trigger(m.Checkpoint, m.TriggeredAt)
	case protocol.MsgNotifyComplete:
		t.notifyComplete(m.Checkpoint)
	case protocol.MsgNotifyAbort:
		t.notifyAbort(m.Checkpoint)
	default:
		panic(fmt.Sprintf("task %s: a task does not take %s", t.name, m))
	}
}

// gateTo is the gate that feeds input of vertex to.
func (t *Task) gateTo(to, input int) int {
	for gi, g := range t.gates {
		if g.to == to && g.input == input {
			return gi
		}
	}
	panic(fmt.Sprintf("task %s has no output to input %d of vertex %d", t.name, input, to))
}

// send stamps m with the task's attempt and endpoint and sends it.
func (t *Task) send(m Message) {
	m.Attempt, m.From = t.dep.Attempt, t.ep
	t.env.Send(m)
}

// sendStream sends a stream message on output channel ch of gate g.
func (t *Task) sendStream(g, ch int, sm StreamMsg) {
	gate := t.gates[g]
	t.send(Message{Type: sm.msgType(), To: TaskEndpoint(TaskID{Vertex: gate.to, Subtask: ch}), Input: gate.input, Checkpoint: sm.Checkpoint, Stream: sm})
}

// sendCredit returns n credits to the upstream end of input channel in.
func (t *Task) sendCredit(in, n int) {
	c := t.inputs[in]
	from := t.v.Inputs[c.input].From
	t.send(Message{Type: protocol.MsgCredit, To: TaskEndpoint(TaskID{Vertex: from, Subtask: c.upstream}), Input: c.input, Credit: n})
}

// enqueue queues a stream message that arrived on input channel in.
func (t *Task) enqueue(in int, m StreamMsg) {
	if t.failed {
		return
	}
	if t.enqueueUnaligned(in, m) {
		return
	}
	t.inputs[in].queue.push(m)
	t.pump()
}

// credit returns n credits on output channel ch of gate g.
func (t *Task) credit(g, ch, n int) {
	if t.failed {
		return
	}
	t.gates[g].credits[ch] += n
	t.pump()
	if t.src != nil {
		t.src.maybeFetch()
	}
}

// hasCredit reports whether every output channel can take a record. A task
// processes a record only then, so no queue grows past ChannelCredits plus
// what one input record can emit.
func (t *Task) hasCredit() bool {
	for _, g := range t.gates {
		for ch, c := range g.credits {
			if c <= 0 && g.connected(ch) {
				return false
			}
		}
	}
	return true
}

// pump processes queued input until there is none it may take.
func (t *Task) pump() {
	for t.running && !t.failed {
		if t.snk != nil && t.snk.busy() {
			return
		}
		if t.busy() {
			return
		}
		credit := t.hasCredit()
		picked := -1
		for i := range t.inputs {
			c := t.inputs[(t.rr+i)%len(t.inputs)]
			if c.blocked || c.queue.len() == 0 {
				continue
			}
			// Barriers and watermarks need no credit: they carry no data.
			if credit || c.queue.front().Kind != KindRecord {
				picked = (t.rr + i) % len(t.inputs)
				break
			}
		}
		if picked < 0 {
			return
		}
		t.rr = (picked + 1) % len(t.inputs)
		c := t.inputs[picked]
		m := c.queue.pop()
		switch m.Kind {
		case KindBarrier:
			t.onBarrier(picked, m)
			continue
		case KindWatermark:
			t.onWatermark(picked, m)
			continue
		}
		if t.valve != nil {
			t.valve.activate(picked)
		}
		if c.replay > 0 {
			c.replay-- // replayed channel state: upstream gave no credit for it
		} else if c.unacked++; c.unacked*2 >= t.cfg.ChannelCredits {
			t.sendCredit(picked, c.unacked)
			c.unacked = 0
		}
		t.process(c.input, m.Record)
		if t.cfg.RecordCost > 0 {
			t.busyUntil = t.env.Now() + int64(t.cfg.RecordCost)
		}
	}
}

func (t *Task) process(input int, r Record) {
	if t.snk != nil {
		t.snk.add(r)
		return
	}
	if t.v.Keyed {
		t.ctx.key = r.Key
		t.ctx.kg = KeyGroup(r.Key, t.job.MaxParallelism)
	}
	if err := t.op.Process(&t.ctx, input, r); err != nil {
		t.fail(Failure{Reason: fmt.Sprintf("process a record: %v", err)})
	}
}

// emit sends r on every main output gate, to the channel its partitioning
// picks.
func (t *Task) emit(r Record) { t.emitTagged("", r) }

// emitTagged sends r on every gate of output tag ("": the main output).
func (t *Task) emitTagged(tag string, r Record) {
	t.outIdle = false
	for gi, g := range t.gates {
		if g.tag != tag {
			continue
		}
		rec := r
		if g.keyOf != nil {
			rec.Key = g.keyOf(rec)
		}
		ch := t.id.Subtask
		if g.part == Hash {
			ch = SubtaskForKeyGroup(KeyGroup(rec.Key, t.job.MaxParallelism), t.job.MaxParallelism, len(g.credits))
		}
		g.credits[ch]--
		t.sendStream(gi, ch, StreamMsg{Kind: KindRecord, Record: rec})
	}
}

// broadcastBarrier sends barrier n on every output channel.
func (t *Task) broadcastBarrier(n, triggeredAt int64) {
	for gi, g := range t.gates {
		for ch := range g.credits {
			if g.connected(ch) {
				t.sendStream(gi, ch, StreamMsg{Kind: KindBarrier, Checkpoint: n, TriggeredAt: triggeredAt})
			}
		}
	}
}

func (t *Task) event(p protocol.Phase, n int64, detail string) {
	t.env.Event(Event{Phase: p, Checkpoint: n, Task: t.name, Detail: detail})
}

// onBarrier is steps 2 and 3 of the protocol.
func (t *Task) onBarrier(in int, m StreamMsg) {
	n := m.Checkpoint
	t.event(protocol.BarrierReceived, n, fmt.Sprintf("input %d", in))
	if n <= t.lastBarrier {
		return // a barrier of a checkpoint this task already passed or dropped
	}
	if t.align != nil && t.align.checkpoint < n {
		// A newer checkpoint overtook the one being aligned, which must
		// have been aborted: drop it and align the new one.
		t.unblockAll()
		t.align = nil
	}
	if t.align == nil {
		t.align = &alignment{checkpoint: n, triggeredAt: m.TriggeredAt, firstAt: t.env.Now(), received: make([]bool, len(t.inputs))}
		t.armAlignmentTimeout(n)
	}
	a := t.align
	if !a.received[in] {
		a.received[in] = true
		a.count++
		if !t.cfg.Mutants.Has(MutantNoAlignment) {
			t.inputs[in].blocked = true
		}
	}
	if a.count < len(t.inputs) {
		return
	}
	t.align = nil
	t.unblockAll()
	t.event(protocol.Aligned, n, "")
	t.checkpoint(n, a.triggeredAt, a.firstAt)
}

func (t *Task) unblockAll() {
	for _, c := range t.inputs {
		c.blocked = false
	}
}

// checkpoint takes the snapshot of checkpoint n (aligned), forwards the
// barrier and uploads. firstAt is when the first barrier arrived.
func (t *Task) checkpoint(n, triggeredAt, firstAt int64) {
	if n < t.lastBarrier {
		panic(fmt.Sprintf("task %s: checkpoint %d after checkpoint %d", t.name, n, t.lastBarrier))
	}
	t.lastBarrier = n
	m := TaskMetrics{StartDelay: firstAt - triggeredAt, AlignmentDuration: t.env.Now() - firstAt}
	if t.snk != nil {
		// The sink pre-commits first: its snapshot must name a transaction
		// that holds every record before the barrier.
		syncStart := t.env.Now()
		t.snk.preCommit(n, func(ss *SinkState) {
			m.SyncDuration = t.env.Now() - syncStart
			t.upload(n, triggeredAt, &TaskSnapshot{Sink: ss}, m, nil)
		})
		return
	}
	snap := &TaskSnapshot{Timers: append([]timer(nil), t.timers...),
		EventTimers: t.etimers.sorted(), Watermarks: t.snapshotWatermarks()}
	if err := t.snapshotState(n, snap); err != nil {
		// The synchronous part failed (a local disk error): as in Flink,
		// that fails the task, not just the checkpoint.
		t.fail(Failure{Reason: fmt.Sprintf("snapshot state for checkpoint %d: %v", n, err)})
		return
	}
	var offsets map[string]int64
	if t.src != nil {
		snap.Source = t.src.snapshot()
		offsets = t.src.offsets()
	}
	t.broadcastBarrier(n, triggeredAt)
	t.upload(n, triggeredAt, snap, m, offsets)
}

// upload is step 5: write the snapshot, ack only once it is durable.
func (t *Task) upload(n, triggeredAt int64, snap *TaskSnapshot, m TaskMetrics, offsets map[string]int64) {
	// An unaligned checkpoint uploads once its channel state is complete.
	if t.holdUpload(n, snap, func() {
		m.AlignmentDuration = t.env.Now() - m.StartDelay - triggeredAt
		t.upload(n, triggeredAt, snap, m, offsets)
	}) {
		return
	}
	snap.Task, snap.Checkpoint = t.name, n
	data, err := EncodeSnapshot(snap)
	if err != nil {
		t.decline(n, err.Error())
		return
	}
	t.event(protocol.SnapshotTaken, n, fmt.Sprintf("bytes=%d", len(data))+snap.stateFilesDetail())
	handle := t.layout().TaskHandle(n, t.v.Name, t.id.Subtask)
	// Bytes written for this checkpoint: the handle and, with a file
	// backend, the state files storage did not hold yet (incremental).
	size := int64(len(data)) + snap.uploadBytes()
	asyncStart := t.env.Now()
	ack := func() {
		m.AsyncDuration = t.env.Now() - asyncStart
		m.CheckpointedSize = size
		m.EndToEndDuration = t.env.Now() - triggeredAt
		t.send(Message{Type: protocol.MsgAck, To: CoordinatorEndpoint, Checkpoint: n, Ack: &Ack{Task: t.id, Checkpoint: n, Handle: handle, Size: size, Metrics: m, Offsets: offsets, Shared: snap.sharedObjects()}})
		t.event(protocol.AckSent, n, "")
	}
	if t.cfg.Mutants.Has(MutantAckBeforeDurable) {
		ack()
		t.uploadStateFiles(snap, func(error) { t.env.Persist(handle, data, func(error) {}) })
		return
	}
	// State files first, then the handle that names them, then the ack.
	t.uploadStateFiles(snap, func(err error) {
		if err != nil {
			t.decline(n, err.Error())
			return
		}
		t.env.Persist(handle, data, func(err error) {
			if err != nil {
				t.decline(n, fmt.Sprintf("upload snapshot: %v", err))
				return
			}
			t.event(protocol.SnapshotDurable, n, "")
			ack()
		})
	})
}

// decline tells the coordinator the task cannot take checkpoint n.
func (t *Task) decline(n int64, reason string) {
	t.send(Message{Type: protocol.MsgDecline, To: CoordinatorEndpoint, Checkpoint: n, Reason: reason})
}

// trigger starts checkpoint n at a source (step 1).
func (t *Task) trigger(n, triggeredAt int64) {
	if t.failed || !t.running || t.src == nil {
		return
	}
	if n <= t.lastBarrier && !t.cfg.Mutants.Has(MutantRetakeStaleTrigger) {
		// A repeated or late trigger: checkpoint n was taken (or a later
		// one was). Taking it again would overwrite its snapshot with
		// positions past the barrier already sent.
		return
	}
	t.src.trigger(n, triggeredAt)
}

// notifyComplete tells the task checkpoint n is complete (step 7).
func (t *Task) notifyComplete(n int64) {
	if t.failed {
		return
	}
	t.event(protocol.CompleteDelivered, n, "")
	if t.snk != nil {
		t.snk.complete(n)
	}
}

// notifyAbort tells the task checkpoint n was aborted: if it is still
// aligning n, it stops, unblocks its inputs and drops n's barriers yet to
// come, as Flink's barrier handler does on an abort notification. A
// checkpoint it already snapshotted needs nothing: its pre-committed
// transactions are committed by the next completed checkpoint.
func (t *Task) notifyAbort(n int64) {
	if t.failed {
		return
	}
	if t.snk != nil && t.cfg.Mutants.Has(MutantAbortDropsPrecommitted) {
		t.snk.abortPending(n) // Mutant: the abort notice aborts n's transaction.
	}
	if a := t.align; a != nil && a.checkpoint == n && t.capture == nil {
		t.align = nil
		t.unblockAll()
		t.lastBarrier = max(t.lastBarrier, n)
		t.event(protocol.EventAlignmentAborted, n, "")
		t.pump()
	}
}

// Cancel stops the task: nothing it was owed runs any more. It does not
// abort transactions; the next attempt fences them.
func (t *Task) Cancel() {
	t.failed = true
	t.closeState()
}

func (t *Task) fail(f Failure) {
	if t.failed {
		return
	}
	t.failed = true
	f.Task = t.id
	t.send(Message{Type: protocol.MsgFailed, To: CoordinatorEndpoint, Failure: &f})
}

func (t *Task) registerTimer(kg int, key string, at int64) {
	tm := timer{KG: kg, Key: key, At: at}
	if !t.containsTimer(tm) {
		t.scheduleTimer(tm)
	}
}

func (t *Task) scheduleTimer(tm timer) {
	if !t.containsTimer(tm) {
		t.timers = append(t.timers, tm)
		sortTimers(t.timers)
	}
	d := time.Duration(tm.At - t.env.Now())
	t.env.After(max(d, 0), func() { t.fireTimer(tm) })
}

func (t *Task) containsTimer(tm timer) bool {
	for _, x := range t.timers {
		if x == tm {
			return true
		}
	}
	return false
}

func (t *Task) fireTimer(tm timer) {
	if t.failed || !t.containsTimer(tm) {
		return
	}
	for i, x := range t.timers {
		if x == tm {
			t.timers = append(t.timers[:i], t.timers[i+1:]...)
			break
		}
	}
	t.ctx.key, t.ctx.kg, t.ctx.domain = tm.Key, tm.KG, ProcessingTime
	if err := t.op.OnTimer(&t.ctx, tm.At); err != nil {
		t.fail(Failure{Reason: fmt.Sprintf("processing-time timer at %d: %v", tm.At, err)})
	}
}
