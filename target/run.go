package target

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/internal/observe"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Names a run gives the program, in its environment and as substitutions.
const (
	InputTopic  = "onceproof-in"
	OutputTopic = "onceproof-out"
	Group       = "onceproof-group"
	txnStem     = "onceproof-txn-"
)

// Config is one target run.
type Config struct {
	// Command is the program and its arguments; arguments may use
	// {{.Brokers}}, {{.InputTopic}}, {{.OutputTopic}}, {{.Group}},
	// {{.TxnPrefix}} and {{.Instance}}.
	Command []string `json:"command"`
	// Contract is what the output must be.
	Contract Contract `json:"contract"`
	// Seed decides the generated input (and, through Generate, the
	// schedule the caller passes).
	Seed uint64 `json:"seed"`
	// Schedule is the fault schedule; nil or empty runs without faults.
	Schedule *Schedule `json:"schedule"`
	// Instances is the number of instances started (default 2).
	Instances int `json:"instances"`
	// Brokers is the number of kfake brokers (default 3).
	Brokers int `json:"brokers"`
	// InputPartitions and OutputPartitions size the topics (default 4).
	InputPartitions  int `json:"input_partitions"`
	OutputPartitions int `json:"output_partitions"`
	// Records and Keys size the generated input (default 200 and 16).
	Records int `json:"records"`
	Keys    int `json:"keys"`
	// Input, when set, is written instead of a generated input: key,
	// value and partition (-1: by key hash); offsets are ignored.
	Input []InputRecord `json:"input,omitempty"`
	// InputSpan is the time over which the input is written, in pieces,
	// while the instances run (default 4s).
	InputSpan Duration `json:"input_span"`
	// Deadline bounds the run from the first start to complete output
	// (default 90s). Past it, the run is judged as it stands.
	Deadline Duration `json:"deadline"`
	// Settle is how long the output must stay complete before the
	// instances are stopped (default 1s): late duplicates show up in it.
	Settle Duration `json:"settle"`
	// Grace is the time between SIGTERM and SIGKILL (default 3s).
	Grace Duration `json:"grace"`
	// Dir receives the instances' stdout and stderr; it must exist.
	Dir string `json:"-"`
	// Progress, when set, gets a progress line every few seconds and a
	// line per fault.
	Progress io.Writer `json:"-"`
}

func (c *Config) defaults() {
	defaultTo(&c.Instances, 2)
	defaultTo(&c.Brokers, 3)
	defaultTo(&c.InputPartitions, 4)
	defaultTo(&c.OutputPartitions, 4)
	defaultTo(&c.Records, 200)
	defaultTo(&c.Keys, 16)
	defaultTo(&c.InputSpan, Duration(4*time.Second))
	defaultTo(&c.Deadline, Duration(90*time.Second))
	defaultTo(&c.Settle, Duration(time.Second))
	defaultTo(&c.Grace, Duration(3*time.Second))
	if c.Schedule == nil {
		c.Schedule = &Schedule{Seed: c.Seed}
	}
}

// defaultTo sets an option not given (zero, or a negative count or
// duration) to its default d.
func defaultTo[T ~int | ~int32 | ~int64](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// BadInputError is a run that could not start because of what it was
// given (a template that does not parse, an oracle that fails): exit 2,
// not a verdict.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

// Vars are the substitutions an argument may use.
type Vars struct {
	Brokers, InputTopic, OutputTopic, Group, TxnPrefix string
	Instance                                           int
}

// substitutions names what an argument may use, for error messages.
const substitutions = "{{.Brokers}}, {{.InputTopic}}, {{.OutputTopic}}, {{.Group}}, {{.TxnPrefix}}, {{.Instance}}"

// Substitute expands {{.Brokers}}-style references in args.
func Substitute(args []string, v Vars) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		if !strings.Contains(a, "{{") {
			out[i] = a
			continue
		}
		t, err := template.New("arg").Option("missingkey=error").Parse(a)
		if err != nil {
			return nil, fmt.Errorf("argument %q is not a valid substitution (known: %s)", a, substitutions)
		}
		var b strings.Builder
		if err := t.Execute(&b, v); err != nil {
			return nil, fmt.Errorf("argument %q uses an unknown substitution (known: %s)", a, substitutions)
		}
		out[i] = b.String()
	}
	return out, nil
}

