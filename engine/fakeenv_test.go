package engine

// This file holds the fakes the engine's scripted tests drive: a TaskEnv
// and a CoordinatorEnv that write every output call as one readable line
// into a log and hold every callback (Persist, Load, Kafka, After,
// PutMetadata) in a queue until the test releases it. There are no
// goroutines and no wall clock: time moves only when a test fires timers,
// and a callback runs only when a test completes it, which is exactly the
// "later, one at a time, never inside the call that asked" duty TaskEnv
// documents.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeLog collects output lines until a test takes them.
type fakeLog struct{ lines []string }

func (l *fakeLog) logf(format string, args ...any) {
	l.lines = append(l.lines, strings.TrimRight(fmt.Sprintf(format, args...), " "))
}

// take returns the lines logged since the last take.
func (l *fakeLog) take() []string {
	out := l.lines
	l.lines = nil
	return out
}

// fakeClock is a manual clock with a timer queue. Timers fire only inside
// fireTimers, in (due time, order scheduled) order, with the clock set to
// each timer's due time while it runs.
type fakeClock struct {
	log    *fakeLog
	now    int64
	seq    int
	timers []fakeTimer
}

type fakeTimer struct {
	at  int64
	seq int
	fn  func()
}

// fireTimersMax bounds one fireTimers call: a timer that keeps rescheduling
// itself at zero delay is a bug, not a reason to spin forever.
const fireTimersMax = 10_000

func (c *fakeClock) Now() int64 { return c.now }

func (c *fakeClock) After(d time.Duration, fn func()) {
	c.log.logf("after %v", d)
	c.seq++
	c.timers = append(c.timers, fakeTimer{at: c.now + int64(d), seq: c.seq, fn: fn})
}

// fireTimers runs every timer due at or before upTo (including timers those
// timers schedule), then leaves the clock at upTo.
func (c *fakeClock) fireTimers(upTo time.Duration) {
	for range fireTimersMax {
		i := -1
		for j, tm := range c.timers {
			if tm.at <= int64(upTo) && (i < 0 || tm.at < c.timers[i].at || (tm.at == c.timers[i].at && tm.seq < c.timers[i].seq)) {
				i = j
			}
		}
		if i < 0 {
			c.now = max(c.now, int64(upTo))
			return
		}
		tm := c.timers[i]
		c.timers = slices.Delete(c.timers, i, i+1)
		c.now = max(c.now, tm.at)
		tm.fn()
	}
	panic(fmt.Sprintf("fireTimers(%v): more than %d timers fired", upTo, fireTimersMax))
}

// fakeTaskEnv is a TaskEnv that logs every output and queues every
// callback.
type fakeTaskEnv struct {
	fakeLog
	fakeClock
	job *Job

	persists []fakePersist
	loads    []fakeLoad
	kafkas   []fakeKafka
	// persisted is every Persist call in order, completed or not, so a test
	// can look inside a snapshot the task wrote.
	persisted []fakePersist
	acks      []Ack
}

type fakePersist struct {
	name string
	data []byte
	cb   func(error)
}

type fakeLoad struct {
	name string
	cb   func([]byte, error)
}

type fakeKafka struct {
	req kmsg.Request
	cb  func(kmsg.Response, error)
}

func newFakeTaskEnv() *fakeTaskEnv {
	e := &fakeTaskEnv{}
	e.fakeClock.log = &e.fakeLog
	return e
}

var _ TaskEnv = (*fakeTaskEnv)(nil)

// forJob tells the fake the graph of the task it serves, so that it can
// name a message's channel as the task sees it (gate and channel, input
// channel index).
func (e *fakeTaskEnv) forJob(job *Job) *fakeTaskEnv {
	e.job = job
	return e
}

