package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/onceproof/onceproof/engine/live/livetest"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RunOptions configure one live run of a job.
type RunOptions struct {
	Job         string `json:"job"`
	Parallelism int    `json:"parallelism"`
	Partitions  int32  `json:"partitions"`
	// Records is the input size. With Duration, it is only a cap.
	Records int `json:"records"`
	Keys    int `json:"keys"`
	// Guarantee is "exactly-once" or "at-least-once".
	Guarantee string `json:"guarantee"`
	// Checkpoints is "aligned", "unaligned" or "off" (off: only the final
	// checkpoint at the end of input; at-least-once only).
	Checkpoints string `json:"checkpoints"`
	// Backend is the keyed state backend: "heap" or "pebble".
	Backend  string        `json:"backend"`
	Interval time.Duration `json:"interval_ns"`
	// Rate is the input rate in records a second (0: as fast as the
	// producer can). With a rate or a Duration the input is written while
	// the job runs and latency is measured; otherwise it is written before
	// the job starts and only throughput is measured.
	Rate     float64       `json:"rate,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	// KillAt, if positive, kills every task this long after the start.
	KillAt time.Duration `json:"kill_at_ns,omitempty"`
	// KillPhase, if set, aims the kill at the checkpoint protocol: every
	// task is killed at the first event of this phase (a name of
	// faults.Phases) raised at or after KillAt, instead of at KillAt.
	// A task's event is killed at before the task takes another step; the
	// coordinator's (triggered, metadata-written) races with what the
	// coordinator sends next, as a real crash would.
	KillPhase string `json:"kill_phase,omitempty"`
	Seed      uint64 `json:"seed"`
	// Brokers are external seed brokers (empty: in-process kfake); Kafka
	// are extra kgo options for them (TLS, SASL).
	Brokers []string  `json:"brokers,omitempty"`
	Kafka   []kgo.Opt `json:"-"`
	// TCP runs the in-process broker on a TCP port of 127.0.0.1 instead
	// of a VirtualNetwork.
	TCP bool `json:"tcp,omitempty"`
	// Verify judges the committed output with the exactly-once checker.
	Verify bool `json:"verify"`
	// CheckpointDir is where checkpoints go (empty: a temporary directory,
	// removed afterwards).
	CheckpointDir string `json:"checkpoint_dir,omitempty"`
	// Task overrides the live defaults for tasks.
	Task *engine.TaskConfig `json:"task,omitempty"`
	// TxnTimeout is the sinks' transaction timeout (0: the live default,
	// 10 minutes). It must not exceed the brokers'
	// transaction.max.timeout.ms, and bounds how long a killed run's open
	// transactions hold back read_committed readers if nobody resumes it.
	TxnTimeout time.Duration `json:"txn_timeout_ns,omitempty"`

	// JobID names the job (empty: one made up from the clock). On a
	// shared cluster its topics are onceproof-bench-<id>-<topic>, and
	// every transactional id starts with onceproof-bench-<id>- on any
	// broker; with external brokers and no CheckpointDir, checkpoints go
	// to DefaultCheckpointDir(JobID), kept until the job finishes.
	JobID string `json:"job_id,omitempty"`
	// InputTopics (one per input of the job, in its order) and
	// OutputTopic name existing topics to use instead of the job's own;
	// CreateTopics creates them (and then they are the job's: deleted
	// when it finishes, unless KeepTopics).
	InputTopics  []string `json:"input_topics,omitempty"`
	OutputTopic  string   `json:"output_topic,omitempty"`
	CreateTopics bool     `json:"create_topics,omitempty"`
	// Topics says how the topics the run creates are created.
	Topics TopicSpec `json:"topic_spec"`
	// KeepTopics keeps the topics the job created when it finishes
	// (otherwise deleted on external brokers, unless the verdict is not
	// ok: they are its evidence).
	KeepTopics bool `json:"keep_topics,omitempty"`
	// Resume continues the run whose checkpoint directory is
	// CheckpointDir: the same job id, topics and transactional ids, from
	// its latest completed checkpoint, writing only the input its topics
	// lack. Its manifest must agree with these options.
	Resume bool `json:"resume,omitempty"`

	// Command is the command line, kept in the manifest.
	Command string `json:"-"`
	// Log gets progress lines (nil: none): what the run does, and every
	// ProgressEvery (0: ProgressEvery) how far it is.
	Log           io.Writer     `json:"-"`
	ProgressEvery time.Duration `json:"-"`
}

// DefaultRunOptions returns the options bench run starts from.
func DefaultRunOptions(job string) RunOptions {
	return RunOptions{Job: job, Parallelism: 2, Partitions: 4, Records: 200_000, Keys: 10_000,
		Guarantee: "exactly-once", Checkpoints: "aligned", Backend: "heap", Interval: time.Second, Seed: 1, Verify: true}
}

// validateSize reports the first of a run's sizes, as bench run and bench
// compare take them, that is below 1, naming its flag.
func validateSize(parallelism int, partitions int32, records, keys int) error {
	switch {
	case parallelism < 1:
		return fmt.Errorf("--parallelism: must be at least 1, got %d", parallelism)
	case partitions < 1:
		return fmt.Errorf("--partitions: must be at least 1, got %d", partitions)
	case records < 1:
		return fmt.Errorf("--records: must be at least 1, got %d", records)
	case keys < 1:
		return fmt.Errorf("--keys: must be at least 1, got %d", keys)
	}
	return nil
}

// Validate reports the first invalid option, naming the flag.
func (o RunOptions) Validate() error {
	if _, err := jobs.Lookup(o.Job); err != nil {
		return err
	}
	if err := validateSize(o.Parallelism, o.Partitions, o.Records, o.Keys); err != nil {
		return err
	}
	switch {
	case o.Guarantee != "exactly-once" && o.Guarantee != "at-least-once":
		return fmt.Errorf("--guarantee: %q is not exactly-once or at-least-once", o.Guarantee)
	case o.Checkpoints != "aligned" && o.Checkpoints != "unaligned" && o.Checkpoints != "off":
		return fmt.Errorf("--checkpoints: %q is not aligned, unaligned or off", o.Checkpoints)
	case o.Backend != "heap" && o.Backend != "pebble":
		return fmt.Errorf("--backend: %q is not heap or pebble", o.Backend)
	case o.Checkpoints == "off" && o.Guarantee == "exactly-once":
		return errors.New("--checkpoints off: an exactly-once sink commits only at checkpoints; use --guarantee at-least-once")
	case o.Interval <= 0:
		return fmt.Errorf("--interval: must be positive, got %v", o.Interval)
	case o.Rate < 0:
		return fmt.Errorf("--rate: must not be negative, got %v", o.Rate)
	case o.Duration < 0:
		return fmt.Errorf("--duration: must not be negative, got %v", o.Duration)
	case o.KillAt < 0:
		return fmt.Errorf("--kill-at: must not be negative, got %v", o.KillAt)
	case o.KillPhase != "" && !protocol.Phase(o.KillPhase).Valid():
		var names []string
		for _, p := range protocol.Phases() {
			names = append(names, string(p))
		}
		return fmt.Errorf("--kill-phase: unknown phase %q (want one of %s)", o.KillPhase, strings.Join(names, ", "))
	case o.KillPhase != "" && o.KillAt == 0:
		return errors.New("--kill-phase: needs --kill-at, the time from which the phase is waited for")
	}
	for _, b := range o.Brokers {
		if err := checkBroker(b); err != nil {
			return fmt.Errorf("--brokers: %w", err)
		}
	}
	return o.validateJob()
}

// validateJob checks the options of the job's identity, topics and resume.
func (o RunOptions) validateJob() error {
	if o.JobID != "" {
		if err := checkJobID(o.JobID); err != nil {
			return err
		}
	}
	spec, _ := jobs.Lookup(o.Job)
	if n := len(spec.Inputs(o.params())); len(o.InputTopics) > 0 && len(o.InputTopics) != n {
		var names []string
		for _, t := range spec.Inputs(o.params()) {
			names = append(names, t.Name)
		}
		return fmt.Errorf("--input-topic: job %s reads %d topics (%s): give %d names, in that order, got %d", o.Job, n, strings.Join(names, ", "), n, len(o.InputTopics))
	}
	for _, t := range append(slices.Clone(o.InputTopics), o.OutputTopic) {
		if t != "" && (!validTopic.MatchString(t) || t == "." || t == "..") {
			flag := "--input-topic"
			if t == o.OutputTopic {
				flag = "--output-topic"
			}
			return fmt.Errorf("%s: %q is not a Kafka topic name (letters, digits, '.', '_' and '-', at most 249)", flag, t)
		}
	}
	if len(o.InputTopics) > 0 && slices.Contains(o.InputTopics, o.OutputTopic) {
		return fmt.Errorf("--output-topic: %s is also an --input-topic; the job's output needs a topic of its own", o.OutputTopic)
	}
	switch ts := o.Topics; {
	case ts.ReplicationFactor < 0:
		return fmt.Errorf("--replication-factor: must be at least 1, got %d (leave it out for the broker's default)", ts.ReplicationFactor)
	case ts.MinInsyncReplicas < 0:
		return fmt.Errorf("--min-insync-replicas: must be at least 1, got %d (leave it out for the broker's default)", ts.MinInsyncReplicas)
	case ts.ReplicationFactor > 0 && ts.MinInsyncReplicas > int(ts.ReplicationFactor):
		return fmt.Errorf("--min-insync-replicas %d: more than --replication-factor %d, so no write with acks=all could succeed", ts.MinInsyncReplicas, ts.ReplicationFactor)
	case (ts.ReplicationFactor > 0 || ts.MinInsyncReplicas > 0) && len(o.InputTopics) > 0 && o.OutputTopic != "" && !o.CreateTopics:
		return errors.New("--replication-factor and --min-insync-replicas: apply to topics the run creates; with --input-topic and --output-topic it creates none (add --create-topics)")
	case o.CreateTopics && len(o.InputTopics) == 0 && o.OutputTopic == "":
		return errors.New("--create-topics: applies to --input-topic and --output-topic; the job's own topics are created anyway")
	case o.TxnTimeout < 0:
		return fmt.Errorf("--txn-timeout: must be positive, got %v", o.TxnTimeout)
	case o.TxnTimeout > 0 && o.TxnTimeout < time.Second:
		return fmt.Errorf("--txn-timeout: %v is under a second: a transaction stays open for at least a checkpoint interval", o.TxnTimeout)
	case o.Resume && o.CheckpointDir == "":
		return errors.New("--from-checkpoint: no checkpoint directory to resume from")
	case o.Resume && len(o.Brokers) == 0:
		return errors.New("--from-checkpoint: needs --brokers: the killed run's in-process broker, and its topics, died with it (run the broker apart with bench broker --data-dir)")
	}
	return nil
}

// checkBroker checks one seed broker address: host:port, the port a number
// a TCP port can be. Whether it answers is NewCluster's to find out.
func checkBroker(addr string) error {
	if strings.TrimSpace(addr) == "" {
		return errors.New("an empty address (want host:port,... such as 127.0.0.1:9092)")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (such as 127.0.0.1:9092)", addr)
	}
	if host == "" {
		return fmt.Errorf("%q has no host (want host:port such as 127.0.0.1:9092)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", addr, port)
	}
	return nil
}

func (o RunOptions) params() jobs.Params {
	g := engine.ExactlyOnce
	if o.Guarantee == "at-least-once" {
		g = engine.AtLeastOnce
	}
	return jobs.Params{Parallelism: o.Parallelism, Partitions: o.Partitions, Records: o.Records, Keys: o.Keys, Guarantee: g}
}

// RunResult is what one run measured.
type RunResult struct {
	Options RunOptions `json:"options"`
	// Records is the input records processed; Outputs the output records
	// the oracle expects for them.
	Records int `json:"records"`
	Outputs int `json:"outputs"`
	// Processed is the input records this run read: all of them, but on
	// a resume those its checkpoint had covered. Throughput counts them.
	Processed int `json:"processed"`
	// JobID names the job; CheckpointDir is where its checkpoints are
	// kept (empty: they were temporary). Resumed says this run resumed
	// a killed one, ResumedFrom from which checkpoint (0: none had
	// completed); InputReused counts the input records that were in
	// the topics already. TopicsDeleted says the job's topics were
	// deleted at its end.
	JobID         string `json:"job_id"`
	CheckpointDir string `json:"checkpoint_dir,omitempty"`
	Resumed       bool   `json:"resumed,omitempty"`
	ResumedFrom   int64  `json:"resumed_from,omitempty"`
	InputReused   int    `json:"input_reused,omitempty"`
	TopicsDeleted bool   `json:"topics_deleted,omitempty"`
	// Elapsed runs from the job's start until all input was committed.
	Elapsed              time.Duration `json:"elapsed_ns"`
	RecordsPerSec        float64       `json:"records_per_sec"`
	RecordsPerSecPerCore float64       `json:"records_per_sec_per_core"`
	// RecordsPerCPUSec divides by the CPU time the whole process used
	// (engine, in-process broker, producer and watcher together).
	RecordsPerCPUSec float64 `json:"records_per_cpu_sec"`
	// InputRate is the rate the input was actually written at.
	InputRate   float64               `json:"input_rate,omitempty"`
	Latency     *LatencyStats         `json:"latency,omitempty"`
	Checkpoints []live.CheckpointStat `json:"checkpoints"`
	Restarts    int                   `json:"restarts"`
	// RestartLog is every restart, whatever caused it, with the recovery
	// after it; Recovering sums their times to running again.
	RestartLog []live.RestartStat `json:"restart_log"`
	Recovering time.Duration      `json:"recovering_ns"`
	// FailedCheckpoints did not complete; Discarded are the checkpoints
	// whose files were deleted because they never completed (an earlier
	// run's found at the start, and this run's failed ones).
	FailedCheckpoints []live.FailedCheckpoint `json:"failed_checkpoints"`
	Discarded         []int64                 `json:"discarded_checkpoints,omitempty"`
	// StartToRunning is from the job's start to every task running: on a
	// resume, the time to restore from the checkpoint.
	StartToRunning time.Duration   `json:"start_to_running_ns"`
	Kills          []live.KillStat `json:"kills,omitempty"`
	// Recovery is the first kill's recovery time (to the first checkpoint
	// completed after it).
	Recovery     time.Duration `json:"recovery_ns,omitempty"`
	PeakRSSBytes int64         `json:"peak_rss_bytes"`
	// PeakRSSFromStart says the peak was reset when the job started (a
	// preloaded run, on Linux): it excludes the input generator.
	PeakRSSFromStart bool              `json:"peak_rss_from_start,omitempty"`
	Verdicts         []checkers.Result `json:"verdicts,omitempty"`
}

// retarget points job's sources and sinks at renamed topics and gives its
// transactional ids a prefix of their own.
func retarget(job *engine.Job, rename func(string) string, txnPrefix string) {
	for _, v := range job.Vertices {
		if v.Source != nil {
			v.Source.Topic = rename(v.Source.Topic)
		}
		if v.Sink != nil {
			v.Sink.Topic = rename(v.Sink.Topic)
			v.Sink.TxnPrefix = txnPrefix + v.Sink.TxnPrefix
		}
	}
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// Run runs the job live once and measures it. With o.Resume it resumes the
// run whose checkpoint directory is o.CheckpointDir instead: same job id,
// topics and transactional ids, from its latest completed checkpoint.
func Run(ctx context.Context, o RunOptions) (*RunResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c, err := NewCluster(ctx, o.Brokers, o.TCP, o.Kafka...)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return runOn(ctx, c, o)
}

func runOn(ctx context.Context, c *Cluster, o RunOptions) (res *RunResult, err error) {
	spec, _ := jobs.Lookup(o.Job)
	p := o.params()
	job, err := spec.Build(p)
	if err != nil {
		return nil, err
	}
	in := NewInput(spec, p, o.Seed)
	j, err := prepareJob(ctx, c, o, spec, p, in)
	if j != nil {
		// However the run ends before it has finished, what it leaves
		// behind is either resumable or cleaned up.
		defer func() { j.abandon(c, o.Log, err) }()
	}
	if err != nil {
		return nil, err
	}
	name := j.name
	retarget(job, name, TxnPrefixFor(j.jobID))
	var inTopics []string
	for _, t := range spec.Inputs(p) {
		inTopics = append(inTopics, t.Name)
	}
	out := spec.Output(p)

	prog := startProgress(o.Log, cmp.Or(o.ProgressEvery, ProgressEvery))
	defer prog.stop()
	total := int64(len(in.Records))
	streaming := o.Rate > 0 || o.Duration > 0
	peakFromStart := false
	if !streaming && len(in.todo) > 0 {
		logf(o.Log, "writing %d input records", len(in.todo))
		m := newMeter(total, int64(j.present))
		prog.set(func() string { return "writing input " + m.render(int64(j.present+in.Written())) })
		if _, err := in.Write(ctx, c.Opts, name, 0, time.Time{}); err != nil {
			return nil, err
		}
		if in.Written() != len(in.todo) {
			return nil, fmt.Errorf("input producer: %d of %d records acknowledged", in.Written(), len(in.todo))
		}
		prog.set(nil)
	}
	if !streaming {
		// The generated records are not needed again (the checks read
		// the input back from the broker): free them, and restart the
		// peak RSS here, so that it measures the job (and an in-process
		// broker), not the generator.
		in.Records, in.ackedNs, in.todo = nil, nil, nil
		peakFromStart = resetPeakRSS()
	}

	cfg := live.DefaultConfig(job, j.dir)
	cfg.Kafka = c.Opts
	cfg.Checkpoint.Interval = o.Interval
	cfg.CheckpointsOff = o.Checkpoints == "off"
	cfg.Backend = o.Backend
	if o.Task != nil {
		cfg.Task = *o.Task
	}
	if o.TxnTimeout > 0 {
		cfg.Task.TxnTimeout = o.TxnTimeout
	}
	cfg.Task.Unaligned = o.Checkpoints == "unaligned"
	if o.Resume {
		done, err := live.CompletedCheckpoints(j.dir, job.Name)
		if err != nil {
			return nil, err
		}
		if len(done) > 0 {
			cfg.FromCheckpoint = "latest"
		}
		// Without a completed checkpoint nothing of the killed run was
		// committed: the job starts from the beginning of its input,
		// and the counter it finds in the directory makes it fence every
		// transactional id the killed run may have opened.
	}
	var r *live.Runner
	var killArmedAt atomic.Int64 // Unix ns from which KillPhase kills; 0 before the start
	var killed atomic.Bool
	var firstRunning atomic.Int64 // Unix ns at which every task first ran
	var lost lostTxns
	cfg.KeepDrainingOnLoss = true // the judge tells the broker's loss from the engine's
	cfg.OnEvent = func(ev live.Event) {
		if ev.Phase == "running" {
			firstRunning.CompareAndSwap(0, ev.At.UnixNano())
		}
		lost.note(ev)
		if o.KillPhase == "" {
			return
		}
		at := killArmedAt.Load()
		if at == 0 || ev.At.UnixNano() < at || string(ev.Phase) != o.KillPhase || !killed.CompareAndSwap(false, true) {
			return
		}
		kill := func() {
			if r.Kill() {
				logf(o.Log, "killed every task at %s of checkpoint %d (%s%s), %v after the start",
					ev.Phase, ev.Checkpoint, orCoordinator(ev.Task), detail(ev.Detail), time.Duration(ev.At.UnixNano()-at)+o.KillAt)
			}
		}
		if ev.Task == "" {
			// Raised on the coordinator's goroutine, which Kill
			// needs: kill from another.
			go kill()
			return
		}
		kill() // on the task's goroutine: it takes no step before the kill
	}
	r, err = live.New(cfg)
	if err != nil {
		return nil, err
	}
	// interrupted stops the job cleanly (a final checkpoint, commits, open
	// transactions aborted) when ctx ends, as Ctrl-C should.
	interrupted := func(err error) error {
		if ctx.Err() == nil {
			return err
		}
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if serr := r.Stop(sctx); serr != nil {
			return fmt.Errorf("interrupted; clean stop failed: %w", serr)
		}
		cps := r.Checkpoints()
		if len(cps) == 0 {
			return errors.New("interrupted; stopped cleanly before any checkpoint")
		}
		return fmt.Errorf("interrupted; stopped cleanly after checkpoint %d", cps[len(cps)-1].Checkpoint)
	}

	var w *watcher
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	if streaming {
		if w, err = startWatcher(wctx, c.Opts, name(out.Name), spec); err != nil {
			return nil, err
		}
	}

	runtime.GC()
	cpu0, t0 := cpuTime(), time.Now()
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	defer r.Close()
	// A resumed job restarts from its checkpoint's offsets: what it
	// covered is not this run's work.
	restoredRecords := int64(0)
	resumedFrom := int64(0)
	if st, err := r.Status(ctx); err == nil && st.Latest != nil && o.Resume {
		resumedFrom = st.Latest.Checkpoint
		for _, t := range inTopics {
			for k, v := range st.Latest.Offsets { // lint:sorted sums
				if strings.HasPrefix(k, name(t)+"/") {
					restoredRecords += v
				}
			}
		}
	}
	if o.Resume {
		if resumedFrom > 0 {
			logf(o.Log, "resuming job %s from checkpoint %d (%d input records already processed)", j.jobID, resumedFrom, restoredRecords)
		} else {
			logf(o.Log, "resuming job %s: no checkpoint had completed, so from the start of its input", j.jobID)
		}
	}
	if o.KillPhase != "" {
		killArmedAt.Store(t0.Add(o.KillAt).UnixNano())
	}
	if o.KillAt > 0 && o.KillPhase == "" {
		kill := time.AfterFunc(o.KillAt, func() {
			if r.Kill() {
				logf(o.Log, "killed every task at %v", o.KillAt)
			}
		})
		defer kill.Stop()
	}
	consumed := func() int64 {
		var n int64
		for k, v := range r.Consumed() { // lint:sorted sums
			for _, t := range inTopics {
				if strings.HasPrefix(k, name(t)+"/") {
					n += v
				}
			}
		}
		return n
	}
	jobLineOf := func(m *meter) func() string {
		return func() string {
			return fmt.Sprintf("job read %s; %d checkpoints, %d restarts", m.render(consumed()), len(r.Checkpoints()), len(r.Restarts()))
		}
	}
	jobMeter := newMeter(total, restoredRecords)
	jobLine := jobLineOf(jobMeter)
	var writeEnd time.Time
	if streaming {
		stop := time.Time{}
		if o.Duration > 0 {
			stop = t0.Add(o.Duration)
		}
		inMeter := newMeter(total, int64(j.present))
		prog.set(func() string {
			written := "input " + inMeter.render(int64(j.present+in.Written()))
			if !stop.IsZero() {
				written = fmt.Sprintf("input %d written, %v of --duration left", j.present+in.Written(), max(time.Until(stop), 0).Round(time.Second))
			}
			return written + "; " + jobLine()
		})
		if len(in.todo) > 0 {
			logf(o.Log, "writing %d input records at %s while the job runs", len(in.todo), rateString(o.Rate))
			if _, err = in.Write(ctx, c.Opts, name, o.Rate, stop); err != nil {
				return nil, interrupted(err)
			}
		}
		writeEnd = time.Now()
	}
	ends := map[string]int64{}
	for _, t := range spec.Inputs(p) {
		e, err := c.Ends(ctx, name(t.Name), t.Partitions)
		if err != nil {
			return nil, interrupted(err)
		}
		for k, v := range e {
			ends[k] = v
		}
	}
	var endTotal int64
	for _, v := range ends { // lint:sorted sums
		endTotal += v
	}
	// The input's end is known now (a --duration may have cut it short):
	// a meter against it, from the same start.
	prog.set(jobLineOf(&meter{total: endTotal, t0: jobMeter.t0, n0: jobMeter.n0}))
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Minute)
	defer dcancel()
	if _, err := r.Drain(dctx, ends); err != nil {
		return nil, interrupted(err)
	}
	end := time.Now()
	cpu := cpuTime() - cpu0
	st, _ := r.Status(ctx)
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	if err := r.Stop(sctx); err != nil {
		return nil, err
	}
	prog.set(func() string { return "checking the output" })
	// The job's peak, taken before the judging: drawing the input again
	// for the checks, and reading everything back, would dominate it.
	peakRSS := PeakRSSBytes()

	generated := in.Records
	if generated == nil { // freed after a preloaded write: draw it again; all of it was written
		generated = NewInput(spec, p, o.Seed).Records
	} else {
		generated = in.inTopic(j.had)
	}
	res = &RunResult{Options: o, JobID: j.jobID, Resumed: o.Resume, ResumedFrom: resumedFrom, CheckpointDir: j.dirKept(),
		Records: len(generated), InputReused: j.present, Elapsed: end.Sub(t0), Checkpoints: r.Checkpoints(),
		Restarts: st.Restarts, RestartLog: r.Restarts(), FailedCheckpoints: r.FailedCheckpoints(), Discarded: r.Discarded(), Kills: r.Kills()}
	if at := firstRunning.Load(); at > 0 {
		res.StartToRunning = time.Unix(0, at).Sub(t0)
	}
	for _, rs := range res.RestartLog {
		res.Recovering += rs.Running
	}
	res.Processed = len(generated) - int(restoredRecords)
	processed := float64(res.Processed)
	res.RecordsPerSec = processed / res.Elapsed.Seconds()
	res.RecordsPerSecPerCore = res.RecordsPerSec / float64(runtime.GOMAXPROCS(0))
	if cpu > 0 {
		res.RecordsPerCPUSec = processed / cpu.Seconds()
	}
	if streaming && !writeEnd.IsZero() && in.Written() > 0 {
		res.InputRate = float64(in.Written()) / writeEnd.Sub(t0).Seconds()
	}
	if len(res.Kills) > 0 {
		res.Recovery = res.Kills[0].Checkpoint
	}

	res.PeakRSSBytes, res.PeakRSSFromStart = peakRSS, peakFromStart
	// The run is measured; what follows judges it. A judge that cannot
	// read the input or the output back leaves an exactly-once verdict of
	// Unknown, never no verdict: the figures stand, and the run did not
	// pass.
	noVerdict := func(what string, err error) *RunResult {
		res.Verdicts = []checkers.Result{{Checker: livetest.ExactlyOnceChecker, Verdict: checkers.Unknown,
			Explanation: fmt.Sprintf("no verdict: %s: %v", what, err)}}
		return res
	}
	readBack, err := livetest.ReadInput(ctx, c.Opts, name, generated, inTopics...)
	if err != nil {
		if !o.Verify {
			return nil, err
		}
		return noVerdict("the committed input could not be read back", err), nil
	}
	committed := readBack.Committed
	res.Outputs = len(spec.Oracle(committed))
	if w != nil {
		saw := w.stop(wcancel, res.Outputs, 10*time.Second)
		res.Latency = latencies(in, spec, saw)
	}
	if o.Verify {
		// The output topic holds every run's output, so this checks
		// the killed runs and this one together.
		res.Verdicts = append(lost.judge(livetest.Judge(ctx, c.Opts, spec, name(out.Name), committed)), readBack.Check)
	}
	res.TopicsDeleted = j.finish(ctx, c, o, res)
	res.CheckpointDir = j.dirKept() // gone once the job finished and its topics were deleted
	return res, nil
}

func orCoordinator(task string) string {
	if task == "" {
		return "coordinator"
	}
	return task
}

func detail(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}

func rateString(rate float64) string {
	if rate <= 0 {
		return "full speed"
	}
	return fmt.Sprintf("%.0f records/s", rate)
}

// Print writes a human summary of r.
func (r *RunResult) Print(w io.Writer) {
	o := r.Options
	fmt.Fprintf(w, "job %s  parallelism %d  partitions %d  %s  %s state  checkpoints %s every %v\n",
		o.Job, o.Parallelism, o.Partitions, o.Guarantee, o.Backend, o.Checkpoints, o.Interval)
	where := "checkpoints not kept"
	if r.CheckpointDir != "" {
		where = "checkpoints in " + r.CheckpointDir
	}
	fmt.Fprintf(w, "job id       %s  (%s)\n", r.JobID, where)
	if r.Resumed {
		from := "no checkpoint had completed: from the start of the input"
		if r.ResumedFrom > 0 {
			from = fmt.Sprintf("from checkpoint %d", r.ResumedFrom)
		}
		fmt.Fprintf(w, "resumed      %s; running %v after the start; %d of %d input records were in the topics already\n",
			from, ms(r.StartToRunning), r.InputReused, r.Records)
	} else if r.InputReused > 0 {
		fmt.Fprintf(w, "input        %d of %d records were in the input topics already (reused, not written again)\n", r.InputReused, r.Records)
	}
	if r.Processed != r.Records && r.Processed > 0 {
		fmt.Fprintf(w, "throughput   %.0f records/s  (%.0f per core, %.0f per CPU-second; %d records in %v, of the input's %d)\n",
			r.RecordsPerSec, r.RecordsPerSecPerCore, r.RecordsPerCPUSec, r.Processed, r.Elapsed.Round(time.Millisecond), r.Records)
	} else {
		fmt.Fprintf(w, "throughput   %.0f records/s  (%.0f per core, %.0f per CPU-second; %d records in %v)\n",
			r.RecordsPerSec, r.RecordsPerSecPerCore, r.RecordsPerCPUSec, r.Records, r.Elapsed.Round(time.Millisecond))
	}
	if r.InputRate > 0 {
		fmt.Fprintf(w, "input rate   %.0f records/s\n", r.InputRate)
	}
	if l := r.Latency; l != nil && l.Count > 0 {
		fmt.Fprintf(w, "latency      p50 %v  p99 %v  p99.9 %v  max %v  (%d outputs)\n",
			ms(l.P50), ms(l.P99), ms(l.P999), ms(l.Max), l.Count)
	}
	if len(r.Checkpoints) > 0 {
		var durs, aligns []time.Duration
		var size int64
		for _, c := range r.Checkpoints {
			durs = append(durs, c.Duration)
			aligns = append(aligns, c.Alignment)
			size = max(size, c.Size)
		}
		fmt.Fprintf(w, "checkpoints  %d  duration p50 %v max %v  alignment max %v  size max %s\n",
			len(r.Checkpoints), ms(median(durs)), ms(slices.Max(durs)), ms(slices.Max(aligns)), bytesString(size))
	}
	if o.KillAt > 0 && len(r.Kills) == 0 {
		what := fmt.Sprintf("the job ended before %v", o.KillAt)
		if o.KillPhase != "" {
			what = fmt.Sprintf("no %s event came after %v", o.KillPhase, o.KillAt)
		}
		fmt.Fprintf(w, "kill         none: %s; nothing was killed, so recovery was not tested\n", what)
	}
	for _, k := range r.Kills {
		fmt.Fprintf(w, "recovery     %v to running, %v to the first record at a sink, %v to the first checkpoint (restarts %d)\n",
			ms(k.Running), ms(k.FirstRecord), ms(k.Checkpoint), r.Restarts)
	}
	r.printRestarts(w)
	where = "process, in-process broker included"
	if len(r.Options.Brokers) > 0 {
		where = "process; the broker runs elsewhere"
	}
	if r.PeakRSSFromStart {
		where += "; since the job's start, input generator freed"
	}
	fmt.Fprintf(w, "peak RSS     %s (%s)\n", bytesString(r.PeakRSSBytes), where)
	if len(r.Verdicts) == 0 {
		fmt.Fprintf(w, "verdict      %-18s %-5s %s\n", livetest.ExactlyOnceChecker, "none", "the output was not checked (verify off)")
	}
	for _, v := range r.Verdicts {
		fmt.Fprintf(w, "verdict      %-18s %-5s %s\n", v.Checker, v.Verdict, v.Explanation)
	}
}

// printRestarts says how often the job restarted, why, and what it cost,
// and which checkpoints failed: always, since a restart nobody asked for
// (a broker that went away, a checkpoint that timed out) is what a reader
// of a live run most needs to see.
func (r *RunResult) printRestarts(w io.Writer) {
	const most = 5
	fmt.Fprintf(w, "restarts     %d  (recovering took %v in all; %d failed checkpoints)\n",
		len(r.RestartLog), ms(r.Recovering), len(r.FailedCheckpoints))
	for i, rs := range r.RestartLog {
		if i == most {
			fmt.Fprintf(w, "             ... and %d more (all in the result JSON)\n", len(r.RestartLog)-most)
			break
		}
		running := "not running again"
		if rs.Running > 0 {
			running = "running after " + ms(rs.Running)
		}
		cp := ", no checkpoint since"
		if rs.Checkpoint > 0 {
			cp = ", a checkpoint after " + ms(rs.Checkpoint)
		}
		fmt.Fprintf(w, "  restart %d  %s%s: %s\n", i+1, running, cp, rs.Reason)
	}
	for i, f := range r.FailedCheckpoints {
		if i == most {
			fmt.Fprintf(w, "             ... and %d more (all in the result JSON)\n", len(r.FailedCheckpoints)-most)
			break
		}
		fmt.Fprintf(w, "  failed checkpoint %d: %s\n", f.Checkpoint, f.Reason)
	}
	if len(r.Discarded) > 0 {
		fmt.Fprintf(w, "discarded    the files of %d checkpoints that never completed\n", len(r.Discarded))
	}
}

func ms(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
