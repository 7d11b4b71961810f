package live_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/onceproof/onceproof/engine/live/livetest"
)

func fixture(t *testing.T, job string, p jobs.Params) *livetest.Fixture {
	t.Helper()
	f, err := livetest.New(job, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

func config(f *livetest.Fixture, dir string) live.Config {
	cfg := live.DefaultConfig(f.Job, dir)
	cfg.Kafka = f.Opts
	cfg.Checkpoint.Interval = 50 * time.Millisecond
	cfg.Restart.Delay = 20 * time.Millisecond
	return cfg
}

func start(t *testing.T, cfg live.Config) *live.Runner {
	t.Helper()
	r, err := live.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// drainAndStop waits until the job committed all input, then stops it
// cleanly.
func drainAndStop(t *testing.T, f *livetest.Fixture, r *live.Runner) engine.Metadata {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := f.Input(ctx)
	if err != nil {
		t.Fatal(err)
	}
	md, err := r.Drain(ctx, in.Ends)
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	return md
}

func mustBeExact(t *testing.T, f *livetest.Fixture) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := f.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := livetest.Failed(rs); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", rs[0].Explanation)
}

func TestJobsExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		job, backend string
		unaligned    bool
	}{
		{"copier", "heap", false},
		{"keyed-count", "heap", false},
		{"keyed-count", "pebble", false},
		{"join", "heap", false},
		{"join", "pebble", true},
	} {
		name := fmt.Sprintf("%s/%s/unaligned=%v", tc.job, tc.backend, tc.unaligned)
		t.Run(name, func(t *testing.T) {
			f := fixture(t, tc.job, jobs.Params{Parallelism: 2, Partitions: 3, Records: 3000, Keys: 50})
			if err := f.WriteGenerated(context.Background(), 1, 100); err != nil {
				t.Fatal(err)
			}
			cfg := config(f, t.TempDir())
			cfg.Backend, cfg.Task.Unaligned = tc.backend, tc.unaligned
			r := start(t, cfg)
			md := drainAndStop(t, f, r)
			if len(r.Checkpoints()) == 0 || md.Checkpoint == 0 {
				t.Errorf("no checkpoint recorded (final %d)", md.Checkpoint)
			}
			mustBeExact(t, f)
		})
	}
}

// TestKillMidRun kills every task while input is still being written and
// consumed; the restart from the latest checkpoint must commit the output
// exactly once.
func TestKillMidRun(t *testing.T) {
	for _, backend := range []string{"heap", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			p := jobs.Params{Parallelism: 2, Partitions: 3, Records: 6000, Keys: 40}
			f := fixture(t, "keyed-count", p)
			cfg := config(f, t.TempDir())
			cfg.Backend = backend
			r := start(t, cfg)
			// Write the input while the job runs, in four parts; kill
			// after the second.
			spec, _ := jobs.Lookup("keyed-count")
			all := spec.Generate(randFor(2), p)
			ctx := context.Background()
			for i := range 4 {
				part := all[i*len(all)/4 : (i+1)*len(all)/4]
				if err := f.Write(ctx, part, 50, "input"); err != nil {
					t.Fatal(err)
				}
				if i == 1 {
					waitCheckpoints(t, r, 2)
					if !r.Kill() {
						t.Fatal("Kill found no attempt to kill")
					}
				}
			}
			drainAndStop(t, f, r)
			kills := r.Kills()
			if len(kills) != 1 || kills[0].Running <= 0 || kills[0].Checkpoint <= 0 {
				t.Fatalf("kills: got %+v, want one with running and checkpoint recovery times", kills)
			}
			t.Logf("recovery: running after %v, first record at a sink after %v, first checkpoint after %v",
				kills[0].Running, kills[0].FirstRecord, kills[0].Checkpoint)
			rs := r.Restarts()
			if len(rs) != 1 || !strings.Contains(rs[0].Reason, "killed") || rs[0].Running <= 0 || rs[0].Checkpoint <= 0 {
				t.Fatalf("restarts: got %+v, want the kill's, with its reason and recovery times", rs)
			}
			mustBeExact(t, f)
		})
	}
}

