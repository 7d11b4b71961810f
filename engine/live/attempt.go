package live

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// attempt is one deployment of the job: a task, a mailbox and an
// environment per subtask, and everything they have in flight. A restart
// cancels the attempt as a whole and deploys a new one; nothing of a
// cancelled attempt runs again.
type attempt struct {
	r     *Runner
	n     int
	ctx   context.Context
	stopK context.CancelFunc
	tasks []*engine.Task
	envs  []*taskEnv
	boxes []*mailbox
	// wg counts the attempt's goroutines: mailboxes, Kafka requests,
	// storage reads and writes.
	wg        sync.WaitGroup
	cancelled atomic.Bool
	running   atomic.Int32
	sinkFed   atomic.Bool

	// files are the attempt's file-based state backends, with their
	// directories, closed once its goroutines have returned.
	files []fileState

	mu sync.Mutex
	// consumed is, per "topic/partition", how far the attempt's sources
	// have fetched (and therefore emitted): the next offset.
	consumed map[string]int64
}

// deploy builds and starts attempt n. It runs on the coordinator goroutine.
func (r *Runner) deploy(n int, deps []engine.Deployment) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return
	}
	if old := r.current(); old != nil {
		r.cancel(old) // normally done already by the coordinator's failover
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &attempt{r: r, n: n, ctx: ctx, stopK: cancel, consumed: map[string]int64{},
		tasks: make([]*engine.Task, len(r.ids)), envs: make([]*taskEnv, len(r.ids)), boxes: make([]*mailbox, len(r.ids))}
	for _, d := range deps {
		i := r.taskIdx[d.Task]
		box := newMailbox(r.names[i], r.cfg.MailboxSize)
		env := &taskEnv{r: r, a: a, idx: i, id: d.Task, box: box, out: make([][]engine.Message, len(r.ids)), sizes: make([]int, len(r.ids)),
			source: r.job.Vertices[d.Task.Vertex].Kind == engine.SourceVertex}
		box.after = env.afterClosure
		a.boxes[i], a.envs[i] = box, env
		a.tasks[i] = engine.NewTask(r.job, d, env, r.cfg.Task, a.stateFor(d))
		env.t = a.tasks[i]
	}
	for i, env := range a.envs {
		if env == nil {
			panic(fmt.Sprintf("live: attempt %d has no deployment for task %s", n, r.names[i]))
		}
	}
	r.mu.Lock()
	r.cur = a
	r.mu.Unlock()
	for i, box := range a.boxes {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); box.run() }()
		t := a.tasks[i]
		box.post(t.Start)
	}
}

type fileState struct {
	backend engine.StateBackend
	dir     string
}

// stateFor builds task d's state backend: nil (the heap) unless the Runner
// uses pebble and the task has keyed state. Each attempt gets directories
// of its own, so that a new attempt never shares one with a killed
// attempt's backend that is still closing.
func (a *attempt) stateFor(d engine.Deployment) engine.StateBackend {
	r := a.r
	v := r.job.Vertices[d.Task.Vertex]
	if r.cfg.Backend != BackendPebble || !v.Keyed {
		return nil
	}
	dir := filepath.Join(r.localDir, fmt.Sprintf("a%d-%s-%d", a.n, v.Name, d.Task.Subtask))
	// Live state may be large and need not be byte-for-byte repeatable:
	// pebble flushes and compacts in the background.
	b := engine.NewPebbleBackend(engine.PebbleConfig{FS: vfs.Default, Dir: dir, Background: true})
	a.files = append(a.files, fileState{backend: b, dir: dir})
	return b
}

// cancel stops every mailbox of a and cancels its requests; it does not
// wait (a task may be blocked posting to a full mailbox that is also
// stopping). A reaper goroutine waits for the attempt's goroutines, then
// closes its state backends (nothing uses them any more) and removes their
// directories.
func (r *Runner) cancel(a *attempt) {
	if !a.cancelled.CompareAndSwap(false, true) {
		return
	}
	for _, b := range a.boxes {
		b.stop()
	}
	a.stopK()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		a.wg.Wait()
		for _, f := range a.files {
			f.backend.Close()
			_ = os.RemoveAll(f.dir) // scratch: a restore reads checkpoint storage only
		}
	}()
}

// post runs fn on task i's mailbox.
func (a *attempt) post(i int, fn func(*engine.Task)) {
	t := a.tasks[i]
	a.boxes[i].post(func() { fn(t) })
}

