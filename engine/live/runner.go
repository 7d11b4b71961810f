package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures a Runner. The zero values of the optional fields take
// the defaults named on them.
type Config struct {
	// Job is the job to run (built by engine.Builder or package jobs).
	Job *engine.Job `json:"-"`
	// Checkpoint configures checkpointing. With CheckpointsOff the
	// interval is ignored: the job checkpoints only when Drain or Stop ask
	// for a final checkpoint.
	Checkpoint     engine.CheckpointConfig `json:"checkpoint"`
	CheckpointsOff bool                    `json:"checkpoints_off,omitempty"`
	// Restart says how long to wait before redeploying a failed job.
	Restart engine.RestartStrategy `json:"restart"`
	// Task tunes the tasks. Task.TxnTimeout must not exceed the brokers'
	// transaction.max.timeout.ms (15 minutes by default on real Kafka).
	// Task.Unaligned takes unaligned checkpoints.
	Task engine.TaskConfig `json:"task"`
	// Backend is the keyed state backend: "heap" (default: in memory,
	// full snapshots) or "pebble" (on local disk, incremental snapshots).
	Backend string `json:"backend,omitempty"`
	// LocalDir is where pebble state lives (default: a temporary
	// directory, removed when the Runner stops). It is scratch space: a
	// restore never reads it, only checkpoint storage.
	LocalDir string `json:"local_dir,omitempty"`
	// CheckpointDir is where checkpoints are written. Required.
	CheckpointDir string `json:"checkpoint_dir"`
	// FromCheckpoint restores the job at start: "" starts empty (the
	// checkpoint counter still continues from CheckpointDir, so ids and
	// transactional ids are never reused), "latest" restores the latest
	// completed checkpoint in CheckpointDir, anything else is the path of a
	// checkpoint directory (or its metadata file), as Flink's -s takes.
	FromCheckpoint string `json:"from_checkpoint,omitempty"`
	// Kafka are the kgo options that reach the brokers: seed brokers,
	// dialer, TLS, SASL. They are passed through untouched.
	Kafka []kgo.Opt `json:"-"`
	// RequestTimeout bounds one Kafka request (default 10s); past it the
	// engine sees protocol.ErrTimeout.
	RequestTimeout time.Duration `json:"request_timeout"`
	// MailboxSize is the capacity of each task's mailbox (default 4096).
	MailboxSize int `json:"mailbox_size"`
	// KeepDrainingOnLoss makes Drain wait for its final checkpoint even
	// when the broker refused to commit pre-committed transactions (they
	// are lost, and the output lacks them), instead of failing with
	// ErrLostTransactions: for a caller whose checker tells the broker's
	// loss from the engine's.
	KeepDrainingOnLoss bool `json:"keep_draining_on_loss,omitempty"`
	// OnEvent, if set, sees every checkpoint-protocol event. It is called
	// from the goroutine of the task or coordinator that raised it, so it
	// must be safe for concurrent use and quick.
	OnEvent func(Event) `json:"-"`
}

// The state backends.
const (
	BackendHeap   = "heap"
	BackendPebble = "pebble"
)

// offInterval is the trigger interval when checkpoints are off: never, in
// practice; Drain and Stop trigger the final checkpoint themselves.
const offInterval = 1000 * time.Hour

