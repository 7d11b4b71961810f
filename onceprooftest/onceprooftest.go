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
// seed whose committed output, restored state or liveness is wrong. The
// report names the seed, every check that failed, the smallest part of the
// seed's fault schedule that still fails all of them, the checks that fail
// even without any fault, and the command that replays the seed. A nil or
// incomplete spec (see jobs.Spec.Validate) or invalid options stop t with
// Fatalf before anything runs.
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
	o.eachSeed(t, "job "+spec.Name, func(seed uint64) bool {
		copts, plan := jobOptions(spec, o, seed)
		j, err := runJob(copts, plan)
		if err != nil {
			t.Fatalf("onceproof: job %s seed %d: %v", spec.Name, seed, err)
			return false
		}
		if j.Verdict() == checkers.Ok {
			return true
		}
		want := failing(j.Verdicts)
		minimal, unfaulted := shrinkJob(copts, plan, want)
		var b strings.Builder
		fmt.Fprintf(&b, "onceproof: job %s failed at seed %d: %s\n%s\n", spec.Name, seed, j.Verdict(), verdictLines(j.Verdicts))
		if len(minimal.Faults) == 0 {
			fmt.Fprintf(&b, "minimal fault schedule (0 of %d faults): none: the job fails %s without any fault\n", len(plan.Faults), checkList(want))
		} else {
			fmt.Fprintf(&b, "minimal fault schedule (%d of %d faults), which still fails %s:\n%s\n", len(minimal.Faults), len(plan.Faults), checkList(want), indent(minimal.String()))
			if len(unfaulted) > 0 {
				fmt.Fprintf(&b, "without any fault, the job already fails %s\n", checkList(unfaulted))
			}
		}
		fmt.Fprintf(&b, "reproduce: go test -run '^%s$' -onceproof.seeds=%d", t.Name(), seed)
		t.Errorf("%s", b.String())
		return false
	})
}

// CheckScenario runs one of onceproof's named scenarios for every seed.
func CheckScenario(t TB, name string, o Options) {
	t.Helper()
	s, err := scenarios.Lookup(name)
	if err != nil {
		t.Fatalf("onceproof: %v", err)
		return
	}
	o.eachSeed(t, "scenario "+name, func(seed uint64) bool {
		out, err := s.Run(context.Background(), scenarios.RunOptions{Seed: seed, Plan: o.Plan})
		if err != nil {
			t.Fatalf("onceproof: %v", err)
			return false
		}
		if out.Verdict() != checkers.Ok {
			t.Errorf("onceproof: scenario %s failed at seed %d: %s\n%s\nreproduce: go run github.com/onceproof/onceproof/cmd/chaosrun run %s --seed %d",
				name, seed, out.Verdict(), verdictLines(out.Verdicts), name, seed)
			return false
		}
		return true
	})
}

// eachSeed calls check with each of o's seeds in turn until one fails
// (check returns false, having said why on t), and logs that what passed
// them all. Seeds that do not parse stop t with Fatalf.
func (o Options) eachSeed(t TB, what string, check func(seed uint64) bool) {
	t.Helper()
	r, err := o.seeds()
	if err != nil {
		t.Fatalf("onceproof: %v", err)
		return
	}
	for seed := r.First; seed <= r.Last; seed++ {
		if !check(seed) {
			return
		}
	}
	t.Logf("onceproof: %s passed seeds %s", what, r)
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

// runJob runs one seed of a job under plan and judges it.
func runJob(c cluster.Options, plan faults.Plan) (*scenarios.Judgement, error) {
	cl, err := cluster.New(c)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if err := cl.Inject(plan, healAt); err != nil {
		return nil, err
	}
	return scenarios.Judge(context.Background(), cl, cl.Run()), nil
}

// check is one check that did not pass, as a shrink must keep it failing:
// the same checker, verdict and anomaly.
type check struct {
	checker string
	verdict checkers.Verdict
	anomaly string
}

// String reads like "exactly-once (violation duplicate)".
func (c check) String() string {
	s := c.verdict.String()
	if c.anomaly != "" {
		s += " " + c.anomaly
	}
	return c.checker + " (" + s + ")"
}

// failing lists the checks of vs that did not pass, in their order.
func failing(vs []checkers.Result) []check {
	var out []check
	for _, v := range vs {
		if v.Verdict != checkers.Ok {
			out = append(out, check{v.Checker, v.Verdict, v.Anomaly})
		}
	}
	return out
}

// failedAmong returns the checks of want that also fail in vs.
func failedAmong(want []check, vs []checkers.Result) []check {
	got := failing(vs)
	var out []check
	for _, c := range want {
		if slices.Contains(got, c) {
			out = append(out, c)
		}
	}
	return out
}

func checkList(cs []check) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, ", ")
}

// shrinkJob finds a 1-minimal part of a failing plan (faults.Shrink) that
// still fails every check in want. A candidate that fails only some of
// them, or fails in another way, does not reproduce the failure: were any
// failure good enough, a check that fails without faults (a State fold
// that disagrees with the job, say) would shrink every schedule to nothing,
// and the report would offer "no faults" beside a duplicate that needed
// one. It also returns the checks of want that fail with no fault at all,
// found by one run without faults before shrinking; if that run fails them
// all, the minimal schedule is empty.
func shrinkJob(c cluster.Options, plan faults.Plan, want []check) (minimal faults.Plan, unfaulted []check) {
	reproduces := func(try faults.Plan) (bool, []checkers.Result) {
		j, err := runJob(c, try)
		if err != nil {
			return false, nil
		}
		return len(failedAmong(want, j.Verdicts)) == len(want), j.Verdicts
	}
	if len(plan.Faults) == 0 {
		return plan, want
	}
	ok, vs := reproduces(faults.Plan{})
	if ok {
		return faults.Plan{}, want
	}
	unfaulted = failedAmong(want, vs)
	return faults.Shrink(plan, func(try faults.Plan) bool {
		ok, _ := reproduces(try)
		return ok
	}), unfaulted
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
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
