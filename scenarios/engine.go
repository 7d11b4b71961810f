package scenarios

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/sim/cluster"
)

// engineScenario runs one of the reference engine's jobs under a fault plan.
type engineScenario struct {
	job string
	// tune adjusts the default options (workload size, intervals).
	tune func(o *cluster.Options)
	// plan is the fixed fault plan; nil means a swarm plan drawn per seed.
	plan *faults.Plan
	// healAt lifts every fault; the liveness phase follows.
	healAt time.Duration
	// expect lists anomalies the scenario must provoke: a loss the engine
	// cannot prevent and must report. Empty means "no anomaly".
	expect []string
}

// Task placement is deterministic: tasks go round-robin, in job order, over
// the workers, so with three workers and parallelism 2:
//
//	copier:      src/0@w0 src/1@w1 map/0@w2 map/1@w0 sink/0@w1 sink/1@w2
//	keyed-count: src/0@w0 src/1@w1 count/0@w2 count/1@w0 sink/0@w1 sink/1@w2
//	join:        left/0@w0 left/1@w1 right/0@w2 right/1@w0 join/0@w1 join/1@w2 sink/0@w0 sink/1@w1
//	window-sum:  src/0@w0 src/1@w1 window/0@w2 window/1@w0 sink/0@w1 sink/1@w2
//
// The plans below name workers accordingly.

func plan(fs ...faults.Fault) *faults.Plan { return &faults.Plan{Faults: fs} }

func fault(name string, t faults.Trigger, a faults.Action) faults.Fault {
	return faults.Fault{Name: name, Trigger: t, Action: a}
}

func bigger(o *cluster.Options) { o.Params.Records = 600 }

