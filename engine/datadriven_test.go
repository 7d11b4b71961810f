package engine

// The engine's protocol scripts as data. Each file under testdata/ is a
// script in the datadriven format of cockroachdb/datadriven (as in etcd
// raft's and pebble's tests): one directive per step, a "# ..." comment
// above it saying what the step does in the words of the protocol, and
// below "----" the exact log lines the step makes the fakes of
// fakeenv_test.go write.
//
// To regenerate the expected output after a deliberate change of the
// engine's behaviour, run the test with datadriven's own flag and read the
// diff of testdata/ before committing it:
//
//	go test ./engine/ -run TestAlignmentScripts -rewrite
//	go test ./engine/ -run 'Scripts$' -rewrite
//
// testdata/late-metadata-agrees-with-storage is not walked: it is the
// golden start of TestCoordinatorLateMetadataAgreesWithStorage, whose end
// checks properties in Go (coordinator_test.go).
//
// A directive is one action, "cmd arg=value ..."; its input lines, if any,
// are further actions of the same step, run in order after it, and the
// expected output is what all of them log. The vocabulary:
//
// Setting up (each starts a fresh harness; a file may hold several):
//
//	task job=J vertex=V [credits=N] [restore=N] [mutant=M] [window=(tumbling, D) | window=(sliding, D, S)] [agg=sum|count|max] [lateness=D]
//	    the task of vertex V of job J (align, etime, win, src, keyby, see
//	    scriptJobs). restore=N deploys it restoring checkpoint N; load-done
//	    then serves the files the file's earlier tasks persisted.
//	coordinator [tolerable=N] [restart=exponential] [mutant=M]
//	    a coordinator of the align job, checkpoint config
//	    testCheckpointConfig, fixed-delay restarts of 100ms unless
//	    restart=exponential (100ms doubling up to 1s).
//
// A mutant=M option switches the named engine mutant on: a mutant script
// is the script of the correct engine it breaks (named in its header) and
// its output differs where the mutant's bug shows.
//
// To a task:
//
//	start                           Task.Start
//	rec in=I k=K v=V [ts=T]         a record on vertex input I
//	barrier in=I cp=N               barrier N on vertex input I
//	watermark in=I w=W              watermark W on vertex input I
//	idle in=I                       input I goes idle
//	credit gate=G ch=C n=N          N credits back on output channel C of gate G
//	trigger cp=N                    the coordinator triggers checkpoint N (a source)
//	persist-done [i=I] [err=(E)]    the I-th outstanding Persist completes
//	load-done [i=I]                 the I-th outstanding Load completes
//	kafka-done [now=D] [err=timeout] [pP=(first, k:v, ...) ...]
//	                                the oldest Kafka request is answered: a
//	                                fetch of the task's topic with each
//	                                partition P's records from offset first
//	fire-to at=D                    timers due up to D fire
//	show-snapshot [i=I]             log the I-th snapshot persisted
//	show-acks                       log every ack sent (handle, size, offsets)
//	show-watermark                  log the task's current watermark
//	show-late                       log the task's late-record count
//
// To a coordinator:
//
//	start                           Coordinator.Start
//	state-done [err=(E)]            the oldest coordinator-state write completes
//	metadata-done [err=(E)]         the oldest metadata write completes
//	fire-to at=D                    timers due up to D fire
//	running attempt=A               every task of attempt A reports running
//	ack attempt=A cp=N [tasks=(T, ...)]
//	                                the tasks (all by default) ack N; a source
//	                                reports offset 10*N for its partition
//	decline attempt=A cp=N task=T reason=R
//	task-failed attempt=A task=T reason=(R) [restore=N]
//	show-completed                  log the latest and every retained checkpoint
//	show-deploys attempt=A          log attempt A's deployments
//	show-restarts                   log how many restarts there were

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/internal/kproto"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAlignmentScripts(t *testing.T)   { runScripts(t, "testdata/alignment") }
func TestCoordinatorScripts(t *testing.T) { runScripts(t, "testdata/coordinator") }
func TestEventTimeScripts(t *testing.T)   { runScripts(t, "testdata/eventtime") }
func TestSourceScripts(t *testing.T)      { runScripts(t, "testdata/source") }
func TestMutantScripts(t *testing.T)      { runScripts(t, "testdata/mutants") }