// Send logs one line per message: stream messages by output gate and
// channel, credits by input channel index, the rest by type.
func (e *fakeTaskEnv) Send(m Message) {
	switch m.Type {
	case protocol.MsgRecord, protocol.MsgBarrier, protocol.MsgWatermark:
		g := slices.IndexFunc(e.job.Downstream(m.From.Task.Vertex), func(d EdgeRef) bool {
			return d.Vertex == m.To.Task.Vertex && d.Input == m.Input
		})
		e.logf("send g%d/ch%d %s", g, m.To.Task.Subtask, renderMsg(m.Stream))
	case protocol.MsgCredit:
		in := 0
		for i, edge := range e.job.Vertices[m.From.Task.Vertex].Inputs {
			switch {
			case i < m.Input && edge.Partitioning == Hash:
				in += e.job.Vertices[edge.From].Parallelism
			case i < m.Input:
				in++
			case i == m.Input && edge.Partitioning == Hash:
				in += m.To.Task.Subtask
			}
		}
		e.logf("credit in%d +%d", in, m.Credit)
	case protocol.MsgRunning:
		e.logf("running")
	case protocol.MsgAck:
		e.logf("ack %d", m.Checkpoint)
		e.acks = append(e.acks, *m.Ack)
	case protocol.MsgDecline:
		e.logf("decline %d: %s", m.Checkpoint, m.Reason)
	case protocol.MsgFailed:
		e.logf("fail restore=%d: %s", m.Failure.RestoreCheckpoint, m.Failure.Reason)
	default:
		e.logf("send %s", m)
	}
}

// The test's side of the router: messages to a task or to the coordinator
// as they would be delivered.

// deliverStream delivers sm to t on vertex input input from upstream
// subtask upstream.
func deliverStream(t *Task, input, upstream int, sm StreamMsg) {
	from := TaskID{Vertex: t.v.Inputs[input].From, Subtask: upstream}
	t.Step(Message{Type: sm.msgType(), Attempt: t.dep.Attempt, From: TaskEndpoint(from), To: t.ep, Input: input, Checkpoint: sm.Checkpoint, Stream: sm})
}

// deliverCredit returns n credits to t on output channel ch of gate g.
func deliverCredit(t *Task, g, ch, n int) {
	gate := t.gates[g]
	from := TaskID{Vertex: gate.to, Subtask: ch}
	t.Step(Message{Type: protocol.MsgCredit, Attempt: t.dep.Attempt, From: TaskEndpoint(from), To: t.ep, Input: gate.input, Credit: n})
}

// deliverControl delivers a coordinator's message of type typ about
// checkpoint n to t.
func deliverControl(t *Task, typ protocol.MsgType, n, triggeredAt int64) {
	t.Step(Message{Type: typ, Attempt: t.dep.Attempt, From: CoordinatorEndpoint, To: t.ep, Checkpoint: n, TriggeredAt: triggeredAt})
}

// fromTask delivers a task's message to the coordinator.
func fromTask(c *Coordinator, m Message, attempt int, id TaskID) {
	m.Attempt, m.From, m.To = attempt, TaskEndpoint(id), CoordinatorEndpoint
	c.Step(m)
}

func ackFrom(c *Coordinator, attempt int, a Ack) {
	fromTask(c, Message{Type: protocol.MsgAck, Checkpoint: a.Checkpoint, Ack: &a}, attempt, a.Task)
}

func (e *fakeTaskEnv) Kafka(req kmsg.Request, cb func(kmsg.Response, error)) {
	e.logf("kafka %s", renderKafka(req))
	e.kafkas = append(e.kafkas, fakeKafka{req: req, cb: cb})
}

func (e *fakeTaskEnv) Persist(name string, data []byte, cb func(error)) {
	e.logf("persist %s (%d bytes)", name, len(data))
	p := fakePersist{name: name, data: slices.Clone(data), cb: cb}
	e.persists = append(e.persists, p)
	e.persisted = append(e.persisted, p)
}

func (e *fakeTaskEnv) Load(name string, cb func([]byte, error)) {
	e.logf("load %s", name)
	e.loads = append(e.loads, fakeLoad{name: name, cb: cb})
}

func (e *fakeTaskEnv) Event(ev Event) { e.logf("event %s", renderEvent(ev)) }

// completePersist runs the callback of the i-th outstanding Persist.
func (e *fakeTaskEnv) completePersist(i int, err error) {
	p := e.persists[i]
	e.persists = slices.Delete(e.persists, i, i+1)
	p.cb(err)
}

