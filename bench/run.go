package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onceproof/onceproof/faults"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/onceproof/onceproof/engine/live/livetest"
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
	// Log gets progress lines (nil: none).
	Log io.Writer `json:"-"`
}

// DefaultRunOptions returns the options bench run starts from.
func DefaultRunOptions(job string) RunOptions {
	return RunOptions{Job: job, Parallelism: 2, Partitions: 4, Records: 200_000, Keys: 10_000,
		Guarantee: "exactly-once", Checkpoints: "aligned", Backend: "heap", Interval: time.Second, Seed: 1, Verify: true}
}

// Validate reports the first invalid option, naming the flag.
func (o RunOptions) Validate() error {
	if _, err := jobs.Lookup(o.Job); err != nil {
		return err
	}
	switch {
	case o.Parallelism < 1:
		return fmt.Errorf("--parallelism: must be at least 1, got %d", o.Parallelism)
	case o.Partitions < 1:
		return fmt.Errorf("--partitions: must be at least 1, got %d", o.Partitions)
	case o.Records < 1:
		return fmt.Errorf("--records: must be at least 1, got %d", o.Records)
	case o.Keys < 1:
		return fmt.Errorf("--keys: must be at least 1, got %d", o.Keys)
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
	case o.KillPhase != "" && !faults.PhaseName(o.KillPhase).Valid():
		var names []string
		for _, p := range faults.Phases() {
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
	Kills       []live.KillStat       `json:"kills,omitempty"`
	// Recovery is the first kill's recovery time (to the first checkpoint
	// completed after it).
	Recovery     time.Duration `json:"recovery_ns,omitempty"`
	PeakRSSBytes int64         `json:"peak_rss_bytes"`
	// PeakRSSFromStart says the peak was reset when the job started (a
	// preloaded run, on Linux): it excludes the input generator.
	PeakRSSFromStart bool              `json:"peak_rss_from_start,omitempty"`
	Verdicts         []checkers.Result `json:"verdicts,omitempty"`
}

// names are a run's topic names: the job's own on the in-process broker,
// prefixed with the run id on a shared cluster.
func topicNamer(c *Cluster, runID string) func(string) string {
	if c.Broker != nil {
		return func(t string) string { return t }
	}
	return func(t string) string { return "onceproof-bench-" + runID + "-" + t }
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

// Run runs the job live once and measures it.
func Run(ctx context.Context, o RunOptions) (*RunResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c, err := NewCluster(ctx, o.Brokers, o.TCP, o.Kafka...)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return runOn(ctx, c, o, fmt.Sprint(time.Now().UnixNano()))
}

func runOn(ctx context.Context, c *Cluster, o RunOptions, runID string) (*RunResult, error) {
	spec, _ := jobs.Lookup(o.Job)
	p := o.params()
	job, err := spec.Build(p)
	if err != nil {
		return nil, err
	}
	name := topicNamer(c, runID)
	retarget(job, name, "r"+runID+"-")
	var inTopics []string
	for _, t := range spec.Inputs(p) {
		inTopics = append(inTopics, t.Name)
		if err := c.CreateTopic(ctx, name(t.Name), t.Partitions); err != nil {
			return nil, err
		}
	}
	out := spec.Output(p)
	if err := c.CreateTopic(ctx, name(out.Name), out.Partitions); err != nil {
		return nil, err
	}

	in := NewInput(spec, p, o.Seed)
	written := len(in.Records)
	streaming := o.Rate > 0 || o.Duration > 0
	peakFromStart := false
	if !streaming {
		logf(o.Log, "writing %d input records", len(in.Records))
		if _, err := in.Write(ctx, c.Opts, name, 0, time.Time{}); err != nil {
			return nil, err
		}
		// The generated records are not needed again (the checks read
		// the input back from the broker): free them, and restart the
		// peak RSS here, so that it measures the job (and an in-process
		// broker), not the generator.
		in.Records, in.ackedNs = nil, nil
		peakFromStart = resetPeakRSS()
	}

	dir := o.CheckpointDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "bench-checkpoints-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	cfg := live.DefaultConfig(job, dir)
	cfg.Kafka = c.Opts
	cfg.Checkpoint.Interval = o.Interval
	cfg.CheckpointsOff = o.Checkpoints == "off"
	cfg.Backend = o.Backend
	if o.Task != nil {
		cfg.Task = *o.Task
	}
	cfg.Task.Unaligned = o.Checkpoints == "unaligned"
	var r *live.Runner
	var killArmedAt atomic.Int64 // Unix ns from which KillPhase kills; 0 before the start
	var killed atomic.Bool
	if o.KillPhase != "" {
		cfg.OnEvent = func(ev live.Event) {
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
	var writeEnd time.Time
	if streaming {
		stop := time.Time{}
		if o.Duration > 0 {
			stop = t0.Add(o.Duration)
		}
		logf(o.Log, "writing input at %s while the job runs", rateString(o.Rate))
		if written, err = in.Write(ctx, c.Opts, name, o.Rate, stop); err != nil {
			return nil, interrupted(err)
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

	res := &RunResult{Options: o, Records: written, Elapsed: end.Sub(t0), Checkpoints: r.Checkpoints(),
		Restarts: st.Restarts, Kills: r.Kills()}
	res.RecordsPerSec = float64(written) / res.Elapsed.Seconds()
	res.RecordsPerSecPerCore = res.RecordsPerSec / float64(runtime.GOMAXPROCS(0))
	if cpu > 0 {
		res.RecordsPerCPUSec = float64(written) / cpu.Seconds()
	}
	if streaming && !writeEnd.IsZero() {
		res.InputRate = float64(written) / writeEnd.Sub(t0).Seconds()
	}
	if len(res.Kills) > 0 {
		res.Recovery = res.Kills[0].Checkpoint
	}

	// The peak so far: the verification below reads everything back and
	// would dominate it.
	res.PeakRSSBytes, res.PeakRSSFromStart = PeakRSSBytes(), peakFromStart
	// The run is measured; what follows judges it. A judge that cannot
	// read the input or the output back leaves an exactly-once verdict of
	// Unknown, never no verdict: the figures stand, and the run did not
	// pass.
	noVerdict := func(what string, err error) *RunResult {
		res.Verdicts = []checkers.Result{{Checker: livetest.ExactlyOnceChecker, Verdict: checkers.Unknown,
			Explanation: fmt.Sprintf("no verdict: %s: %v", what, err)}}
		return res
	}
	generated := in.Records
	if generated == nil { // freed after a preloaded write: draw it again
		generated = NewInput(spec, p, o.Seed).Records
	}
	readBack, err := livetest.ReadInput(ctx, c.Opts, name, generated[:written], inTopics...)
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
		res.Verdicts = append(livetest.Judge(ctx, c.Opts, spec, name(out.Name), committed), readBack.Check)
	}
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
	fmt.Fprintf(w, "throughput   %.0f records/s  (%.0f per core, %.0f per CPU-second; %d records in %v)\n",
		r.RecordsPerSec, r.RecordsPerSecPerCore, r.RecordsPerCPUSec, r.Records, r.Elapsed.Round(time.Millisecond))
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
	where := "process, in-process broker included"
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