// runScripts runs every script under dir, each against fresh harnesses.
func runScripts(t *testing.T, dir string) {
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		datadriven.RunTest(t, path, new(scriptRunner).step)
	})
}

// scriptRunner interprets one script file.
type scriptRunner struct {
	task  *taskHarness
	coord *coordHarness
	log   *fakeLog
	// storage is every file the file's earlier tasks persisted, by name:
	// what a restoring task's Load finds.
	storage map[string][]byte
}

// step runs a directive and its input lines as one step and returns what
// they logged.
func (r *scriptRunner) step(t *testing.T, td *datadriven.TestData) string {
	actions := []*datadriven.TestData{td}
	for _, l := range strings.Split(td.Input, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		cmd, args, err := datadriven.ParseLine(l)
		if err != nil {
			td.Fatalf(t, "%v", err)
		}
		actions = append(actions, &datadriven.TestData{Pos: td.Pos, Cmd: cmd, CmdArgs: args})
	}
	if r.log != nil {
		r.log.take()
	}
	for _, d := range actions {
		r.do(t, d)
	}
	return strings.Join(r.log.take(), "\n")
}

func (r *scriptRunner) do(t *testing.T, d *datadriven.TestData) {
	for _, a := range d.CmdArgs {
		_, partition := strings.CutPrefix(a.Key, "p")
		if !slices.Contains(strings.Fields(commandArgs[d.Cmd]), a.Key) && !(d.Cmd == "kafka-done" && partition) {
			d.Fatalf(t, "%s takes no argument %q (it takes: %s)", d.Cmd, a.Key, commandArgs[d.Cmd])
		}
	}
	switch d.Cmd {
	case "task":
		r.newTask(t, d)
		return
	case "coordinator":
		r.newCoordinator(t, d)
		return
	}
	if r.task != nil {
		if f, ok := taskCommands[d.Cmd]; ok {
			f(t, r, d)
			return
		}
	}
	if r.coord != nil {
		if f, ok := coordCommands[d.Cmd]; ok {
			f(t, r.coord, d)
			return
		}
	}
	d.Fatalf(t, "unknown command %q here (a script starts with task or coordinator)", d.Cmd)
}

// arg is the value of d's argument key, which it must have.
func arg[T any](t *testing.T, d *datadriven.TestData, key string) T {
	var v T
	d.ScanArgs(t, key, &v)
	return v
}

// commandArgs are the arguments each command takes (kafka-done also pN,
// one per partition answered), so that a misspelt one fails the script
// rather than being read as absent.
var commandArgs = map[string]string{
	"task":          "job vertex credits restore mutant window agg lateness",
	"coordinator":   "tolerable concurrent restart mutant",
	"rec":           "in k v ts",
	"barrier":       "in cp",
	"watermark":     "in w",
	"idle":          "in",
	"credit":        "gate ch n",
	"trigger":       "cp",
	"persist-done":  "i err",
	"load-done":     "i",
	"kafka-done":    "now err",
	"fire-to":       "at",
	"show-snapshot": "i",
	"state-done":    "err",
	"metadata-done": "err",
	"running":       "attempt",
	"ack":           "attempt cp tasks",
	"decline":       "attempt cp task reason",
	"task-failed":   "attempt task reason restore",
	"show-deploys":  "attempt",
}

// argOr is the value of d's argument key, or def.
func argOr[T any](t *testing.T, d *datadriven.TestData, key string, def T) T {
	d.MaybeScanArgs(t, key, &def)
	return def
}

// argErr is the error named by d's err argument, or nil.
func argErr(t *testing.T, d *datadriven.TestData) error {
	switch e := argOr(t, d, "err", ""); e {
	case "":
		return nil
	case "timeout":
		return protocol.ErrTimeout
	default:
		return errors.New(e)
	}
}