// DefaultConfig returns a configuration for job with Flink-like defaults:
// a checkpoint a second, restart after 100 ms, and task sizes tuned for
// throughput.
func DefaultConfig(job *engine.Job, checkpointDir string) Config {
	task := engine.DefaultTaskConfig()
	task.TxnTimeout = 10 * time.Minute
	// Sized for throughput on one machine (bench compare, 2 cores): big
	// enough batches that a request carries thousands of records, small
	// enough fetches that the pipeline stays busy between them.
	task.FetchBytesMax = 64 << 10
	task.SinkBatchRecords = 4096
	task.ChannelCredits = 1024
	task.PollInterval = time.Millisecond
	return Config{
		Job:           job,
		Checkpoint:    engine.CheckpointConfig{Interval: time.Second, Timeout: time.Minute, MinPause: 0, TolerableFailures: 0, Retained: 2},
		Restart:       engine.RestartStrategy{Kind: "fixed-delay", Delay: 100 * time.Millisecond},
		Task:          task,
		CheckpointDir: checkpointDir,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Job == nil:
		return errors.New("job: missing")
	case c.CheckpointDir == "":
		return errors.New("checkpoint_dir: missing")
	case c.RequestTimeout < 0:
		return fmt.Errorf("request_timeout: negative (%v)", c.RequestTimeout)
	case c.MailboxSize < 0:
		return fmt.Errorf("mailbox_size: negative (%d)", c.MailboxSize)
	case c.Task.ChannelCredits < 2:
		return fmt.Errorf("task.channel_credits: must be at least 2, got %d", c.Task.ChannelCredits)
	case c.Task.SinkBatchRecords < 1:
		return fmt.Errorf("task.sink_batch_records: must be at least 1, got %d", c.Task.SinkBatchRecords)
	case c.Task.TxnTimeout <= 0:
		return fmt.Errorf("task.txn_timeout: must be positive, got %v", c.Task.TxnTimeout)
	case c.Backend != "" && c.Backend != BackendHeap && c.Backend != BackendPebble:
		return fmt.Errorf("backend: %q is not heap or pebble", c.Backend)
	}
	cp := c.Checkpoint
	if c.CheckpointsOff {
		cp.Interval = offInterval
	}
	if err := cp.Validate(); err != nil {
		return fmt.Errorf("checkpoint.%w", err)
	}
	if err := c.Restart.Validate(); err != nil {
		return fmt.Errorf("restart.%w", err)
	}
	return nil
}

// ErrLostTransactions is wrapped by Drain when the broker refused to commit
// transactions that a completed checkpoint had pre-committed.
var ErrLostTransactions = errors.New("pre-committed transactions lost")

// Event is an engine event, stamped with the wall clock and the attempt
// of the task that raised it (0 for the coordinator).
type Event struct {
	At      time.Time
	Attempt int
	engine.Event
}

// CheckpointStat is one completed checkpoint, as its metadata recorded it.
type CheckpointStat struct {
	Checkpoint int64 `json:"checkpoint"`
	// TriggeredAt is when the coordinator triggered it; CompletedAt when
	// its metadata was durable (the commit point).
	TriggeredAt time.Time `json:"triggered_at"`
	CompletedAt time.Time `json:"completed_at"`
	// Duration runs from the trigger to the durable metadata.
	Duration time.Duration `json:"duration_ns"`
	// Alignment, Sync, Async and StartDelay are the maxima over the
	// subtasks, named as Flink names them.
	Alignment  time.Duration `json:"alignment_ns"`
	Sync       time.Duration `json:"sync_ns"`
	Async      time.Duration `json:"async_ns"`
	StartDelay time.Duration `json:"start_delay_ns"`
	// Size is the bytes of every snapshot.
	Size int64 `json:"size_bytes"`
}

// KillStat is one Kill and the recovery after it.
//
// Recovery is measured from the kill to three points of the restarted
// attempt: every task restored and running (Running), the first record
// handed to a sink task (FirstRecord: processing resumed end to end), and
// the first checkpoint completed after the kill (Checkpoint: from then on
// the restarted job's output is committed, so a read_committed reader sees
// new output again; this is the figure bench reports as recovery time).
// A zero duration means the point was not reached.
type KillStat struct {
	At      time.Time `json:"at"`
	Attempt int       `json:"attempt"`
	Recovery
}

// Recovery is how long after a failover the restarted job reached each of
// the three points KillStat names. A zero duration means the point was not
// reached.
type Recovery struct {
	Running     time.Duration `json:"running_ns"`
	FirstRecord time.Duration `json:"first_record_ns"`
	Checkpoint  time.Duration `json:"checkpoint_ns"`
}

// RestartStat is one restart of the job, whatever caused it (a task that
// failed, checkpoints failing past the tolerable count, a Kill, a broker
// that went away), and the recovery after it, measured as KillStat's is:
// from the failover to every task running (Running), to the first record at
// a sink (FirstRecord) and to the first checkpoint completed after it
// (Checkpoint). A zero duration means the point was not reached.
type RestartStat struct {
	At time.Time `json:"at"`
	// Attempt is the attempt that failed; Reason is why, as the
	// coordinator said it.
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason"`
	Recovery
}

// FailedCheckpoint is a checkpoint that was triggered and did not complete:
// declined by a task, timed out, or its metadata not written.
type FailedCheckpoint struct {
	Checkpoint int64     `json:"checkpoint"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason"`
}

