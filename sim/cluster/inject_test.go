package cluster_test

import (
	"errors"
	"fmt"
	"github.com/onceproof/onceproof/sim/cluster"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/faults"
)

// busy keeps keyed-count processing input for a few hundred simulated
// milliseconds, so faults land while data flows.
func busy(seed uint64) cluster.Options {
	o := cluster.DefaultOptions("keyed-count", seed)
	o.Sim.KeepTrace = true
	o.Params.Records = 2000
	o.Task.FetchBytesMax = 2 << 10
	return o
}

// TestEveryFaultKindFires: each kind of fault fires at its trigger (a time,
// a checkpoint phase, the k-th request of a kind) and the trace shows what it
// did; the correct engine survives each.
func TestEveryFaultKindFires(t *testing.T) {
	at := faults.At(150 * time.Millisecond)
	for _, tc := range []struct {
		trigger faults.Trigger
		action  faults.Action
		effect  string // a trace line the action leaves
	}{
		{at, faults.Action{Kind: faults.KillWorker, Worker: "w1", Duration: 50 * time.Millisecond}, "kill w1 inc=0: kill-worker"},
		{faults.AtPhase(2, protocol.MetadataWritten, ""), faults.Action{Kind: faults.KillCoordinator, Duration: 50 * time.Millisecond}, "kill jm inc=0: kill-coordinator"},
		{faults.AtPhase(2, protocol.SnapshotTaken, "sink/0"), faults.Action{Kind: faults.PauseWorker, Worker: "w1", Duration: 300 * time.Millisecond}, "pause w1 inc=0"},
		{at, faults.Action{Kind: faults.Partition, Worker: "w0", Peer: "w1", Duration: 100 * time.Millisecond}, "partition w0|w1"},
		{at, faults.Action{Kind: faults.PartitionOneWay, Worker: "w0", Peer: "w2", Duration: 100 * time.Millisecond}, "cut w0->w2"},
		{at, faults.Action{Kind: faults.Isolate, Worker: "w2", Duration: 100 * time.Millisecond}, "partition w2|jm"},
		{at, faults.Action{Kind: faults.SlowLink, Worker: "w0", Peer: "w1", Extra: 20 * time.Millisecond, Duration: 100 * time.Millisecond}, "slow w0|w1 +20ms"},
		{faults.After("Produce", 3), faults.Action{Kind: faults.KafkaError, Request: "Produce", Error: "NOT_LEADER_FOR_PARTITION", Count: 2}, "kafka fault Produce err=NOT_LEADER_FOR_PARTITION"},
		{faults.After("Fetch", 5), faults.Action{Kind: faults.DropRequest, Request: "Fetch", Count: 1}, `rule "fault 0": drop-request`},
		{faults.After("EndTxn", 2), faults.Action{Kind: faults.DropResponse, Request: "EndTxn", Count: 1}, `rule "fault 0": drop-response`},
		{at, faults.Action{Kind: faults.RestartBroker}, `rule "broker restarting": drop-request`},
		{at, faults.Action{Kind: faults.ExpireTxn}, "kafka broker aborted transaction keyed-count-sink-"},
		{at, faults.Action{Kind: faults.DiskCrash, Worker: "w0", Duration: 50 * time.Millisecond}, "kill w0 inc=0: disk-crash"},
		{faults.AtPhase(2, protocol.Triggered, ""), faults.Action{Kind: faults.StorageWriteFail, Count: 2}, "failed: injected storage write failure"},
		{faults.AtPhase(2, protocol.Triggered, ""), faults.Action{Kind: faults.StorageSlow, Extra: 40 * time.Millisecond, Duration: 200 * time.Millisecond}, "fault 0 fired: slow checkpoint storage by +40ms"},
		{faults.AtPhase(2, protocol.MetadataWritten, ""), faults.Action{Kind: faults.CorruptCheckpoint, Object: faults.LatestCheckpoint}, "store corrupt checkpoints/keyed-count/chk-2/"},
		{faults.AtPhase(1, protocol.EndTxnApplied, "sink/1"), faults.Action{Kind: faults.KillWorker, Worker: "w2", Duration: 50 * time.Millisecond}, "kill w2 inc=0: kill-worker"},
		// With the pebble backend (below): w0 hosts count/1, whose next
		// reads of its SSTs fail; it fails and restores.
		{at, faults.Action{Kind: faults.DiskReadError, Worker: "w0", Count: 2}, "w0 disk read error (fault 0, 1 left): state/count-1/"},
	} {
		t.Run(string(tc.action.Kind)+"/"+tc.trigger.String(), func(t *testing.T) {
			o := busy(3)
			if tc.action.Kind == faults.DiskReadError {
				o.Backend = cluster.BackendPebble // the heap reads no files
			}
			c := newCluster(t, o)
			defer c.Close()
			if err := c.Inject(faults.Plan{Faults: []faults.Fault{{Trigger: tc.trigger, Action: tc.action}}}, time.Second); err != nil {
				t.Fatal(err)
			}
			res := runJudged(c)
			fired := index(res.Trace, "fault 0 fired")
			if fired < 0 {
				t.Fatalf("the fault never fired")
			}
			checkTrigger(t, res.Trace, fired, tc.trigger)
			if index(res.Trace, tc.effect) < 0 {
				t.Fatalf("no trace line shows the effect %q", tc.effect)
			}
			if res.Verdict() != checkers.Ok {
				t.Fatal(describe(cluster.Options{Job: "keyed-count"}, res))
			}
		})
	}
}

