package scenarios

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/sim"
)

// Scenario is a named, replayable run: a job, a workload, a topology, a
// fault plan and the checkers that judge it.
type Scenario struct {
	// Name is what users type: chaosrun run NAME.
	Name string
	// Description is one line saying what the scenario does to the job.
	Description string
	// Job names the job under test.
	Job string
	// Faults lists the kinds of fault the scenario injects.
	Faults []string
	// run executes one seed.
	run func(ctx context.Context, o RunOptions) (*Outcome, error)
	// workers says how many workers a run has (nil: the scenario takes no
	// fault plan).
	workers func(o RunOptions) int
}

// RunOptions are what a caller chooses for one run.
type RunOptions struct {
	Seed uint64
	// KeepTrace keeps every trace line in the outcome (the digest is always
	// computed).
	KeepTrace bool
	// Plan replaces the scenario's own fault plan (or its swarm).
	Plan *faults.Plan
	// Mutants switches on deliberate engine bugs.
	Mutants engine.Mutants
	// SwarmKinds, for a swarm scenario, are the fault kinds its seed draws
	// from instead of the default set: a seed found before a kind was
	// added draws the same topology and plan again with the kinds it was
	// found with.
	SwarmKinds []faults.ActionKind
}

// Outcome is what one run did and what the checkers said.
type Outcome struct {
	Scenario string            `json:"scenario"`
	Seed     uint64            `json:"seed"`
	Digest   string            `json:"digest"`
	Events   int               `json:"events"`
	SimTime  time.Duration     `json:"sim_time_ns"`
	Options  map[string]string `json:"options"`
	Swarm    string            `json:"swarm,omitempty"`
	Plan     faults.Plan       `json:"plan"`
	Stats    map[string]int    `json:"stats,omitempty"`
	Fired    []string          `json:"fired,omitempty"`
	// Coverage are the cells of the coverage grid the run's faults reached
	// (coverage.go).
	Coverage []string          `json:"coverage,omitempty"`
	Timeline []string          `json:"timeline"`
	Verdicts []checkers.Result `json:"verdicts"`
	Trace    []string          `json:"-"`
	// TraceEvents are the trace's typed events (Trace is their text).
	TraceEvents []sim.Event `json:"-"`
	// Attachments are extra files for the failure bundle, by file name
	// (porcupine's HTML visualization of a violation, say); the report
	// links them.
	Attachments map[string][]byte `json:"-"`
}

// Verdict is the worst verdict of the run's checkers.
func (o *Outcome) Verdict() checkers.Verdict { return checkers.Worst(o.Verdicts...) }

var registry = map[string]*Scenario{}

func register(s *Scenario) {
	if _, dup := registry[s.Name]; dup {
		panic("scenarios: duplicate scenario " + s.Name)
	}
	registry[s.Name] = s
}

// All returns every scenario, sorted by name.
func All() []*Scenario {
	out := make([]*Scenario, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns every scenario's name, sorted.
func Names() []string {
	var names []string
	for _, s := range All() {
		names = append(names, s.Name)
	}
	return names
}

// Lookup finds a scenario by name. The error lists the known names.
func Lookup(name string) (*Scenario, error) {
	if s, ok := registry[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Workers returns how many workers ("w0", "w1", ...) a run of s with o
// has: the workers a fault plan given for it may name. False means s takes
// no fault plan at all.
func (s *Scenario) Workers(o RunOptions) (int, bool) {
	if s.workers == nil {
		return 0, false
	}
	return s.workers(o), true
}

// Run runs one seed of s.
func (s *Scenario) Run(ctx context.Context, o RunOptions) (*Outcome, error) {
	out, err := s.run(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("scenario %s seed %d: %w", s.Name, o.Seed, err)
	}
	out.Scenario, out.Seed = s.Name, o.Seed
	return out, nil
}
