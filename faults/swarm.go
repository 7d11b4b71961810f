package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
)

// Swarm testing, after TigerBeetle's VOPR: instead of one fixed mix of
// faults, every seed draws its own topology, its own subset of fault kinds
// and their rates, and a plan from them. A run that enables only two kinds
// hammers their interaction far harder than a run that spreads the same
// number of faults over all of them, and across seeds every combination
// gets its turn.

// Swarm is what DrawSwarm drew for one seed, besides the plan. Print it (and
// the plan) at the start of a run, so that a failure report says everything
// the seed decided.
type Swarm struct {
	// Workers is the number of workers, "w0".."w{Workers-1}".
	Workers int `json:"workers"`
	// Parallelism is the parallelism of every operator of the job.
	Parallelism int `json:"parallelism"`
	// Kinds are the fault kinds switched on, in AllKinds order.
	Kinds []ActionKind `json:"kinds"`
	// Rates are the relative weights of Kinds when drawing each fault.
	Rates map[ActionKind]int `json:"rates"`
	// Faults is the number of faults in the plan.
	Faults int `json:"faults"`
	// Window is the span of simulated time that time triggers fall in.
	Window time.Duration `json:"window"`
}

// SwarmOptions bound what DrawSwarm may draw. Zero fields take the defaults
// given on each; a scenario sets only what it means to restrict.
type SwarmOptions struct {
	// Kinds are the fault kinds a swarm may switch on. Empty means
	// SwarmKinds().
	Kinds []ActionKind `json:"kinds,omitempty"`
	// WorkersMin and WorkersMax bound the number of workers (default 2..4).
	WorkersMin int `json:"workers_min,omitempty"`
	WorkersMax int `json:"workers_max,omitempty"`
	// ParallelismMax bounds the parallelism, drawn from 1 (default 4).
	ParallelismMax int `json:"parallelism_max,omitempty"`
	// FaultsMin and FaultsMax bound the number of faults (default 1..8).
	FaultsMin int `json:"faults_min,omitempty"`
	FaultsMax int `json:"faults_max,omitempty"`
	// Window is the span of simulated time, from the start, that time
	// triggers fall in (default 3s).
	Window time.Duration `json:"window,omitempty"`
	// CheckpointMax bounds the checkpoints that phase triggers name, from 1
	// (default 5).
	CheckpointMax int64 `json:"checkpoint_max,omitempty"`
}

// The defaults of SwarmOptions.
const (
	DefaultWorkersMin     = 2
	DefaultWorkersMax     = 4
	DefaultParallelismMax = 4
	DefaultFaultsMin      = 1
	DefaultFaultsMax      = 8
	DefaultWindow         = 3 * time.Second
	DefaultCheckpointMax  = 5
)

// SwarmKinds returns the kinds a swarm uses by default: every kind after
// which a correct engine must still pass every checker. ExpireTxn,
// CorruptCheckpoint and DeleteCheckpointFile are left out: they destroy
// data the engine relied on, and the right outcome is a loud failure, which
// only a scenario that expects it can judge.
func SwarmKinds() []ActionKind {
	return slices.DeleteFunc(AllKinds(), func(k ActionKind) bool {
		return k == ExpireTxn || k == CorruptCheckpoint || k == DeleteCheckpointFile
	})
}

// swarmRequests are the requests the engine issues on its data path; a swarm
// hits these, not set-up requests a run may never send.
var swarmRequests = []string{"Produce", "Fetch", "InitProducerID", "EndTxn"}

func (o SwarmOptions) withDefaults() SwarmOptions {
	if len(o.Kinds) == 0 {
		o.Kinds = SwarmKinds()
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.WorkersMin, DefaultWorkersMin)
	def(&o.WorkersMax, DefaultWorkersMax)
	def(&o.ParallelismMax, DefaultParallelismMax)
	def(&o.FaultsMin, DefaultFaultsMin)
	def(&o.FaultsMax, DefaultFaultsMax)
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.CheckpointMax == 0 {
		o.CheckpointMax = DefaultCheckpointMax
	}
	return o
}

