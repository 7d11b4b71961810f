// Package cluster runs the reference engine in the simulated world: a job
// master process hosting the checkpoint coordinator, worker processes hosting
// the tasks, the protocol's messages on simulated links, checkpoints in the
// durable store and Kafka in the loop. It records what happened (Result and
// its History) and judges nothing: the verdicts come from scenarios.Judge,
// which reads the committed output with a consumer of its own while the
// cluster is still open, and decides through package checkers.
package cluster

import (
	"fmt"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/onceproof/onceproof/sim"
)

// Options configure one run of a job in the simulator.
type Options struct {
	Sim sim.Config `json:"sim"`
	Job string     `json:"job"`
	// Spec runs a job that is not in the registry (a user's own); it
	// overrides Job.
	Spec       *jobs.Spec              `json:"-"`
	Params     jobs.Params             `json:"params"`
	Checkpoint engine.CheckpointConfig `json:"checkpoint"`
	Restart    engine.RestartStrategy  `json:"restart"`
	Task       engine.TaskConfig       `json:"task"`
	Mutants    engine.Mutants          `json:"mutants,omitempty"`
	// Backend is the keyed-state backend: "heap" (in memory, full
	// checkpoints) or "pebble" (on the worker's local disk, incremental
	// checkpoints; pebble.go). Empty means heap.
	Backend string `json:"backend,omitempty"`
	// StorageLatency is the time to read or write one checkpoint object.
	StorageLatency sim.Latency `json:"storage_latency"`
	// Heartbeat is how often the job master probes its workers;
	// HeartbeatTimeout is the silence after which a worker counts as lost.
	Heartbeat        time.Duration `json:"heartbeat"`
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout"`
	// InputTxnRecords is the size of the transactions the input is written
	// in; every fourth is aborted, so the input holds aborted records and
	// control markers.
	InputTxnRecords int `json:"input_txn_records"`
	// KillSchedule kills a worker Kills times, at seeded random times in
	// [0, KillWindow), each restarting the worker after up to
	// RestartDelayMax.
	sim.KillSchedule
	// RescaleAt, when positive, restarts the job at parallelism RescaleTo
	// right after checkpoint RescaleAt completes, from that checkpoint.
	RescaleAt int64 `json:"rescale_at,omitempty"`
	RescaleTo int   `json:"rescale_to,omitempty"`
	// RunLimit bounds simulated time. A run that has not drained its input
	// by then made no progress.
	RunLimit time.Duration `json:"run_limit"`
}

// DefaultOptions returns the standard options for job at seed.
func DefaultOptions(job string, seed uint64) Options {
	s := sim.DefaultConfig(seed)
	return Options{
		Sim:              s,
		Job:              job,
		Params:           jobs.Params{Parallelism: 2, Partitions: 3, Records: 300, Keys: 12},
		Checkpoint:       engine.CheckpointConfig{Interval: 50 * time.Millisecond, Timeout: time.Second, MinPause: 10 * time.Millisecond, TolerableFailures: 0, Retained: 2},
		Restart:          engine.RestartStrategy{Kind: "fixed-delay", Delay: 50 * time.Millisecond},
		Task:             engine.DefaultTaskConfig(),
		Backend:          BackendHeap,
		StorageLatency:   sim.Latency{Min: 500 * time.Microsecond, Max: 5 * time.Millisecond},
		Heartbeat:        20 * time.Millisecond,
		HeartbeatTimeout: 100 * time.Millisecond,
		InputTxnRecords:  11,
		KillSchedule:     sim.KillSchedule{KillWindow: time.Second, RestartDelayMax: 200 * time.Millisecond},
		RunLimit:         60 * time.Second,
	}
}