func init() {
	add := func(name, desc string, s *engineScenario) {
		var kinds []string
		if s.plan == nil {
			kinds = []string{"swarm"}
		} else {
			for _, f := range s.plan.Faults {
				if k := string(f.Action.Kind); !slices.Contains(kinds, k) {
					kinds = append(kinds, k)
				}
			}
		}
		register(&Scenario{Name: name, Description: desc, Job: s.job, Faults: kinds, run: s.run, workers: s.workers})
	}
	add("copier-kill-mid-checkpoint", "kills the worker of map/0 the moment it has taken checkpoint 2's snapshot, before the upload", &engineScenario{
		job: "copier", tune: bigger, healAt: time.Second,
		plan: plan(fault("kill map/0's worker", faults.AtPhase(2, protocol.SnapshotTaken, "map/0"),
			faults.Action{Kind: faults.KillWorker, Worker: "w2", Duration: 100 * time.Millisecond})),
	})
	add("count-crash-before-commit", "kills sink/0's worker after checkpoint 1's metadata is written (the commit point) and before its EndTxn", &engineScenario{
		job: "keyed-count", tune: bigger, healAt: time.Second,
		plan: plan(fault("kill sink/0's worker", faults.AtPhase(1, protocol.MetadataWritten, ""),
			faults.Action{Kind: faults.KillWorker, Worker: "w1", Duration: 50 * time.Millisecond})),
	})
	add("count-ambiguous-endtxn", "loses the answer to an applied EndTxn, and later an EndTxn itself: the sink must retry with the same decision", &engineScenario{
		job: "keyed-count", tune: bigger, healAt: time.Second,
		plan: plan(
			fault("ambiguous commit", faults.After("EndTxn", 1), faults.Action{Kind: faults.DropResponse, Request: "EndTxn", Count: 1}),
			fault("lost commit", faults.After("EndTxn", 2), faults.Action{Kind: faults.DropRequest, Request: "EndTxn", Count: 1}),
		),
	})
	add("join-partition-during-alignment", "cuts join/0's worker from right/0's while join/0 aligns checkpoint 2", &engineScenario{
		job: "join", tune: bigger, healAt: time.Second,
		plan: plan(fault("partition during alignment", faults.AtPhase(2, protocol.BarrierReceived, "join/0"),
			faults.Action{Kind: faults.Partition, Worker: "w1", Peer: "w2", Duration: 200 * time.Millisecond})),
	})
	add("storage-corrupt-checkpoint", "corrupts checkpoint 3 at its commit point while the coordinator dies: the restore detects it and falls back to checkpoint 2", &engineScenario{
		// Falling back to an older checkpoint is exactly-once only while
		// no sink has committed the newer one: the coordinator dies with
		// the commit point, so no task ever hears checkpoint 3 completed.
		job: "copier", healAt: time.Second,
		tune: func(o *cluster.Options) {
			bigger(o)
			o.Checkpoint.Interval = 20 * time.Millisecond
			o.Checkpoint.Retained = 3
		},
		plan: plan(
			fault("corrupt", faults.AtPhase(3, protocol.MetadataWritten, ""), faults.Action{Kind: faults.CorruptCheckpoint, Object: faults.LatestCheckpoint}),
			fault("coordinator dies", faults.AtPhase(3, protocol.MetadataWritten, ""), faults.Action{Kind: faults.KillCoordinator, Duration: 50 * time.Millisecond}),
		),
	})
	add("coordinator-crash-after-metadata", "kills the coordinator right after checkpoint 2's metadata is durable, before any task hears it completed", &engineScenario{
		job: "keyed-count", tune: bigger, healAt: time.Second,
		plan: plan(fault("coordinator dies", faults.AtPhase(2, protocol.MetadataWritten, ""),
			faults.Action{Kind: faults.KillCoordinator, Duration: 100 * time.Millisecond})),
	})
	add("zombie-sink", "pauses sink/0's worker mid-checkpoint; the job restarts elsewhere and the paused sink wakes up as a zombie", &engineScenario{
		job: "copier", tune: bigger, healAt: 2 * time.Second,
		plan: plan(fault("pause sink/0's worker", faults.AtPhase(2, protocol.SnapshotTaken, "sink/0"),
			faults.Action{Kind: faults.PauseWorker, Worker: "w1", Duration: 600 * time.Millisecond})),
	})
	add("txn-expired-during-outage", "sink/0's worker is cut off past its transaction's timeout after the commit point: the broker aborts the pre-committed transaction and the engine must report the loss", &engineScenario{
		// Expected: the loss cannot be prevented (the broker threw the
		// data away), so the scenario passes when it is reported loudly:
		// the engine's lost-transaction and the checker's lost-write.
		job: "keyed-count", tune: bigger, healAt: time.Second,
		plan: plan(
			fault("outage", faults.AtPhase(1, protocol.MetadataWritten, ""), faults.Action{Kind: faults.Isolate, Worker: "w1", Duration: 300 * time.Millisecond}),
			fault("timeout passes", faults.AtPhase(1, protocol.MetadataWritten, ""), faults.Action{Kind: faults.ExpireTxn, TxnID: "keyed-count-sink-0-1"}),
		),
		expect: []string{"lost-transaction", "lost-write"},
	})
	add("count-kill-mid-stream", "kills src/0's worker right after checkpoint 3's commit point while input is still flowing: the restore must resume exactly at the recorded offsets", &engineScenario{
		job: "keyed-count", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Task.FetchBytesMax = 2 << 10
			o.Checkpoint.Interval = 30 * time.Millisecond
		},
		plan: plan(fault("kill src/0's worker", faults.AtPhase(3, protocol.MetadataWritten, ""),
			faults.Action{Kind: faults.KillWorker, Worker: "w0", Duration: 50 * time.Millisecond})),
	})
	add("coordinator-crash-on-complete", "slows checkpoint storage during checkpoint 2 and kills the coordinator as sink/0 hears it completed: completion must never be announced before the metadata is durable", &engineScenario{
		job: "keyed-count", tune: bigger, healAt: time.Second,
		plan: plan(
			fault("slow storage", faults.AtPhase(2, protocol.Triggered, ""), faults.Action{Kind: faults.StorageSlow, Extra: 30 * time.Millisecond, Duration: 200 * time.Millisecond}),
			fault("coordinator dies", faults.AtPhase(2, protocol.CompleteDelivered, "sink/0"), faults.Action{Kind: faults.KillCoordinator, Duration: 100 * time.Millisecond}),
		),
	})
	add("window-kill-late-events", "kills workers while out-of-order events are in flight; windows must fire exactly once with the right sums", &engineScenario{
		// window/0's worker dies right after checkpoint 3's commit point,
		// with windows whose records all came before it still waiting for
		// the watermark: the restore must bring back their contents, their
		// timers and the watermark, or they never fire.
		job: "window-sum", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Task.FetchBytesMax = 2 << 10
			o.Checkpoint.Interval = 30 * time.Millisecond
		},
		plan: plan(fault("kill window/0's worker", faults.AtPhase(3, protocol.MetadataWritten, ""),
			faults.Action{Kind: faults.KillWorker, Worker: "w2", Duration: 50 * time.Millisecond})),
	})
	add("swarm-window-sum", "swarm testing of event-time windows: the seed draws the topology, the fault kinds, their rates and a fault plan, over 2000 out-of-order records", &engineScenario{
		job: "window-sum", healAt: 3 * time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Task.FetchBytesMax = 2 << 10
		},
	})
	add("count-unaligned-under-backpressure", "unaligned checkpoints behind slow operators: kills count/0's worker after checkpoint 3's commit point, so the restore must replay the records that were in flight", &engineScenario{
		job: "keyed-count", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 1200
			o.Task.Unaligned = true
			o.Task.RecordCost = 200 * time.Microsecond
			o.Task.FetchBytesMax = 2 << 10
		},
		plan: plan(fault("kill count/0's worker", faults.AtPhase(3, protocol.MetadataWritten, ""),
			faults.Action{Kind: faults.KillWorker, Worker: "w2", Duration: 50 * time.Millisecond})),
	})
	add("count-rescale-mid-stream", "restarts keyed-count at parallelism 3 from checkpoint 2 taken at parallelism 2, mid-stream, then kills a worker: key groups, source partitions and the old sinks' transactions must all move", &engineScenario{
		job: "keyed-count", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Task.FetchBytesMax = 2 << 10
			o.RescaleAt, o.RescaleTo = 2, 3
		},
		plan: plan(fault("kill a worker after the rescale", faults.AtPhase(5, protocol.MetadataWritten, ""),
			faults.Action{Kind: faults.KillWorker, Worker: "w1", Duration: 50 * time.Millisecond})),
	})
	add("count-pebble-disk-errors", "keyed-count with its state in pebble: count/1's worker dies uploading checkpoint 2 (its local disk keeps only synced data), then fails half its state-file reads (restores, gets, uploads): every restore must come from checkpoint storage, never from the local disk", &engineScenario{
		job: "keyed-count", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Backend = cluster.BackendPebble
			o.Params.Records = 2000
			o.Task.FetchBytesMax = 2 << 10
		},
		plan: plan(
			fault("kill count/1's worker mid-upload", faults.AtPhase(2, protocol.SnapshotTaken, "count/1"),
				faults.Action{Kind: faults.KillWorker, Worker: "w0", Duration: 50 * time.Millisecond}),
			fault("failing reads", faults.At(300*time.Millisecond), faults.Action{Kind: faults.DiskReadError, Worker: "w0", Count: 4, Percent: 50}),
		),
	})
	add("count-lost-notifications", "loses sink/0's completion notices of checkpoints 2 and 3 and delays sink/1's of 4 past checkpoint 5: each later notice must commit every transaction up to it", &engineScenario{
		job: "keyed-count", tune: bigger, healAt: time.Second,
		plan: plan(
			fault("lost notice 2", faults.At(0), faults.Action{Kind: faults.DropMessage, Message: "notify-complete", To: "sink/0", Checkpoint: 2}),
			fault("lost notice 3", faults.At(0), faults.Action{Kind: faults.DropMessage, Message: "notify-complete", To: "sink/0", Checkpoint: 3}),
			fault("late notice 4", faults.At(0), faults.Action{Kind: faults.DelayMessage, Message: "notify-complete", To: "sink/1", Checkpoint: 4, Extra: 150 * time.Millisecond}),
		),
	})
	add("copier-retransmitted-trigger", "src/0 gets checkpoint 3's trigger a second time 25ms later, after fetching more, and its worker dies before checkpoint 4 completes: the restore from 3 must resume at the positions of 3's barrier", &engineScenario{
		job: "copier", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Task.FetchBytesMax = 2 << 10
			o.Checkpoint.Interval = 40 * time.Millisecond
		},
		plan: plan(
			fault("retransmitted trigger", faults.At(0), faults.Action{Kind: faults.DuplicateMessage, Message: "trigger", To: "src/0", Checkpoint: 3, Extra: 25 * time.Millisecond}),
			fault("kill src/0's worker", faults.AtPhase(4, protocol.BarrierInjected, "src/0"), faults.Action{Kind: faults.KillWorker, Worker: "w0", Duration: 50 * time.Millisecond}),
		),
	})
	add("count-duplicate-acks", "src/0's ack of checkpoint 2 arrives three times, and the coordinator dies at 2's commit point: a checkpoint completes only once every task acked", &engineScenario{
		job: "keyed-count", tune: bigger, healAt: time.Second,
		plan: plan(
			fault("repeated ack", faults.At(0), faults.Action{Kind: faults.DuplicateMessage, Message: "ack", From: "src/0", Checkpoint: 2, Count: 2}),
			fault("coordinator dies", faults.AtPhase(2, protocol.MetadataWritten, ""), faults.Action{Kind: faults.KillCoordinator, Duration: 50 * time.Millisecond}),
		),
	})
	add("coordinator-crash-mid-checkpoint", "kills the coordinator while checkpoint 3 aligns, before it completes, again during 5, and as it triggers 8: the restarted coordinator must never trigger an id it used before", &engineScenario{
		job: "keyed-count", tune: bigger, healAt: time.Second,
		plan: plan(
			fault("coordinator dies during 3", faults.AtPhase(3, protocol.BarrierReceived, "sink/0"), faults.Action{Kind: faults.KillCoordinator, Duration: 60 * time.Millisecond}),
			fault("and during 5", faults.AtPhase(5, protocol.BarrierReceived, "sink/1"), faults.Action{Kind: faults.KillCoordinator, Duration: 60 * time.Millisecond}),
			fault("and as it triggers 8", faults.AtPhase(8, protocol.Triggered, ""), faults.Action{Kind: faults.KillCoordinator, Duration: 60 * time.Millisecond}),
		),
	})
	add("count-concurrent-checkpoints", "up to three checkpoints in flight at once over slow checkpoint storage, a kill mid-upload and a late completion notice: every phase of one checkpoint interleaves with the next", &engineScenario{
		job: "keyed-count", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Task.FetchBytesMax = 2 << 10
			o.Checkpoint.Interval = 10 * time.Millisecond
			o.Checkpoint.MinPause = 0
			o.Checkpoint.MaxConcurrent = 3
		},
		plan: plan(
			fault("slow storage", faults.At(0), faults.Action{Kind: faults.StorageSlow, Extra: 25 * time.Millisecond, Duration: 400 * time.Millisecond}),
			fault("late notice 3", faults.At(0), faults.Action{Kind: faults.DelayMessage, Message: "notify-complete", To: "sink/0", Checkpoint: 3, Extra: 60 * time.Millisecond}),
			fault("kill count/1's worker mid-upload", faults.AtPhase(6, protocol.SnapshotTaken, "count/1"), faults.Action{Kind: faults.KillWorker, Worker: "w0", Duration: 50 * time.Millisecond}),
		),
	})
	add("window-idle-source-subtask", "window-sum at parallelism 4 over 3 partitions, so one source subtask reads nothing and must declare itself idle, with a kill of a window task's worker: every window fires once", &engineScenario{
		job: "window-sum", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Params.Parallelism, o.Params.Partitions = 4, 3
			o.Sim.Workers = 4
			o.Task.FetchBytesMax = 2 << 10
			o.Checkpoint.Interval = 30 * time.Millisecond
		},
		plan: plan(fault("kill window/1's worker", faults.AtPhase(3, protocol.MetadataWritten, ""),
			faults.Action{Kind: faults.KillWorker, Worker: "w1", Duration: 50 * time.Millisecond})),
	})
	add("count-wide-fan-in", "keyed-count at parallelism 4 over 6 partitions and 4 workers: every count task aligns four input channels while a worker is cut off and a notice is lost", &engineScenario{
		job: "keyed-count", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Params.Parallelism, o.Params.Partitions = 4, 6
			o.Sim.Workers = 4
			o.Task.FetchBytesMax = 2 << 10
		},
		plan: plan(
			fault("cut a worker mid-alignment", faults.AtPhase(2, protocol.BarrierReceived, "count/3"), faults.Action{Kind: faults.Isolate, Worker: "w3", Duration: 150 * time.Millisecond}),
			fault("lost notice", faults.At(0), faults.Action{Kind: faults.DropMessage, Message: "notify-complete", To: "sink/2", Checkpoint: 4}),
		),
	})
	add("count-pebble-fallback", "keyed-count on pebble with three retained checkpoints: checkpoint 6's snapshot is corrupted at its commit point as the coordinator dies, so the restore falls back to 5, whose shared state files must have survived the evictions", &engineScenario{
		// As in storage-corrupt-checkpoint, no task hears 6 completed, so
		// falling back is exactly-once.
		job: "keyed-count", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Backend = cluster.BackendPebble
			o.Params.Records = 2000
			o.Task.FetchBytesMax = 2 << 10
			o.Checkpoint.Interval = 20 * time.Millisecond
			o.Checkpoint.Retained = 3
		},
		plan: plan(
			fault("corrupt", faults.AtPhase(6, protocol.MetadataWritten, ""), faults.Action{Kind: faults.CorruptCheckpoint, Object: faults.LatestCheckpoint}),
			fault("coordinator dies", faults.AtPhase(6, protocol.MetadataWritten, ""), faults.Action{Kind: faults.KillCoordinator, Duration: 50 * time.Millisecond}),
		),
	})
	add("count-rescale-down", "restarts keyed-count at parallelism 2 from checkpoint 2 taken at 3, then kills a worker: the gone subtasks' key groups and their sinks' transactions must move to the ones that remain", &engineScenario{
		job: "keyed-count", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Params.Parallelism = 3
			o.Task.FetchBytesMax = 2 << 10
			o.RescaleAt, o.RescaleTo = 2, 2
		},
		plan: plan(fault("kill a worker after the rescale", faults.AtPhase(5, protocol.MetadataWritten, ""),
			faults.Action{Kind: faults.KillWorker, Worker: "w1", Duration: 50 * time.Millisecond})),
	})
	add("count-tolerated-checkpoint-failure", "sink/1's upload of checkpoint 3 fails and 4 times out behind a late ack, both tolerated (no restart): the transactions they pre-committed must be committed by checkpoint 5", &engineScenario{
		job: "keyed-count", healAt: time.Second,
		tune: func(o *cluster.Options) {
			o.Params.Records = 2000
			o.Task.FetchBytesMax = 2 << 10
			o.Checkpoint.Interval = 30 * time.Millisecond
			o.Checkpoint.TolerableFailures = 2
			o.Checkpoint.Timeout = 100 * time.Millisecond
		},
		plan: plan(
			fault("failed upload", faults.AtPhase(3, protocol.SnapshotTaken, "sink/1"), faults.Action{Kind: faults.StorageWriteFail, Count: 1}),
			fault("late ack", faults.At(0), faults.Action{Kind: faults.DelayMessage, Message: "ack", From: "sink/0", Checkpoint: 4, Extra: 150 * time.Millisecond}),
		),
	})
	for _, job := range []string{"copier", "keyed-count", "join"} {
		add("swarm-"+job, "swarm testing: the seed draws the topology, the fault kinds, their rates and a fault plan", &engineScenario{job: job, healAt: 3 * time.Second})
	}
}