// call runs fn on task i's mailbox and waits for it; false if the attempt
// was cancelled first.
func (a *attempt) call(ctx context.Context, i int, fn func(*engine.Task)) bool {
	t := a.tasks[i]
	done := make(chan struct{})
	if !a.boxes[i].post(func() { fn(t); close(done) }) {
		return false
	}
	select {
	case <-done:
		return true
	case <-a.boxes[i].done:
		return false
	case <-ctx.Done():
		return false
	}
}

func (a *attempt) consumedAll(ends map[string]int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for tp, end := range ends {
		if a.consumed[tp] < end {
			return false
		}
	}
	return true
}

// noteFetched records how far a source's fetch reached: past the last
// complete batch of each partition (control and aborted batches included,
// as the source's own position does), or the requested offset if the
// answer was empty.
func (a *attempt) noteFetched(req kmsg.Request, resp kmsg.Response) {
	fr, ok1 := req.(*kmsg.FetchRequest)
	fp, ok2 := resp.(*kmsg.FetchResponse)
	if !ok1 || !ok2 || len(fr.Topics) != 1 {
		return
	}
	topic := fr.Topics[0].Topic
	next := map[int32]int64{}
	for _, p := range fr.Topics[0].Partitions {
		next[p.Partition] = p.FetchOffset
	}
	for _, t := range fp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				continue
			}
			if n := batchesEnd(p.RecordBatches); n > next[p.Partition] {
				next[p.Partition] = n
			}
		}
	}
	a.mu.Lock()
	for p, n := range next { // lint:sorted writes into a map
		key := protocol.TP(topic, p)
		a.consumed[key] = max(a.consumed[key], n)
	}
	a.mu.Unlock()
}

// batchesEnd returns the offset after the last complete record batch in
// raw (0 if there is none), reading only the batch headers: base offset (8
// bytes), length (4), leader epoch (4), magic (1), CRC (4), attributes (2),
// last offset delta (4).
func batchesEnd(raw []byte) int64 {
	var end int64
	for len(raw) >= 27 {
		base := int64(binary.BigEndian.Uint64(raw[0:8]))
		length := int64(int32(binary.BigEndian.Uint32(raw[8:12])))
		if length < 15 || int64(len(raw)) < 12+length {
			break
		}
		delta := int64(int32(binary.BigEndian.Uint32(raw[23:27])))
		end = base + delta + 1
		raw = raw[12+length:]
	}
	return end
}

// taskEnv is engine.TaskEnv for one task of one attempt. Every method runs
// on the task's mailbox goroutine.
type taskEnv struct {
	r      *Runner
	a      *attempt
	t      *engine.Task
	idx    int
	id     engine.TaskID
	box    *mailbox
	source bool
	// out holds what the current closure sent, per receiving task, and
	// dirty lists the receivers in the order they were first sent to;
	// sizes remembers each receiver's last batch size, to allocate the
	// next one at once.
	out   [][]engine.Message
	sizes []int
	dirty []int
	// Deliveries to the task are held until its Start has finished
	// (started): see afterClosure. running is set by Running.
	running bool
	started bool
	held    []engine.Message
}

func (e *taskEnv) Now() int64 { return e.r.now() }

// Send routes a task's message: to the coordinator's mailbox, or into the
// batch for the receiving task's mailbox.
func (e *taskEnv) Send(m engine.Message) {
	if m.To.Role == engine.RoleCoordinator {
		e.toCoord(m)
		return
	}
	to := e.r.taskIdx[m.To.Task]
	if m.Type == protocol.MsgRecord && !e.a.sinkFed.Load() && e.r.job.Vertices[m.To.Task.Vertex].Kind == engine.SinkVertex && e.a.sinkFed.CompareAndSwap(false, true) {
		e.r.noteFirstRecord(e.a)
	}
	e.queue(to, m)
}

func (e *taskEnv) queue(to int, m engine.Message) {
	if len(e.out[to]) == 0 {
		e.dirty = append(e.dirty, to)
		if e.out[to] == nil {
			e.out[to] = getBatch(e.sizes[to])
		}
	}
	e.out[to] = append(e.out[to], m)
}

// batches recycles delivery batches: a source's batch holds a whole fetch
// response (thousands of records), and allocating one afresh for every
// flush costs more in zeroing and page faults than the records cost to
// process.
var batches sync.Pool

func getBatch(size int) []engine.Message {
	if b, ok := batches.Get().(*[]engine.Message); ok && cap(*b) >= size {
		return (*b)[:0]
	}
	return make([]engine.Message, 0, max(size, 8))
}

