package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/sim/cluster"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/scenarios"
	"github.com/onceproof/onceproof/sim"
)

var allJobs = []string{"copier", "keyed-count", "join"}

// judged is a run and what the judge said of it.
type judged struct {
	*cluster.Result
	*scenarios.Judgement
}

// run builds, runs and judges a cluster.
func run(t *testing.T, o cluster.Options) judged {
	t.Helper()
	res, j, err := scenarios.RunCluster(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return judged{res, j}
}

// runJudged runs c and judges it; the caller closes c.
func runJudged(c *cluster.Cluster) judged {
	res := c.Run()
	return judged{res, scenarios.Judge(context.Background(), c, res)}
}

func describe(o cluster.Options, res judged) string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %s seed %d: verdict %s (restarts=%d kills=%d)", o.Job, o.Sim.Seed, res.Verdict(), res.Restarts, res.Kills)
	for _, v := range res.Verdicts {
		fmt.Fprintf(&b, "\n  %s", v)
	}
	return b.String()
}

func requireOK(t *testing.T, o cluster.Options, res judged) {
	t.Helper()
	if res.Verdict() != checkers.Ok {
		t.Fatal(describe(o, res))
	}
}

func seeds(t *testing.T, n int) int {
	if testing.Short() {
		return n / 10
	}
	return n
}

// TestFaultFree: without faults, every job's committed output equals its
// oracle.
func TestFaultFree(t *testing.T) {
	for _, job := range allJobs {
		t.Run(job, func(t *testing.T) {
			for seed := uint64(1); seed <= uint64(seeds(t, 100)); seed++ {
				o := cluster.DefaultOptions(job, seed)
				requireOK(t, o, run(t, o))
			}
		})
	}
}

// TestKills kills workers at seeded random moments: the committed output
// still equals the oracle and no transaction is left open.
func TestKills(t *testing.T) {
	for _, job := range allJobs {
		t.Run(job, func(t *testing.T) {
			restarts := 0
			n := seeds(t, 200)
			for seed := uint64(1); seed <= uint64(n); seed++ {
				o := cluster.DefaultOptions(job, seed)
				o.Kills = 3
				o.KillWindow = 300 * time.Millisecond
				res := run(t, o)
				requireOK(t, o, res)
				restarts += res.Restarts
			}
			// The kills must have hurt: most runs restarted the job.
			if restarts < n {
				t.Fatalf("got %d restarts over %d seeds: the kills are not landing", restarts, n)
			}
			t.Logf("%d seeds, %d job restarts", n, restarts)
		})
	}
}

// killSinkAfterCommitPoint kills the worker hosting sink/0 the moment the
// metadata of the first checkpoint is written: after the commit point,
// before any "complete" reaches the sink, so before its EndTxn. The caller
// checks in the trace that the sink's snapshot held a transaction to commit.
func killSinkAfterCommitPoint(t *testing.T, mutants engine.Mutants) (judged, bool) {
	o := cluster.DefaultOptions("keyed-count", 11)
	o.Sim.KeepTrace = true
	o.Mutants = mutants
	c := newCluster(t, o)
	defer c.Close()
	killed := false
	c.OnEvent(func(p *sim.Proc, e engine.Event) {
		if killed || e.Phase != protocol.MetadataWritten {
			return
		}
		victim := c.WorkerOf("sink/0")
		killed = true
		c.World().KillFor(victim, "after the commit point, before EndTxn", 30*time.Millisecond)
	})
	res := runJudged(c)
	return res, killed
}

func TestCrashAfterCommitPointBeforeEndTxn(t *testing.T) {
	res, killed := killSinkAfterCommitPoint(t, nil)
	if !killed {
		t.Fatal("the kill never happened")
	}
	if res.Verdict() != checkers.Ok {
		t.Fatal(describe(cluster.Options{Job: "keyed-count", Sim: sim.Config{Seed: 11}}, res))
	}
	recovered := 0
	for _, l := range res.Trace {
		if strings.Contains(l, "endtxn-sent") && strings.Contains(l, "recover") && strings.Contains(l, "sink-0") {
			recovered++
		}
	}
	if recovered == 0 {
		t.Fatal("the restored sink never committed its pre-committed transaction: the scenario did not test recover-and-commit")
	}
	// The same moment with the sink aborting instead of committing on
	// restore must lose data: the test can fail.
	bad, _ := killSinkAfterCommitPoint(t, engine.Mutants{engine.MutantNoRecoverCommit})
	if bad.Verdict() != checkers.Violation {
		t.Fatalf("with no-recover-commit: got verdict %s, want violation", bad.Verdict())
	}
}

