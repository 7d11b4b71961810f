package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/sim"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The engine's messages (engine.Message) travel as they are: the job
// master and the workers only route them. The cluster's own messages are
// its control plane, which the engine knows nothing of: where the tasks of
// an attempt run, and whether a worker is alive.
type (
	// placedDeploy is the engine's deploy for one worker (the deployments
	// of the tasks placed on it), with the placement of the whole attempt
	// so that its tasks can reach each other.
	placedDeploy struct {
		Msg       engine.Message
		Placement []int // worker index per task, in job.Tasks() order
	}
	heartbeatMsg struct{}
	// pongMsg answers a heartbeat with what the worker runs, as a Flink
	// TaskExecutor's heartbeat carries its deployment report: the job
	// master reconciles it with what it was told, so that a running or
	// failed notice lost on a cut link is not waited for forever.
	pongMsg struct {
		Worker int
		// Attempt is the attempt the worker was last deployed for;
		// Running its tasks that started, Failure the first failure one
		// of them reported (nil if none).
		Attempt int
		Running []engine.TaskID
		Failure *engine.Failure
	}
)

// jobMaster is the coordinator's process. It implements engine.CoordinatorEnv
// on top of the simulated world.
type jobMaster struct {
	c     *Cluster
	p     *sim.Proc
	coord *engine.Coordinator
	// placement of the current attempt: worker index per task.
	placement []int
	attempt   int
	// lastPong is when each worker last answered a heartbeat (-1: never),
	// and reported the attempt it last said it was deployed for.
	lastPong []sim.Time
	reported []int
	// deployedAt is when the current attempt's deploys were sent.
	deployedAt sim.Time
	// waits counts heartbeats a deploy has waited for missing workers.
	waits int
	// told and toldFailed: what the workers said of the current attempt
	// (tasks running, a failure), to tell a heartbeat's report that
	// brings news from one that repeats it.
	told       map[engine.TaskID]bool
	toldFailed bool
}

// deployWaitsMax is how many heartbeats a deploy waits for every worker to
// answer before it places the tasks on the workers it has.
const deployWaitsMax = 5

// alive reports whether worker wi answered a heartbeat recently. A paused
// or partitioned worker stops answering; its tasks count as lost.
func (jm *jobMaster) alive(wi int) bool {
	return jm.lastPong[wi] >= 0 && jm.p.World().Now()-jm.lastPong[wi] <= sim.Time(jm.c.opts.HeartbeatTimeout)
}

func (c *Cluster) newJobMaster(p *sim.Proc) sim.Program {
	jm := &jobMaster{c: c, p: p, lastPong: make([]sim.Time, len(c.workers)), reported: make([]int, len(c.workers))}
	for i := range jm.lastPong {
		jm.lastPong[i] = -1
	}
	c.jm = jm
	return jm
}

func (jm *jobMaster) Start(p *sim.Proc) {
	c := jm.c
	jm.coord = engine.NewCoordinator(c.job, jm, c.opts.Checkpoint, c.opts.Restart, c.opts.Mutants, c.prefix)
	// A restarted coordinator starts once it has read storage.
	recovered := p.Incarnation() == 0 || jm.recover("")
	jm.pingAll()
	if recovered {
		jm.coord.Start()
	}
	jm.heartbeat()
}

func (jm *jobMaster) PersistState(data []byte, cb func(error)) {
	c := jm.c
	jm.p.After(c.storageDelay(), func() { cb(c.w.Store().Put(c.layout().CoordinatorState(), data)) })
}

// heartbeat probes the workers hosting the current attempt; a worker that
// cannot be reached has lost its tasks.
func (jm *jobMaster) heartbeat() {
	jm.p.After(jm.c.opts.Heartbeat, func() {
		jm.checkWorkers()
		jm.pingAll()
		jm.heartbeat()
	})
}

func (jm *jobMaster) pingAll() {
	for _, w := range jm.c.workers {
		_ = jm.p.Send(w.ID(), heartbeatMsg{}) // silence is what checkWorkers looks for
	}
}