// putBatch returns a delivered batch. Its messages are cleared first, so
// that a pooled batch does not keep records alive.
func putBatch(b []engine.Message) {
	clear(b)
	b = b[:0]
	batches.Put(&b)
}

// afterClosure runs after every closure on the task's mailbox.
//
// Messages that reach a task before its Start has finished (while it
// restores) are held and handed over only once the closure in which it
// became Running has returned. The engine queues early input itself, but a
// restored two-phase-commit sink would then process it inside Start, before
// it has queued the InitProducerID of its first transaction, and flush a
// full batch into a transaction that does not exist yet (engine/sink.go
// start: enqueueCommitted completes at once and pumps). Holding the input
// until Start returns keeps that order.
func (e *taskEnv) afterClosure() {
	if e.running && !e.started {
		e.started = true
		deliver(e.t, e.held)
		e.held = nil
	}
	e.flush()
}

func deliver(t *engine.Task, batch []engine.Message) {
	for _, m := range batch {
		t.Step(m)
	}
}

// flush posts what the last closure sent, one batch per receiver, in send
// order: each channel stays FIFO.
func (e *taskEnv) flush() {
	for _, to := range e.dirty {
		batch := e.out[to]
		e.out[to], e.sizes[to] = nil, len(batch)
		recv := e.a.envs[to]
		e.a.boxes[to].post(func() {
			if !recv.started {
				recv.held = append(recv.held, batch...)
			} else {
				deliver(recv.t, batch)
			}
			putBatch(batch)
		})
	}
	e.dirty = e.dirty[:0]
}

// spawn runs io on a goroutine of the attempt and posts its result back to
// the task's mailbox.
func (e *taskEnv) spawn(io func() func()) {
	a := e.a
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if done := io(); done != nil {
			e.box.post(done)
		}
	}()
}

func (e *taskEnv) Kafka(req kmsg.Request, cb func(kmsg.Response, error)) {
	e.spawn(func() func() {
		resp, err := e.r.kafka.do(e.a.ctx, req)
		e.endTxnApplied(req, resp, err)
		e.box.post(func() { cb(resp, err) })
		if err == nil && e.source {
			// Only after the response is queued: a checkpoint triggered
			// because of this note reaches the source behind it, so its
			// snapshot covers what was fetched.
			e.a.noteFetched(req, resp)
		}
		return nil
	})
}

// endTxnApplied reports the endtxn-applied phase when the broker answers an
// EndTxn with success, before the task sees the answer: the live analogue
// of the simulator's, which the broker side raises when it applies the
// request. A kill aimed at it leaves a transaction decided whose answer its
// sink never read.
func (e *taskEnv) endTxnApplied(req kmsg.Request, resp kmsg.Response, err error) {
	r, ok := req.(*kmsg.EndTxnRequest)
	if !ok || err != nil {
		return
	}
	if a, ok := resp.(*kmsg.EndTxnResponse); !ok || a.ErrorCode != 0 {
		return
	}
	var n int64
	if i := strings.LastIndexByte(r.TransactionalID, '-'); i >= 0 {
		n, _ = strconv.ParseInt(r.TransactionalID[i+1:], 10, 64) // 0 for an id of another shape
	}
	e.r.event(e.a.n, engine.Event{Phase: protocol.EndTxnApplied, Checkpoint: n, Task: e.r.job.TaskName(e.id), Detail: r.TransactionalID})
}

func (e *taskEnv) Persist(name string, data []byte, cb func(error)) {
	e.spawn(func() func() {
		err := e.r.store.Put(name, data)
		return func() { cb(err) }
	})
}

func (e *taskEnv) Load(name string, cb func([]byte, error)) {
	e.spawn(func() func() {
		data, err := e.r.store.Get(name)
		return func() { cb(data, err) }
	})
}

func (e *taskEnv) After(d time.Duration, fn func()) {
	box := e.box
	time.AfterFunc(d, func() { box.post(fn) })
}

// toCoord posts m to the coordinator's mailbox, noting when the whole
// attempt runs.
func (e *taskEnv) toCoord(m engine.Message) {
	r := e.r
	if m.Type == protocol.MsgRunning {
		e.running = true
		if a := e.a; int(a.running.Add(1)) == len(a.tasks) {
			r.noteRunning(a)
		}
	}
	if e.a.cancelled.Load() {
		return
	}
	r.cbox.post(func() { r.coord.Step(m) })
}

func (e *taskEnv) Event(ev engine.Event) { e.r.event(e.a.n, ev) }
