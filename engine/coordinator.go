package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/twmb/franz-go/pkg/kerr"
)

func kerrFor(code int16) error { return kerr.ErrorForCode(code) }

// CheckpointConfig configures checkpointing, with Flink's names.
type CheckpointConfig struct {
	// Interval between checkpoint triggers.
	Interval time.Duration `json:"interval"`
	// Timeout after which a checkpoint that has not completed is aborted.
	Timeout time.Duration `json:"timeout"`
	// MinPause is the least time between the end of one checkpoint and the
	// trigger of the next. As in Flink, a positive MinPause allows one
	// checkpoint in flight whatever MaxConcurrent says.
	MinPause time.Duration `json:"min_pause"`
	// MaxConcurrent is how many checkpoints may be in flight at once (0 or
	// 1: one), Flink's max-concurrent-checkpoints. With more, checkpoint
	// n+1 is triggered while n is still aligning, uploading or committing;
	// a checkpoint that completes subsumes the older ones still in flight.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// TolerableFailures is how many checkpoints in a row may fail before
	// the job is restarted.
	TolerableFailures int `json:"tolerable_failures"`
	// Retained is how many completed checkpoints are kept; older ones are
	// deleted with their files.
	Retained int `json:"retained"`
}

// RestartStrategy says how long to wait before restarting a failed job.
type RestartStrategy struct {
	// Kind is "fixed-delay" or "exponential-delay".
	Kind string `json:"kind"`
	// Delay is the fixed delay, or the first exponential one.
	Delay time.Duration `json:"delay"`
	// MaxDelay caps the exponential delay.
	MaxDelay time.Duration `json:"max_delay,omitempty"`
	// Multiplier grows the exponential delay per restart.
	Multiplier float64 `json:"multiplier,omitempty"`
}

// next returns the delay before restart number attempt (1-based).
func (r RestartStrategy) next(attempt int) time.Duration {
	if r.Kind != "exponential-delay" {
		return r.Delay
	}
	d := float64(r.Delay)
	for i := 1; i < attempt; i++ {
		d *= r.Multiplier
		if time.Duration(d) >= r.MaxDelay {
			return r.MaxDelay
		}
	}
	return time.Duration(d)
}

// Validate reports the first invalid field.
func (c CheckpointConfig) Validate() error {
	switch {
	case c.Interval <= 0:
		return fmt.Errorf("interval: must be positive, got %v", c.Interval)
	case c.Timeout <= 0:
		return fmt.Errorf("timeout: must be positive, got %v", c.Timeout)
	case c.MinPause < 0:
		return fmt.Errorf("min_pause: negative (%v)", c.MinPause)
	case c.MaxConcurrent < 0:
		return fmt.Errorf("max_concurrent: negative (%d)", c.MaxConcurrent)
	case c.TolerableFailures < 0:
		return fmt.Errorf("tolerable_failures: negative (%d)", c.TolerableFailures)
	case c.Retained < 1:
		return fmt.Errorf("retained: must be at least 1, got %d", c.Retained)
	}
	return nil
}

// Validate reports the first invalid field.
func (r RestartStrategy) Validate() error {
	switch {
	case r.Kind != "fixed-delay" && r.Kind != "exponential-delay":
		return fmt.Errorf("kind: %q is not fixed-delay or exponential-delay", r.Kind)
	case r.Delay < 0:
		return fmt.Errorf("delay: negative (%v)", r.Delay)
	case r.Kind == "exponential-delay" && r.Multiplier < 1:
		return fmt.Errorf("multiplier: must be at least 1, got %v", r.Multiplier)
	case r.Kind == "exponential-delay" && r.MaxDelay < r.Delay:
		return fmt.Errorf("max_delay: %v is below delay %v", r.MaxDelay, r.Delay)
	}
	return nil
}