// swarmKinds are the fault kinds a swarm draws from: every kind the heap
// backend engine can be hit by and must survive without loss (a transaction
// expired by the broker or a corrupt checkpoint are losses it can only
// report; they have their own scenarios).
func swarmKinds() []faults.ActionKind {
	return slices.DeleteFunc(faults.SwarmKinds(), func(k faults.ActionKind) bool { return k == faults.DiskReadError })
}

// seededRand returns a PRNG for name at seed, outside any world: the swarm
// is drawn before the world exists.
func seededRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// setup gives the cluster options, the fault plan and (for a swarm) the
// swarm's description of one run.
func (s *engineScenario) setup(ro RunOptions) (cluster.Options, faults.Plan, string) {
	o := cluster.DefaultOptions(s.job, ro.Seed)
	o.Sim.KeepTrace = true
	if s.tune != nil {
		s.tune(&o)
	}
	o.Mutants = ro.Mutants
	var p faults.Plan
	var swarm string
	switch {
	case ro.Plan != nil:
		p = *ro.Plan
	case s.plan != nil:
		p = *s.plan
	default:
		kinds := swarmKinds()
		if ro.SwarmKinds != nil {
			kinds = ro.SwarmKinds
		}
		sw, sp := faults.DrawSwarm(seededRand(ro.Seed, "swarm"), faults.SwarmOptions{Kinds: kinds, Window: s.healAt - 500*time.Millisecond, ParallelismMax: 3})
		o.Sim.Workers, o.Params.Parallelism = sw.Workers, sw.Parallelism
		p, swarm = sp, sw.String()
		if s.job == "copier" || s.job == "keyed-count" {
			// Skew, from a stream of its own so that the topology and
			// plan a seed draws stay what they were: a hot key in a third
			// of the runs, an empty input partition in a quarter. (Not
			// for join, whose output grows with the square of a key's
			// records: a hot key makes its checkpoints outlast their
			// timeout, a workload no configuration of this size can
			// checkpoint.)
			wr := seededRand(ro.Seed, "skew")
			if wr.IntN(3) == 0 {
				o.Params.HotKeyPercent = 30 + 10*wr.IntN(7)
			}
			if wr.IntN(4) == 0 && o.Params.Partitions > 1 {
				o.Params.EmptyPartitions = 1
			}
			if o.Params.HotKeyPercent > 0 || o.Params.EmptyPartitions > 0 {
				swarm += fmt.Sprintf(" skew=hot-key:%d%%,empty-partitions:%d", o.Params.HotKeyPercent, o.Params.EmptyPartitions)
			}
		}
	}
	return o, p, swarm
}