func argMutants(t *testing.T, d *datadriven.TestData) Mutants {
	name := argOr(t, d, "mutant", "")
	if name == "" {
		return nil
	}
	m, err := ParseMutant(name)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return Mutants{m}
}

// taskHarness is a task under test with its fake environment.
type taskHarness struct {
	task *Task
	env  *fakeTaskEnv
}

func (r *scriptRunner) newTask(t *testing.T, d *datadriven.TestData) {
	jobName, vertex := arg[string](t, d, "job"), arg[string](t, d, "vertex")
	build, ok := scriptJobs[jobName]
	if !ok {
		d.Fatalf(t, "no job %q", jobName)
	}
	job := build(t, d)
	cfg := DefaultTaskConfig()
	cfg.ChannelCredits = argOr(t, d, "credits", cfg.ChannelCredits)
	cfg.Mutants = argMutants(t, d)
	dep := Deployment{Task: TaskID{Vertex: vertexIndex(t, job, vertex)}, StoragePrefix: "chk", FenceUpTo: 1}
	if d.MaybeScanArgs(t, "restore", &dep.Restore) {
		dep.Handle = handle(job.TaskName(dep.Task), dep.Restore)
	}
	if r.storage == nil {
		r.storage = map[string][]byte{}
	}
	if r.task != nil {
		for _, p := range r.task.env.persisted {
			r.storage[p.name] = p.data
		}
	}
	env := newFakeTaskEnv()
	r.task = &taskHarness{task: NewTask(job, dep, env.forJob(job), cfg, nil), env: env}
	r.coord, r.log = nil, &env.fakeLog
}

// deliver delivers sm to the task on the directive's vertex input in.
func (r *scriptRunner) deliver(t *testing.T, d *datadriven.TestData, sm StreamMsg) {
	deliverStream(r.task.task, arg[int](t, d, "in"), 0, sm)
}

// taskCommands are the actions on a task harness.
var taskCommands = map[string]func(t *testing.T, r *scriptRunner, d *datadriven.TestData){
	"start": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) { r.task.task.Start() },
	"rec": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		rec := Record{Key: arg[string](t, d, "k"), Value: arg[string](t, d, "v"), Time: argOr(t, d, "ts", int64(0))}
		r.deliver(t, d, StreamMsg{Kind: KindRecord, Record: rec})
	},
	"barrier": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		r.deliver(t, d, StreamMsg{Kind: KindBarrier, Checkpoint: arg[int64](t, d, "cp")})
	},
	"watermark": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		r.deliver(t, d, StreamMsg{Kind: KindWatermark, Watermark: arg[int64](t, d, "w")})
	},
	"idle": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		r.deliver(t, d, StreamMsg{Kind: KindWatermark, Idle: true})
	},
	"credit": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		deliverCredit(r.task.task, arg[int](t, d, "gate"), arg[int](t, d, "ch"), arg[int](t, d, "n"))
	},
	"trigger": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		deliverControl(r.task.task, protocol.MsgTrigger, arg[int64](t, d, "cp"), 0)
	},
	"persist-done": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		r.task.env.completePersist(argOr(t, d, "i", 0), argErr(t, d))
	},
	"load-done": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		i := argOr(t, d, "i", 0)
		data, ok := r.storage[r.task.env.loads[i].name]
		var err error
		if !ok {
			err = fmt.Errorf("no file %s", r.task.env.loads[i].name)
		}
		r.task.env.completeLoad(i, data, err)
	},
	"kafka-done": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		if now, ok := d.Arg("now"); ok {
			var at time.Duration
			now.Scan(t, 0, &at)
			r.task.env.now = int64(at)
		}
		if err := argErr(t, d); err != nil {
			r.task.env.completeKafka(0, nil, err)
			return
		}
		topic := r.task.task.v.Source.Topic
		resp := kmsg.NewPtrFetchResponse()
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = topic
		for _, a := range d.CmdArgs {
			if a.Key == "now" || a.Key == "err" {
				continue
			}
			p, err := strconv.ParseInt(strings.TrimPrefix(a.Key, "p"), 10, 32)
			if err != nil {
				d.Fatalf(t, "%s: not a partition pN", a.Key)
			}
			first, err := strconv.ParseInt(a.Vals[0], 10, 64)
			if err != nil {
				d.Fatalf(t, "%s: first offset: %v", a.Key, err)
			}
			var recs []kproto.Record
			for _, kv := range a.Vals[1:] {
				k, v, _ := strings.Cut(kv, ":")
				recs = append(recs, kproto.Record{Key: []byte(k), Value: []byte(v)})
			}
			rp := fetchResponse(topic, first, recs...).Topics[0].Partitions[0]
			rp.Partition = int32(p)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
		r.task.env.completeKafka(0, resp, nil)
	},
	"fire-to": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		r.task.env.fireTimers(argOr(t, d, "at", time.Duration(0)))
	},
	"show-snapshot": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		r.task.env.logSnapshot(argOr(t, d, "i", 0))
	},
	"show-acks": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		for _, a := range r.task.env.acks {
			var offs []string
			for _, tp := range slices.Sorted(maps.Keys(a.Offsets)) {
				offs = append(offs, fmt.Sprintf("%s@%d", tp, a.Offsets[tp]))
			}
			r.task.env.logf("acked cp=%d handle=%s size=%d offsets=[%s]", a.Checkpoint, a.Handle, a.Size, strings.Join(offs, " "))
		}
	},
	"show-watermark": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		r.task.env.logf("current watermark %s", renderWatermark(r.task.task.CurrentWatermark()))
	},
	"show-late": func(t *testing.T, r *scriptRunner, d *datadriven.TestData) {
		r.task.env.logf("late records %d", r.task.task.LateRecords())
	},
}