// CoordinatorEnv is what the coordinator asks of its world. Its duties are
// TaskEnv's: callbacks run later, one at a time, on the coordinator's
// thread of control; Send routes a message as message.go says.
type CoordinatorEnv interface {
	Now() int64
	After(d time.Duration, fn func())
	// Send sends m to the executor or a task: deploys, cancels, triggers
	// and notifications.
	Send(m Message)
	// PutMetadata writes checkpoint metadata durably; DeleteCheckpoint
	// removes a checkpoint's files.
	PutMetadata(n int64, data []byte, cb func(error))
	// PersistState writes the coordinator's own state (checkpoint counter,
	// attempt) durably, so that a restarted coordinator never reuses a
	// checkpoint id or an attempt number.
	PersistState(data []byte, cb func(error))
	DeleteCheckpoint(n int64)
	// DeleteShared removes shared state files (Layout.SharedFile) that no
	// retained checkpoint references any more (pebble_shared.go).
	DeleteShared(objects []string)
	Event(e Event)
}

// Metadata is a completed checkpoint as written to storage. Writing it is the
// commit point of the checkpoint.
type Metadata struct {
	Job        string            `json:"job"`
	Checkpoint int64             `json:"checkpoint"`
	Handles    map[string]string `json:"handles"` // task name -> snapshot
	// Parallelism of every vertex when the checkpoint was taken: a restore
	// at another one rescales (rescale.go).
	Parallelism map[string]int    `json:"parallelism,omitempty"`
	Offsets     map[string]int64  `json:"offsets"` // "topic/p" -> next offset
	Size        int64             `json:"size"`
	Metrics     CheckpointMetrics `json:"metrics"`
	// Shared are the shared state files the checkpoint references (the
	// union of its acks' Shared), sorted: a shared file is deleted once no
	// retained checkpoint lists it (releaseShared).
	Shared []string `json:"shared,omitempty"`
}

// CheckpointMetrics are one checkpoint's metrics: the maxima over its
// subtasks, and the per-subtask figures.
type CheckpointMetrics struct {
	TriggeredAt       int64                  `json:"triggered_at"`
	CompletedAt       int64                  `json:"completed_at"`
	EndToEndDuration  int64                  `json:"end_to_end_duration"`
	AlignmentDuration int64                  `json:"alignment_duration"`
	SyncDuration      int64                  `json:"sync_duration"`
	AsyncDuration     int64                  `json:"async_duration"`
	StartDelay        int64                  `json:"start_delay"`
	CheckpointedSize  int64                  `json:"checkpointed_size"`
	Subtasks          map[string]TaskMetrics `json:"subtasks"`
}

type pendingCheckpoint struct {
	n           int64
	triggeredAt int64
	acks        map[TaskID]Ack
	// ackCount counts acks, repeats included (MutantCountDuplicateAcks).
	ackCount int
	// writing is set once every task acked and the metadata write began:
	// from then on only the write's answer decides the checkpoint.
	writing bool
}

// Coordinator is the checkpoint coordinator and job master: a synchronous
// state machine, like the tasks. It triggers checkpoints, collects acks,
// writes metadata (the commit point), notifies completion, and restarts the
// job from the latest completed checkpoint when a task fails.
type Coordinator struct {
	job      *Job
	env      CoordinatorEnv
	cfg      CheckpointConfig
	restart  RestartStrategy
	mutants  Mutants
	prefix   string
	attempt  int
	restarts int
	// counter is the highest checkpoint id ever triggered.
	counter int64
	// pending are the checkpoints in flight, oldest first.
	pending   []*pendingCheckpoint
	completed []Metadata
	// bad are checkpoints a restore found corrupt.
	bad           map[int64]bool
	running       map[TaskID]bool
	failures      int
	lastCompleted int64
	timerGen      int
	// restoredFrom is the checkpoint the current attempt restored from.
	restoredFrom int64
	// triggerGen is bumped by TriggerNow to retire the pending schedule
	// timer, so that only one trigger schedule ever runs.
	triggerGen int
	deploying  bool
	// writing counts metadata writes in flight; deployWaiting is set while
	// a deploy waits for them.
	writing       int
	deployWaiting bool
	// stateWriting is set while a write of the coordinator's State is in
	// flight; stateWaiters wait for the next one (persistState).
	stateWriting bool
	stateWaiters []func(error)
}