// Validate reports the first invalid option by name.
func (o Options) Validate() error {
	if err := o.Sim.Validate(); err != nil {
		return fmt.Errorf("sim.%w", err)
	}
	if o.Spec == nil {
		if _, err := jobs.Lookup(o.Job); err != nil {
			return fmt.Errorf("job: %w", err)
		}
	} else if err := o.Spec.Validate(); err != nil {
		return err
	}
	if err := o.Params.Validate(); err != nil {
		return fmt.Errorf("params.%w", err)
	}
	if err := o.Checkpoint.Validate(); err != nil {
		return fmt.Errorf("checkpoint.%w", err)
	}
	if err := o.Restart.Validate(); err != nil {
		return fmt.Errorf("restart.%w", err)
	}
	switch {
	case o.Backend != "" && o.Backend != BackendHeap && o.Backend != BackendPebble:
		return fmt.Errorf("backend: %q is not %s or %s", o.Backend, BackendHeap, BackendPebble)
	case o.Task.ChannelCredits < 2:
		return fmt.Errorf("task.channel_credits: must be at least 2, got %d", o.Task.ChannelCredits)
	case o.Task.SinkBatchRecords < 1:
		return fmt.Errorf("task.sink_batch_records: must be at least 1, got %d", o.Task.SinkBatchRecords)
	case o.Task.Unaligned && o.Checkpoint.MaxConcurrent > 1:
		return fmt.Errorf("checkpoint.max_concurrent: unaligned checkpoints are taken one at a time (as in Flink), got %d", o.Checkpoint.MaxConcurrent)
	case o.Heartbeat <= 0:
		return fmt.Errorf("heartbeat: must be positive, got %v", o.Heartbeat)
	case o.HeartbeatTimeout < o.Heartbeat:
		return fmt.Errorf("heartbeat_timeout: %v is below heartbeat %v", o.HeartbeatTimeout, o.Heartbeat)
	case o.InputTxnRecords < 1:
		return fmt.Errorf("input_txn_records: must be at least 1, got %d", o.InputTxnRecords)
	}
	if err := o.KillSchedule.Validate(); err != nil {
		return err
	}
	switch {
	case o.RescaleAt > 0 && o.RescaleTo < 1:
		return fmt.Errorf("rescale_to: must be at least 1 when rescale_at is set, got %d", o.RescaleTo)
	case o.RunLimit <= 0:
		return fmt.Errorf("run_limit: must be positive, got %v", o.RunLimit)
	}
	return o.StorageLatency.Validate("storage_latency")
}

// Cluster is one run being set up or running.
type Cluster struct {
	opts    Options
	spec    *jobs.Spec
	job     *engine.Job
	w       *sim.World
	k       *sim.Kafka
	prefix  string
	jmProc  *sim.Proc
	jm      *jobMaster
	workers []*sim.Proc
	// workerProgs are the workers' current programs (nil while dead).
	workerProgs []*worker
	taskIdx     map[engine.TaskID]int
	// generated is the input written as committed records; inputEnd maps
	// every input partition ("topic/partition") to its high watermark.
	generated []jobs.Input
	inputEnd  map[string]int64
	hooks     []func(p *sim.Proc, e engine.Event)
	// drainedAt is when the run drained, or 0.
	drainedAt sim.Time
	// faultsUntil is when the last scheduled fault ends; drain is judged
	// only after it.
	faultsUntil sim.Time
	// storageExtra is latency a storage-slow fault adds to every access.
	storageExtra time.Duration
	// inj is the fault injector, when a plan was injected.
	inj *injector
	// rescaled is set once the job was restarted at RescaleTo.
	rescaled bool
	// diskFaults are the disk-read-error faults in force (pebble.go).
	diskFaults diskFaults
	// hist records checkpoint states, commits and reads for the judge;
	// reader is the process that polls the output.
	hist   *history
	reader *sim.Proc
	// msgRules are the faults on control messages (messages.go).
	msgRules []*MessageRule
}

// storageDelay is the time one checkpoint storage access takes now.
func (c *Cluster) storageDelay() time.Duration {
	return c.opts.StorageLatency.Draw(c.w.Rand("storage")) + c.storageExtra
}

// New builds the world, starts Kafka, writes the input, spawns the job master and the workers, and schedules the kills.
func New(opts Options) (*Cluster, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("cluster options: %w", err)
	}
	spec := opts.Spec
	if spec == nil {
		spec, _ = jobs.Lookup(opts.Job)
	}
	job, err := spec.Build(opts.Params)
	if err != nil {
		return nil, err
	}
	w, k, err := sim.NewWorldWithKafka(opts.Sim)
	if err != nil {
		return nil, err
	}
	// One switch turns a mutant on everywhere: coordinator and tasks.
	opts.Task.Mutants = opts.Mutants
	c := &Cluster{opts: opts, spec: spec, job: job, w: w, k: k, prefix: "checkpoints/" + job.Name, taskIdx: map[engine.TaskID]int{}}
	for i, id := range job.Tasks() {
		c.taskIdx[id] = i
	}
	if err := c.writeInput(); err != nil {
		k.Close()
		return nil, err
	}
	c.jmProc = w.Spawn("jm", c.newJobMaster)
	c.workerProgs = make([]*worker, opts.Sim.Workers)
	for i := 0; i < opts.Sim.Workers; i++ {
		c.workers = append(c.workers, w.Spawn(fmt.Sprintf("w%d", i), c.newWorker(i)))
	}
	c.recordHistory(c.generated)
	c.armRescale()
	c.scheduleKills()
	return c, nil
}

// Close stops Kafka and releases the workers' state backends. The judge
// reads the output before it.
func (c *Cluster) Close() {
	c.k.Close()
	c.closeState()
}