// coordHarness is a coordinator under test with its fake environment.
type coordHarness struct {
	c   *Coordinator
	env *fakeCoordEnv
	job *Job
}

func testCheckpointConfig() CheckpointConfig {
	return CheckpointConfig{Interval: 50 * time.Millisecond, Timeout: time.Second, TolerableFailures: 0, Retained: 2}
}

func fixedRestart() RestartStrategy {
	return RestartStrategy{Kind: "fixed-delay", Delay: 100 * time.Millisecond}
}

func newCoordHarness(t *testing.T, cfg CheckpointConfig, rs RestartStrategy, mutants Mutants) *coordHarness {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("checkpoint config: %v", err)
	}
	if err := rs.Validate(); err != nil {
		t.Fatalf("restart strategy: %v", err)
	}
	job := twoInputJob(t)
	env := newFakeCoordEnv(job)
	return &coordHarness{c: NewCoordinator(job, env, cfg, rs, mutants, "chk"), env: env, job: job}
}

func (r *scriptRunner) newCoordinator(t *testing.T, d *datadriven.TestData) {
	cfg := testCheckpointConfig()
	cfg.TolerableFailures = argOr(t, d, "tolerable", cfg.TolerableFailures)
	cfg.MaxConcurrent = argOr(t, d, "concurrent", cfg.MaxConcurrent)
	rs := fixedRestart()
	switch s := argOr(t, d, "restart", "fixed"); s {
	case "fixed":
	case "exponential":
		rs = RestartStrategy{Kind: "exponential-delay", Delay: 100 * time.Millisecond, MaxDelay: time.Second, Multiplier: 2}
	default:
		d.Fatalf(t, "no restart strategy %q", s)
	}
	r.coord = newCoordHarness(t, cfg, rs, argMutants(t, d))
	r.task, r.log = nil, &r.coord.env.fakeLog
}

func (h *coordHarness) task(name string) TaskID {
	for _, id := range h.job.Tasks() {
		if h.job.TaskName(id) == name {
			return id
		}
	}
	panic("no task " + name)
}

// handle is where task name's snapshot of checkpoint n lives, as tasks name
// it.
func handle(name string, n int64) string {
	vertex, subtask, _ := strings.Cut(name, "/")
	i, _ := strconv.Atoi(subtask)
	return Layout{Prefix: "chk"}.TaskHandle(n, vertex, i)
}

var allTasks = []string{"a/0", "b/0", "op/0", "sink/0"}