// checkWorkers declares the job's workers lost when they cannot be reached
// or stopped answering heartbeats.
func (jm *jobMaster) checkWorkers() {
	if jm.placement == nil || jm.attempt != jm.coord.Attempt() {
		return
	}
	for _, wi := range jm.hosts() {
		if !jm.c.w.Net().Connected(jm.p.ID(), jm.c.workers[wi].ID()) || !jm.alive(wi) {
			jm.coord.WorkerLost(jm.c.workers[wi].Name())
			return
		}
		// A worker that still reports an older attempt a heartbeat
		// timeout after the deploy never got it (a lost message): as a
		// Flink task submission that times out, that fails the attempt.
		if jm.reported[wi] < jm.attempt && jm.p.World().Now()-jm.deployedAt > sim.Time(jm.c.opts.HeartbeatTimeout) {
			jm.p.Tracef("w%d still reports attempt %d: its deploy of attempt %d was lost", wi, jm.reported[wi], jm.attempt)
			jm.coord.WorkerLost(jm.c.workers[wi].Name())
			return
		}
	}
}

// hosts lists the workers of the current placement, sorted.
func (jm *jobMaster) hosts() []int {
	seen := make([]bool, len(jm.c.workers))
	var out []int
	for _, wi := range jm.placement {
		if !seen[wi] {
			seen[wi] = true
			out = append(out, wi)
		}
	}
	sortInts(out)
	return out
}

func (jm *jobMaster) Receive(from sim.ProcID, msg any) {
	co := jm.coord
	switch m := msg.(type) {
	case pongMsg:
		jm.lastPong[m.Worker] = jm.p.World().Now()
		jm.reported[m.Worker] = m.Attempt
		// Both are no-ops for what the coordinator already knows.
		if m.Attempt == co.Attempt() && m.Attempt == jm.attempt {
			for _, id := range m.Running {
				if !jm.told[id] {
					jm.p.Tracef("heartbeat of w%d: %s runs (its notice was lost)", m.Worker, jm.c.job.TaskName(id))
					jm.told[id] = true
				}
				co.Step(engine.Message{Type: protocol.MsgRunning, Attempt: m.Attempt, From: engine.TaskEndpoint(id), To: engine.CoordinatorEndpoint})
			}
			if f := m.Failure; f != nil && !jm.toldFailed {
				jm.p.Tracef("heartbeat of w%d: %s failed: %s (its notice was lost)", m.Worker, jm.c.job.TaskName(f.Task), f.Reason)
				jm.toldFailed = true
				co.Step(engine.Message{Type: protocol.MsgFailed, Attempt: m.Attempt, From: engine.TaskEndpoint(f.Task), To: engine.CoordinatorEndpoint, Failure: f})
			}
		}
	case engine.Message:
		if m.Attempt == jm.attempt {
			switch m.Type {
			case protocol.MsgRunning:
				jm.told[m.From.Task] = true
			case protocol.MsgFailed:
				jm.toldFailed = true
			}
		}
		co.Step(m)
	}
}

func (jm *jobMaster) LinkDown(peer sim.ProcID) {
	for _, wi := range jm.hosts() {
		if jm.c.workers[wi].ID() == peer {
			jm.coord.WorkerLost(jm.c.workers[wi].Name())
			return
		}
	}
}

func (jm *jobMaster) Writable(sim.ProcID) {}

// CoordinatorEnv.

func (jm *jobMaster) Now() int64 { return int64(jm.p.World().Now()) }

func (jm *jobMaster) After(d time.Duration, fn func()) { jm.p.After(d, fn) }

// Send routes the coordinator's messages: a deploy is placed on the
// workers, a cancel goes to every worker, the rest to the worker that hosts
// their task.
func (jm *jobMaster) Send(m engine.Message) {
	switch m.Type {
	case protocol.MsgDeploy:
		jm.deploy(m)
	case protocol.MsgCancel:
		for _, w := range jm.c.workers {
			_ = jm.c.sendControl(jm.p, w.ID(), m, m) // best effort: an unreachable worker's tasks are fenced anyway
		}
	default:
		wi := jm.placement[jm.c.taskIndex(m.To.Task)]
		_ = jm.c.sendControl(jm.p, jm.c.workers[wi].ID(), m, m) // a lost message surfaces as a checkpoint timeout or a lost worker
	}
}