// completeLoad runs the callback of the i-th outstanding Load.
func (e *fakeTaskEnv) completeLoad(i int, data []byte, err error) {
	l := e.loads[i]
	e.loads = slices.Delete(e.loads, i, i+1)
	l.cb(data, err)
}

// completeKafka runs the callback of the i-th outstanding Kafka request.
func (e *fakeTaskEnv) completeKafka(i int, resp kmsg.Response, err error) {
	k := e.kafkas[i]
	e.kafkas = slices.Delete(e.kafkas, i, i+1)
	k.cb(resp, err)
}

// logSnapshot decodes the i-th snapshot the task persisted and logs its
// content: one line for the snapshot, one per keyed value or list (in key
// group order, as snapshots are sorted), one per source position.
func (e *fakeTaskEnv) logSnapshot(i int) {
	s, err := DecodeSnapshot(e.persisted[i].data)
	if err != nil {
		e.logf("snapshot %s: %v", e.persisted[i].name, err)
		return
	}
	e.logf("snapshot %s cp=%d", s.Task, s.Checkpoint)
	for _, g := range s.Keyed {
		for _, v := range g.Values {
			e.logf("  kg %d value %s[%s]=%s", g.KG, v.Name, v.Key, v.Value)
		}
		for _, l := range g.Lists {
			e.logf("  kg %d list %s[%s]=%s", g.KG, l.Name, l.Key, strings.Join(l.Values, ","))
		}
	}
	for _, tm := range s.EventTimers {
		e.logf("  kg %d event timer [%s]@%d", tm.KG, tm.Key, tm.At)
	}
	if w := s.Watermarks; w != nil {
		var in []string
		for _, x := range w.Inputs {
			in = append(in, renderWatermark(x))
		}
		e.logf("  watermark %s inputs [%s]", renderWatermark(w.Current), strings.Join(in, " "))
	}
	if s.Source != nil {
		for _, p := range s.Source.Positions {
			e.logf("  position %s/%d@%d", s.Source.Topic, p.Partition, p.Offset)
		}
		for _, pt := range s.Source.Times {
			e.logf("  max time %s/%d %d", s.Source.Topic, pt.Partition, pt.Max)
		}
	}
}

func renderWatermark(w int64) string {
	if w == NoWatermark {
		return "none"
	}
	return fmt.Sprint(w)
}

func renderMsg(m StreamMsg) string {
	switch {
	case m.Kind == KindBarrier:
		return fmt.Sprintf("barrier %d", m.Checkpoint)
	case m.Kind == KindWatermark && m.Idle:
		return "watermark idle"
	case m.Kind == KindWatermark:
		return fmt.Sprintf("watermark %d", m.Watermark)
	}
	return fmt.Sprintf("record k=%s v=%s", m.Record.Key, m.Record.Value)
}

func renderEvent(ev Event) string {
	s := string(ev.Phase)
	if ev.Checkpoint != 0 {
		s += fmt.Sprintf(" cp=%d", ev.Checkpoint)
	}
	if ev.Detail != "" {
		s += " " + ev.Detail
	}
	return s
}

func renderKafka(req kmsg.Request) string {
	switch r := req.(type) {
	case *kmsg.FetchRequest:
		var parts []string
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, fmt.Sprintf("%s/%d@%d", t.Topic, p.Partition, p.FetchOffset))
			}
		}
		return fmt.Sprintf("Fetch isolation=%d %s", r.IsolationLevel, strings.Join(parts, ","))
	case *kmsg.ProduceRequest:
		txn := ""
		if r.TransactionID != nil {
			txn = *r.TransactionID
		}
		var parts []string
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, fmt.Sprintf("%s/%d", t.Topic, p.Partition))
			}
		}
		return fmt.Sprintf("Produce txn=%s %s", txn, strings.Join(parts, ","))
	case *kmsg.InitProducerIDRequest:
		txn := ""
		if r.TransactionalID != nil {
			txn = *r.TransactionalID
		}
		return fmt.Sprintf("InitProducerID txn=%s", txn)
	case *kmsg.EndTxnRequest:
		return fmt.Sprintf("EndTxn txn=%s pid=%d epoch=%d commit=%v", r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit)
	}
	return kmsg.NameForKey(req.Key())
}