// State is what the coordinator keeps durably across its own failures.
type State struct {
	// Counter is the highest checkpoint id ever triggered.
	Counter int64 `json:"counter"`
	// Attempt is the highest attempt ever deployed.
	Attempt int `json:"attempt"`
}

// Recover primes a restarted coordinator, before Start, with its durable
// state and the completed checkpoints found in storage (oldest first).
func (c *Coordinator) Recover(st State, completed []Metadata) {
	for i, md := range completed {
		if md.Checkpoint > st.Counter || (i > 0 && md.Checkpoint <= completed[i-1].Checkpoint) {
			panic(fmt.Sprintf("coordinator: recovered checkpoint %d is out of order or above the counter %d", md.Checkpoint, st.Counter))
		}
	}
	c.counter, c.attempt = st.Counter, st.Attempt
	c.completed = completed
	for len(c.completed) > c.cfg.Retained {
		c.completed = c.completed[1:]
	}
	latest := int64(0)
	if n := len(c.completed); n > 0 {
		latest = c.completed[n-1].Checkpoint
	}
	if c.mutants.Has(MutantReuseCheckpointIDs) {
		c.counter = latest // Mutant: ids after the latest completed one are used again.
	}
	c.env.Event(Event{Phase: protocol.EventRecovered, Detail: fmt.Sprintf("counter=%d attempt=%d latest completed=%d", st.Counter, st.Attempt, latest)})
}

// persistState makes the counter and attempt durable, then runs next. One
// write is in flight at a time: two writes racing through storage could
// land out of order and leave an older counter or attempt behind, which a
// restarted coordinator would use again. A request made while a write is in
// flight waits for the next one, which writes the state of then and
// answers every request that waited for it.
func (c *Coordinator) persistState(next func(error)) {
	c.stateWaiters = append(c.stateWaiters, next)
	if !c.stateWriting {
		c.writeState()
	}
}

func (c *Coordinator) writeState() {
	data, err := json.Marshal(State{Counter: c.counter, Attempt: c.attempt})
	if err != nil {
		panic(fmt.Sprintf("coordinator: encode a State of two integers: %v", err)) // cannot happen
	}
	waiters := c.stateWaiters
	c.stateWaiters, c.stateWriting = nil, true
	c.env.PersistState(data, func(err error) {
		c.stateWriting = false
		for _, w := range waiters {
			w(err)
		}
		if len(c.stateWaiters) > 0 && !c.stateWriting {
			c.writeState()
		}
	})
}

// NewCoordinator builds the coordinator of job. prefix is where checkpoints
// live in storage.
func NewCoordinator(job *Job, env CoordinatorEnv, cfg CheckpointConfig, restart RestartStrategy, mutants Mutants, prefix string) *Coordinator {
	return &Coordinator{job: job, env: env, cfg: cfg, restart: restart, mutants: mutants, prefix: prefix, bad: map[int64]bool{}}
}

// Start deploys the first attempt.
func (c *Coordinator) Start() { c.deploy() }

// Attempt is the current attempt number; messages of other attempts are
// stale.
func (c *Coordinator) Attempt() int { return c.attempt }

// Completed returns the retained completed checkpoints, oldest first.
func (c *Coordinator) Completed() []Metadata { return c.completed }

// Restarts is the number of times the job was restarted.
func (c *Coordinator) Restarts() int { return c.restarts }

// Counter is the highest checkpoint id triggered so far.
func (c *Coordinator) Counter() int64 { return c.counter }

func (c *Coordinator) latest() *Metadata {
	for i := len(c.completed) - 1; i >= 0; i-- {
		if !c.bad[c.completed[i].Checkpoint] {
			return &c.completed[i]
		}
	}
	return nil
}