// deploy places the tasks round-robin on the workers the job master can
// reach, in task order. With none reachable it waits and tries again.
func (jm *jobMaster) deploy(m engine.Message) {
	attempt, deps := m.Attempt, m.Deploy.Deployments
	var usable []int
	for i, w := range jm.c.workers {
		if jm.c.w.Net().Connected(jm.p.ID(), w.ID()) && jm.alive(i) {
			usable = append(usable, i)
		}
	}
	// Wait a few heartbeats for every worker, as a job waits for its
	// slots, then settle for those that answer; with none, keep waiting.
	if len(usable) < len(jm.c.workers) && (jm.waits < deployWaitsMax || len(usable) == 0) {
		jm.waits++
		if jm.waits == deployWaitsMax {
			jm.p.Tracef("attempt %d: %d of %d workers answer; waiting", attempt, len(usable), len(jm.c.workers))
		}
		jm.p.After(jm.c.opts.Heartbeat, func() {
			if attempt == jm.coord.Attempt() {
				jm.deploy(m)
			}
		})
		return
	}
	jm.waits = 0
	jm.attempt = attempt
	jm.told, jm.toldFailed = map[engine.TaskID]bool{}, false
	jm.placement = make([]int, len(deps))
	for i := range deps {
		jm.placement[i] = usable[i%len(usable)]
	}
	jm.p.Record(sim.Event{Kind: sim.EventDeploy, N: int64(attempt), Detail: jm.c.placementString(jm.placement)})
	jm.deployedAt = jm.p.World().Now()
	jm.c.hist.noteDeploy(attempt, deps)
	for _, wi := range jm.hosts() {
		var mine []engine.Deployment
		for i, d := range deps {
			if jm.placement[i] == wi {
				mine = append(mine, d)
			}
		}
		part := m
		part.Deploy = &engine.DeploySpec{Job: m.Deploy.Job, Deployments: mine}
		if err := jm.c.sendControl(jm.p, jm.c.workers[wi].ID(), part, placedDeploy{Msg: part, Placement: jm.placement}); err != nil {
			jm.coord.WorkerLost(jm.c.workers[wi].Name())
			return
		}
	}
}

// PutMetadata writes the commit point to durable storage after a storage
// latency; the job master must still be alive for it to land.
func (jm *jobMaster) PutMetadata(n int64, data []byte, cb func(error)) {
	c := jm.c
	jm.p.After(c.storageDelay(), func() {
		cb(c.w.Store().Put(c.layout().Metadata(n), data))
	})
}

func (jm *jobMaster) DeleteCheckpoint(n int64) {
	deleted, err := engine.DeleteCheckpointFiles(jm.c.w.Store(), jm.c.layout(), n)
	if err != nil {
		// A leftover file costs space, not correctness: the metadata goes
		// first, so what is left is an incomplete checkpoint.
		jm.p.Tracef("checkpoint %d: %v", n, err)
	}
	jm.p.Tracef("checkpoint %d deleted (%d objects)", n, deleted)
}

func (jm *jobMaster) Event(e engine.Event) { jm.c.event(jm.p, e) }

// worker hosts tasks of one attempt at a time.
type worker struct {
	c       *Cluster
	p       *sim.Proc
	index   int
	attempt int
	tasks   []*engine.Task // indexed like job.Tasks(); nil where not hosted here
	// job is the graph of the attempt this worker runs, and idx its tasks'
	// indices: a rescale swaps the cluster's job while old attempts drain.
	job   *engine.Job
	idx   map[engine.TaskID]int
	envs  []*taskEnv
	place []int
	// early holds messages of an attempt this worker has not been deployed
	// for yet: a fast upstream can send before the deploy arrives.
	early []engine.Message
	// outbox holds messages a full link refused, per peer, in order.
	outbox [][]any
	failed bool
	// failure is the first failure a task of the attempt reported, for
	// the heartbeat's report.
	failure *engine.Failure
	// lastJM is when the job master was last heard from.
	lastJM sim.Time
}

func (c *Cluster) newWorker(i int) func(p *sim.Proc) sim.Program {
	return func(p *sim.Proc) sim.Program {
		w := &worker{c: c, p: p, index: i, outbox: make([][]any, len(c.w.Procs()))}
		c.workerProgs[i] = w
		return w
	}
}

func (w *worker) Start(*sim.Proc) {}

func (w *worker) Receive(from sim.ProcID, msg any) {
	if from == w.c.jmProc.ID() {
		w.lastJM = w.p.World().Now()
	}
	switch m := msg.(type) {
	case heartbeatMsg:
		_ = w.p.Send(from, w.report()) // a lost pong is a missed heartbeat
	case placedDeploy:
		w.deploy(m)
	case engine.Message:
		w.route(m)
	}
}

// route hands an engine message to the task it is for: a cancel stops the
// attempt, a message of an attempt not deployed here yet waits for its
// deploy, one of an older attempt is dropped.
func (w *worker) route(m engine.Message) {
	switch {
	case m.Type == protocol.MsgCancel:
		if m.Attempt == w.attempt {
			w.cancel()
		}
	case m.Attempt > w.attempt:
		w.early = append(w.early, m)
	default:
		if t := w.task(m.Attempt, m.To.Task); t != nil {
			t.Step(m)
		}
	}
}