// Status is a consistent-enough view of a running job.
type Status struct {
	Attempt  int   `json:"attempt"`
	Restarts int   `json:"restarts"`
	Counter  int64 `json:"counter"`
	// Latest is the latest completed checkpoint (nil: none).
	Latest *engine.Metadata `json:"latest,omitempty"`
	// CommittedThrough is the lowest checkpoint through which every sink
	// subtask of the current attempt has committed (-1: a sink could not
	// be asked, e.g. during a restart).
	CommittedThrough int64 `json:"committed_through"`
	// LostTransactions counts pre-committed transactions the broker
	// refused to commit, in the current attempt.
	LostTransactions int `json:"lost_transactions"`
}

// Runner runs one job live. Start it, then Stop it (a clean shutdown with a
// final checkpoint) or Close it (a crash). Its methods are safe for
// concurrent use.
type Runner struct {
	cfg    Config
	job    *engine.Job
	prefix string
	epoch  time.Time
	store  *storage
	kafka  *kafkaConn

	ids     []engine.TaskID
	taskIdx map[engine.TaskID]int
	names   []string
	sinks   []int // task indexes of sink subtasks

	coord  *engine.Coordinator
	cbox   *mailbox
	ctimer map[*coordTimer]bool // coordinator goroutine only
	// ended is the highest checkpoint id known to be no longer in flight
	// (completed, failed, or dropped by a restart); coordinator goroutine
	// only.
	ended int64

	// wg counts the goroutines the Runner owns directly: the coordinator
	// mailbox, its storage writes, the reapers of cancelled attempts.
	wg sync.WaitGroup

	// writingMeta are the checkpoints whose metadata write is in flight
	// (coordinator goroutine only): their directories are not discarded
	// even if the coordinator gave up on them, since the write may land.
	writingMeta map[int64]bool
	// lastCompleted is the latest checkpoint known complete (coordinator
	// goroutine only): the sweep after the next one looks only between
	// the two, where nothing else deletes.
	lastCompleted int64

	mu          sync.Mutex
	cur         *attempt
	checkpoints []CheckpointStat
	kills       []*killRec
	restarts    []*RestartStat
	failed      []FailedCheckpoint
	discarded   []int64
	// localDir holds pebble state (ownLocal: made by the Runner, removed
	// when it stops).
	localDir string
	ownLocal bool
	// stopAfter, once positive, is the lowest checkpoint id that can be
	// Stop's final checkpoint; finalDone is the first such checkpoint to
	// complete. Triggers after it are dropped: it is the last checkpoint.
	stopAfter atomic.Int64
	finalDone atomic.Int64
	started   bool
	closed    bool
}

type killRec struct {
	KillStat
	attempt int
}

// New checks cfg and returns a Runner that has not started.
func New(cfg Config) (*Runner, error) {
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.MailboxSize == 0 {
		cfg.MailboxSize = 4096
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("live config: %w", err)
	}
	if cfg.CheckpointsOff {
		cfg.Checkpoint.Interval = offInterval
	}
	r := &Runner{cfg: cfg, job: cfg.Job, prefix: cfg.Job.Name, store: &storage{dir: cfg.CheckpointDir},
		taskIdx: map[engine.TaskID]int{}, ctimer: map[*coordTimer]bool{}, writingMeta: map[int64]bool{}}
	r.ids = cfg.Job.Tasks()
	for i, id := range r.ids {
		r.taskIdx[id] = i
		r.names = append(r.names, cfg.Job.TaskName(id))
		if cfg.Job.Vertices[id.Vertex].Kind == engine.SinkVertex {
			r.sinks = append(r.sinks, i)
		}
	}
	return r, nil
}

// now is the engine's clock: Unix nanoseconds, read from the monotonic
// clock since the Runner started. (Unix-based rather than starting at 0, so
// that a timer saved in a snapshot means the same instant after a restart
// in a new process.)
func (r *Runner) now() int64 { return r.epoch.UnixNano() + int64(time.Since(r.epoch)) }

func (r *Runner) wall(ns int64) time.Time { return time.Unix(0, ns) }