// workers is how many workers the run has: what a given plan may name.
func (s *engineScenario) workers(ro RunOptions) int {
	o, _, _ := s.setup(ro)
	return o.Sim.Workers
}

func (s *engineScenario) run(ctx context.Context, ro RunOptions) (*Outcome, error) {
	o, p, swarm := s.setup(ro)
	c, err := cluster.New(o)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Inject(p, s.healAt); err != nil {
		return nil, &BadInputError{Err: err}
	}
	res := c.Run()
	j := Judge(ctx, c, res)
	out := &Outcome{
		Digest: res.Digest, Events: res.Events, SimTime: res.SimTime, Plan: p, Swarm: swarm,
		Options: map[string]string{
			"job":         s.job,
			"workers":     fmt.Sprint(o.Sim.Workers),
			"parallelism": fmt.Sprint(o.Params.Parallelism),
			"records":     fmt.Sprint(o.Params.Records),
			"partitions":  fmt.Sprint(o.Params.Partitions),
			"interval":    o.Checkpoint.Interval.String(),
			"heal_at":     s.healAt.String(),
			"faults":      fmt.Sprint(len(p.Faults)),
		},
		Stats: map[string]int{"restarts": res.Restarts, "kills": res.Kills, "checkpoints": len(res.Checkpoints), "lost_transactions": res.LostTxns},
	}
	var fired []faultFired
	for _, f := range res.History.Faults {
		out.Fired = append(out.Fired, firedLine(f))
		fired = append(fired, faultFired{index: f.Index, action: f.Action})
	}
	out.Coverage = coverageOf(c.Job(), res.TraceEvents, fired)
	if len(ro.Mutants) > 0 {
		out.Options["mutants"] = fmt.Sprint(ro.Mutants)
	}
	out.Timeline = timelineLines(res.TraceEvents)
	if ro.KeepTrace {
		out.Trace, out.TraceEvents = res.Trace, res.TraceEvents
	}
	// The anomalies a scenario expects are those its own plan provokes; a
	// given plan expects none, so a loss it causes is a violation.
	expect := s.expect
	if ro.Plan != nil {
		expect = nil
	}
	out.Verdicts = expectation(j.Verdicts, expect)
	out.Attachments = j.Attachments
	return out, nil
}