// report is the heartbeat's answer: the attempt, the tasks that started,
// the first failure.
func (w *worker) report() pongMsg {
	r := pongMsg{Worker: w.index, Attempt: w.attempt, Failure: w.failure}
	for _, e := range w.envs {
		if e != nil && e.running && !e.cancelled {
			r.Running = append(r.Running, e.id)
		}
	}
	return r
}

func (w *worker) task(attempt int, id engine.TaskID) *engine.Task {
	if attempt != w.attempt || w.tasks == nil {
		return nil
	}
	return w.tasks[w.idx[id]]
}

func (w *worker) deploy(pd placedDeploy) {
	m := pd.Msg
	if m.Attempt <= w.attempt {
		return
	}
	w.cancel()
	w.attempt, w.place, w.failed, w.failure = m.Attempt, pd.Placement, false, nil
	w.job, w.idx = m.Deploy.Job, map[engine.TaskID]int{}
	for i, id := range w.job.Tasks() {
		w.idx[id] = i
	}
	for i := range w.outbox {
		w.outbox[i] = nil // messages of older attempts: every receiver drops them
	}
	ids := w.job.Tasks()
	w.tasks = make([]*engine.Task, len(ids))
	w.envs = make([]*taskEnv, len(ids))
	var started []*engine.Task
	if w.c.pebble() {
		var keep []string
		for _, d := range m.Deploy.Deployments {
			keep = append(keep, fmt.Sprintf("%s-%d", w.job.Vertices[d.Task.Vertex].Name, d.Task.Subtask))
		}
		w.clearStateDirs(keep)
	}
	for _, d := range m.Deploy.Deployments {
		i := w.idx[d.Task]
		env := &taskEnv{w: w, id: d.Task, attempt: m.Attempt}
		t := engine.NewTask(w.job, d, env, w.c.opts.Task, w.stateFor(d))
		env.t = t
		w.tasks[i], w.envs[i] = t, env
		started = append(started, t)
	}
	for _, t := range started {
		t.Start()
	}
	early := w.early
	w.early = nil
	for _, e := range early {
		w.route(e)
	}
}

func (w *worker) cancel() {
	for i, t := range w.tasks {
		if t != nil {
			t.Cancel()
			w.envs[i].cancelled = true
		}
	}
	w.tasks, w.envs = nil, nil
}

// LinkDown: losing the job master means losing the job; losing a peer that
// exchanges data with this worker's tasks means a channel lost messages, so
// the attempt cannot go on.
func (w *worker) LinkDown(peer sim.ProcID) {
	// What was queued for the broken connection is lost with it; waiting
	// for a Writable that will never come would stall the next attempt.
	w.outbox[peer] = nil
	if w.tasks == nil || w.failed {
		return
	}
	if peer == w.c.jmProc.ID() {
		w.p.Tracef("lost the job master: cancelling attempt %d", w.attempt)
		w.cancel()
		return
	}
	for _, wi := range w.place {
		if w.c.workers[wi].ID() == peer {
			w.reportFailure(fmt.Sprintf("connection to %s lost", w.c.workers[wi].Name()))
			return
		}
	}
}

func (w *worker) reportFailure(reason string) {
	for i, t := range w.tasks {
		if t != nil {
			w.failed = true
			f := engine.Failure{Task: w.job.Tasks()[i], Reason: reason}
			w.noteFailure(f)
			m := engine.Message{Type: protocol.MsgFailed, Attempt: w.attempt, From: engine.TaskEndpoint(f.Task), To: engine.CoordinatorEndpoint, Failure: &f}
			_ = w.c.sendControl(w.p, w.c.jmProc.ID(), m, m)
			return
		}
	}
}

// noteFailure keeps the attempt's first failure for the heartbeat's report.
func (w *worker) noteFailure(f engine.Failure) {
	if w.failure == nil {
		w.failure = &f
	}
}