// fakeCoordEnv is a CoordinatorEnv that logs every output and queues
// metadata and coordinator-state writes.
type fakeCoordEnv struct {
	fakeLog
	fakeClock

	job      *Job
	metadata []fakeMetadata
	states   []fakeState
	// deploys is every deployment, by attempt.
	deploys map[int][]Deployment
}

type fakeState struct {
	data []byte
	cb   func(error)
}

type fakeMetadata struct {
	n    int64
	data []byte
	cb   func(error)
}

func newFakeCoordEnv(job *Job) *fakeCoordEnv {
	e := &fakeCoordEnv{job: job, deploys: map[int][]Deployment{}}
	e.fakeClock.log = &e.fakeLog
	return e
}

var _ CoordinatorEnv = (*fakeCoordEnv)(nil)

// Send logs one line per message. A deploy's line states the checkpoint
// every deployment of the attempt restores and the fence (and checks that
// they agree: a disagreement is logged as such).
func (e *fakeCoordEnv) Send(m Message) {
	switch m.Type {
	case protocol.MsgDeploy:
		deps := m.Deploy.Deployments
		e.deploys[m.Attempt] = deps
		restore, fence := deps[0].Restore, deps[0].FenceUpTo
		for _, d := range deps {
			if d.Restore != restore || d.FenceUpTo != fence || d.Attempt != m.Attempt {
				e.logf("deploy attempt %d: DISAGREEING deployment %+v", m.Attempt, d)
			}
		}
		e.logf("deploy attempt %d: %d tasks restore=%d fence=%d", m.Attempt, len(deps), restore, fence)
	case protocol.MsgCancel:
		e.logf("cancel attempt %d", m.Attempt)
	case protocol.MsgTrigger:
		e.logf("trigger a%d %s cp=%d at=%v", m.Attempt, e.job.TaskName(m.To.Task), m.Checkpoint, time.Duration(m.TriggeredAt))
	case protocol.MsgNotifyComplete:
		e.logf("notify a%d %s cp=%d", m.Attempt, e.job.TaskName(m.To.Task), m.Checkpoint)
	case protocol.MsgNotifyAbort:
		e.logf("abort a%d %s cp=%d", m.Attempt, e.job.TaskName(m.To.Task), m.Checkpoint)
	default:
		e.logf("send %s", m)
	}
}

func (e *fakeCoordEnv) PutMetadata(n int64, data []byte, cb func(error)) {
	var md Metadata
	if err := json.Unmarshal(data, &md); err != nil {
		e.logf("put-metadata cp=%d: undecodable: %v", n, err)
	} else {
		e.logf("put-metadata cp=%d (metadata cp=%d, %d handles)", n, md.Checkpoint, len(md.Handles))
	}
	e.metadata = append(e.metadata, fakeMetadata{n: n, data: slices.Clone(data), cb: cb})
}

func (e *fakeCoordEnv) PersistState(data []byte, cb func(error)) {
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		e.logf("persist-state: undecodable: %v", err)
	} else {
		e.logf("persist-state counter=%d attempt=%d", st.Counter, st.Attempt)
	}
	e.states = append(e.states, fakeState{data: slices.Clone(data), cb: cb})
}

func (e *fakeCoordEnv) DeleteCheckpoint(n int64) { e.logf("delete cp=%d", n) }

func (e *fakeCoordEnv) DeleteShared(objects []string) {
	e.logf("delete-shared %s", strings.Join(objects, ","))
}

func (e *fakeCoordEnv) Event(ev Event) { e.logf("event %s", renderEvent(ev)) }

// completeState runs the callback of the i-th outstanding PersistState.
func (e *fakeCoordEnv) completeState(i int, err error) {
	st := e.states[i]
	e.states = slices.Delete(e.states, i, i+1)
	st.cb(err)
}

// completeMetadata runs the callback of the i-th outstanding PutMetadata.
func (e *fakeCoordEnv) completeMetadata(i int, err error) {
	m := e.metadata[i]
	e.metadata = slices.Delete(e.metadata, i, i+1)
	m.cb(err)
}
