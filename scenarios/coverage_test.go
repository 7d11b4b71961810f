package scenarios

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/sim"
)

// TestCoverageOf: a fault's cell is the phase the run was last at when it
// fired and the roles of what it hit; message faults add the message's
// cell; a fault that never fired adds nothing.
func TestCoverageOf(t *testing.T) {
	spec, err := jobs.Lookup("keyed-count")
	if err != nil {
		t.Fatal(err)
	}
	job, err := spec.Build(jobs.Params{Parallelism: 1, Partitions: 1, Records: 1, Keys: 1})
	if err != nil {
		t.Fatal(err)
	}
	events := []sim.Event{
		{Kind: sim.EventFaultFired, N: 0},
		{Kind: sim.EventDeploy, N: 1, Detail: "src/0@w0 count/0@w1 sink/0@w0"},
		{Kind: sim.EventProtocol, Phase: protocol.Triggered, N: 1},
		{Kind: sim.EventProtocol, Phase: protocol.EventRunning},
		{Kind: sim.EventFaultFired, N: 2},
		{Kind: sim.EventMessageFault, Op: "drop", Name: "notify-complete"},
		{Kind: sim.EventProtocol, Phase: protocol.SnapshotTaken, N: 1},
		{Kind: sim.EventFaultFired, N: 3},
	}
	fired := []faultFired{
		{0, faults.Action{Kind: faults.StorageSlow}},
		{2, faults.Action{Kind: faults.KillWorker, Worker: "w0"}},
		{3, faults.Action{Kind: faults.DropMessage, Message: "notify-complete", To: "count/0"}},
	}
	got := coverageOf(job, events, fired)
	want := []string{"message|notify-complete|drop", "snapshot-taken|drop-message|operator", "start|storage-slow|storage",
		"triggered|kill-worker|sink", "triggered|kill-worker|source"}
	if !slices.Equal(got, want) {
		t.Fatalf("cells:\n got %q\nwant %q", got, want)
	}
	var b bytes.Buffer
	if err := WriteCoverage(&b, CoverageGrid{"triggered|kill-worker|sink": 3}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, line := range []string{"kill-worker              sink 3", "kill-coordinator         none"} {
		if !strings.Contains(out, line) {
			t.Errorf("the grid lacks %q:\n%s", line, out)
		}
	}
	if !strings.Contains(out, "cells not reached") || strings.Contains(out, "kill-worker at trig") {
		t.Errorf("gaps wrong:\n%s", out)
	}
}