// coordCommands are the actions on a coordinator harness.
var coordCommands = map[string]func(t *testing.T, h *coordHarness, d *datadriven.TestData){
	"start":         func(t *testing.T, h *coordHarness, d *datadriven.TestData) { h.c.Start() },
	"state-done":    func(t *testing.T, h *coordHarness, d *datadriven.TestData) { h.env.completeState(0, argErr(t, d)) },
	"metadata-done": func(t *testing.T, h *coordHarness, d *datadriven.TestData) { h.env.completeMetadata(0, argErr(t, d)) },
	"fire-to": func(t *testing.T, h *coordHarness, d *datadriven.TestData) {
		h.env.fireTimers(argOr(t, d, "at", time.Duration(0)))
	},
	"running": func(t *testing.T, h *coordHarness, d *datadriven.TestData) {
		attempt := argOr(t, d, "attempt", 1)
		for _, id := range h.job.Tasks() {
			fromTask(h.c, Message{Type: protocol.MsgRunning}, attempt, id)
		}
	},
	"ack": func(t *testing.T, h *coordHarness, d *datadriven.TestData) {
		n := arg[int64](t, d, "cp")
		for _, name := range argOr(t, d, "tasks", allTasks) {
			a := Ack{Task: h.task(name), Checkpoint: n, Handle: handle(name, n), Size: 100}
			if v := h.job.Vertices[a.Task.Vertex]; v.Kind == SourceVertex {
				a.Offsets = map[string]int64{v.Source.Topic + "/0": 10 * n}
			}
			ackFrom(h.c, argOr(t, d, "attempt", 1), a)
		}
	},
	"decline": func(t *testing.T, h *coordHarness, d *datadriven.TestData) {
		m := Message{Type: protocol.MsgDecline, Checkpoint: arg[int64](t, d, "cp"), Reason: arg[string](t, d, "reason")}
		fromTask(h.c, m, argOr(t, d, "attempt", 1), h.task(arg[string](t, d, "task")))
	},
	"task-failed": func(t *testing.T, h *coordHarness, d *datadriven.TestData) {
		f := &Failure{Reason: arg[string](t, d, "reason"), RestoreCheckpoint: argOr(t, d, "restore", int64(0))}
		fromTask(h.c, Message{Type: protocol.MsgFailed, Failure: f}, argOr(t, d, "attempt", 1), h.task(arg[string](t, d, "task")))
	},
	"show-completed": func(t *testing.T, h *coordHarness, d *datadriven.TestData) {
		switch md, err := h.c.LatestCompleted(); {
		case errors.Is(err, ErrNoCheckpoint):
			h.env.logf("latest completed: none")
		case err != nil:
			h.env.logf("latest completed: error %v", err)
		default:
			h.env.logf("latest completed: cp=%d", md.Checkpoint)
		}
		for _, md := range h.c.Completed() {
			h.env.logf("retained cp=%d", md.Checkpoint)
			for _, name := range slices.Sorted(maps.Keys(md.Handles)) {
				h.env.logf("  %s %s", name, md.Handles[name])
			}
		}
	},
	"show-deploys": func(t *testing.T, h *coordHarness, d *datadriven.TestData) {
		for _, dep := range h.env.deploys[argOr(t, d, "attempt", 1)] {
			h.env.logf("%s restore=%d handle=%s prefix=%s", h.job.TaskName(dep.Task), dep.Restore, dep.Handle, dep.StoragePrefix)
		}
	},
	"show-restarts": func(t *testing.T, h *coordHarness, d *datadriven.TestData) {
		h.env.logf("restarts %d", h.c.Restarts())
	},
}