// World, Kafka and Job expose the run's parts, for tests and fault injectors.
func (c *Cluster) World() *sim.World    { return c.w }
func (c *Cluster) Kafka() *sim.Kafka    { return c.k }
func (c *Cluster) Job() *engine.Job     { return c.job }
func (c *Cluster) Workers() []*sim.Proc { return c.workers }
func (c *Cluster) JobMaster() *sim.Proc { return c.jmProc }

// OnEvent registers fn to run at every checkpoint-protocol event, at the
// moment it happens, in the process p where it happens.
func (c *Cluster) OnEvent(fn func(p *sim.Proc, e engine.Event)) { c.hooks = append(c.hooks, fn) }

// HoldFaultsUntil tells the run that faults last until t: the input counts
// as drained only after it.
func (c *Cluster) HoldFaultsUntil(t sim.Time) { c.faultsUntil = max(c.faultsUntil, t) }

// WorkerOf returns the worker hosting task (by name, "vertex/subtask") in the
// current attempt, or nil.
func (c *Cluster) WorkerOf(task string) *sim.Proc {
	if c.jm == nil || c.jm.placement == nil {
		return nil
	}
	for i, id := range c.job.Tasks() {
		if c.job.TaskName(id) == task {
			return c.workers[c.jm.placement[i]]
		}
	}
	return nil
}

func (c *Cluster) taskIndex(id engine.TaskID) int { return c.taskIdx[id] }

func (c *Cluster) placementString(pl []int) string {
	var b strings.Builder
	for i, id := range c.job.Tasks() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s@%s", c.job.TaskName(id), c.workers[pl[i]].Name())
	}
	return b.String()
}

func (c *Cluster) event(p *sim.Proc, e engine.Event) {
	p.Record(sim.Event{Kind: sim.EventProtocol, Phase: e.Phase, N: e.Checkpoint, Task: e.Task, Detail: e.Detail,
		Commit: e.Commit, Recover: e.Recover, Lost: e.Lost})
	for _, h := range c.hooks {
		h(p, e)
	}
}

func (c *Cluster) scheduleKills() {
	rng := c.w.Rand("faults")
	for i := 0; i < c.opts.Kills; i++ {
		at := sim.Time(rng.Int64N(int64(c.opts.KillWindow)))
		victim := c.workers[rng.IntN(len(c.workers))]
		delay := time.Millisecond
		if c.opts.RestartDelayMax > 0 {
			delay += time.Duration(rng.Int64N(int64(c.opts.RestartDelayMax)))
		}
		c.HoldFaultsUntil(at.Add(delay))
		c.w.At(at, func() { c.w.KillFor(victim, "scheduled kill", delay) })
	}
}

// writeInput writes the job's input in transactions (every fourth aborted)
// and notes where each input partition ends. The judge reads the input back
// with its own consumer.
func (c *Cluster) writeInput() error {
	p := c.opts.Params
	for _, t := range append(c.spec.Inputs(p), c.spec.Output(p)) {
		if err := c.k.CreateTopic(t.Name, t.Partitions); err != nil {
			return err
		}
	}
	recs := c.spec.Generate(c.w.Rand("workload"), p)
	resp, err := c.k.Sync(kproto.InitProducerID("input-writer", sim.TxnTimeoutMillis))
	if err != nil {
		return fmt.Errorf("write input: %w", err)
	}
	prod, err := kproto.InitProducerIDResult("input-writer", resp)
	if err != nil {
		return fmt.Errorf("write input: %w", err)
	}
	type tp struct {
		topic string
		p     int32
	}
	txn := 0
	for i := 0; i < len(recs); {
		abort := txn%4 == 3
		txn++
		var batches []tp
		byTP := map[tp][]kproto.Record{}
		n := min(c.opts.InputTxnRecords, len(recs)-i)
		chunk := recs[i : i+n]
		if !abort {
			i += n
		}
		for _, r := range chunk {
			key := tp{r.Topic, r.Partition}
			if _, ok := byTP[key]; !ok {
				batches = append(batches, key)
			}
			v := r.Value
			if abort {
				v = "aborted-" + v
			}
			byTP[key] = append(byTP[key], kproto.Record{Key: []byte(r.Key), Value: []byte(v)})
		}
		for _, key := range batches {
			ts := chunk[0].Time
			r, err := c.k.Sync(kproto.Produce(prod.TxnID, key.topic, key.p, kproto.EncodeBatch(prod, 0, true, ts, byTP[key])))
			if err == nil {
				_, err = kproto.ProduceResult(r)
			}
			if err != nil {
				return fmt.Errorf("write input: produce: %w", err)
			}
		}
		r, err := c.k.Sync(kproto.EndTxn(prod, !abort))
		if err == nil {
			prod, err = kproto.EndTxnResult(prod, r)
		}
		if err != nil {
			return fmt.Errorf("write input: end txn: %w", err)
		}
	}
	c.generated, c.inputEnd = recs, map[string]int64{}
	for _, t := range c.spec.Inputs(p) {
		for i := int32(0); i < t.Partitions; i++ {
			hwm, _, ok := c.k.PartitionEnd(t.Name, i)
			if !ok {
				return fmt.Errorf("write input: no partition %s/%d", t.Name, i)
			}
			c.inputEnd[fmt.Sprintf("%s/%d", t.Name, i)] = hwm
		}
	}
	c.w.Tracef("input written: %d committed records in %d transactions", len(recs), txn)
	return nil
}