// CheckCommand reports a command whose arguments do not substitute.
func CheckCommand(cmd []string) error {
	if len(cmd) == 0 || cmd[0] == "" {
		return errors.New("no command")
	}
	_, err := Substitute(cmd, Vars{})
	return err
}

// Fired is what became of one fault of the schedule.
type Fired struct {
	Fault Fault `json:"fault"`
	// Fired is set when the fault acted (a kill-at whose request never
	// came, or a kill of an instance that was not running, did not).
	Fired bool `json:"fired"`
	// At is when it acted, since the instances started.
	At Duration `json:"at,omitempty"`
	// Note says what happened.
	Note string `json:"note,omitempty"`
}

// Incarnation is one process the run started.
type Incarnation struct {
	Instance    int    `json:"instance"`
	Incarnation int    `json:"incarnation"`
	Pid         int    `json:"pid"`
	Exit        string `json:"exit"`
}

// Result is a run's outcome.
type Result struct {
	Seed     uint64            `json:"seed"`
	Contract Contract          `json:"contract"`
	Schedule *Schedule         `json:"schedule"`
	Verdict  checkers.Verdict  `json:"verdict"`
	Results  []checkers.Result `json:"results"`
	Faults   []Fired           `json:"faults"`
	// FiredByKind counts the faults that acted, per kind.
	FiredByKind map[string]int `json:"fired_by_kind"`
	// Evicted counts group members the harness removed because kfake kept
	// them past their session timeout (see broker.go).
	Evicted int `json:"evicted,omitempty"`
	// SelfExits counts instances that exited without being told to and
	// were started again.
	SelfExits    int           `json:"self_exits"`
	Incarnations []Incarnation `json:"incarnations"`
	// Elapsed is the run's wall time; Healed when the last fault's
	// follow-up (restart, resume, leave) was done; Complete when the output
	// was first complete (0 if never).
	Elapsed  Duration `json:"elapsed"`
	Healed   Duration `json:"healed"`
	Complete Duration `json:"complete,omitempty"`
	// Group describes the consumer group when the run ended: its state,
	// generation and each member's assigned partitions.
	Group []string `json:"group,omitempty"`
	// FirstBad names the first bad record, when a check failed.
	FirstBad string `json:"first_bad,omitempty"`
	// Requests is the broker's request log (not in result.json: the
	// bundle writes it as requests.log).
	Requests []RequestEntry `json:"-"`
	// RequestsDropped counts log entries beyond the log's bound.
	RequestsDropped int `json:"requests_dropped,omitempty"`
	// ProducerID is the producer of the first bad record, or -1.
	ProducerID int64 `json:"producer_id"`
	// Anchor is the request-log index nearest the first bad record, or -1.
	Anchor int `json:"anchor"`

	outLog *checkers.TopicLog
}

