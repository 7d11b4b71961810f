package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/onceproof/onceproof/sim/cluster"
)

// TestMetamorphic: the same input and job under every combination of state
// backend, checkpoint mode, checkpoint interval, concurrent checkpoints and
// parallelism, each with
// kills, commits the same output, over 50 seeds.
// Runs are compared with each other, not only with the oracle, so a bug that
// the oracle shares with the engine still shows as a difference.
func TestMetamorphic(t *testing.T) {
	n := uint64(50)
	if testing.Short() {
		n = 5
	}
	for seed := uint64(1); seed <= n; seed++ {
		want, wantCfg := "", ""
		for _, backend := range []string{cluster.BackendHeap, cluster.BackendPebble} {
			for _, unaligned := range []bool{false, true} {
				for _, interval := range []time.Duration{20 * time.Millisecond, 70 * time.Millisecond} {
					// Concurrent checkpoints (aligned only, as in Flink)
					// at the short interval, where they overlap.
					concurrency := []int{1}
					if !unaligned && interval == 20*time.Millisecond {
						concurrency = []int{1, 3}
					}
					for _, par := range []int{1, 2, 4} {
						for _, conc := range concurrency {
							o := cluster.DefaultOptions("keyed-count", seed)
							o.Backend = backend
							o.Task.Unaligned = unaligned
							o.Task.RecordCost = 100 * time.Microsecond
							o.Checkpoint.Interval = interval
							if conc > 1 {
								o.Checkpoint.MaxConcurrent, o.Checkpoint.MinPause = conc, 0
							}
							o.Params.Parallelism = par
							o.Params.Records = 400
							o.Kills, o.KillWindow = 2, 300*time.Millisecond
							cfg := fmt.Sprintf("%s unaligned=%v interval=%v concurrent=%d parallelism=%d", backend, unaligned, interval, conc, par)
							res := run(t, o)
							requireOK(t, o, res)
							if want == "" {
								want, wantCfg = res.OutputDigest, cfg
							} else if res.OutputDigest != want {
								t.Fatalf("seed %d: %s committed other output than %s (digest %.12s vs %.12s)", seed, cfg, wantCfg, res.OutputDigest, want)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d seeds x 30 configurations committed the same output per seed", n)
}