// drained reports whether the job has consumed and committed all its input:
// a completed checkpoint covers every input partition's end, and every sink
// subtask has committed through it.
func (c *Cluster) drained() bool {
	if c.w.Now() < c.faultsUntil || c.jm == nil || c.jm.coord == nil {
		return false
	}
	if c.opts.RescaleAt > 0 && !c.rescaled {
		return false // the run is not over before the rescale it is for
	}
	md, err := c.jm.coord.LatestCompleted()
	if err != nil {
		return false
	}
	// The job must show it recovered from the faults: a checkpoint
	// completes after the last one healed (the progress checker bounds
	// how long that may take).
	if md.Metrics.CompletedAt < int64(c.faultsUntil) {
		return false
	}
	for tp, end := range c.inputEnd { // lint:sorted only a conjunction is computed
		if md.Offsets[tp] < end {
			return false
		}
	}
	// An unaligned checkpoint can cover the input while records are still
	// in flight (its channel state): they reach the sinks after it.
	if c.hist.inFlightAt[md.Checkpoint] {
		return false
	}
	sinks := 0
	for _, wp := range c.workerProgs {
		if wp == nil || wp.attempt != c.jm.coord.Attempt() {
			continue
		}
		for _, t := range wp.tasks {
			if t != nil && c.job.Vertices[t.ID().Vertex].Kind == engine.SinkVertex {
				if t.CommittedThrough() < md.Checkpoint {
					return false
				}
				sinks++
			}
		}
	}
	return sinks == c.sinkCount()
}

func (c *Cluster) sinkCount() int {
	n := 0
	for _, v := range c.job.Vertices {
		if v.Kind == engine.SinkVertex {
			n += v.Parallelism
		}
	}
	return n
}

// Result is what a run did: its counters, its trace and its history. It
// holds no verdict; scenarios.Judge gives them.
type Result struct {
	Seed        uint64            `json:"seed"`
	Digest      string            `json:"digest"`
	Events      int               `json:"events"`
	SimTime     time.Duration     `json:"sim_time"`
	Restarts    int               `json:"restarts"`
	Kills       int               `json:"kills"`
	Checkpoints []engine.Metadata `json:"checkpoints"`
	LostTxns    int               `json:"lost_transactions"`
	// InFlightCheckpoints counts completed checkpoints that saved channel
	// state (unaligned checkpoints that overtook queued records).
	InFlightCheckpoints int `json:"in_flight_checkpoints"`
	// Drained says the job consumed and committed all its input before
	// RunLimit (of Options) ran out.
	Drained  bool          `json:"drained"`
	RunLimit time.Duration `json:"run_limit"`
	// Err is set when the simulation itself failed.
	Err   error    `json:"-"`
	Trace []string `json:"-"`
	// TraceEvents are the trace's typed events (Trace is their text); both
	// are empty unless the run kept its trace (sim.Config.KeepTrace).
	TraceEvents []sim.Event `json:"-"`
	// History is what the judge reads besides the output.
	History *History `json:"-"`
}

// Run runs until the job drains (or the run limit). The cluster stays open:
// the judge reads the output next, then the caller closes it.
func (c *Cluster) Run() *Result {
	err := c.w.Run(sim.Time(c.opts.RunLimit), c.drained)
	res := &Result{Seed: c.opts.Sim.Seed, Events: c.w.Events(), SimTime: c.w.Now().Duration(), RunLimit: c.opts.RunLimit, Err: err}
	for _, p := range c.workers {
		res.Kills += p.Crashes()
	}
	if c.jm != nil && c.jm.coord != nil {
		res.Restarts = c.jm.coord.Restarts()
		res.Checkpoints = c.jm.coord.Completed()
	}
	for _, wp := range c.workerProgs {
		if wp != nil {
			for _, t := range wp.tasks {
				if t != nil {
					res.LostTxns += t.LostTransactions()
				}
			}
		}
	}
	res.Drained = c.drained()
	res.InFlightCheckpoints = len(c.hist.inFlightAt)
	c.w.Record(sim.Event{Kind: sim.EventEnd, Detail: fmt.Sprintf("drained=%v restarts=%d", res.Drained, res.Restarts)})
	res.Digest = c.w.Trace().Digest()
	res.Trace = c.w.Trace().Lines()
	res.TraceEvents = c.w.Trace().Events()
	res.History = c.recorded()
	return res
}