// Run runs the program under cfg's schedule and judges its output. An
// error means no verdict (a *BadInputError for bad input, else the
// environment failed); a verdict other than Ok is not an error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	if err := cfg.Contract.Validate(); err != nil {
		return nil, &BadInputError{err}
	}
	if err := CheckCommand(cfg.Command); err != nil {
		return nil, &BadInputError{err}
	}
	if err := cfg.Schedule.Validate(cfg.Instances); err != nil {
		return nil, &BadInputError{fmt.Errorf("schedule: %w", err)}
	}
	progress := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "target seed %d: "+format+"\n", append([]any{cfg.Seed}, a...)...)
		}
	}
	began := time.Now()
	cl, err := startCluster(cfg.Brokers, txnStem)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	for _, t := range []struct {
		name string
		n    int
	}{{InputTopic, cfg.InputPartitions}, {OutputTopic, cfg.OutputPartitions}} {
		if err := cl.createTopic(t.name, t.n); err != nil {
			return nil, err
		}
	}
	copts := []kgo.Opt{kgo.SeedBrokers(cl.addrs...), kgo.DisableClientMetrics()}

	gen := cfg.Input
	if gen == nil {
		gen = GenerateInput(cfg.Seed, cfg.Records, cfg.Keys)
	}
	gen = placeInput(gen, cfg.InputPartitions)
	// The input is written while the instances run and the faults hit
	// them, over InputSpan, so that the faults find work in progress.
	inputCh := make(chan inputResult, 1)
	go func() {
		var in inputResult
		defer func() { inputCh <- in }()
		if in.err = writeInput(ctx, copts, gen, time.Duration(cfg.InputSpan)); in.err != nil {
			return
		}
		if in.committed, in.ends, in.check, in.err = readInput(ctx, copts, gen); in.err != nil {
			return
		}
		if in.exp, in.err = cfg.Contract.Expect(ctx, in.committed); in.err != nil {
			in.err = &BadInputError{in.err}
			return
		}
		progress("%d input records written to %d partitions, %d expected output records (%s)",
			len(in.committed), cfg.InputPartitions, len(in.exp.Expected), cfg.Contract)
	}()
	progress("%d instances, %d brokers, %d faults; writing %d input records over %v",
		cfg.Instances, cfg.Brokers, len(cfg.Schedule.Faults), len(gen), time.Duration(cfg.InputSpan))

	res := &Result{Seed: cfg.Seed, Contract: cfg.Contract, Schedule: cfg.Schedule, FiredByKind: map[string]int{}, ProducerID: -1, Anchor: -1}
	sup := &Supervisor{
		Dir:   cfg.Dir,
		Grace: time.Duration(cfg.Grace),
		Argv: func(slot int) ([]string, error) {
			return Substitute(cfg.Command, vars(cl, slot))
		},
		Env: func(slot int) []string {
			v := vars(cl, slot)
			return []string{
				"ONCEPROOF_BROKERS=" + v.Brokers,
				"ONCEPROOF_INPUT_TOPIC=" + v.InputTopic,
				"ONCEPROOF_OUTPUT_TOPIC=" + v.OutputTopic,
				"ONCEPROOF_GROUP=" + v.Group,
				"ONCEPROOF_TXN_PREFIX=" + v.TxnPrefix,
				fmt.Sprintf("ONCEPROOF_INSTANCE=%d", v.Instance),
			}
		},
	}
	var in inputResult
	runErr := drive(ctx, cfg, cl, sup, copts, inputCh, &in, res, progress)
	if runErr == nil {
		// Judged before the instances stop: an instance killed after the
		// grace period would leave a transaction open that the program
		// never would have.
		judge(ctx, copts, cfg, in.exp, in.ends, in.check, res)
	}
	if cerr := sup.Close(); cerr != nil && runErr == nil {
		runErr = fmt.Errorf("stop instances: %w", cerr)
	}
	for _, p := range sup.Procs() {
		exit := "running"
		if p.Exited() {
			exit = "exit 0"
			if p.waitErr != nil {
				exit = p.waitErr.Error()
			}
		}
		res.Incarnations = append(res.Incarnations, Incarnation{Instance: p.Slot, Incarnation: p.Incarnation, Pid: p.Pid, Exit: exit})
	}
	if runErr != nil {
		return nil, runErr
	}
	res.Requests, res.RequestsDropped = cl.requests()
	anchor(res)
	res.Elapsed = Duration(time.Since(began))
	progress("%s after %.1fs", res.Verdict, time.Since(began).Seconds())
	return res, nil
}

func vars(cl *cluster, slot int) Vars {
	return Vars{
		Brokers: strings.Join(cl.addrs, ","), InputTopic: InputTopic, OutputTopic: OutputTopic,
		Group: Group, TxnPrefix: cl.txnPrefixFor(slot), Instance: slot,
	}
}

// GenerateInput draws records input records over keys keys from seed; every
// value is unique, so that a copy's records can be told apart.
func GenerateInput(seed uint64, records, keys int) []InputRecord {
	rng := rand.New(rand.NewPCG(seed, 0x1f7a11)) // the input's own stream
	out := make([]InputRecord, records)
	for i := range out {
		out[i] = InputRecord{Partition: -1, Key: fmt.Sprintf("k%d", rng.IntN(keys)), Value: fmt.Sprintf("v%d", i)}
	}
	return out
}

// placeInput gives every record without a partition the one its key hashes
// to (FNV-1a), so a key lives in one partition.
func placeInput(in []InputRecord, partitions int) []InputRecord {
	out := make([]InputRecord, len(in))
	for i, r := range in {
		if r.Partition < 0 || int(r.Partition) >= partitions {
			h := fnv.New32a()
			h.Write([]byte(r.Key))
			r.Partition = int32(h.Sum32() % uint32(partitions))
		}
		r.Offset = -1
		out[i] = r
	}
	return out
}