// Validate reports what is wrong with the options, after defaults.
func (o SwarmOptions) Validate() error {
	o = o.withDefaults()
	var errs []error
	for i, k := range o.Kinds {
		if !k.Valid() {
			errs = append(errs, fmt.Errorf("kinds[%d]: unknown kind %q", i, k))
		} else if slices.Index(o.Kinds, k) != i {
			errs = append(errs, fmt.Errorf("kinds[%d]: %s listed twice", i, k))
		}
	}
	if o.WorkersMin < 1 || o.WorkersMax < o.WorkersMin {
		errs = append(errs, fmt.Errorf("workers: %d..%d is not a range of at least 1 worker", o.WorkersMin, o.WorkersMax))
	}
	if o.ParallelismMax < 1 {
		errs = append(errs, fmt.Errorf("parallelism_max: %d (want >= 1)", o.ParallelismMax))
	}
	if o.FaultsMin < 0 || o.FaultsMax < o.FaultsMin {
		errs = append(errs, fmt.Errorf("faults: %d..%d is not a range", o.FaultsMin, o.FaultsMax))
	}
	if o.Window < 0 {
		errs = append(errs, fmt.Errorf("window: %v is negative", o.Window))
	}
	if o.CheckpointMax < 1 {
		errs = append(errs, fmt.Errorf("checkpoint_max: %d (want >= 1)", o.CheckpointMax))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("swarm options: %w", err)
	}
	return nil
}

// DrawSwarm draws a swarm and its plan. Every random choice comes from r and
// from nothing else (no clock, no global source, no map order), in a fixed
// order: workers, parallelism, one coin per allowed kind (in AllKinds order;
// at least one kind ends up on), one rate per kind switched on, the number of
// faults, then each fault's kind, trigger and action. So the same r state
// gives the same swarm and plan, and a seed split for faults alone (see
// sim.World.Rand) is not shifted by draws elsewhere.
//
// The plan is sorted and valid for Swarm.Workers workers. Time triggers fall
// on whole milliseconds in [0, Window); phase triggers name checkpoints
// 1..CheckpointMax. DrawSwarm panics if opts do not validate: options are
// written in code, and bad ones are a programmer's error.
func DrawSwarm(r *rand.Rand, opts SwarmOptions) (Swarm, Plan) {
	if err := opts.Validate(); err != nil {
		panic("faults: DrawSwarm: " + err.Error())
	}
	o := opts.withDefaults()
	s := Swarm{Window: o.Window, Rates: map[ActionKind]int{}}
	s.Workers = o.WorkersMin + r.IntN(o.WorkersMax-o.WorkersMin+1)
	s.Parallelism = 1 + r.IntN(o.ParallelismMax)

	var allowed []ActionKind
	for _, k := range AllKinds() {
		if slices.Contains(o.Kinds, k) {
			allowed = append(allowed, k)
		}
	}
	for _, k := range allowed {
		if r.IntN(2) == 1 {
			s.Kinds = append(s.Kinds, k)
		}
	}
	if len(s.Kinds) == 0 {
		s.Kinds = []ActionKind{allowed[r.IntN(len(allowed))]}
	}
	total := 0
	for _, k := range s.Kinds {
		s.Rates[k] = 1 + r.IntN(10)
		total += s.Rates[k]
	}
	s.Faults = o.FaultsMin + r.IntN(o.FaultsMax-o.FaultsMin+1)

	var p Plan
	for range s.Faults {
		// Weighted pick over s.Kinds, in order (never over the map).
		k, pick := s.Kinds[0], r.IntN(total)
		for _, c := range s.Kinds {
			if pick < s.Rates[c] {
				k = c
				break
			}
			pick -= s.Rates[c]
		}
		t := drawTrigger(r, o, s.Workers)
		a := drawAction(r, k, s.Workers)
		p.Faults = append(p.Faults, Fault{Trigger: t, Action: a})
	}
	p.Sort()
	return s, p
}

func drawTrigger(r *rand.Rand, o SwarmOptions, workers int) Trigger {
	if r.IntN(2) == 0 {
		if o.Window < time.Millisecond {
			return At(time.Duration(r.Int64N(int64(o.Window))))
		}
		return At(time.Duration(r.Int64N(int64(o.Window/time.Millisecond))) * time.Millisecond)
	}
	ph := protocol.Phases()[r.IntN(len(protocol.Phases()))]
	n := 1 + r.Int64N(o.CheckpointMax)
	task := ""
	if ph.TakesTask() && r.IntN(2) == 0 {
		task = WorkerName(r.IntN(workers))
	}
	return AtPhase(n, ph, task)
}

// msIn draws a whole number of milliseconds in [lo, hi].
func msIn(r *rand.Rand, lo, hi int) time.Duration {
	return time.Duration(lo+r.IntN(hi-lo+1)) * time.Millisecond
}

// span draws how long a fault lasts: 1 in 8 lasts until healed.
func span(r *rand.Rand, lo, hi int) time.Duration {
	if r.IntN(8) == 0 {
		return 0
	}
	return msIn(r, lo, hi)
}