// The jobs scripts run, by the name a task directive gives.
var scriptJobs = map[string]func(t *testing.T, d *datadriven.TestData) *Job{
	// source a + source b -> op (passThrough) -> sink, parallelism 1: op
	// has input channels 0 (from a) and 1 (from b), one output g0/ch0.
	"align": func(t *testing.T, d *datadriven.TestData) *Job { return twoInputJob(t) },
	// the same graph with op running timerFn.
	"etime": func(t *testing.T, d *datadriven.TestData) *Job {
		return connectedJob(t, "etime", func() KeyedProcessFunction { return timerFn{} })
	},
	// source in -> win -> sink, with win's late records (side output) to
	// sink late, parallelism 1: win has one input and two output gates, g0
	// to the sink and g1 to the late-record sink. The window, its
	// aggregation of the number after ':' in a value, and its allowed
	// lateness are the directive's window, agg and lateness.
	"win": func(t *testing.T, d *datadriven.TestData) *Job {
		var assigner WindowAssigner
		var kind string
		var size, slide time.Duration
		switch w, _ := d.Arg("window"); {
		case len(w.Vals) == 2:
			w.Scan(t, 0, &kind)
			w.Scan(t, 1, &size)
			assigner = Tumbling(size)
		case len(w.Vals) == 3:
			w.Scan(t, 0, &kind)
			w.Scan(t, 1, &size)
			w.Scan(t, 2, &slide)
			assigner = Sliding(size, slide)
		default:
			d.Fatalf(t, "window=(tumbling, size) or window=(sliding, size, slide)")
		}
		agg := map[string]Aggregation{"sum": Sum(amount), "count": Count(), "max": Max(amount)}[argOr(t, d, "agg", "sum")]
		var opts []WindowOption
		if l := argOr(t, d, "lateness", time.Duration(0)); l > 0 {
			opts = append(opts, AllowedLateness(l))
		}
		b := NewJob("win")
		w := b.Source("in", "in", 1, 1).WithWatermarks(BoundedOutOfOrderness(0)).
			KeyBy(func(r Record) string { return r.Key }).
			Window("win", 1, assigner, agg, opts...)
		w.SinkTo("sink", "out", 1, 1, ExactlyOnce)
		w.SideOutput(LateDataTag).SinkTo("late", "late", 1, 1, ExactlyOnce)
		return buildJob(t, b)
	},
	// source in of two partitions, event time from the value's "@time",
	// bound 10ms, idle timeout 20ms -> sink.
	"src": func(t *testing.T, d *datadriven.TestData) *Job {
		b := NewJob("src")
		b.Source("in", "in", 2, 1).
			WithWatermarks(BoundedOutOfOrderness(10*time.Millisecond).WithIdleness(20*time.Millisecond).WithTimestampAssigner(valueTime)).
			SinkTo("sink", "out", 1, 1, ExactlyOnce)
		return buildJob(t, b)
	},
	// source in keyed by "key-of-"+value -> op (passThrough) -> sink.
	"keyby": func(t *testing.T, d *datadriven.TestData) *Job {
		b := NewJob("keyby")
		b.Source("in", "in", 1, 1).
			KeyBy(func(r Record) string { return "key-of-" + r.Value }).
			Process("op", 1, func() KeyedProcessFunction { return ProcessFunc(passThrough) }).
			SinkTo("sink", "out", 1, 1, ExactlyOnce)
		return buildJob(t, b)
	},
}

func buildJob(t *testing.T, b *Builder) *Job {
	t.Helper()
	job, err := b.Build()
	if err != nil {
		t.Fatalf("build job: %v", err)
	}
	return job
}

// passThrough emits every record unchanged and remembers the last value it
// saw per key in value state "last", so that a snapshot shows which records
// it covers.
func passThrough(ctx *Context, _ int, r Record) error {
	if err := ctx.Value("last").Set(r.Value); err != nil {
		return err
	}
	ctx.Emit(r)
	return nil
}

// twoInputJob builds source a + source b -> op -> sink, parallelism 1.
func twoInputJob(t *testing.T) *Job {
	t.Helper()
	return connectedJob(t, "align", func() KeyedProcessFunction { return ProcessFunc(passThrough) })
}

// connectedJob builds source a (topic in-a) + source b (in-b) -> op (fn)
// -> sink, parallelism 1.
func connectedJob(t *testing.T, name string, fn func() KeyedProcessFunction) *Job {
	t.Helper()
	b := NewJob(name)
	key := func(r Record) string { return r.Key }
	a := b.Source("a", "in-a", 1, 1).KeyBy(key)
	bb := b.Source("b", "in-b", 1, 1).KeyBy(key)
	ConnectKeyed(a, bb, "op", 1, fn).SinkTo("sink", "out", 1, 1, ExactlyOnce)
	return buildJob(t, b)
}