// inputResult is the input as written and read back, and what the
// contract expects of it.
type inputResult struct {
	committed []InputRecord
	ends      map[int32]int64
	check     checkers.Result
	exp       *Expectation
	err       error
}

// inputChunks is how many pieces the input is written in over its span.
const inputChunks = 25

// writeInput writes in, in inputChunks pieces spread over span.
func writeInput(ctx context.Context, copts []kgo.Opt, in []InputRecord, span time.Duration) error {
	cl, err := kgo.NewClient(append(copts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(InputTopic))...)
	if err != nil {
		return fmt.Errorf("input writer: %w", err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(in))
	for i, r := range in {
		recs[i] = &kgo.Record{Key: []byte(r.Key), Value: []byte(r.Value), Partition: r.Partition}
	}
	ctx, cancel := context.WithTimeout(ctx, span+30*time.Second)
	defer cancel()
	start := time.Now()
	per := max(1, (len(recs)+inputChunks-1)/inputChunks)
	for i := 0; i < len(recs); i += per {
		chunk := i / per
		select {
		case <-time.After(time.Until(start.Add(span * time.Duration(chunk) / inputChunks))):
		case <-ctx.Done():
			return fmt.Errorf("write input: %w", ctx.Err())
		}
		if err := cl.ProduceSync(ctx, recs[i:min(i+per, len(recs))]...).FirstErr(); err != nil {
			return fmt.Errorf("write input: %w", err)
		}
	}
	return nil
}

// readInput reads the input back through observe and checks it against
// what was written.
func readInput(ctx context.Context, copts []kgo.Opt, gen []InputRecord) ([]InputRecord, map[int32]int64, checkers.Result, error) {
	recs, ends, err := observe.ReadCommitted(ctx, InputTopic, 30*time.Second, copts...)
	if err != nil {
		return nil, nil, checkers.Result{}, fmt.Errorf("read back input: %w", err)
	}
	var g, back []checkers.InputRecord
	for _, r := range gen {
		g = append(g, checkers.InputRecord{Topic: InputTopic, Partition: r.Partition, Offset: -1, Key: r.Key, Value: r.Value})
	}
	var committed []InputRecord
	for _, r := range recs {
		committed = append(committed, InputRecord{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value})
		back = append(back, checkers.InputRecord{Topic: InputTopic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value})
	}
	sort.SliceStable(committed, func(i, j int) bool {
		if committed[i].Partition != committed[j].Partition {
			return committed[i].Partition < committed[j].Partition
		}
		return committed[i].Offset < committed[j].Offset
	})
	endMap := map[int32]int64{}
	for _, e := range ends {
		endMap[e.Partition] = e.HighWatermark
	}
	return committed, endMap, checkers.Input(g, back), nil
}

// drive starts the instances, runs the schedule, and waits until the
// output is complete and settled or the deadline passes.
func drive(ctx context.Context, cfg Config, cl *cluster, sup *Supervisor, copts []kgo.Opt, inputCh <-chan inputResult, in *inputResult, res *Result, progress func(string, ...any)) error {
	deadline := time.Now().Add(time.Duration(cfg.Deadline))
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	start := time.Now()
	since := func() Duration { return Duration(time.Since(start)) }

	var mu sync.Mutex
	// busy[slot] > 0 while a fault owns the slot (paused, or down until
	// its restart): the supervisor's own restarts leave it alone.
	busy := map[int]int{}
	var stopping bool
	selfRestarts := map[int]int{}
	sup.Exited = func(p *Proc, err error) {
		mu.Lock()
		defer mu.Unlock()
		if stopping || busy[p.Slot] > 0 || p.Slot >= cfg.Instances || p != sup.Current(p.Slot) {
			return
		}
		// The instance exited by itself: a process manager starts it
		// again, as one would in production, a bounded number of times.
		if selfRestarts[p.Slot] >= 20 {
			progress("instance %d exited (%v) for the 20th time; not restarting it", p.Slot, err)
			return
		}
		selfRestarts[p.Slot]++
		res.SelfExits++
		progress("instance %d exited by itself (%v); restarting it", p.Slot, err)
		go func() {
			time.Sleep(200 * time.Millisecond)
			if _, err := sup.Start(p.Slot); err != nil && !errors.Is(err, ErrClosed) {
				progress("restart instance %d: %v", p.Slot, err)
			}
		}()
	}

	for slot := range cfg.Instances {
		if _, err := sup.Start(slot); err != nil {
			return &BadInputError{err}
		}
	}
	progress("started %d instances of %s", cfg.Instances, strings.Join(cfg.Command, " "))

	// The evictor removes group members kfake keeps although they are
	// dead (see broker.go); it runs until drive returns.
	evictAdm, err := kgo.NewClient(copts...)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer evictAdm.Close()
	evictDone := make(chan struct{})
	evictStopped := make(chan struct{})
	defer func() { close(evictDone); <-evictStopped }()
	go func() {
		defer close(evictStopped)
		for {
			select {
			case <-evictDone:
				return
			case <-time.After(500 * time.Millisecond):
			}
			ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
			dead := cl.evictDead(ectx, evictAdm)
			cancel()
			if len(dead) > 0 {
				mu.Lock()
				res.Evicted += len(dead)
				mu.Unlock()
				progress("evicted %d group members kfake kept though nothing was heard from them for their session timeout: %v", len(dead), dead)
			}
		}
	}()

	res.Faults = make([]Fired, len(cfg.Schedule.Faults))
	var wg sync.WaitGroup // follow-ups: restarts, resumes, leaves
	fire := func(i int, note string) {
		mu.Lock()
		defer mu.Unlock()
		res.Faults[i].Fired, res.Faults[i].At, res.Faults[i].Note = true, since(), note
		res.FiredByKind[res.Faults[i].Fault.Kind]++
		progress("%s: %s", time.Duration(since()).Round(time.Millisecond), note)
	}
	miss := func(i int, note string) {
		mu.Lock()
		defer mu.Unlock()
		res.Faults[i].Note = note
	}
	later := func(d Duration, fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Duration(d)):
			case <-ctx.Done():
			}
			fn()
		}()
	}
	hold := func(slot, n int) { mu.Lock(); busy[slot] += n; mu.Unlock() }
	// signalled records fault i, a signal to f.Instance, as fired, or as
	// missed when the instance was not running.
	signalled := func(i int, f Fault, ok bool, err error) {
		if !ok || err != nil {
			miss(i, fmt.Sprintf("instance %d was not running (%v)", f.Instance, err))
		} else {
			fire(i, f.String())
		}
	}
	restart := func(slot int) {
		hold(slot, -1)
		if !sup.Running(slot) {
			if _, err := sup.Start(slot); err != nil && !errors.Is(err, ErrClosed) {
				progress("restart instance %d: %v", slot, err)
			}
		}
	}
	nextSlot := cfg.Instances
	var handles []func() int
	var errIdx []int
	for i, f := range cfg.Schedule.Faults {
		res.Faults[i].Fault = f
		select {
		case <-time.After(time.Until(start.Add(time.Duration(f.At)))):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			miss(i, "the deadline passed first")
			continue
		}
		switch f.Kind {
		case KindKill:
			hold(f.Instance, 1)
			ok, err := sup.Kill(f.Instance)
			signalled(i, f, ok, err)
			later(f.After, func() { restart(f.Instance) })
		case KindPause:
			hold(f.Instance, 1)
			ok, err := sup.Signal(f.Instance, syscall.SIGSTOP)
			signalled(i, f, ok, err)
			later(f.After, func() {
				sup.Signal(f.Instance, syscall.SIGCONT)
				hold(f.Instance, -1)
			})
		case KindRestart:
			hold(f.Instance, 1)
			ok, err := sup.Terminate(f.Instance)
			signalled(i, f, ok, err)
			later(f.After, func() { restart(f.Instance) })
		case KindKillAt, KindPauseAt:
			i, f := i, f
			sig, name := syscall.SIGKILL, "SIGKILL"
			if f.Kind == KindPauseAt {
				sig, name = syscall.SIGSTOP, "SIGSTOP"
			}
			hold(f.Instance, 1)
			h := &hook{api: apiKeys[f.API], instance: f.Instance}
			firedCh := make(chan struct{})
			h.act = func(node int32, req kmsg.Request, slot int) (string, bool, error) {
				p := sup.Current(slot)
				if p != nil && !p.Exited() {
					signalGroup(p.Pid, sig)
				}
				fire(i, f.String()+fmt.Sprintf(" (pid %d, at broker %d)", pidOf(p), node))
				close(firedCh)
				if f.Point == "before" {
					return fmt.Sprintf("%s instance before applying (fault %d)", name, i), true, errors.New("the request was not applied")
				}
				return fmt.Sprintf("%s instance, request applied, answer not read (fault %d)", name, i), false, nil
			}
			cl.arm(h)
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-firedCh:
					select {
					case <-time.After(time.Duration(f.After)):
					case <-ctx.Done():
					}
				case <-time.After(killAtTTL):
					cl.mu.Lock()
					if !h.fired {
						h.disarmed = true
					}
					fired := h.fired
					cl.mu.Unlock()
					if fired {
						<-firedCh
						time.Sleep(time.Duration(f.After))
					} else {
						miss(i, fmt.Sprintf("instance %d sent no %s within %v", f.Instance, f.API, killAtTTL))
					}
				case <-ctx.Done():
				}
				if f.Kind == KindPauseAt {
					sup.Signal(f.Instance, syscall.SIGCONT)
					hold(f.Instance, -1)
					return
				}
				restart(f.Instance)
			}()
		case KindError:
			h, err := cl.injectError(f.API, f.Error, f.Count)
			if err != nil {
				return err
			}
			mu.Lock()
			handles = append(handles, func() int { n := h.Hits(); h.Remove(); return n })
			errIdx = append(errIdx, i)
			res.Faults[i].Note, res.Faults[i].At = f.String(), since()
			mu.Unlock()
			progress("%s: armed: %s", time.Duration(since()).Round(time.Millisecond), f.String())
		case KindWithhold:
			i, f := i, f
			cl.arm(&hook{api: apiKeys[f.API], instance: -1, act: func(node int32, req kmsg.Request, slot int) (string, bool, error) {
				fire(i, fmt.Sprintf("%s (instance %d, broker %d)", f.String(), slot, node))
				cl.c.SleepControl(func() { time.Sleep(time.Duration(f.After)) })
				return fmt.Sprintf("answer withheld %v (fault %d)", time.Duration(f.After), i), false, nil
			}})
		case KindMoveLeaders:
			i, f := i, f
			cl.arm(&hook{api: anyRequest, instance: -1, act: func(int32, kmsg.Request, int) (string, bool, error) {
				cl.moveLeaders()
				fire(i, f.String())
				return "", false, nil
			}})
		case KindMoveCoordinators:
			cl.c.RehashCoordinators()
			fire(i, f.String())
		case KindJoin:
			slot := nextSlot
			nextSlot++
			if _, err := sup.Start(slot); err != nil {
				miss(i, err.Error())
				continue
			}
			fire(i, fmt.Sprintf("%s (instance %d)", f.String(), slot))
			later(f.After, func() { sup.Terminate(slot) })
		}
	}
	wg.Wait()
	cl.disarmAll()
	mu.Lock()
	for k, h := range handles {
		i := errIdx[k]
		if n := h(); n > 0 {
			res.Faults[i].Fired, res.Faults[i].Note = true, fmt.Sprintf("%s: answered %d requests", res.Faults[i].Note, n)
			res.FiredByKind[KindError]++
		} else {
			res.Faults[i].Note += ": no such request came"
		}
	}
	mu.Unlock()
	for slot := range cfg.Instances {
		if !sup.Running(slot) {
			if _, err := sup.Start(slot); err != nil && !errors.Is(err, ErrClosed) {
				progress("restart instance %d after the faults: %v", slot, err)
			}
		}
	}
	res.Healed = since()
	if len(cfg.Schedule.Faults) > 0 {
		progress("faults over at %.1fs; waiting for the output", time.Duration(res.Healed).Seconds())
	}

	select {
	case *in = <-inputCh:
	case <-ctx.Done():
		return fmt.Errorf("the input was not written within the %v deadline", time.Duration(cfg.Deadline))
	}
	if in.err != nil {
		return in.err
	}
	inEnds := in.ends
	adm, err := kgo.NewClient(append(copts, kgo.MaxVersions(kversion.V2_8_0()))...)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer adm.Close()
	var doneSince time.Time
	lastReport := time.Now()
	for ctx.Err() == nil {
		st := status(ctx, adm, inEnds, cfg.OutputPartitions)
		if st.done {
			if doneSince.IsZero() {
				doneSince = time.Now()
				res.Complete = since()
			}
			if time.Since(doneSince) >= time.Duration(cfg.Settle) {
				break
			}
		} else {
			doneSince = time.Time{}
		}
		if time.Since(lastReport) >= 5*time.Second {
			lastReport = time.Now()
			progress("%.0fs: %s", time.Since(start).Seconds(), st.text)
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	if ctx.Err() != nil && doneSince.IsZero() {
		res.Complete = 0
		progress("deadline %v passed before the output was complete", time.Duration(cfg.Deadline))
	}
	// What the group looked like at the end, for a run that stalled:
	// which member held which partitions.
	gctx, gcancel := context.WithTimeout(context.Background(), 3*time.Second)
	res.Group = describeGroup(gctx, adm)
	gcancel()
	mu.Lock()
	stopping = true
	mu.Unlock()
	return nil
}

// describeGroup lists the group's state and each member's assignment.
func describeGroup(ctx context.Context, adm *kgo.Client) []string {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{Group}
	resp, err := req.RequestWith(ctx, adm)
	if err != nil {
		return []string{"describe group: " + err.Error()}
	}
	var out []string
	for _, g := range resp.Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			out = append(out, "describe group: "+err.Error())
			continue
		}
		out = append(out, fmt.Sprintf("group %s state %s protocol %s, %d members", g.Group, g.State, g.Protocol, len(g.Members)))
		for _, m := range g.Members {
			var a kmsg.ConsumerMemberAssignment
			desc := "assignment not decodable"
			if err := a.ReadFrom(m.MemberAssignment); err == nil {
				var parts []string
				for _, t := range a.Topics {
					parts = append(parts, fmt.Sprintf("%s%v", t.Topic, t.Partitions))
				}
				desc = "assigned " + strings.Join(parts, " ")
			}
			out = append(out, fmt.Sprintf("  member %s (client %s, host %s): %s", m.MemberID, m.ClientID, m.ClientHost, desc))
		}
	}
	return out
}