func (c *Coordinator) deploy() {
	if c.writing > 0 {
		// A checkpoint's metadata is being written: whether it lands
		// decides what to restore from. Wait for it.
		c.deployWaiting = true
		c.deploying = true
		return
	}
	c.attempt++
	c.pending = nil
	c.running = map[TaskID]bool{}
	c.timerGen++
	restore := c.latest()
	if c.mutants.Has(MutantRestoreIncomplete) && c.counter > 0 && (restore == nil || restore.Checkpoint < c.counter) {
		// Mutant: restore from the latest triggered checkpoint, whether
		// or not it completed.
		restore = &Metadata{Checkpoint: c.counter, Handles: map[string]string{}}
		for _, id := range c.job.Tasks() {
			v := c.job.Vertices[id.Vertex]
			restore.Handles[c.job.TaskName(id)] = Layout{Prefix: c.prefix}.TaskHandle(c.counter, v.Name, id.Subtask)
		}
	}
	var deps []Deployment
	for _, id := range c.job.Tasks() {
		d := Deployment{Task: id, Attempt: c.attempt, FenceUpTo: c.counter + 1, StoragePrefix: c.prefix}
		if restore != nil {
			d.Restore, d.Handle = restore.Checkpoint, restore.Handles[c.job.TaskName(id)]
			v := c.job.Vertices[id.Vertex]
			if old, ok := restore.Parallelism[v.Name]; ok && old != v.Parallelism {
				d.Handle, d.OldParallelism = "", old
				for k := 0; k < old; k++ {
					d.Handles = append(d.Handles, restore.Handles[fmt.Sprintf("%s/%d", v.Name, k)])
				}
			}
		}
		deps = append(deps, d)
	}
	from := int64(0)
	if restore != nil {
		from = restore.Checkpoint
	}
	c.restoredFrom = from
	attempt := c.attempt
	c.deploying = true
	c.persistState(func(err error) {
		if attempt != c.attempt {
			return
		}
		if err != nil {
			// Deploying an attempt number that is not durable could
			// reuse it after a coordinator failure: wait and retry.
			c.env.Event(Event{Phase: protocol.EventDeployDelayed, Detail: "persist coordinator state: " + err.Error()})
			c.env.After(c.restart.Delay+time.Millisecond, func() {
				if attempt == c.attempt {
					c.attempt--
					c.deploy()
				}
			})
			return
		}
		c.deploying = false
		c.env.Event(Event{Phase: protocol.EventDeploy, Detail: fmt.Sprintf("attempt %d from checkpoint %d", attempt, from)})
		c.send(Message{Type: protocol.MsgDeploy, Attempt: attempt, To: ExecutorEndpoint, Deploy: &DeploySpec{Job: c.job, Deployments: deps}})
	})
}

// send stamps m as the coordinator's and sends it.
func (c *Coordinator) send(m Message) {
	m.From = CoordinatorEndpoint
	c.env.Send(m)
}

// sendAll sends a message of type typ about checkpoint n to every task of
// the current attempt.
func (c *Coordinator) sendAll(typ protocol.MsgType, n int64) {
	for _, id := range c.job.Tasks() {
		c.send(Message{Type: typ, Attempt: c.attempt, To: TaskEndpoint(id), Checkpoint: n})
	}
}

