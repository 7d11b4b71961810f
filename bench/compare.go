package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/onceproof/onceproof/engine/live/livetest"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CompareOptions configure bench compare: the same input, on the same
// in-process broker, processed in interleaved rounds by four contenders.
type CompareOptions struct {
	Job         string `json:"job"`
	Parallelism int    `json:"parallelism"`
	Partitions  int32  `json:"partitions"`
	Records     int    `json:"records"`
	Keys        int    `json:"keys"`
	// Interval is the checkpoint interval and the loops' commit interval
	// (0: sized from the warm-up round by SizeInterval).
	Interval time.Duration `json:"interval_ns"`
	// Backend is the engine's keyed state backend: "heap" or "pebble".
	Backend string `json:"backend"`
	// Rounds are the measured rounds, after one warm-up round that is
	// not counted.
	Rounds int    `json:"rounds"`
	Seed   uint64 `json:"seed"`
	// Verify judges the engine's output of the first measured round with
	// the exactly-once checker when Records is at most FullVerifyRecords
	// (above, the checker's memory would dwarf the benchmark's). Every
	// run of every contender is checked anyway, by the count and digest
	// of its committed output against the oracle's (a copy's: the
	// ceiling's).
	Verify bool `json:"verify"`
	// Task overrides the live defaults for the engine's tasks.
	Task *engine.TaskConfig `json:"task,omitempty"`
	// TCP runs the in-process broker on a TCP port instead of a
	// VirtualNetwork.
	TCP bool `json:"tcp,omitempty"`
	// Only, if set, runs only these contenders.
	Only []string `json:"only,omitempty"`
	// Log gets a line per run; Progress, every ProgressEvery (0:
	// ProgressEvery), how far the comparison is and how long it has left
	// (nil: neither).
	Log           io.Writer     `json:"-"`
	Progress      io.Writer     `json:"-"`
	ProgressEvery time.Duration `json:"-"`
}

// FullVerifyRecords is the largest input whose engine output compare
// judges with the exactly-once checker, which keeps every input and output
// record (about 1 KB each, measured at 1M records).
const FullVerifyRecords = 2_000_000

// warmupInterval is the interval of a warm-up round that sizes the
// interval: long, so that the warm-up measures the contenders' speed with
// few commits (and so a little fast, which errs toward more commits).
const warmupInterval = time.Second

// DefaultCompareOptions sizes a comparison to finish well inside three
// minutes on two cores: a warm-up and five rounds of runs of a second or
// two, at an interval sized from the warm-up.
func DefaultCompareOptions(job string) CompareOptions {
	return CompareOptions{Job: job, Parallelism: 2, Partitions: 4, Records: 2_000_000, Keys: 10_000,
		Backend: "heap", Rounds: 5, Seed: 1, Verify: true}
}

// Validate reports the first invalid option.
func (o CompareOptions) Validate() error {
	if _, err := jobs.Lookup(o.Job); err != nil {
		return err
	}
	if o.Job == "join" {
		return errors.New("compare: join has two inputs; the ceiling and franz-go loops copy one topic (use copier or keyed-count)")
	}
	if err := validateSize(o.Parallelism, o.Partitions, o.Records, o.Keys); err != nil {
		return err
	}
	switch {
	case o.Interval < 0:
		return fmt.Errorf("--interval: must be positive, got %v (leave it out to size it from the warm-up)", o.Interval)
	case o.Backend != "heap" && o.Backend != "pebble":
		return fmt.Errorf("--backend: %q is not heap or pebble", o.Backend)
	case o.Rounds < 1:
		return fmt.Errorf("--rounds: must be at least 1, got %d", o.Rounds)
	}
	for _, c := range o.Only {
		if !slices.Contains(RoundOrder, c) {
			return fmt.Errorf("--only: %q is not one of %s", c, strings.Join(RoundOrder, ", "))
		}
	}
	return nil
}

// The contenders.
const (
	Engine = "engine"
	// EngineOff is the engine on the same job at-least-once with
	// checkpoints off (one final checkpoint): the other half of the
	// checkpoint cost.
	EngineOff = "engine-off"
	Ceiling   = "ceiling"
	FranzGo   = "franz-go"
)

// Contenders are the ones compared with the engine, in round order.
var Contenders = []string{Engine, Ceiling, FranzGo}