// timerFn passes every record on and asks for an event-time timer 10ms
// after it; a timer emits a record naming its domain, time and the
// watermark that fired it.
type timerFn struct{}

func (timerFn) ProcessElement(ctx *Context, _ int, r Record) error {
	if err := ctx.Value("last").Set(r.Value); err != nil {
		return err
	}
	ctx.RegisterEventTimeTimer(r.Time + 10)
	ctx.Emit(r)
	return nil
}

func (timerFn) OnTimer(ctx *Context, at int64) error {
	ctx.Emit(Record{Key: ctx.Key(), Value: fmt.Sprintf("timer %s@%d wm=%d", ctx.TimeDomain(), at, ctx.CurrentWatermark())})
	return nil
}

// amount reads the number after ':' in a record's value.
func amount(r Record) int64 {
	_, v, _ := strings.Cut(r.Value, ":")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// valueTime reads a record's event time from its value, "name@time".
func valueTime(r Record) int64 {
	_, ts, _ := strings.Cut(r.Value, "@")
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return r.Time
	}
	return n
}

func vertexIndex(t *testing.T, job *Job, name string) int {
	t.Helper()
	for i, v := range job.Vertices {
		if v.Name == name {
			return i
		}
	}
	t.Fatalf("job %s has no vertex %s", job.Name, name)
	return -1
}

// fetchResponse is a read_committed fetch answer for partition 0 of topic:
// recs as one non-transactional batch at offset first.
func fetchResponse(topic string, first int64, recs ...kproto.Record) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.Partition = 0
	rp.HighWatermark = first + int64(len(recs))
	rp.LastStableOffset = rp.HighWatermark
	if len(recs) > 0 {
		batch := kproto.EncodeBatch(kproto.Producer{ID: -1, Epoch: -1}, -1, false, 0, recs)
		// FirstOffset is the batch's first 8 bytes, big-endian.
		for i := range 8 {
			batch[i] = byte(first >> (56 - 8*i))
		}
		rp.RecordBatches = batch
	}
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	return resp
}

// TestScriptMismatchFails shows that the interpreter can fail: the script
// of alignment/holds-records-behind-barrier passes as written and fails,
// naming both lines, once one expected line is changed.
func TestScriptMismatchFails(t *testing.T) {
	if f := flag.Lookup("rewrite"); f != nil && f.Value.String() == "true" {
		t.Skip("-rewrite compares nothing")
	}
	const path = "testdata/alignment/holds-records-behind-barrier"
	script, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	run := func(script string) (failed bool, msg string) {
		tb := &recordingTB{TB: t}
		done := make(chan struct{})
		go func() { // Fatalf ends the goroutine it is called on
			defer close(done)
			r := new(scriptRunner)
			datadriven.RunTestFromStringAny(tb, script, func(_ testing.TB, td *datadriven.TestData) string { return r.step(t, td) })
		}()
		<-done
		return tb.failed, tb.msg
	}
	if failed, msg := run(string(script)); failed {
		t.Fatalf("%s as written failed: %s", path, msg)
	}
	changed := strings.Replace(string(script), "\nack 1\n", "\nack 2\n", 1)
	if changed == string(script) {
		t.Fatalf("%s has no line \"ack 1\" to change", path)
	}
	failed, msg := run(changed)
	if !failed || !strings.Contains(msg, "ack 2") || !strings.Contains(msg, "ack 1") {
		t.Fatalf("with \"ack 1\" changed to \"ack 2\": failed %v, message:\n%s", failed, msg)
	}
}

// recordingTB is a testing.TB whose failures are recorded, not reported.
type recordingTB struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recordingTB) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }
func (r *recordingTB) Errorf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}
func (r *recordingTB) FailNow()            { r.failed = true; runtime.Goexit() }
func (r *recordingTB) Failed() bool        { return r.failed }
func (r *recordingTB) Logf(string, ...any) {}