// Start recovers from CheckpointDir (and FromCheckpoint), connects to Kafka
// and deploys the job. It returns once the first attempt is on its way.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("live: runner already started")
	}
	r.started = true
	r.mu.Unlock()
	r.epoch = time.Now()

	rec, err := engine.RecoverCoordinator(r.store, r.layout())
	if err != nil {
		return fmt.Errorf("recover %s: %w", r.cfg.CheckpointDir, err)
	}
	for _, d := range rec.Damaged {
		r.event(0, engine.Event{Phase: "recover-skipped", Checkpoint: d.Checkpoint, Detail: d.Err.Error()})
	}
	// Nothing is in flight yet, so a checkpoint directory without
	// metadata is one an earlier run never completed: its files are
	// garbage. (RecoverCoordinator has already counted it, so its id is not
	// reused.)
	removed, err := r.store.removeIncomplete(r.prefix, 0, math.MaxInt64)
	r.noteDiscarded(removed)
	if err != nil {
		return fmt.Errorf("recover %s: %w", r.cfg.CheckpointDir, err)
	}
	completed := []engine.Metadata(nil)
	switch from := r.cfg.FromCheckpoint; from {
	case "":
	case "latest":
		if len(rec.Completed) == 0 {
			return fmt.Errorf("from checkpoint latest: no completed checkpoint of job %s in %s", r.prefix, r.cfg.CheckpointDir)
		}
		completed = rec.Completed
	default:
		md, root, err := loadCheckpointPath(from, r.prefix)
		if err != nil {
			return fmt.Errorf("from checkpoint: %w", err)
		}
		if md.Job != "" && md.Job != r.job.Name {
			return fmt.Errorf("from checkpoint %s: it is a checkpoint of job %q, not %q", from, md.Job, r.job.Name)
		}
		r.store.fallback = root
		rec.State.Counter = max(rec.State.Counter, md.Checkpoint)
		completed = []engine.Metadata{md}
	}

	if r.cfg.Backend == BackendPebble {
		if r.cfg.LocalDir == "" {
			if r.localDir, err = os.MkdirTemp("", "live-state-"); err != nil {
				return fmt.Errorf("local state directory: %w", err)
			}
			r.ownLocal = true
		} else {
			r.localDir = r.cfg.LocalDir
		}
	}
	k, err := newKafkaConn(r.cfg.Kafka, r.cfg.RequestTimeout)
	if err != nil {
		return err
	}
	// Reach the brokers before anything is deployed: a wrong address is
	// a configuration error, not a task failure to restart from.
	pctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	err = k.cl.Ping(pctx)
	cancel()
	if err != nil {
		k.close()
		return fmt.Errorf("reach kafka: %w", err)
	}
	r.kafka = k

	r.cbox = newMailbox("coordinator", r.cfg.MailboxSize)
	env := &coordEnv{r: r}
	r.coord = engine.NewCoordinator(r.job, env, r.cfg.Checkpoint, r.cfg.Restart, r.cfg.Task.Mutants, r.prefix)
	for _, md := range rec.Completed {
		r.lastCompleted = max(r.lastCompleted, md.Checkpoint)
	}
	if rec.State != (engine.State{}) || len(completed) > 0 {
		r.coord.Recover(rec.State, completed)
	}
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.cbox.run() }()
	r.cbox.post(r.coord.Start)
	return nil
}

// Run starts the job and runs it until ctx is cancelled (Ctrl-C), then
// stops it cleanly within shutdown.
func (r *Runner) Run(ctx context.Context, shutdown time.Duration) error {
	if err := r.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	return r.Stop(sctx)
}

// Status asks the coordinator and the sink subtasks where the job is.
func (r *Runner) Status(ctx context.Context) (Status, error) {
	var st Status
	ok := r.callCoord(ctx, func() {
		st.Attempt, st.Restarts, st.Counter = r.coord.Attempt(), r.coord.Restarts(), r.coord.Counter()
		if md, err := r.coord.LatestCompleted(); err == nil {
			st.Latest = &md
		}
	})
	if !ok {
		return st, errors.New("live: coordinator stopped")
	}
	st.CommittedThrough = -1
	a := r.current()
	if a == nil || a.n != st.Attempt {
		return st, nil
	}
	low := int64(-1)
	for i, si := range r.sinks {
		var ct int64
		var lost int
		if !a.call(ctx, si, func(t *engine.Task) { ct, lost = t.CommittedThrough(), t.LostTransactions() }) {
			return st, nil
		}
		if i == 0 || ct < low {
			low = ct
		}
		st.LostTransactions += lost
	}
	st.CommittedThrough = low
	return st, nil
}