func drawAction(r *rand.Rand, k ActionKind, workers int) Action {
	worker := func() string { return WorkerName(r.IntN(workers)) }
	// proc draws a worker or the coordinator, other than not.
	proc := func(not string) string {
		for {
			i := r.IntN(workers + 1)
			name := Coordinator
			if i < workers {
				name = WorkerName(i)
			}
			if name != not {
				return name
			}
		}
	}
	count := func() int { return 1 + r.IntN(3) }
	a := Action{Kind: k}
	switch k {
	case KillWorker, DiskCrash:
		a.Worker, a.Duration = worker(), span(r, 10, 1000)
	case KillCoordinator:
		a.Duration = span(r, 10, 1000)
	case PauseWorker:
		a.Worker, a.Duration = worker(), span(r, 10, 2000)
	case Partition, PartitionOneWay:
		a.Worker = proc("")
		a.Peer = proc(a.Worker)
		a.Duration = span(r, 10, 2000)
	case Isolate:
		a.Worker, a.Duration = proc(""), span(r, 10, 2000)
	case SlowLink:
		a.Worker = proc("")
		a.Peer = proc(a.Worker)
		a.Extra, a.Duration = msIn(r, 1, 200), span(r, 10, 2000)
	case KafkaError:
		a.Request = swarmRequests[r.IntN(len(swarmRequests))]
		a.Error = kafkaErrors[r.IntN(len(kafkaErrors))].name
		a.Count = count()
	case DropRequest, DropResponse:
		a.Request = swarmRequests[r.IntN(len(swarmRequests))]
		a.Count = count()
	case RestartBroker, ExpireTxn:
		// No parameters: ExpireTxn hits the sink's current transaction.
	case DiskReadError:
		a.Worker, a.Count = worker(), count()
		if r.IntN(2) == 0 {
			a.Percent = 10 * (1 + r.IntN(9))
		}
	case StorageWriteFail:
		a.Count = count()
	case StorageSlow:
		a.Extra, a.Duration = msIn(r, 10, 500), span(r, 100, 2000)
	case CorruptCheckpoint, DeleteCheckpointFile:
		a.Object = LatestCheckpoint
	case DropMessage, DelayMessage, DuplicateMessage:
		// A type, and half the time a checkpoint: the endpoints are the
		// job's, which a swarm does not know.
		msgs := ControlMessages()
		a.Message, a.Count = msgs[r.IntN(len(msgs))], count()
		if r.IntN(2) == 0 {
			a.Checkpoint = 1 + r.Int64N(5)
		}
		if k == DelayMessage {
			a.Extra = msIn(r, 1, 2000)
		}
	default:
		panic(fmt.Sprintf("faults: DrawSwarm: no draw for kind %q", k))
	}
	return a
}

// String prints everything the swarm drew on one line:
// "swarm: workers=3 parallelism=2 faults=5 window=3s kinds=kill-worker:7,partition:3".
func (s Swarm) String() string {
	kinds := make([]string, len(s.Kinds))
	for i, k := range s.Kinds {
		kinds[i] = fmt.Sprintf("%s:%d", k, s.Rates[k])
	}
	return fmt.Sprintf("swarm: workers=%d parallelism=%d faults=%d window=%v kinds=%s",
		s.Workers, s.Parallelism, s.Faults, s.Window, strings.Join(kinds, ","))
}

// MarshalJSON writes Window as a duration string.
func (s Swarm) MarshalJSON() ([]byte, error) {
	type plain Swarm
	return json.Marshal(struct {
		plain
		Window string `json:"window"`
	}{plain(s), s.Window.String()})
}

// UnmarshalJSON reads what MarshalJSON writes, strictly.
func (s *Swarm) UnmarshalJSON(data []byte) error {
	type plain Swarm
	var j struct {
		*plain
		Window string `json:"window"`
	}
	j.plain = (*plain)(s)
	if err := strict(data, &j); err != nil {
		return fmt.Errorf("swarm: %w", err)
	}
	d, err := parseDuration(j.Window)
	if err != nil {
		return fmt.Errorf("swarm: window: %w", err)
	}
	s.Window = d
	return nil
}

// MarshalJSON writes Window as a duration string, omitted when zero.
func (o SwarmOptions) MarshalJSON() ([]byte, error) {
	type plain SwarmOptions
	return json.Marshal(struct {
		plain
		Window string `json:"window,omitempty"`
	}{plain(o), durationString(o.Window)})
}

// UnmarshalJSON reads what MarshalJSON writes, strictly.
func (o *SwarmOptions) UnmarshalJSON(data []byte) error {
	type plain SwarmOptions
	var j struct {
		*plain
		Window string `json:"window,omitempty"`
	}
	j.plain = (*plain)(o)
	if err := strict(data, &j); err != nil {
		return fmt.Errorf("swarm options: %w", err)
	}
	o.Window = 0
	if j.Window != "" {
		d, err := parseDuration(j.Window)
		if err != nil {
			return fmt.Errorf("swarm options: window: %w", err)
		}
		o.Window = d
	}
	return nil
}