// Step takes one message from a task: running, ack, decline, failed.
// Messages of another attempt are stale and dropped.
func (c *Coordinator) Step(m Message) {
	if m.To != CoordinatorEndpoint || m.From.Role != RoleTask {
		panic(fmt.Sprintf("coordinator: misrouted message %s", m))
	}
	switch m.Type {
	case protocol.MsgRunning:
		c.taskRunning(m.Attempt, m.From.Task)
	case protocol.MsgAck:
		if m.Ack.Task != m.From.Task || m.Ack.Checkpoint != m.Checkpoint {
			panic(fmt.Sprintf("coordinator: ack of %s for checkpoint %d in %s", c.job.TaskName(m.Ack.Task), m.Ack.Checkpoint, m))
		}
		if m.Checkpoint > c.counter {
			panic(fmt.Sprintf("coordinator: %s acks checkpoint %d, above the highest ever triggered (%d)", c.job.TaskName(m.From.Task), m.Checkpoint, c.counter))
		}
		c.ack(m.Attempt, *m.Ack)
	case protocol.MsgDecline:
		c.decline(m.Attempt, m.Checkpoint, m.Reason)
	case protocol.MsgFailed:
		f := *m.Failure
		f.Task = m.From.Task
		c.taskFailed(m.Attempt, f)
	default:
		panic(fmt.Sprintf("coordinator: does not take %s", m))
	}
}

// taskRunning records that a task of attempt finished restoring. When all
// have, checkpointing starts.
func (c *Coordinator) taskRunning(attempt int, id TaskID) {
	if attempt != c.attempt || c.running[id] {
		return
	}
	c.running[id] = true
	if len(c.running) == len(c.job.Tasks()) {
		c.env.Event(Event{Phase: protocol.EventRunning, Detail: fmt.Sprintf("attempt %d", c.attempt)})
		if r := c.restoredFrom; r > 0 {
			// Every task restored from checkpoint r: sinks may now commit
			// what r pre-committed (step 8). Not before: a task that
			// fails to restore from r makes the job fall back to an
			// older checkpoint, and r's transactions must then stay
			// uncommitted.
			c.sendAll(protocol.MsgNotifyComplete, r)
		}
		c.scheduleTrigger(c.cfg.Interval)
	}
}

func (c *Coordinator) allRunning() bool { return len(c.running) == len(c.job.Tasks()) }

func (c *Coordinator) scheduleTrigger(d time.Duration) {
	gen, tgen := c.timerGen, c.triggerGen
	c.env.After(d, func() {
		if gen == c.timerGen && tgen == c.triggerGen {
			c.trigger()
		}
	})
}

// TriggerNow triggers a checkpoint at once, if none is in flight and every
// task runs, and restarts the periodic schedule from now (a live job's final
// checkpoint before a clean stop, say). It reports whether it triggered.
func (c *Coordinator) TriggerNow() bool {
	if len(c.pending) > 0 || !c.allRunning() || c.deploying {
		return false
	}
	c.triggerGen++ // the pending schedule timer is superseded
	c.startCheckpoint()
	return true
}

// maxConcurrent is how many checkpoints may be in flight at once.
func (c *Coordinator) maxConcurrent() int {
	if c.cfg.MinPause > 0 {
		return 1
	}
	return max(c.cfg.MaxConcurrent, 1)
}

// trigger is step 1, at the coordinator: at most maxConcurrent checkpoints
// in flight, and at least MinPause after the last one ended.
func (c *Coordinator) trigger() {
	if !c.allRunning() {
		return // TaskRunning starts the schedule again once all run
	}
	if len(c.pending) >= c.maxConcurrent() {
		// As many in flight as allowed: skip this tick, keep the
		// schedule alive.
		c.scheduleTrigger(c.cfg.Interval)
		return
	}
	if wait := time.Duration(c.lastCompleted + int64(c.cfg.MinPause) - c.env.Now()); c.lastCompleted > 0 && wait > 0 {
		c.scheduleTrigger(wait)
		return
	}
	c.startCheckpoint()
}