// Resumed runs when the worker wakes from a pause. Silent past the heartbeat
// timeout, the job master has counted its tasks lost and restarted them
// elsewhere, so they stand down before they act: a TaskManager that lost
// its JobManager cancels its tasks and closes its connection to it. What
// the job master sent meanwhile is lost with the connection: a deploy
// that waited in the socket while the worker slept belongs to an attempt
// the job master has given up, and starting it would make a zombie whose
// sinks fence the live attempt's transactions. (Requests already in
// flight still reach Kafka; epochs fence those.)
func (w *worker) Resumed() {
	silent := w.p.World().Now() - w.lastJM
	if silent <= sim.Time(w.c.opts.HeartbeatTimeout) {
		return
	}
	if w.tasks != nil {
		w.p.Tracef("woke after %v without the job master: cancelling attempt %d", silent.Duration(), w.attempt)
		w.cancel()
	} else {
		w.p.Tracef("woke after %v without the job master", silent.Duration())
	}
	w.p.Disconnect(w.c.jmProc.ID())
}

func (w *worker) Writable(peer sim.ProcID) {
	q := w.outbox[peer]
	for len(q) > 0 {
		err := w.p.Send(peer, q[0])
		if errors.Is(err, sim.ErrBackpressure) {
			break
		}
		q = q[1:]
		if err != nil {
			w.reportFailure(fmt.Sprintf("send to %s: %v", w.c.w.Proc(peer).Name(), err))
			q = nil
		}
	}
	w.outbox[peer] = q
}

// sendPeer sends msg to another worker in FIFO order, queueing behind a full
// link; a broken link fails the attempt.
func (w *worker) sendPeer(wi int, msg any) {
	peer := w.c.workers[wi].ID()
	if peer == w.p.ID() {
		w.p.After(0, func() { w.Receive(peer, msg) })
		return
	}
	if len(w.outbox[peer]) > 0 {
		w.outbox[peer] = append(w.outbox[peer], msg)
		return
	}
	switch err := w.p.Send(peer, msg); {
	case errors.Is(err, sim.ErrBackpressure):
		w.outbox[peer] = append(w.outbox[peer], msg)
	case err != nil:
		w.reportFailure(fmt.Sprintf("send to %s: %v", w.c.workers[wi].Name(), err))
	}
}

// taskEnv is engine.TaskEnv for one task on a simulated worker.
type taskEnv struct {
	w         *worker
	t         *engine.Task
	id        engine.TaskID
	attempt   int
	cancelled bool
	// running: the task said it runs (reported again with every pong).
	running bool
}

func (e *taskEnv) Now() int64 { return int64(e.w.p.World().Now()) }

// guard drops a callback if the task was cancelled meanwhile.
func (e *taskEnv) guard(fn func()) func() {
	return func() {
		if !e.cancelled {
			fn()
		}
	}
}

// Send routes a task's message: to the job master, or to the worker that
// hosts the receiving task.
func (e *taskEnv) Send(m engine.Message) {
	if m.To.Role == engine.RoleCoordinator {
		e.toCoordinator(m)
		return
	}
	e.w.sendPeer(e.w.place[e.w.idx[m.To.Task]], m)
}

func (e *taskEnv) Kafka(req kmsg.Request, cb func(kmsg.Response, error)) {
	e.w.c.k.Do(e.w.p, req, e.guardResp(cb))
}

func (e *taskEnv) guardResp(cb func(kmsg.Response, error)) func(kmsg.Response, error) {
	return func(resp kmsg.Response, err error) {
		if e.cancelled {
			return
		}
		cb(resp, err)
	}
}

func (e *taskEnv) Persist(name string, data []byte, cb func(error)) {
	c := e.w.c
	e.w.p.After(c.storageDelay(), e.guard(func() { cb(c.w.Store().Put(name, data)) }))
}

func (e *taskEnv) Load(name string, cb func([]byte, error)) {
	c := e.w.c
	e.w.p.After(c.storageDelay(), e.guard(func() { cb(c.w.Store().Get(name)) }))
}

func (e *taskEnv) After(d time.Duration, fn func()) { e.w.p.After(d, e.guard(fn)) }

// toCoordinator sends m to the job master, noting what the heartbeat's
// report repeats: that the task runs, or failed.
func (e *taskEnv) toCoordinator(m engine.Message) {
	if e.cancelled {
		return
	}
	switch m.Type {
	case protocol.MsgRunning:
		e.running = true
	case protocol.MsgFailed:
		if e.attempt == e.w.attempt {
			e.w.noteFailure(*m.Failure)
		}
	}
	_ = e.w.c.sendControl(e.w.p, e.w.c.jmProc.ID(), m, m) // unreachable job master: it fails over on its own
}

func (e *taskEnv) Event(ev engine.Event) { e.w.c.event(e.w.p, ev) }

func sortInts(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