// killAtTTL is how long a kill-at fault waits for its request.
const killAtTTL = 5 * time.Second

func pidOf(p *Proc) int {
	if p == nil {
		return 0
	}
	return p.Pid
}

type progressStatus struct {
	done bool
	text string
}

// status reports whether the group has committed every input partition to
// its end and no output transaction is open.
func status(ctx context.Context, adm *kgo.Client, inEnds map[int32]int64, outParts int) progressStatus {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	offs, err := groupOffsets(ctx, adm)
	if err != nil {
		return progressStatus{text: "group offsets: " + err.Error()}
	}
	var consumed, total int64
	all := true
	for p, end := range inEnds { // lint:sorted sums and a conjunction
		total += end
		o := offs[p]
		consumed += min(max(o, 0), end)
		if o < end {
			all = false
		}
	}
	open, err := openOutput(ctx, adm, outParts)
	if err != nil {
		return progressStatus{text: "output ends: " + err.Error()}
	}
	text := fmt.Sprintf("group committed %d of %d input offsets; %d output partitions with an open transaction", consumed, total, open)
	return progressStatus{done: all && open == 0, text: text}
}

// groupOffsets fetches the group's committed input offsets (OffsetFetch
// v7, before topic IDs and group batches).
func groupOffsets(ctx context.Context, adm *kgo.Client) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = Group
	req.Topics = nil // every topic the group committed
	resp, err := req.RequestWith(ctx, adm)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, t := range resp.Topics {
		if t.Topic != InputTopic {
			continue
		}
		for _, p := range t.Partitions {
			if kerr.ErrorForCode(p.ErrorCode) == nil {
				out[p.Partition] = p.Offset
			}
		}
	}
	return out, nil
}

// openOutput counts output partitions whose last stable offset is below
// the high watermark.
func openOutput(ctx context.Context, adm *kgo.Client, partitions int) (int, error) {
	ends := map[int8]map[int32]int64{}
	for _, iso := range []int8{0, 1} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = iso
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = OutputTopic
		for p := range int32(partitions) {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, adm)
		if err != nil {
			return 0, err
		}
		ends[iso] = map[int32]int64{}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if kerr.ErrorForCode(p.ErrorCode) == nil {
					ends[iso][p.Partition] = p.Offset
				}
			}
		}
	}
	open := 0
	for p, hwm := range ends[0] { // lint:sorted a count
		if ends[1][p] < hwm {
			open++
		}
	}
	return open, nil
}
