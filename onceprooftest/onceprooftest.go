// Package onceprooftest puts onceproof inside another project's `go test`:
// it runs a job (yours, or one of onceproof's scenarios) in the deterministic
// simulator under faults, over a range of seeds, and fails the test with the
// seed, the minimal fault schedule and the command that reproduces it.
//
// A job of your own is a jobs.Spec: its graph (Build), its input (Generate),
// and a sequential oracle of what its committed output must be (Oracle and
// Lineage). Keyed state you want checked at every checkpoint comes with State
// and Restored.
//
//	func TestMyJobIsExactlyOnce(t *testing.T) {
//		onceprooftest.CheckJob(t, myJobSpec(), onceprooftest.Options{})
//	}
//
// The seeds come from the -onceproof.seeds flag or the ONCEPROOF_SEEDS
// environment variable ("1-200", or "17" to replay one), default 1-20:
//
//	go test -run TestMyJobIsExactlyOnce ./mypkg -onceproof.seeds=1-1000
package onceprooftest

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/scenarios"
	"github.com/onceproof/onceproof/sim/cluster"
)

var seedsFlag = flag.String("onceproof.seeds", "", "seed range for onceprooftest, like 1-200 or 17 (default: $ONCEPROOF_SEEDS, else 1-20)")

// TB is the part of testing.TB the checks use.
type TB interface {
	Helper()
	Name() string
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Options tune a check. The zero value is a sensible default.
type Options struct {
	// Seeds overrides the flag and the environment.
	Seeds string
	// Params size the job (default: parallelism 2, 3 partitions, 4000
	// records, 12 keys).
	Params jobs.Params
	// Plan is a fixed fault plan, run at every seed on the default
	// topology (Workers, Params.Parallelism). Without one, each seed draws
	// a swarm: topology, fault kinds and a schedule of kills, pauses,
	// partitions, lost Kafka requests and storage faults.
	Plan *faults.Plan
	// Workers simulated with a fixed Plan (default 3); a swarm draws its
	// own.
	Workers int
}

// validate reports the first invalid option.
func (o Options) validate() error {
	if o.Params != (jobs.Params{}) {
		if err := o.Params.Validate(); err != nil {
			return fmt.Errorf("options: Params: %w", err)
		}
	}
	if o.Workers < 0 {
		return fmt.Errorf("options: Workers: negative (%d)", o.Workers)
	}
	return nil
}

// seeds resolves the seed range: options, flag, environment, default. An
// error names where the range came from.
func (o Options) seeds() (scenarios.SeedRange, error) {
	s, from := o.Seeds, "Options.Seeds"
	if s == "" && seedsFlag != nil {
		s, from = *seedsFlag, "-onceproof.seeds"
	}
	if s == "" {
		s, from = os.Getenv("ONCEPROOF_SEEDS"), "ONCEPROOF_SEEDS"
	}
	if s == "" {
		s, from = "1-20", "the default"
	}
	r, err := scenarios.ParseSeedRange(s)
	if err != nil {
		return r, fmt.Errorf("seed range from %s: %w", from, err)
	}
	return r, nil
}

// CheckJob runs spec under faults for every seed and fails t on the first
// seed whose committed output, restored state or liveness is wrong. A nil
// or incomplete spec (see jobs.Spec.Validate) or invalid options stop t
// with Fatalf before anything runs.
func CheckJob(t TB, spec *jobs.Spec, o Options) {
	t.Helper()
	if spec == nil {
		t.Fatalf("onceproof: CheckJob needs a job spec, got a nil *jobs.Spec")
		return
	}
	if err := spec.Validate(); err != nil {
		t.Fatalf("onceproof: %v", err)
		return
	}
	if err := o.validate(); err != nil {
		t.Fatalf("onceproof: job %s: %v", spec.Name, err)
		return
	}
	r, err := o.seeds()
	if err != nil {
		t.Fatalf("onceproof: %v", err)
		return
	}
	for seed := r.First; seed <= r.Last; seed++ {
		copts, plan := jobOptions(spec, o, seed)
		res, err := runJob(copts, plan)
		if err != nil {
			t.Fatalf("onceproof: job %s seed %d: %v", spec.Name, seed, err)
			return
		}
		if res.Verdict() == checkers.Ok {
			continue
		}
		minimal := shrinkJob(copts, plan)
		t.Errorf("onceproof: job %s failed at seed %d: %s\n%s\nminimal fault schedule (%d of %d faults):\n%s\nreproduce: go test -run '^%s$' -onceproof.seeds=%d",
			spec.Name, seed, res.Verdict(), verdictLines(res.Verdicts), len(minimal.Faults), len(plan.Faults), indent(minimal.String()), t.Name(), seed)
		return
	}
	t.Logf("onceproof: job %s passed seeds %s", spec.Name, r)
}

// CheckScenario runs one of onceproof's named scenarios for every seed.
func CheckScenario(t TB, name string, o Options) {
	t.Helper()
	s, err := scenarios.Lookup(name)
	if err != nil {
		t.Fatalf("onceproof: %v", err)
		return
	}
	r, err := o.seeds()
	if err != nil {
		t.Fatalf("onceproof: %v", err)
		return
	}
	for seed := r.First; seed <= r.Last; seed++ {
		out, err := s.Run(context.Background(), scenarios.RunOptions{Seed: seed, Plan: o.Plan})
		if err != nil {
			t.Fatalf("onceproof: %v", err)
			return
		}
		if out.Verdict() != checkers.Ok {
			t.Errorf("onceproof: scenario %s failed at seed %d: %s\n%s\nreproduce: go run github.com/onceproof/onceproof/cmd/chaosrun run %s --seed %d",
				name, seed, out.Verdict(), verdictLines(out.Verdicts), name, seed)
			return
		}
	}
	t.Logf("onceproof: scenario %s passed seeds %s", name, r)
}

// jobOptions builds the run of spec at seed: the swarm (or the fixed plan)
// is drawn from the seed alone.
func jobOptions(spec *jobs.Spec, o Options, seed uint64) (cluster.Options, faults.Plan) {
	c := cluster.DefaultOptions(spec.Name, seed)
	c.Spec = spec
	// Faults only matter while data flows: the default input keeps the job
	// busy through the swarm's window.
	c.Params.Records = 4000
	c.Task.FetchBytesMax = 4 << 10
	if o.Params != (jobs.Params{}) {
		c.Params = o.Params
	}
	if o.Workers > 0 {
		c.Sim.Workers = o.Workers
	}
	if o.Plan != nil {
		return c, *o.Plan
	}
	h := fnv.New64a()
	h.Write([]byte("onceprooftest-swarm"))
	kinds := slices.DeleteFunc(faults.SwarmKinds(), func(k faults.ActionKind) bool { return k == faults.DiskReadError })
	sw, plan := faults.DrawSwarm(rand.New(rand.NewPCG(seed, h.Sum64())), faults.SwarmOptions{Kinds: kinds, Window: swarmWindow, ParallelismMax: 3})
	c.Sim.Workers = sw.Workers
	if o.Params == (jobs.Params{}) {
		c.Params.Parallelism = sw.Parallelism
	}
	return c, plan
}

// swarmWindow is when a swarm's faults fall; healAt lifts them, and the
// liveness phase follows.
const (
	swarmWindow = 600 * time.Millisecond
	healAt      = time.Second
)

func runJob(c cluster.Options, plan faults.Plan) (*cluster.Result, error) {
	cl, err := cluster.New(c)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if err := cl.Inject(plan, healAt); err != nil {
		return nil, err
	}
	return cl.Run(context.Background()), nil
}

// shrinkJob makes a failing plan 1-minimal (faults.Shrink).
func shrinkJob(c cluster.Options, plan faults.Plan) faults.Plan {
	return faults.Shrink(plan, func(try faults.Plan) bool {
		res, err := runJob(c, try)
		return err == nil && res.Verdict() != checkers.Ok
	})
}

func verdictLines(vs []checkers.Result) string {
	var b strings.Builder
	for _, v := range vs {
		if v.Verdict != checkers.Ok {
			fmt.Fprintf(&b, "  %s\n", v)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func indent(s string) string {
	if s == "" {
		return "  (no faults: the job fails without any)"
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