// checkTrigger checks that the fault fired at its trigger: at the trigger's
// time, right after the phase event, or as the k-th request went out.
func checkTrigger(t *testing.T, trace []string, fired int, tr faults.Trigger) {
	t.Helper()
	var firedAt int64
	fmt.Sscan(trace[fired], &firedAt)
	switch {
	case tr.At != nil:
		if firedAt != int64(*tr.At) {
			t.Fatalf("fired at %d ns, want %d", firedAt, int64(*tr.At))
		}
	case tr.Phase != nil:
		want := fmt.Sprintf("%s cp=%d", tr.Phase.Phase, tr.Phase.Checkpoint)
		for i := fired - 1; i >= 0 && strings.HasPrefix(trace[i], trace[fired][:12]); i-- {
			if strings.Contains(trace[i], want) {
				return
			}
		}
		t.Fatalf("fired at %q, not in the step of %q", trace[fired], want)
	case tr.AfterRequests != nil:
		n := 0
		for _, l := range trace[:fired] {
			if strings.Contains(l, "-> "+tr.AfterRequests.Kind) {
				n++
			}
		}
		if n != tr.AfterRequests.Count {
			t.Fatalf("fired after %d %s requests, want %d", n, tr.AfterRequests.Kind, tr.AfterRequests.Count)
		}
	}
}

func index(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}

// TestDiskReadErrorNeedsPebble: the heap backend reads no files, so a plan
// with disk-read-error is refused with an error that says so, not ignored;
// with the pebble backend it fires, fails the task that reads, and the job
// recovers exactly.
func TestDiskReadErrorNeedsPebble(t *testing.T) {
	plan := faults.Plan{Faults: []faults.Fault{{Trigger: faults.At(100 * time.Millisecond), Action: faults.Action{Kind: faults.DiskReadError, Worker: "w0", Count: 3, Percent: 50}}}}
	c := newCluster(t, busy(1))
	defer c.Close()
	err := c.Inject(plan, time.Second)
	if !errors.Is(err, cluster.ErrUnsupportedFault) || !strings.Contains(err.Error(), "pebble") {
		t.Fatalf("heap: got %v, want ErrUnsupportedFault naming pebble", err)
	}

	o := busy(1)
	o.Backend = cluster.BackendPebble
	c = newCluster(t, o)
	defer c.Close()
	if err := c.Inject(plan, time.Second); err != nil {
		t.Fatalf("pebble: %v", err)
	}
	res := runJudged(c)
	if index(res.Trace, "disk read error (fault 0") < 0 {
		t.Fatal("pebble: no read failed")
	}
	failed := index(res.Trace, "injected disk read error")
	if failed < 0 || index(res.Trace[failed:], "failover") < 0 {
		t.Fatal("pebble: the failed read did not fail its task and restart the job")
	}
	if res.Verdict() != checkers.Ok {
		t.Fatal(describe(o, res))
	}
}

// TestPartitionedForeverIsNoProgress: a job cut off from its workers until
// the end is a liveness failure, reported as no progress, never as a safety
// violation.
func TestPartitionedForeverIsNoProgress(t *testing.T) {
	o := busy(2)
	o.RunLimit = 5 * time.Second
	c := newCluster(t, o)
	defer c.Close()
	var fs []faults.Fault
	for _, w := range []string{"w0", "w1", "w2"} {
		fs = append(fs, faults.Fault{Trigger: faults.At(100 * time.Millisecond), Action: faults.Action{Kind: faults.Isolate, Worker: w}})
	}
	// Healing after the run limit: the partition never lifts.
	if err := c.Inject(faults.Plan{Faults: fs}, time.Minute); err != nil {
		t.Fatal(err)
	}
	res := runJudged(c)
	if res.Verdict() != checkers.NoProgress {
		t.Fatalf("got %s, want no-progress:\n%s", res.Verdict(), describe(o, res))
	}
}
