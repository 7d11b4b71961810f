package engine

// The coordinator's Go tests: those that are not scripts (a table of
// restart delays, a broken invariant asserted through a panic) or whose
// end is a property rather than a golden log. The coordinator's scripts
// are testdata/coordinator, run by datadriven_test.go.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/onceproof/onceproof/engine/protocol"
)

func TestRestartStrategyNext(t *testing.T) {
	exp := RestartStrategy{Kind: "exponential-delay", Delay: 100 * time.Millisecond, MaxDelay: time.Second, Multiplier: 2}
	fixed := RestartStrategy{Kind: "fixed-delay", Delay: 300 * time.Millisecond}
	ms := time.Millisecond
	for _, c := range []struct {
		rs      RestartStrategy
		attempt int
		want    time.Duration
	}{
		{exp, 1, 100 * ms}, {exp, 2, 200 * ms}, {exp, 3, 400 * ms}, {exp, 4, 800 * ms},
		{exp, 5, time.Second}, {exp, 6, time.Second}, {exp, 100, time.Second},
		{fixed, 1, 300 * ms}, {fixed, 7, 300 * ms},
	} {
		if got := c.rs.next(c.attempt); got != c.want {
			t.Errorf("%s next(%d): got %v, want %v", c.rs.Kind, c.attempt, got, c.want)
		}
	}
}

// TestCoordinatorLateMetadataAgreesWithStorage: the metadata write is the
// commit point. When it succeeds after the coordinator has already given
// the checkpoint up (here: a task failed while the write was in flight; a
// timeout does the same), storage holds a completed checkpoint 1. The
// coordinator must then not act as if 1 never committed while leaving its
// metadata in place: either it counts 1 as completed (and restores it), or
// it deletes it before the next attempt runs. Otherwise attempt 2 restores
// 0 and fences (aborts) checkpoint 1's pre-committed transactions, and a
// coordinator restarted later (RecoverCoordinator reads the metadata of
// every checkpoint directory) restores 1, whose transactions no longer exist: the
// records before 1's offsets are lost.
func TestCoordinatorLateMetadataAgreesWithStorage(t *testing.T) {
	// The script up to the race: a task fails while checkpoint 1's metadata
	// is written.
	r := new(scriptRunner)
	datadriven.RunTest(t, "testdata/late-metadata-agrees-with-storage", r.step)
	h := r.coord
	// From here on the outcome depends on how the engine resolves the
	// race, so the checks are on properties, not on a golden log.
	h.env.take()
	h.env.completeMetadata(0, nil) // checkpoint 1's metadata is durable: the commit point passed
	h.env.fireTimers(150 * time.Millisecond)
	for len(h.env.states) > 0 {
		h.env.completeState(0, nil)
	}
	got := h.env.take()
	if slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "notify ") }) {
		t.Errorf("a task of the cancelled attempt was told checkpoint 1 completed:\n\t%s", strings.Join(got, "\n\t"))
	}
	deps, ok := h.env.deploys[2]
	if !ok {
		t.Fatalf("attempt 2 was not deployed:\n\t%s", strings.Join(got, "\n\t"))
	}
	deleted := slices.Contains(got, "delete cp=1")
	if deps[0].Restore != 1 && !deleted {
		t.Errorf("checkpoint 1's metadata write succeeded after the failover, yet attempt 2 restores checkpoint %d "+
			"(fencing checkpoint 1's transactions up to %d) and checkpoint 1 is not deleted, so storage still says it completed:\n\t%s",
			deps[0].Restore, deps[0].FenceUpTo, strings.Join(got, "\n\t"))
	}
}

// TestCoordinatorAssertsImpossibleAcks: an ack of a checkpoint id never
// triggered, or one whose body names another task than its sender, is a
// broken invariant (a routing or encoding bug), not a message to drop.
func TestCoordinatorAssertsImpossibleAcks(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    func(h *coordHarness) Ack
		from string
	}{
		{"above the counter", func(h *coordHarness) Ack { return Ack{Task: h.task("op/0"), Checkpoint: 2} }, "op/0"},
		{"for another task", func(h *coordHarness) Ack { return Ack{Task: h.task("op/0"), Checkpoint: 1} }, "a/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newCoordHarness(t, testCheckpointConfig(), fixedRestart(), nil)
			h.c.Start()
			h.env.completeState(0, nil) // attempt 1 is deployed
			for _, id := range h.job.Tasks() {
				fromTask(h.c, Message{Type: protocol.MsgRunning}, 1, id)
			}
			h.env.fireTimers(50 * time.Millisecond) // checkpoint 1 is triggered
			h.env.completeState(0, nil)
			defer func() {
				if recover() == nil {
					t.Fatal("the coordinator took the ack")
				}
			}()
			a := tc.a(h)
			fromTask(h.c, Message{Type: protocol.MsgAck, Checkpoint: a.Checkpoint, Ack: &a}, 1, h.task(tc.from))
		})
	}
}