func (r *Runner) callCoord(ctx context.Context, fn func()) bool {
	done := make(chan struct{})
	if !r.cbox.post(func() { fn(); close(done) }) {
		return false
	}
	select {
	case <-done:
		return true
	case <-r.cbox.done:
		return false
	case <-ctx.Done():
		return false
	}
}

func (r *Runner) current() *attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// Checkpoints returns every checkpoint completed so far, in order.
func (r *Runner) Checkpoints() []CheckpointStat {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]CheckpointStat(nil), r.checkpoints...)
}

// Restarts returns every restart of the job so far and the recovery after
// it, oldest first.
func (r *Runner) Restarts() []RestartStat {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RestartStat, len(r.restarts))
	for i, s := range r.restarts {
		out[i] = *s
	}
	return out
}

// FailedCheckpoints returns every checkpoint that failed so far.
func (r *Runner) FailedCheckpoints() []FailedCheckpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]FailedCheckpoint(nil), r.failed...)
}

// Discarded returns the checkpoints whose files were deleted because they
// never completed: left by an earlier run (found at Start), failed, or
// dropped by a restart.
func (r *Runner) Discarded() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.discarded...)
}

func (r *Runner) noteDiscarded(ns []int64) {
	if len(ns) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.discarded = append(r.discarded, ns...)
}

// Consumed returns how far the current attempt's sources have read, per
// "topic/partition" (the next offset), for progress reports.
func (r *Runner) Consumed() map[string]int64 {
	a := r.current()
	out := map[string]int64{}
	if a == nil {
		return out
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, v := range a.consumed { // lint:sorted copies a map
		out[k] = v
	}
	return out
}

// Kills returns every Kill and its recovery so far.
func (r *Runner) Kills() []KillStat {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]KillStat, len(r.kills))
	for i, k := range r.kills {
		out[i] = k.KillStat
	}
	return out
}

// Kill stops every task goroutine of the current attempt at once, as if
// the process hosting them died: no snapshot, no commit, transactions left
// open. The coordinator sees a task failure and restarts the job from the
// latest completed checkpoint. It reports whether there was an attempt to
// kill.
func (r *Runner) Kill() bool {
	killed := false
	r.callCoord(context.Background(), func() {
		a := r.current()
		if a == nil || a.n != r.coord.Attempt() || a.cancelled.Load() {
			return
		}
		killed = true
		r.mu.Lock()
		r.kills = append(r.kills, &killRec{KillStat: KillStat{At: time.Now(), Attempt: a.n}, attempt: a.n})
		r.mu.Unlock()
		r.cancel(a)
		r.coord.Step(engine.Message{Type: protocol.MsgFailed, Attempt: a.n, From: engine.TaskEndpoint(r.ids[0]), To: engine.CoordinatorEndpoint,
			Failure: &engine.Failure{Task: r.ids[0], Reason: "killed (Runner.Kill)"}})
	})
	return killed
}