// startCheckpoint starts the next checkpoint now and schedules the next
// trigger.
func (c *Coordinator) startCheckpoint() {
	now := c.env.Now()
	c.counter++
	n := c.counter
	p := &pendingCheckpoint{n: n, triggeredAt: now, acks: map[TaskID]Ack{}}
	c.pending = append(c.pending, p)
	gen := c.timerGen
	c.env.After(c.cfg.Timeout, func() {
		if gen == c.timerGen && c.isPending(p) {
			c.failCheckpoint(n, "timed out")
		}
	})
	c.scheduleTrigger(c.cfg.Interval)
	// The id must be durable before any barrier carries it: sinks name
	// transactions after checkpoint ids, and a restarted coordinator fences
	// every id up to its counter.
	triggerSources := func() {
		c.env.Event(Event{Phase: protocol.Triggered, Checkpoint: n})
		for _, id := range c.job.Tasks() {
			if c.job.Vertices[id.Vertex].Kind == SourceVertex {
				c.send(Message{Type: protocol.MsgTrigger, Attempt: c.attempt, To: TaskEndpoint(id), Checkpoint: n, TriggeredAt: now})
			}
		}
	}
	if c.mutants.Has(MutantTriggerBeforeCounterDurable) {
		triggerSources() // Mutant: the id is not durable yet.
		c.persistState(func(error) {})
		return
	}
	c.persistState(func(err error) {
		if gen != c.timerGen || !c.isPending(p) {
			return
		}
		if err != nil {
			c.failCheckpoint(n, "persist checkpoint counter: "+err.Error())
			return
		}
		triggerSources()
	})
}

// ack records a task's ack; when every task acked, the metadata is
// written. A repeated ack (a duplicated message) counts once.
func (c *Coordinator) ack(attempt int, a Ack) {
	p := c.inFlight(a.Checkpoint)
	if attempt != c.attempt || p == nil || p.writing {
		return
	}
	// An ack of the current attempt and checkpoint comes from one of its
	// tasks (a repeated one, a duplicated message, changes nothing):
	// anything else is a broken driver or task.
	if a.Task.Vertex < 0 || a.Task.Vertex >= len(c.job.Vertices) ||
		a.Task.Subtask < 0 || a.Task.Subtask >= c.job.Vertices[a.Task.Vertex].Parallelism {
		panic(fmt.Sprintf("coordinator: unexpected ack of checkpoint %d from task %+v (attempt %d)", a.Checkpoint, a.Task, attempt))
	}
	p.acks[a.Task] = a
	p.ackCount++
	if len(p.acks) < len(c.job.Tasks()) && !(c.mutants.Has(MutantCountDuplicateAcks) && p.ackCount >= len(c.job.Tasks())) {
		return
	}
	c.commit(p)
}

