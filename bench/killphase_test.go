package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/live"
)

// killAtEndTxnApplied runs the copier live over 16 partitions and kills every
// task the moment the broker first answers a sink's EndTxn with success.
func killAtEndTxnApplied(t *testing.T, mutants ...engine.Mutant) *RunResult {
	t.Helper()
	o := DefaultRunOptions("copier")
	o.Partitions, o.Records, o.Interval = 16, 100_000, 20*time.Millisecond
	o.KillAt, o.KillPhase = time.Millisecond, "endtxn-applied"
	if len(mutants) > 0 {
		task := live.DefaultConfig(nil, "").Task
		task.Mutants = mutants
		o.Task = &task
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kills) != 1 {
		t.Fatalf("got %d kills, want 1", len(res.Kills))
	}
	return res
}

// killTries bounds the runs TestKillPhaseLive gives the mutant.
var killTries = 10

// TestKillPhaseLive aims a live kill at the checkpoint protocol: at an
// EndTxn the broker applied. The correct engine passes; a sink that commits
// at the barrier, before the checkpoint completes, commits records that the
// restore then replays, and the live judge reports them as duplicates with
// their offsets. The kill races with the checkpoint's completion (a live run
// is not deterministic), so the mutant gets a few tries to show.
func TestKillPhaseLive(t *testing.T) {
	if testing.Short() {
		t.Skip("live runs")
	}
	res := killAtEndTxnApplied(t)
	if v := checkers.Worst(res.Verdicts...); v != checkers.Ok {
		t.Fatalf("correct engine: got %s: %v", v, res.Verdicts)
	}
	for try := 1; try <= killTries; try++ {
		res := killAtEndTxnApplied(t, engine.MutantCommitBeforeComplete)
		for _, r := range res.Verdicts {
			if r.Checker == "exactly-once" && r.Verdict == checkers.Violation {
				if r.Anomaly != "duplicate" || !strings.Contains(r.FirstBad, "offset") {
					t.Fatalf("got %s, want a duplicate named by its offset", r)
				}
				t.Logf("try %d: %s", try, r.FirstBad)
				return
			}
		}
	}
	t.Fatalf("commit-before-complete escaped %d live runs killed at an applied EndTxn", killTries)
}
