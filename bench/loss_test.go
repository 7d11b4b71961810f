package bench

import (
	"strconv"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/onceproof/onceproof/engine/protocol"
)

// TestBrokerLoss: missing output that the broker's refused commits account
// for is the broker's loss (unknown, never ok); anything more is the
// engine's violation.
func TestBrokerLoss(t *testing.T) {
	lostWrite := func(n int, dup int) checkers.Result {
		return checkers.Result{Checker: "exactly-once", Verdict: checkers.Violation, Anomaly: "lost-write",
			Stats: map[string]int{"lost-write": n, "duplicate": dup}, Explanation: "missing"}
	}
	ok := checkers.Result{Checker: "exactly-once", Verdict: checkers.Ok}
	for _, tc := range []struct {
		name    string
		lostTxn []int // records of each refused transaction
		in      checkers.Result
		want    checkers.Verdict
		anomaly string
	}{
		{"nothing refused", nil, lostWrite(5, 0), checkers.Violation, "lost-write"},
		{"refused, nothing missing", []int{7}, ok, checkers.Ok, ""},
		{"missing what was refused", []int{3, 4}, lostWrite(7, 0), checkers.Unknown, "broker-lost-transactions"},
		{"missing more than was refused", []int{3}, lostWrite(7, 0), checkers.Violation, "lost-write"},
		{"duplicates too", []int{30}, lostWrite(7, 1), checkers.Violation, "lost-write"},
	} {
		var l lostTxns
		l.note(live.Event{Event: engine.Event{Phase: protocol.SnapshotTaken, Detail: "LOST pre-committed transaction x (9 records)"}})
		for _, n := range tc.lostTxn {
			l.note(live.Event{Event: engine.Event{Phase: protocol.EndTxnSent,
				Detail: "LOST pre-committed transaction sink-0-3 pid 1 epoch 2 (" + strconv.Itoa(n) + " records): INVALID_TXN_STATE"}})
		}
		got := l.judge([]checkers.Result{tc.in})[0]
		if got.Verdict != tc.want || got.Anomaly != tc.anomaly {
			t.Errorf("%s: got %v %q, want %v %q (%s)", tc.name, got.Verdict, got.Anomaly, tc.want, tc.anomaly, got.Explanation)
		}
		if len(tc.lostTxn) > 0 && tc.in.Verdict != checkers.Ok && !strings.Contains(got.Explanation, "the broker refused to commit") {
			t.Errorf("%s: the explanation does not name the broker's refusals: %s", tc.name, got.Explanation)
		}
	}
}