// commit is step 6: write the metadata durably, then, and only then, tell
// every task the checkpoint is complete.
func (c *Coordinator) commit(p *pendingCheckpoint) {
	md := Metadata{Job: c.job.Name, Checkpoint: p.n, Handles: map[string]string{}, Offsets: map[string]int64{}, Parallelism: map[string]int{},
		Metrics: CheckpointMetrics{TriggeredAt: p.triggeredAt, Subtasks: map[string]TaskMetrics{}}}
	ids := c.job.Tasks()
	for _, v := range c.job.Vertices {
		md.Parallelism[v.Name] = v.Parallelism
	}
	for _, id := range ids {
		a := p.acks[id]
		name := c.job.TaskName(id)
		md.Handles[name] = a.Handle
		md.Size += a.Size
		md.Shared = append(md.Shared, a.Shared...)
		for k, v := range a.Offsets { // lint:sorted writes into a map; order does not matter
			md.Offsets[k] = v
		}
		m := &md.Metrics
		m.Subtasks[name] = a.Metrics
		m.AlignmentDuration = max(m.AlignmentDuration, a.Metrics.AlignmentDuration)
		m.SyncDuration = max(m.SyncDuration, a.Metrics.SyncDuration)
		m.AsyncDuration = max(m.AsyncDuration, a.Metrics.AsyncDuration)
		m.StartDelay = max(m.StartDelay, a.Metrics.StartDelay)
	}
	md.Metrics.CheckpointedSize = md.Size
	md.Shared = sortedUnique(md.Shared)
	attempt := c.attempt
	notify := func() {
		for _, id := range ids {
			c.send(Message{Type: protocol.MsgNotifyComplete, Attempt: attempt, To: TaskEndpoint(id), Checkpoint: p.n})
		}
	}
	if c.mutants.Has(MutantStaleMetadataCommit) {
		notify() // Mutant: "complete" before the commit point is durable.
	}
	md.Metrics.CompletedAt = c.env.Now()
	md.Metrics.EndToEndDuration = md.Metrics.CompletedAt - p.triggeredAt
	data, err := json.Marshal(md)
	if err != nil {
		c.failCheckpoint(p.n, "encode metadata: "+err.Error())
		return
	}
	c.writing++
	p.writing = true
	c.env.PutMetadata(p.n, data, func(err error) {
		c.writing--
		current := attempt == c.attempt && c.isPending(p)
		if err != nil {
			if current {
				c.failCheckpoint(p.n, "write metadata: "+err.Error())
			}
			c.deployIfWaiting()
			return
		}
		// The metadata is durable: the checkpoint is complete, whatever
		// happened meanwhile. A restart must restore from it (its sinks'
		// transactions are pre-committed and must be committed), so a
		// failover waits for this write before it deploys.
		md.Metrics.CompletedAt = c.env.Now()
		md.Metrics.EndToEndDuration = md.Metrics.CompletedAt - p.triggeredAt
		// With checkpoints in flight concurrently, an older one's write
		// may land after a newer one's: completed stays in id order.
		c.completed = append(c.completed, md)
		sort.Slice(c.completed, func(i, j int) bool { return c.completed[i].Checkpoint < c.completed[j].Checkpoint })
		c.env.Event(Event{Phase: protocol.MetadataWritten, Checkpoint: p.n, Detail: fmt.Sprintf("size=%d duration=%v alignment=%v offsets=%s",
			md.Size, time.Duration(md.Metrics.EndToEndDuration), time.Duration(md.Metrics.AlignmentDuration), formatOffsets(md.Offsets))})
		for len(c.completed) > c.cfg.Retained {
			evicted := c.completed[0]
			c.env.DeleteCheckpoint(evicted.Checkpoint)
			c.completed = c.completed[1:]
			c.releaseShared(evicted)
		}
		if !current {
			c.env.Event(Event{Phase: protocol.EventLateMetadata, Checkpoint: p.n, Detail: "completed after its attempt ended; the next attempt restores from it"})
			c.deployIfWaiting()
			return
		}
		c.removePending(p)
		c.subsume(p.n)
		c.failures = 0
		c.lastCompleted = max(c.lastCompleted, md.Metrics.CompletedAt)
		if !c.mutants.Has(MutantStaleMetadataCommit) {
			notify()
		}
	})
}

// isPending reports whether p is still in flight.
func (c *Coordinator) isPending(p *pendingCheckpoint) bool {
	for _, q := range c.pending {
		if q == p {
			return true
		}
	}
	return false
}

// inFlight returns checkpoint n if it is in flight, or nil.
func (c *Coordinator) inFlight(n int64) *pendingCheckpoint {
	for _, q := range c.pending {
		if q.n == n {
			return q
		}
	}
	return nil
}

func (c *Coordinator) removePending(p *pendingCheckpoint) {
	if i := slices.Index(c.pending, p); i >= 0 {
		c.pending = slices.Delete(c.pending, i, i+1)
	}
}

// subsume aborts the checkpoints older than n still collecting acks: n
// completed and covers everything they would (as in Flink, where a
// completed checkpoint subsumes older pending ones). One whose metadata is
// being written completes or fails by that write alone.
func (c *Coordinator) subsume(n int64) {
	for _, q := range append([]*pendingCheckpoint(nil), c.pending...) {
		if q.n < n && !q.writing {
			c.removePending(q)
			c.env.Event(Event{Phase: protocol.EventCheckpointSubsumed, Checkpoint: q.n, Detail: fmt.Sprintf("by checkpoint %d", n)})
			c.sendAll(protocol.MsgNotifyAbort, q.n)
		}
	}
}