// expectation turns the anomalies a scenario expects into passes, and fails
// the run when an expected anomaly did not happen: a loss that must be
// reported and was not is the worst outcome of all.
func expectation(vs []checkers.Result, expect []string) []checkers.Result {
	if len(expect) == 0 {
		return vs
	}
	seen := map[string]bool{}
	out := make([]checkers.Result, 0, len(vs)+1)
	for _, v := range vs {
		if v.Verdict == checkers.Violation && slices.Contains(expect, v.Anomaly) {
			seen[v.Anomaly] = true
			v.Verdict = checkers.Ok
			v.Explanation = "expected: " + v.Explanation
		}
		out = append(out, v)
	}
	var missing []string
	for _, a := range expect {
		if !seen[a] {
			missing = append(missing, a)
		}
	}
	r := checkers.Result{Checker: "expectation", Verdict: checkers.Ok, Explanation: "the expected anomalies were reported: " + strings.Join(expect, ", ")}
	if len(missing) > 0 {
		r = checkers.Result{Checker: "expectation", Verdict: checkers.Violation, Anomaly: "unreported-loss",
			Explanation: "the scenario must provoke " + strings.Join(missing, ", ") + " and it was not reported"}
	}
	return append(out, r)
}

// BadInputError marks an error in what the user gave (a fault plan the
// scenario cannot apply), as opposed to a failure of the run.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

// ParseMutants checks mutant names.
func ParseMutants(names []string) (engine.Mutants, error) {
	var ms engine.Mutants
	for _, n := range names {
		m, err := engine.ParseMutant(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}
