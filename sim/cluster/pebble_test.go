package cluster_test

import (
	"fmt"
	"github.com/onceproof/onceproof/sim/cluster"
	"strings"
	"testing"
	"time"
)

// pebbleOpts runs job on the pebble backend with three kills in the first
// 300ms.
func pebbleOpts(job string, seed uint64) cluster.Options {
	o := cluster.DefaultOptions(job, seed)
	o.Backend = cluster.BackendPebble
	o.Kills = 3
	o.KillWindow = 300 * time.Millisecond
	return o
}

// TestPebbleKills: keyed-count and join with their keyed state in pebble,
// workers killed at seeded random moments: the committed output equals the
// oracle, the state of every completed checkpoint (read back from its
// files) equals the fold of the input, over 100 seeds each.
func TestPebbleKills(t *testing.T) {
	for _, job := range []string{"keyed-count", "join"} {
		t.Run(job, func(t *testing.T) {
			restarts, checkpoints := 0, 0
			n := seeds(t, 100)
			for seed := uint64(1); seed <= uint64(n); seed++ {
				o := pebbleOpts(job, seed)
				res := run(t, o)
				requireOK(t, o, res)
				restarts += res.Restarts
				checkpoints += len(res.Checkpoints)
			}
			if restarts < n {
				t.Fatalf("got %d restarts over %d seeds: the kills are not landing", restarts, n)
			}
			t.Logf("%d seeds, %d job restarts", n, restarts)
		})
	}
}

// TestPebbleDeterminism: with the pebble backend too, the same seed twice
// gives the same trace digest, kills and restores included. The trace holds
// every checkpoint's file count and sizes (state, upload), so a file layout
// that depended on pebble's goroutines would show here.
func TestPebbleDeterminism(t *testing.T) {
	for _, job := range []string{"keyed-count", "join"} {
		for seed := uint64(1); seed <= uint64(seeds(t, 30)); seed++ {
			o := pebbleOpts(job, seed)
			a, b := run(t, o), run(t, o)
			if a.Digest != b.Digest {
				t.Fatalf("job %s seed %d: digests differ: %s vs %s", job, seed, a.Digest, b.Digest)
			}
			requireOK(t, o, a)
		}
	}
}

// TestPebbleSharedStateRetention: a long run retires checkpoints and with
// them the shared files nothing references; what is left in storage is
// exactly what the retained checkpoints reference, and the checkpoints
// after the first upload only part of their state.
func TestPebbleSharedStateRetention(t *testing.T) {
	o := cluster.DefaultOptions("keyed-count", 7)
	o.Backend = cluster.BackendPebble
	o.Sim.KeepTrace = true
	o.Params.Records = 3000
	o.Params.Keys = 200
	o.Task.FetchBytesMax = 2 << 10
	c, res := runOK(t, o)
	if index(res.Trace, "shared state deleted") < 0 {
		t.Fatal("no shared file was ever deleted")
	}
	referenced := map[string]bool{}
	for _, md := range res.Checkpoints {
		for _, s := range md.Shared {
			referenced[s] = true
		}
	}
	prefix := "checkpoints/" + c.Job().Name
	stored, err := c.World().Store().List(prefix + "/shared")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range stored {
		if !referenced[prefix+"/shared/"+name] {
			t.Errorf("shared file %s is referenced by no retained checkpoint", name)
		}
	}
	if len(stored) != len(referenced) {
		t.Errorf("storage holds %d shared files, the retained checkpoints reference %d", len(stored), len(referenced))
	}
	// Incremental: some checkpoint uploaded less than its whole state.
	partial := 0
	for _, l := range res.Trace {
		var state, upload int64
		if i := strings.Index(l, " state="); i >= 0 && strings.Contains(l, "snapshot-taken") {
			if _, err := fmt.Sscanf(l[i:], " state=%d upload=%d", &state, &upload); err == nil && upload < state {
				partial++
			}
		}
	}
	if partial == 0 {
		t.Fatal("every checkpoint uploaded its whole state")
	}
	t.Logf("%d checkpoints retained, %d shared files in storage, %d task snapshots uploaded only part of their state", len(res.Checkpoints), len(stored), partial)
}

func TestBackendOption(t *testing.T) {
	o := cluster.DefaultOptions("keyed-count", 1)
	o.Backend = "rocksdb"
	if _, err := cluster.New(o); err == nil || !strings.Contains(err.Error(), "backend") {
		t.Fatalf("got %v, want an error naming backend", err)
	}
}