// RoundOrder is the order each round runs every contender in: the engine
// and its run with checkpoints off back to back, so that the checkpoint
// cost compares runs under the same load.
var RoundOrder = []string{Engine, EngineOff, Ceiling, FranzGo}

// CompareRun is one contender's run in one round.
type CompareRun struct {
	Contender string `json:"contender"`
	// Round is 1 to Rounds; 0 is the warm-up.
	Round         int           `json:"round"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	RecordsPerSec float64       `json:"records_per_sec"`
	// CPUSec is the process's CPU time during the run.
	CPUSec  float64 `json:"cpu_sec"`
	Outputs int     `json:"outputs"`
	// Commits are the engine's completed checkpoints, or the fewest
	// transactions any one of a loop's subtasks committed (each one
	// commits once per interval); Transactions, all of a loop's.
	Commits      int `json:"commits"`
	Transactions int `json:"transactions,omitempty"`
}

// CompareResult is every run, the median per contender and the ratios.
type CompareResult struct {
	Options CompareOptions `json:"options"`
	// Interval is the one every measured run used; IntervalSized says it
	// was sized from the warm-up (SizeInterval), not given.
	Interval      time.Duration `json:"interval_ns"`
	IntervalSized bool          `json:"interval_sized"`
	// Warmup is the warm-up round, not counted in anything below.
	Warmup []CompareRun       `json:"warmup"`
	Runs   []CompareRun       `json:"runs"`
	Median map[string]float64 `json:"median_records_per_sec"`
	// EngineVsCeiling and EngineVsFranzGo divide medians (0 when refused:
	// see NoRatio).
	EngineVsCeiling float64 `json:"engine_vs_ceiling"`
	EngineVsFranzGo float64 `json:"engine_vs_franz_go"`
	// MedianPerCPUSec is records per CPU-second of the whole process
	// (broker included): less sensitive than wall time to other work on
	// the machine. The CPU ratios divide these medians.
	MedianPerCPUSec    map[string]float64 `json:"median_records_per_cpu_sec"`
	EngineVsCeilingCPU float64            `json:"engine_vs_ceiling_cpu"`
	EngineVsFranzGoCPU float64            `json:"engine_vs_franz_go_cpu"`
	// CheckpointCost is the median over rounds of 1 - engine/engine-off
	// records/s, each round's pair run back to back; CheckpointCostRounds
	// are the rounds' own.
	CheckpointCost       float64   `json:"checkpoint_cost"`
	CheckpointCostRounds []float64 `json:"checkpoint_cost_rounds,omitempty"`
	// NoRatio says, by ratio ("engine/ceiling", "checkpoint cost", ...),
	// why it was not computed: a contender committed fewer than
	// MinCommits times in a measured run, or did not run.
	NoRatio map[string]string `json:"no_ratio,omitempty"`
	// TooFewCommits says, by contender, which measured run committed
	// fewer than MinCommits times and how many records would do.
	TooFewCommits map[string]string `json:"too_few_commits,omitempty"`
	// Verified says how the engine's output was checked.
	Verified     string `json:"verified"`
	Verdict      string `json:"verdict,omitempty"`
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
}

// Compare writes the input once and runs the contenders in interleaved
// rounds (engine, engine-off, ceiling, franz-go; then again), each into an
// output topic of its own that is deleted after the run, each timed from
// its start until all input is committed. A warm-up round comes first and
// is not counted; unless o.Interval is given, it sizes the interval.
func Compare(ctx context.Context, o CompareOptions) (*CompareResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c, err := NewCluster(ctx, nil, o.TCP)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	spec, _ := jobs.Lookup(o.Job)
	p := jobs.Params{Parallelism: o.Parallelism, Partitions: o.Partitions, Records: o.Records, Keys: o.Keys}
	inTopic := spec.Inputs(p)[0].Name
	if err := c.CreateTopic(ctx, inTopic, o.Partitions); err != nil {
		return nil, err
	}
	prog := startProgress(o.Progress, cmp.Or(o.ProgressEvery, ProgressEvery))
	defer prog.stop()
	in := NewInput(spec, p, o.Seed)
	logf(o.Log, "writing %d input records to %d partitions (once, shared by every run)", len(in.Records), o.Partitions)
	wm := newMeter(int64(len(in.Records)), 0)
	prog.set(func() string { return "writing input " + wm.render(int64(in.Written())) })
	if _, err := in.Write(ctx, c.Opts, func(t string) string { return t }, 0, time.Time{}); err != nil {
		return nil, err
	}
	ends, err := c.Ends(ctx, inTopic, o.Partitions)
	if err != nil {
		return nil, err
	}
	prog.set(func() string { return "digesting the expected output" })
	want := map[string]multiset{}
	want[Engine], want[Ceiling] = expectedDigests(spec, in.Records, o.Partitions)
	want[EngineOff], want[FranzGo] = want[Engine], want[Engine]
	in = nil // the input lives in the broker now; the full check draws it again
	runtime.GC()
	debug.FreeOSMemory()

	res := &CompareResult{Options: o, Interval: o.Interval, Median: map[string]float64{}, MedianPerCPUSec: map[string]float64{}}
	var who []string
	for _, w := range RoundOrder {
		if len(o.Only) == 0 || slices.Contains(o.Only, w) {
			who = append(who, w)
		}
	}
	done, total := atomic.Int64{}, int64((o.Rounds+1)*len(who))
	rm := newMeter(total, 0)
	var current atomic.Value
	prog.set(func() string { return fmt.Sprintf("runs %s; now %v", rm.render(done.Load()), current.Load()) })
	for round := 0; round <= o.Rounds; round++ {
		iv := res.Interval
		if round == 0 && iv == 0 {
			iv = warmupInterval
		}
		for _, w := range who {
			current.Store(fmt.Sprintf("round %d %s", round, w))
			run, err := compareRun(ctx, c, o, spec, w, round, iv, inTopic, ends, want[w])
			if err != nil {
				return nil, err
			}
			done.Add(1)
			label := fmt.Sprintf("round %d", round)
			if round == 0 {
				label = "warm-up"
				res.Warmup = append(res.Warmup, run)
			} else {
				res.Runs = append(res.Runs, run)
			}
			logf(o.Log, "%-8s %-10s %9.0f records/s  (%v, %d commits, %.2f CPU-s)", label, w, run.RecordsPerSec,
				run.Elapsed.Round(time.Millisecond), run.Commits, run.CPUSec)
		}
		if round == 0 && res.Interval == 0 {
			if res.Interval, err = SizeInterval(res.Warmup, o.Records); err != nil {
				return nil, err
			}
			res.IntervalSized = true
			logf(o.Log, "interval %v: the fastest warm-up run over %d, so that every run spans at least %d checkpoints", res.Interval, spanIntervals, MinCommits)
		}
	}
	res.Verified = "every run's committed output by count and digest against the oracle's; the engine's round 1 also by the exactly-once checker"
	if !o.Verify || o.Records > FullVerifyRecords {
		why := "--verify=false"
		if o.Verify {
			why = fmt.Sprintf("above %d records its memory would dwarf the benchmark's", FullVerifyRecords)
		}
		res.Verified = fmt.Sprintf("every run's committed output by count and digest against the oracle's; no exactly-once checker (%s)", why)
	}
	for _, w := range RoundOrder {
		var xs, cs []float64
		for _, r := range res.Runs {
			if r.Contender == w {
				xs = append(xs, r.RecordsPerSec)
				if r.CPUSec > 0 {
					cs = append(cs, float64(o.Records)/r.CPUSec)
				}
			}
		}
		if len(xs) > 0 {
			res.Median[w], res.MedianPerCPUSec[w] = medianOf(xs), medianOf(cs)
		}
	}
	res.decide()
	res.PeakRSSBytes = PeakRSSBytes()
	return res, nil
}

// compareRun runs contender who once into an output topic of its own,
// checks what it committed against want, and deletes the topic.
func compareRun(ctx context.Context, c *Cluster, o CompareOptions, spec *jobs.Spec, who string, round int, iv time.Duration,
	inTopic string, ends map[string]int64, want multiset) (CompareRun, error) {
	out := fmt.Sprintf("out-%s-%d", who, round)
	if err := c.CreateTopic(ctx, out, o.Partitions); err != nil {
		return CompareRun{}, err
	}
	// However the run ends, its output goes: only one run's output is in
	// the broker at a time.
	defer func() { _ = c.DeleteTopics(context.WithoutCancel(ctx), out) }() // best effort: a leftover topic costs memory only
	o.Interval = iv
	runtime.GC()
	cpu0 := cpuTime()
	var run CompareRun
	var err error
	switch who {
	case Engine, EngineOff:
		run, err = compareEngine(ctx, c, o, spec, out, ends, round, who == EngineOff)
	case Ceiling:
		run, err = ceiling(ctx, c, o, inTopic, out, ends, round)
	case FranzGo:
		run, err = franzGo(ctx, c, o, spec.Name, inTopic, out, round)
	}
	if err != nil {
		return CompareRun{}, fmt.Errorf("round %d, %s: %w", round, who, err)
	}
	if run.CPUSec == 0 {
		run.CPUSec = (cpuTime() - cpu0).Seconds()
	}
	run.Contender, run.Round = who, round
	run.RecordsPerSec = float64(o.Records) / run.Elapsed.Seconds()
	got, err := digestCommitted(ctx, c, out, o.Partitions)
	if err != nil {
		return CompareRun{}, err
	}
	run.Outputs = got.N
	switch {
	case got.N != want.N:
		return CompareRun{}, fmt.Errorf("round %d, %s: %d output records committed, want %d", round, who, got.N, want.N)
	case got != want:
		return CompareRun{}, fmt.Errorf("round %d, %s: the committed output is not the expected one: as many records, other contents (digest %x%x, want %x%x)",
			round, who, got.A, got.B, want.A, want.B)
	}
	return run, nil
}

// compareEngine runs the job on the engine into out.
// With off it runs at-least-once with checkpoints off.
func compareEngine(ctx context.Context, c *Cluster, o CompareOptions, spec *jobs.Spec, out string, ends map[string]int64, round int, off bool) (CompareRun, error) {
	ro := RunOptions{Job: o.Job, Parallelism: o.Parallelism, Partitions: o.Partitions, Records: o.Records, Keys: o.Keys,
		Guarantee: "exactly-once", Checkpoints: "aligned", Backend: o.Backend, Interval: o.Interval, Seed: o.Seed}
	prefix := fmt.Sprintf("r%d-", round)
	if off {
		ro.Guarantee, ro.Checkpoints, prefix = "at-least-once", "off", fmt.Sprintf("r%d-off-", round)
	}
	job, err := spec.Build(ro.params())
	if err != nil {
		return CompareRun{}, err
	}
	outName := spec.Output(ro.params()).Name
	retarget(job, func(t string) string {
		if t == outName {
			return out
		}
		return t
	}, prefix)
	cpu0 := cpuTime()
	m, err := runEngine(ctx, c, job, o.Interval, off, o.Backend, o.Task, ends)
	if err != nil {
		return CompareRun{}, err
	}
	cpu := (cpuTime() - cpu0).Seconds()
	if o.Verify && round == 1 && !off && o.Records <= FullVerifyRecords {
		if err := verifyOutput(ctx, c, spec, out, NewInput(spec, ro.params(), o.Seed).Records); err != nil {
			return CompareRun{}, err
		}
	}
	return CompareRun{Elapsed: m.elapsed, Commits: m.checkpoints, CPUSec: cpu}, nil
}

// ceiling copies inTopic to out with raw requests and no engine: per
// subtask, one goroutine fetches its partitions (read_committed) and hands
// each answer to one that produces it in a transaction, committed once per
// interval as the engine's checkpoints commit. Fetching and producing
// overlap, as the engine's source and sink do. It only copies (the job's
// transformation is not applied): it is what Kafka allows, not a job.
func ceiling(ctx context.Context, c *Cluster, o CompareOptions, inTopic, out string, ends map[string]int64, round int) (CompareRun, error) {
	inID, err := c.topicID(ctx, inTopic)
	if err != nil {
		return CompareRun{}, err
	}
	outID, err := c.topicID(ctx, out)
	if err != nil {
		return CompareRun{}, err
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), c.Opts...), kgo.RequestRetries(0))...)
	if err != nil {
		return CompareRun{}, err
	}
	defer cl.Close()
	start := time.Now()
	commits := make([]int, o.Parallelism)
	errs := make([]error, o.Parallelism)
	var wg sync.WaitGroup
	for s := 0; s < o.Parallelism; s++ {
		var mine []kproto.Position
		for p := int32(0); p < o.Partitions; p++ {
			if int(p)%o.Parallelism == s {
				mine = append(mine, kproto.Position{Partition: p})
			}
		}
		if len(mine) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &ceilingLoop{cl: cl, in: inTopic, out: out, inID: inID, outID: outID, interval: o.Interval,
				txnID: fmt.Sprintf("ceiling-%d-%d", round, s), fetchBytes: 256 << 10, ends: ends}
			commits[s], errs[s] = l.run(ctx, mine)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return CompareRun{}, err
	}
	elapsed := time.Since(start)
	run := CompareRun{Elapsed: elapsed, Commits: -1}
	for s, n := range commits {
		if s < int(o.Partitions) { // a subtask with no partition commits nothing, by design
			run.Transactions += n
			if run.Commits < 0 || n < run.Commits {
				run.Commits = n
			}
		}
	}
	return run, nil
}

type ceilingLoop struct {
	cl          *kgo.Client
	in, out     string
	inID, outID [16]byte
	interval    time.Duration
	txnID       string
	fetchBytes  int32
	ends        map[string]int64
}

type fetched struct {
	byPart map[int32][]kproto.Record
	order  []int32
}

func (l *ceilingLoop) run(ctx context.Context, pos []kproto.Position) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan fetched, 4)
	var ferr error
	go func() {
		defer close(ch)
		ferr = l.fetchAll(ctx, pos, ch)
	}()
	commits, perr := l.produceAll(ctx, ch)
	cancel()
	for range ch {
	}
	if perr != nil {
		return commits, perr
	}
	return commits, ferr
}

func (l *ceilingLoop) done(pos []kproto.Position) bool {
	for _, p := range pos {
		if p.Offset < l.ends[fmt.Sprintf("%s/%d", l.in, p.Partition)] {
			return false
		}
	}
	return true
}

func (l *ceilingLoop) fetchAll(ctx context.Context, pos []kproto.Position, ch chan<- fetched) error {
	for !l.done(pos) {
		req := kproto.Fetch(l.in, pos, true, l.fetchBytes)
		req.Topics[0].TopicID = l.inID
		resp, err := l.cl.Request(ctx, req)
		if err != nil {
			return fmt.Errorf("ceiling fetch: %w", err)
		}
		parts, err := kproto.DecodeFetch(resp, l.in, pos, true)
		if err != nil {
			return fmt.Errorf("ceiling fetch: %w", err)
		}
		f := fetched{byPart: map[int32][]kproto.Record{}}
		for _, fp := range parts {
			if fp.Err != nil {
				return fmt.Errorf("ceiling fetch %d: %w", fp.Partition, fp.Err)
			}
			for _, r := range fp.Records {
				if len(f.byPart[fp.Partition]) == 0 {
					f.order = append(f.order, fp.Partition)
				}
				f.byPart[fp.Partition] = append(f.byPart[fp.Partition], kproto.Record{Key: r.Key, Value: r.Value})
			}
			for i := range pos {
				if pos[i].Partition == fp.Partition {
					pos[i].Offset = fp.Next
				}
			}
		}
		if len(f.order) == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		select {
		case ch <- f:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (l *ceilingLoop) produceAll(ctx context.Context, ch <-chan fetched) (int, error) {
	resp, err := l.cl.Request(ctx, kproto.InitProducerID(l.txnID, 600_000))
	if err != nil {
		return 0, fmt.Errorf("ceiling init: %w", err)
	}
	prod, err := kproto.InitProducerIDResult(l.txnID, resp)
	if err != nil {
		return 0, err
	}
	seq := map[int32]int32{}
	open, commits := false, 0
	txnStart := time.Now()
	commit := func() error {
		r, err := l.cl.Request(ctx, kproto.EndTxn(prod, true))
		if err == nil {
			prod, err = kproto.EndTxnResult(prod, r)
		}
		if err != nil {
			return fmt.Errorf("ceiling commit: %w", err)
		}
		seq, open = map[int32]int32{}, false
		commits++
		return nil
	}
	for f := range ch {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis, req.TransactionID = -1, 30000, &l.txnID
		t := kmsg.NewProduceRequestTopic()
		t.Topic, t.TopicID = l.out, l.outID
		for _, p := range f.order {
			pp := kmsg.NewProduceRequestTopicPartition()
			pp.Partition = p
			recs := f.byPart[p]
			pp.Records = kproto.EncodeBatch(prod, seq[p], true, 0, recs)
			seq[p] += int32(len(recs))
			t.Partitions = append(t.Partitions, pp)
		}
		req.Topics = append(req.Topics, t)
		if !open {
			open, txnStart = true, time.Now()
		}
		r, err := l.cl.Request(ctx, req)
		if err != nil {
			return commits, fmt.Errorf("ceiling produce: %w", err)
		}
		for _, rt := range r.(*kmsg.ProduceResponse).Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return commits, fmt.Errorf("ceiling produce %d: %w", rp.Partition, err)
				}
			}
		}
		if time.Since(txnStart) >= l.interval {
			if err := commit(); err != nil {
				return commits, err
			}
		}
	}
	if open {
		if err := commit(); err != nil {
			return commits, err
		}
	}
	return commits, ctx.Err()
}

// franzGo runs what a Go user would write: franz-go's GroupTransactSession
// consume-transform-produce loop, one session per subtask in one consumer
// group, committing (records and consumer offsets) once per interval, and
// at once when all input has been consumed (as the engine's final
// checkpoint does). The transformation is the job's: copier marks each
// value; keyed-count keeps a count per key in a Go map.
func franzGo(ctx context.Context, c *Cluster, o CompareOptions, job, inTopic, out string, round int) (CompareRun, error) {
	f := &franzGoRun{o: o, job: job, in: inTopic, out: out, group: fmt.Sprintf("franz-go-%d", round), opts: c.Opts,
		parts: make([]franzGoPart, o.Partitions)}
	for i := range f.parts {
		f.parts[i].counts = map[string]int{}
	}
	var cancel context.CancelFunc
	f.allIn, cancel = context.WithCancel(ctx)
	f.stop = cancel
	defer cancel()
	start := time.Now()
	errs := make([]error, o.Parallelism)
	commits := make([]int, o.Parallelism)
	var wg sync.WaitGroup
	for s := 0; s < o.Parallelism; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[s] = f.session(ctx, fmt.Sprintf("%s-%d", f.group, s), &commits[s])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return CompareRun{}, err
	}
	if n := f.committed.Load(); n != int64(o.Records) {
		return CompareRun{}, fmt.Errorf("franz-go: %d records committed, want %d", n, o.Records)
	}
	run := CompareRun{Elapsed: time.Since(start)}
	// The group spreads the partitions over the sessions as it likes:
	// the fewest commits are those of a session that committed at all.
	for _, n := range commits {
		run.Transactions += n
		if n > 0 && (run.Commits == 0 || n < run.Commits) {
			run.Commits = n
		}
	}
	return run, nil
}

type franzGoRun struct {
	o                   CompareOptions
	job, in, out, group string
	opts                []kgo.Opt
	allIn               context.Context
	stop                context.CancelFunc
	consumed, committed atomic.Int64
	// parts are the keyed-count's counts by partition, shared by the
	// sessions: a rebalance moves a partition, and its counts go with it.
	parts []franzGoPart
}

type franzGoPart struct {
	mu     sync.Mutex
	counts map[string]int
}

func (f *franzGoRun) part(p int32) *franzGoPart { return &f.parts[p] }

// session runs one transactional session, counting its commits in commits.
func (f *franzGoRun) session(ctx context.Context, txnID string, commits *int) error {
	sess, err := kgo.NewGroupTransactSession(append(append([]kgo.Opt(nil), f.opts...),
		kgo.TransactionalID(txnID), kgo.TransactionTimeout(time.Minute),
		kgo.ConsumerGroup(f.group), kgo.ConsumeTopics(f.in), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.RequireStableFetchOffsets(),
		kgo.DefaultProduceTopic(f.out))...)
	if err != nil {
		return fmt.Errorf("franz-go session: %w", err)
	}
	defer sess.Close()
	// delta counts, per partition and key, the records of the open
	// transaction: merged into the partition's counts when it commits,
	// dropped when it aborts.
	delta := map[int32]map[string]int{}
	pending := 0
	txnStart := time.Now()
	if err := sess.Begin(); err != nil {
		return err
	}
	end := func() error {
		ok, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			return fmt.Errorf("franz-go end: %w", err)
		}
		if ok {
			f.committed.Add(int64(pending))
			*commits++
			for p, d := range delta { // lint:sorted merges
				part := f.part(p)
				part.mu.Lock()
				for k, n := range d { // lint:sorted merges
					part.counts[k] += n
				}
				part.mu.Unlock()
			}
		} else {
			// Aborted (a rebalance): the session rewinds to the
			// committed offsets and the records come again.
			f.consumed.Add(-int64(pending))
		}
		pending = 0
		clear(delta)
		return nil
	}
	for {
		if pending == 0 {
			txnStart = time.Now() // the interval runs from the first record
		}
		// PollFetches returns only with records (or when its context
		// ends), so bound the wait by the commit schedule.
		parent := f.allIn
		if parent.Err() != nil {
			parent = ctx // after an aborted last commit: wait for the records again
		}
		pctx, pcancel := context.WithDeadline(parent, txnStart.Add(f.o.Interval))
		fs := sess.PollFetches(pctx)
		pcancel()
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("franz-go poll: %w", ferr)
		}
		n := 0
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return // an error (handled above), or nothing
			}
			part := f.part(fp.Partition)
			part.mu.Lock()
			defer part.mu.Unlock()
			d := delta[fp.Partition]
			if d == nil && f.job == "keyed-count" {
				d = map[string]int{}
				delta[fp.Partition] = d
			}
			fp.EachRecord(func(r *kgo.Record) {
				v := r.Value
				switch f.job {
				case "keyed-count":
					k := string(r.Key)
					d[k]++
					v = []byte(k + "#" + strconv.Itoa(part.counts[k]+d[k]))
				default:
					v = []byte("copy(" + string(v) + ")")
				}
				sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: v}, nil)
				n++
			})
		})
		pending += n
		if f.consumed.Add(int64(n)) >= int64(f.o.Records) {
			f.stop() // all input consumed: every session commits now
		}
		if f.allIn.Err() != nil {
			if pending > 0 {
				if err := end(); err != nil {
					return err
				}
			} else if _, err := sess.End(ctx, kgo.TryAbort); err != nil {
				return err
			}
			if f.committed.Load() >= int64(f.o.Records) {
				return nil
			}
			// A rebalance aborted a commit after all input was
			// consumed once: its records come again, to this session
			// or another.
			if err := sess.Begin(); err != nil {
				return err
			}
		}
		if pending > 0 && time.Since(txnStart) >= f.o.Interval {
			if err := end(); err != nil {
				return err
			}
			if err := sess.Begin(); err != nil {
				return err
			}
		}
	}
}

// engineMeasure is what compare needs from an engine run.
type engineMeasure struct {
	elapsed     time.Duration
	checkpoints int
}

// runEngine runs job (topics already retargeted) on the live runner until
// all input up to ends is committed.
func runEngine(ctx context.Context, c *Cluster, job *engine.Job, interval time.Duration, off bool, backend string, task *engine.TaskConfig, ends map[string]int64) (engineMeasure, error) {
	dir, err := os.MkdirTemp("", "bench-checkpoints-")
	if err != nil {
		return engineMeasure{}, err
	}
	defer os.RemoveAll(dir)
	cfg := live.DefaultConfig(job, dir)
	cfg.Kafka = c.Opts
	cfg.Checkpoint.Interval = interval
	cfg.CheckpointsOff = off
	cfg.Backend = backend
	if task != nil {
		cfg.Task = *task
	}
	r, err := live.New(cfg)
	if err != nil {
		return engineMeasure{}, err
	}
	start := time.Now()
	if err := r.Start(ctx); err != nil {
		return engineMeasure{}, err
	}
	defer r.Close()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if _, err := r.Drain(dctx, ends); err != nil {
		return engineMeasure{}, err
	}
	m := engineMeasure{elapsed: time.Since(start), checkpoints: len(r.Checkpoints())}
	if err := r.Stop(dctx); err != nil {
		return m, err
	}
	return m, nil
}

// verifyOutput judges out against the oracle over the committed input,
// itself checked against generated.
func verifyOutput(ctx context.Context, c *Cluster, spec *jobs.Spec, out string, generated []jobs.Input) error {
	var topics []string
	for _, t := range spec.Inputs(jobs.Params{Partitions: 1}) {
		topics = append(topics, t.Name)
	}
	in, err := livetest.ReadInput(ctx, c.Opts, func(t string) string { return t }, generated, topics...)
	if err != nil {
		return err
	}
	return livetest.Failed(append(livetest.Judge(ctx, c.Opts, spec, out, in.Committed), in.Check))
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