// TestDeterminism: the same seed twice gives the same trace digest.
func TestDeterminism(t *testing.T) {
	for _, job := range allJobs {
		for seed := uint64(1); seed <= uint64(seeds(t, 100)); seed++ {
			o := cluster.DefaultOptions(job, seed)
			o.Kills = 2
			o.KillWindow = 300 * time.Millisecond
			a, b := run(t, o), run(t, o)
			if a.Digest != b.Digest {
				t.Fatalf("job %s seed %d: digests differ: %s vs %s", job, seed, a.Digest, b.Digest)
			}
		}
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, tc := range []struct {
		mod   func(*cluster.Options)
		field string
	}{
		{func(o *cluster.Options) { o.Job = "nope" }, "job:"},
		{func(o *cluster.Options) { o.Params.Parallelism = 0 }, "params.parallelism"},
		{func(o *cluster.Options) { o.Checkpoint.Interval = 0 }, "checkpoint.interval"},
		{func(o *cluster.Options) { o.Restart.Kind = "sometimes" }, "restart.kind"},
		{func(o *cluster.Options) { o.Sim.Workers = 0 }, "sim.workers"},
	} {
		o := cluster.DefaultOptions("copier", 1)
		tc.mod(&o)
		if _, err := cluster.New(o); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("got %v, want an error naming %s", err, tc.field)
		}
	}
}

// TestStateCheckerCatchesNoAlignment: without alignment, records after a
// barrier leak into the snapshot; the restored state then differs from the
// oracle's fold up to the checkpoint's offsets, even in runs whose output
// happens to come out right.
func TestStateCheckerCatchesNoAlignment(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		o := cluster.DefaultOptions("keyed-count", seed)
		o.Kills = 3
		o.Params.Records = 1500
		o.Mutants = engine.Mutants{engine.MutantNoAlignment}
		res := run(t, o)
		for _, v := range res.Verdicts {
			if v.Checker == "state-at-checkpoint" && v.Verdict == checkers.Violation {
				t.Logf("seed %d: %s", seed, v)
				return
			}
		}
	}
	t.Fatal("state-at-checkpoint never caught no-alignment in 20 seeds")
}

// TestAtLeastOnceSink: the at-least-once sink (plain produce, flushed at
// every barrier) loses nothing under kills, but may duplicate: the
// comparison that shows what two-phase commit buys.
func TestAtLeastOnceSink(t *testing.T) {
	dups := 0
	for seed := uint64(1); seed <= 30; seed++ {
		o := cluster.DefaultOptions("copier", seed)
		o.Params.Guarantee = engine.AtLeastOnce
		if seed > 1 {
			o.Kills = 3
			o.KillWindow = 300 * time.Millisecond
		}
		res := run(t, o)
		for _, v := range res.Verdicts {
			if v.Verdict == checkers.Ok {
				continue
			}
			if v.Checker == "exactly-once" && v.Anomaly == "duplicate" && v.Stats["lost-write"] == 0 {
				dups++
				continue
			}
			t.Fatalf("seed %d: %s (at-least-once may duplicate, never lose)\n%s", seed, v, describe(o, res))
		}
		if seed == 1 && res.Verdict() != checkers.Ok {
			t.Fatalf("without faults the at-least-once sink must be exact:\n%s", describe(o, res))
		}
	}
	if dups == 0 {
		t.Fatal("30 seeds with kills and no duplicate: the at-least-once mode is not being exercised")
	}
	t.Logf("duplicates in %d of 29 seeds with kills", dups)
}

// newCluster builds the cluster of o, failing t if it cannot; the caller
// closes it.
func newCluster(t *testing.T, o cluster.Options) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runOK builds, runs and judges the cluster of o and fails t unless the
// verdict is ok. The cluster stays open, for a look at its storage after
// the run, until t ends.
func runOK(t *testing.T, o cluster.Options) (*cluster.Cluster, judged) {
	t.Helper()
	c := newCluster(t, o)
	t.Cleanup(c.Close)
	res := runJudged(c)
	requireOK(t, o, res)
	return c, res
}