// deployIfWaiting runs a deploy that waited for metadata writes in flight.
func (c *Coordinator) deployIfWaiting() {
	if c.writing == 0 && c.deployWaiting {
		c.deployWaiting = false
		c.deploy()
	}
}

func formatOffsets(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s@%d", k, m[k]))
	}
	return strings.Join(parts, ",")
}

// decline aborts checkpoint n on a task's behalf.
func (c *Coordinator) decline(attempt int, n int64, reason string) {
	if p := c.inFlight(n); attempt == c.attempt && p != nil && !p.writing {
		c.failCheckpoint(n, "declined: "+reason)
	}
}

// failCheckpoint aborts checkpoint n, tells the tasks, and fails the job
// over once too many failed in a row.
func (c *Coordinator) failCheckpoint(n int64, reason string) {
	if p := c.inFlight(n); p != nil {
		c.removePending(p)
	}
	c.failures++
	c.env.Event(Event{Phase: protocol.EventCheckpointFailed, Checkpoint: n, Detail: fmt.Sprintf("%s (%d in a row, %d tolerated)", reason, c.failures, c.cfg.TolerableFailures)})
	c.sendAll(protocol.MsgNotifyAbort, n)
	if c.failures > c.cfg.TolerableFailures {
		c.failures = 0
		c.failover(fmt.Sprintf("checkpoint %d failed: %s", n, reason))
	}
}

// taskFailed restarts the job. A failure to restore from a checkpoint marks
// that checkpoint bad, so the restart uses the one before it.
func (c *Coordinator) taskFailed(attempt int, f Failure) {
	if attempt != c.attempt {
		return
	}
	if f.RestoreCheckpoint > 0 {
		c.bad[f.RestoreCheckpoint] = true
	}
	c.failover(fmt.Sprintf("task %s failed: %s", c.job.TaskName(f.Task), f.Reason))
}

// Rescale restarts the job with job, the same graph at other
// parallelisms, from the latest completed checkpoint (as stopping a Flink job
// with a savepoint and starting it again at a new parallelism does).
func (c *Coordinator) Rescale(job *Job) error {
	if len(job.Vertices) != len(c.job.Vertices) || job.MaxParallelism != c.job.MaxParallelism {
		return fmt.Errorf("rescale %s: the graph or its key groups changed; only parallelisms may", job.Name)
	}
	for i, v := range job.Vertices {
		if v.Name != c.job.Vertices[i].Name {
			return fmt.Errorf("rescale %s: vertex %d is %s, was %s", job.Name, i, v.Name, c.job.Vertices[i].Name)
		}
	}
	c.job = job
	c.failover("rescale")
	return nil
}

// WorkerLost restarts the job: tasks were lost with the worker.
func (c *Coordinator) WorkerLost(worker string) {
	c.failover("lost worker " + worker)
}

// failover cancels the attempt and deploys the next one after the restart
// strategy's delay.
func (c *Coordinator) failover(reason string) {
	if c.deploying {
		return // a restart is already on its way
	}
	c.deploying = true
	c.restarts++
	c.timerGen++
	c.pending = nil
	delay := c.restart.next(c.restarts)
	c.env.Event(Event{Phase: protocol.EventFailover, Detail: fmt.Sprintf("attempt %d: %s; restart in %v", c.attempt, reason, delay)})
	c.send(Message{Type: protocol.MsgCancel, Attempt: c.attempt, To: ExecutorEndpoint})
	c.env.After(delay, c.deploy)
}

// ErrNoCheckpoint is returned by LatestCompleted when none completed.
var ErrNoCheckpoint = errors.New("no completed checkpoint")

// LatestCompleted returns the latest completed checkpoint not known bad.
func (c *Coordinator) LatestCompleted() (Metadata, error) {
	if md := c.latest(); md != nil {
		return *md, nil
	}
	return Metadata{}, ErrNoCheckpoint
}