// Drain waits until the job has read its input up to ends ("topic/p" ->
// offset, as the input's high watermarks), then has the coordinator
// trigger a checkpoint at once and waits until a completed checkpoint
// covers ends, holds no in-flight records (an unaligned checkpoint saves
// the records its barriers overtook; their output comes later), and every
// sink has committed it: everything is then visible to read_committed
// readers. It is what Flink does at the end of a bounded input (a final
// checkpoint), and it returns that checkpoint.
func (r *Runner) Drain(ctx context.Context, ends map[string]int64) (engine.Metadata, error) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	inFlight := int64(0) // the latest checkpoint found to hold channel state
	for {
		a := r.current()
		if a != nil && a.consumedAll(ends) {
			st, err := r.Status(ctx)
			if err != nil {
				return engine.Metadata{}, err
			}
			if md := st.Latest; md != nil && md.Checkpoint > inFlight && covers(md.Offsets, ends) && st.CommittedThrough >= md.Checkpoint {
				clear, err := r.noChannelState(*md)
				if err != nil {
					return engine.Metadata{}, err
				}
				if clear {
					return *md, nil
				}
				inFlight = md.Checkpoint
			}
			if st.LostTransactions > 0 && !r.cfg.KeepDrainingOnLoss {
				return engine.Metadata{}, fmt.Errorf("live: %d %w", st.LostTransactions, ErrLostTransactions)
			}
			r.cbox.post(r.expedite)
		}
		select {
		case <-ctx.Done():
			return engine.Metadata{}, fmt.Errorf("drain: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// noChannelState reports whether no snapshot of checkpoint md saved
// in-flight records. Only unaligned checkpoints (always, or after an
// alignment timeout) can; aligned ones are not read.
func (r *Runner) noChannelState(md engine.Metadata) (bool, error) {
	if !r.cfg.Task.Unaligned && r.cfg.Task.AlignmentTimeout == 0 {
		return true, nil
	}
	for _, name := range sortedValues(md.Handles) {
		data, err := r.store.Get(name)
		if err != nil {
			return false, fmt.Errorf("drain: %w", err)
		}
		s, err := engine.DecodeSnapshot(data)
		if err != nil {
			return false, fmt.Errorf("drain: %s: %w", name, err)
		}
		for _, c := range s.ChannelState {
			if len(c.Records) > 0 {
				return false, nil
			}
		}
	}
	return true, nil
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func covers(offsets, ends map[string]int64) bool {
	for tp, end := range ends {
		if offsets[tp] < end {
			return false
		}
	}
	return true
}

// Stop shuts the job down cleanly: it triggers a final checkpoint, waits
// until it is complete and every sink has committed it, stops the tasks,
// aborts the transactions the sinks had opened after it (so no open
// transaction pins the last stable offset), and stops every goroutine. A
// later Runner started with FromCheckpoint "latest" resumes exactly there.
// If ctx ends first, Stop stops everything anyway (like Close) and says so.
func (r *Runner) Stop(ctx context.Context) error {
	if r.beginClose() {
		return nil
	}
	var ferr error
	final, err := r.finalCheckpoint(ctx)
	if err != nil {
		ferr = fmt.Errorf("stop: final checkpoint: %w", err)
	}
	a := r.stopAll()
	if ferr == nil && a != nil {
		// The tasks' goroutines have returned, so reading them is safe.
		var errs []error
		for _, si := range r.sinks {
			id := a.tasks[si].OpenTxn()
			if id == "" {
				continue
			}
			if err := r.abortTxn(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			ferr = fmt.Errorf("stop after checkpoint %d: %w", final, err)
		}
	}
	r.kafka.close()
	return ferr
}

// Close stops everything at once, as a crash would: no final checkpoint,
// nothing committed, transactions left open for the next run to fence.
func (r *Runner) Close() {
	if r.beginClose() {
		return
	}
	r.stopAll()
	r.kafka.close()
}

// beginClose marks the Runner closed; it reports whether it already was
// (or never started).
func (r *Runner) beginClose() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || !r.started || r.cbox == nil {
		r.closed = true
		return true
	}
	r.closed = true
	return false
}

// finalCheckpoint asks for a checkpoint triggered after now, and waits for
// it to complete and be committed by every sink; the coordinator triggers
// nothing after it.
func (r *Runner) finalCheckpoint(ctx context.Context) (int64, error) {
	var counter int64
	if !r.callCoord(ctx, func() { counter = r.coord.Counter() }) {
		return 0, errors.New("coordinator stopped")
	}
	r.stopAfter.Store(counter + 1)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if n := r.finalDone.Load(); n > 0 {
			st, err := r.Status(ctx)
			if err == nil && st.Latest != nil && st.Latest.Checkpoint >= n && st.CommittedThrough >= n {
				return n, nil
			}
		} else {
			r.cbox.post(r.expedite)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

// abortTxn aborts whatever transaction id has open: InitProducerID fences
// the producer and makes the broker abort it.
func (r *Runner) abortTxn(ctx context.Context, id string) error {
	resp, err := r.kafka.do(ctx, kproto.InitProducerID(id, int32(r.cfg.Task.TxnTimeout/time.Millisecond)))
	if err == nil {
		_, err = kproto.InitProducerIDResult(id, resp)
	}
	if err != nil {
		return fmt.Errorf("abort open transaction %s: %w", id, err)
	}
	return nil
}

// stopAll stops the coordinator, then the current attempt, and waits for
// every goroutine the Runner started. It returns the last attempt.
func (r *Runner) stopAll() *attempt {
	r.callCoord(context.Background(), func() {
		for ct := range r.ctimer { // lint:sorted stopping timers, order irrelevant
			ct.t.Stop()
		}
	})
	r.cbox.stop()
	<-r.cbox.done
	a := r.current()
	if a != nil {
		r.cancel(a)
	}
	r.wg.Wait()
	if r.ownLocal {
		_ = os.RemoveAll(r.localDir) // scratch: nothing reads it after the tasks closed their state
	}
	return a
}

// expedite triggers a checkpoint at once, unless one is in flight. It runs
// on the coordinator goroutine.
func (r *Runner) expedite() {
	if r.coord.Counter() > r.ended {
		return // one is in flight; expedite again once it has ended
	}
	r.coord.TriggerNow()
}

func (r *Runner) fireCoordTimer(ct *coordTimer) {
	if !r.ctimer[ct] {
		return
	}
	delete(r.ctimer, ct)
	ct.fn()
}

func (r *Runner) event(attempt int, e engine.Event) {
	if r.cfg.OnEvent != nil {
		r.cfg.OnEvent(Event{At: time.Now(), Attempt: attempt, Event: e})
	}
}

// coordTimer is one timer of the coordinator.
type coordTimer struct {
	t  *time.Timer
	fn func()
}

// coordEnv is engine.CoordinatorEnv for the Runner.
type coordEnv struct{ r *Runner }

func (c *coordEnv) Now() int64 { return c.r.now() }

func (c *coordEnv) After(d time.Duration, fn func()) {
	r := c.r
	ct := &coordTimer{fn: fn}
	r.ctimer[ct] = true
	ct.t = time.AfterFunc(d, func() { r.cbox.post(func() { r.fireCoordTimer(ct) }) })
}

// layout names the job's objects in checkpoint storage.
func (r *Runner) layout() engine.Layout { return engine.Layout{Prefix: r.prefix} }

// Send routes the coordinator's messages: the Runner is the executor of
// deploys and cancels; triggers and notifications go to the task's mailbox
// if their attempt is still the current one.
func (c *coordEnv) Send(m engine.Message) {
	r := c.r
	switch m.Type {
	case protocol.MsgDeploy:
		r.deploy(m.Attempt, m.Deploy.Deployments)
		return
	case protocol.MsgCancel:
		if a := r.current(); a != nil && a.n == m.Attempt {
			r.cancel(a)
		}
		return
	case protocol.MsgTrigger:
		if f := r.finalDone.Load(); f > 0 && m.Checkpoint > f {
			return // Stop's final checkpoint was the last one
		}
	}
	if a := r.current(); a != nil && a.n == m.Attempt {
		a.post(r.taskIdx[m.To.Task], func(t *engine.Task) { t.Step(m) })
	}
}

func (c *coordEnv) PutMetadata(n int64, data []byte, cb func(error)) {
	r := c.r
	attempt := r.coord.Attempt()
	r.writingMeta[n] = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := r.store.Put(r.layout().Metadata(n), data)
		if err == nil {
			r.recordCheckpoint(attempt, data)
			if s := r.stopAfter.Load(); s > 0 && n >= s {
				r.finalDone.CompareAndSwap(0, n)
			}
		}
		r.cbox.post(func() {
			delete(r.writingMeta, n)
			r.ended = max(r.ended, n)
			cb(err)
		})
	}()
}

func (c *coordEnv) PersistState(data []byte, cb func(error)) {
	r := c.r
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := r.store.Put(r.layout().CoordinatorState(), data)
		r.cbox.post(func() { cb(err) })
	}()
}

func (c *coordEnv) DeleteCheckpoint(n int64) {
	r := c.r
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.store.removeCheckpoint(r.prefix, n); err != nil {
			r.event(0, engine.Event{Phase: protocol.EventDeleteFailed, Checkpoint: n, Detail: err.Error()})
		}
	}()
}

// DeleteShared implements engine.CoordinatorEnv: shared state files
// (incremental pebble checkpoints) no retained checkpoint references.
func (c *coordEnv) DeleteShared(objects []string) {
	r := c.r
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for _, o := range objects {
			if p, err := r.store.path(r.store.dir, o); err == nil {
				_ = os.Remove(p) // a leftover file costs space, not correctness
			}
		}
	}()
}

func (c *coordEnv) Event(e engine.Event) {
	r := c.r
	switch e.Phase {
	case protocol.EventCheckpointFailed:
		r.mu.Lock()
		r.failed = append(r.failed, FailedCheckpoint{Checkpoint: e.Checkpoint, At: time.Now(), Reason: e.Detail})
		r.mu.Unlock()
		r.discard(e.Checkpoint)
	case protocol.EventFailover:
		// The attempt that failed is still the coordinator's: it
		// deploys the next one after the restart delay. A checkpoint
		// in flight is dropped with it.
		r.mu.Lock()
		r.restarts = append(r.restarts, &RestartStat{At: time.Now(), Attempt: r.coord.Attempt(), Reason: e.Detail})
		r.mu.Unlock()
		if n := r.coord.Counter(); n > r.ended {
			r.discard(n)
		}
	case protocol.MetadataWritten:
		// With one checkpoint in flight at a time, no checkpoint between
		// the previous completed one and this one can still complete:
		// sweep up what failed ones, or late snapshot writes of a
		// cancelled attempt, left behind. (Below the previous one,
		// evicted checkpoints are being deleted, metadata first.)
		r.sweepIncomplete(r.lastCompleted, e.Checkpoint)
		r.lastCompleted = max(r.lastCompleted, e.Checkpoint)
	}
	switch e.Phase {
	case protocol.EventCheckpointFailed, protocol.EventFailover, protocol.EventDeploy, protocol.EventRecovered:
		// Whatever was in flight has ended. (The engine names these
		// phases only in its events; they run on this goroutine.)
		r.ended = max(r.ended, r.coord.Counter())
	}
	r.event(0, e)
}

// discard deletes the files of checkpoint n, which failed or was dropped by
// a restart, unless its metadata write is in flight (it may still land,
// and then the checkpoint is complete). It runs on the coordinator
// goroutine; the deletion does not.
func (r *Runner) discard(n int64) {
	if n <= 0 || r.writingMeta[n] {
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		removed, err := r.store.removeIncompleteOne(r.prefix, n)
		if removed {
			r.noteDiscarded([]int64{n})
		}
		if err != nil {
			r.event(0, engine.Event{Phase: protocol.EventDeleteFailed, Checkpoint: n, Detail: err.Error()})
		}
	}()
}

// sweepIncomplete deletes every checkpoint directory between after and n
// that has no metadata. It runs on the coordinator goroutine; the deletion
// does not.
func (r *Runner) sweepIncomplete(after, n int64) {
	for m := range r.writingMeta { // lint:sorted only finds the lowest
		if m < n {
			n = m // not below a metadata write in flight
		}
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		removed, err := r.store.removeIncomplete(r.prefix, after, n)
		r.noteDiscarded(removed)
		if err != nil {
			r.event(0, engine.Event{Phase: protocol.EventDeleteFailed, Detail: err.Error()})
		}
	}()
}

// recordCheckpoint keeps a completed checkpoint's figures, and closes the
// recovery measurement of a kill before it.
func (r *Runner) recordCheckpoint(attempt int, data []byte) {
	var md engine.Metadata
	if json.Unmarshal(data, &md) != nil {
		return
	}
	now := time.Now()
	m := md.Metrics
	st := CheckpointStat{
		Checkpoint: md.Checkpoint, TriggeredAt: r.wall(m.TriggeredAt), CompletedAt: now,
		Duration:  now.Sub(r.wall(m.TriggeredAt)),
		Alignment: time.Duration(m.AlignmentDuration), Sync: time.Duration(m.SyncDuration),
		Async: time.Duration(m.AsyncDuration), StartDelay: time.Duration(m.StartDelay), Size: md.Size,
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkpoints = append(r.checkpoints, st)
	r.reached(attempt, now, func(rec *Recovery) *time.Duration { return &rec.Checkpoint })
}

// noteRunning and noteFirstRecord close recovery measurements.
func (r *Runner) noteRunning(a *attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reached(a.n, time.Now(), func(rec *Recovery) *time.Duration { return &rec.Running })
}

func (r *Runner) noteFirstRecord(a *attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reached(a.n, time.Now(), func(rec *Recovery) *time.Duration { return &rec.FirstRecord })
}

// reached records that attempt reached a recovery point at now: in every
// kill and restart of an earlier attempt that had not reached it yet, the
// point's duration becomes the time since the failover. r.mu must be held.
func (r *Runner) reached(attempt int, now time.Time, point func(*Recovery) *time.Duration) {
	note := func(rec *Recovery, at time.Time, failed int) {
		if d := point(rec); *d == 0 && attempt > failed {
			*d = now.Sub(at)
		}
	}
	for _, k := range r.kills {
		note(&k.Recovery, k.At, k.attempt)
	}
	for _, rs := range r.restarts {
		note(&rs.Recovery, rs.At, rs.Attempt)
	}
}