func waitCheckpoints(t *testing.T, r *live.Runner, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(r.Checkpoints()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d checkpoints after 20s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestResumeFromCheckpointDir stops a job (cleanly, or by a crash) half way
// and resumes it in a new Runner from the checkpoint directory.
func TestResumeFromCheckpointDir(t *testing.T) {
	for _, tc := range []struct {
		crash   bool
		backend string
	}{{false, "heap"}, {true, "heap"}, {true, "pebble"}} {
		crash := tc.crash
		name := map[bool]string{false: "stop", true: "crash"}[crash] + "/" + tc.backend
		t.Run(name, func(t *testing.T) {
			p := jobs.Params{Parallelism: 2, Partitions: 3, Records: 4000, Keys: 30}
			f := fixture(t, "keyed-count", p)
			dir := t.TempDir()
			spec, _ := jobs.Lookup("keyed-count")
			all := spec.Generate(randFor(3), p)
			ctx := context.Background()
			if err := f.Write(ctx, all[:len(all)/2], 40, "input"); err != nil {
				t.Fatal(err)
			}
			cfg1 := config(f, dir)
			cfg1.Backend = tc.backend
			r1 := start(t, cfg1)
			waitCheckpoints(t, r1, 3)
			if crash {
				r1.Close()
			} else {
				sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				if err := r1.Stop(sctx); err != nil {
					t.Fatalf("stop: %v", err)
				}
				cancel()
			}
			if err := f.Write(ctx, all[len(all)/2:], 40, "input"); err != nil {
				t.Fatal(err)
			}
			// A checkpoint an earlier run never completed: the resume
			// deletes its files.
			left := filepath.Join(dir, cfg1.Job.Name, "chk-900")
			if err := os.MkdirAll(left, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(left, "count-0"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := config(f, dir)
			cfg.FromCheckpoint, cfg.Backend = "latest", tc.backend
			r2 := start(t, cfg)
			if _, err := os.Stat(left); !os.IsNotExist(err) || !slices.Contains(r2.Discarded(), 900) {
				t.Errorf("incomplete checkpoint 900 after the resume started: stat %v, discarded %v; want it gone", err, r2.Discarded())
			}
			drainAndStop(t, f, r2)
			mustBeExact(t, f)
		})
	}
}

// TestFromCheckpointPath restores from a chk-N directory given by path, as
// Flink's -s does, into a fresh checkpoint directory.
func TestFromCheckpointPath(t *testing.T) {
	p := jobs.Params{Parallelism: 1, Partitions: 2, Records: 2000, Keys: 10}
	f := fixture(t, "keyed-count", p)
	if err := f.WriteGenerated(context.Background(), 4, 50); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r1 := start(t, config(f, dir))
	waitCheckpoints(t, r1, 2)
	if err := r1.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	chks, _ := filepath.Glob(filepath.Join(dir, "keyed-count", "chk-*"))
	if len(chks) == 0 {
		t.Fatal("no checkpoint directory written")
	}
	cfg := config(f, t.TempDir())
	cfg.FromCheckpoint = chks[len(chks)-1]
	r2 := start(t, cfg)
	drainAndStop(t, f, r2)
	mustBeExact(t, f)

	bad := config(f, t.TempDir())
	bad.FromCheckpoint = filepath.Join(t.TempDir(), "nope")
	r3, err := live.New(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := r3.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "from checkpoint") {
		t.Errorf("restore from a missing path: got %v, want a from-checkpoint error", err)
	}
}

// TestCheckpointsOff runs at-least-once with no periodic checkpoints; Drain
// triggers the one final checkpoint that flushes the sinks.
func TestCheckpointsOff(t *testing.T) {
	f := fixture(t, "copier", jobs.Params{Parallelism: 2, Partitions: 2, Records: 2000, Keys: 20, Guarantee: engine.AtLeastOnce})
	if err := f.WriteGenerated(context.Background(), 5, 100); err != nil {
		t.Fatal(err)
	}
	cfg := config(f, t.TempDir())
	cfg.CheckpointsOff = true
	r := start(t, cfg)
	time.Sleep(200 * time.Millisecond)
	if n := len(r.Checkpoints()); n != 0 {
		t.Errorf("checkpoints off: %d checkpoints before the drain, want 0", n)
	}
	drainAndStop(t, f, r)
	if n := len(r.Checkpoints()); n < 1 || n > 2 {
		t.Errorf("checkpoints off: %d checkpoints in all, want the final one (and Stop's)", n)
	}
	mustBeExact(t, f)
}

func TestConfigErrors(t *testing.T) {
	job, _ := jobs.Lookup("copier")
	j, _ := job.Build(jobs.Params{Parallelism: 1, Partitions: 1, Records: 1, Keys: 1})
	for _, tc := range []struct {
		name string
		mod  func(*live.Config)
		want string
	}{
		{"no dir", func(c *live.Config) { c.CheckpointDir = "" }, "checkpoint_dir"},
		{"no job", func(c *live.Config) { c.Job = nil }, "job"},
		{"bad interval", func(c *live.Config) { c.Checkpoint.Interval = 0 }, "checkpoint.interval"},
		{"bad restart", func(c *live.Config) { c.Restart.Kind = "never" }, "restart.kind"},
	} {
		cfg := live.DefaultConfig(j, t.TempDir())
		tc.mod(&cfg)
		if _, err := live.New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}

// TestNoGoroutineLeak runs a job with a kill and a clean stop, on each
// backend, then checks that every goroutine it started has returned.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, backend := range []string{"heap", "pebble"} {
		f, err := livetest.New("keyed-count", jobs.Params{Parallelism: 2, Partitions: 2, Records: 1000, Keys: 10})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.WriteGenerated(context.Background(), 6, 100); err != nil {
			t.Fatal(err)
		}
		cfg := config(f, t.TempDir())
		cfg.Backend = backend
		r := start(t, cfg)
		waitCheckpoints(t, r, 1)
		r.Kill()
		drainAndStop(t, f, r)
		f.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		now := runtime.NumGoroutine()
		// A little slack for kfake/kgo teardown and the runtime's own.
		if now <= before+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			_ = os.WriteFile(filepath.Join(t.TempDir(), "stacks"), buf[:n], 0o644)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, now, buf[:min(n, 8000)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLeaderRouting runs a job on three brokers: Produce and Fetch must go
// to each partition's leader (a fetch of partitions led by different
// brokers is split and merged).
func TestLeaderRouting(t *testing.T) {
	f, err := livetest.NewOn(3, "keyed-count", jobs.Params{Parallelism: 2, Partitions: 6, Records: 3000, Keys: 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	leaders := map[int32]bool{}
	for p := int32(0); p < 6; p++ {
		leaders[f.Broker.Cluster.LeaderFor("in", p)] = true
	}
	if len(leaders) < 2 {
		t.Skipf("kfake put every leader on one broker (%v); nothing to route", leaders)
	}
	if err := f.WriteGenerated(context.Background(), 7, 100); err != nil {
		t.Fatal(err)
	}
	r := start(t, config(f, t.TempDir()))
	drainAndStop(t, f, r)
	mustBeExact(t, f)
}
