package bench

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/onceproof/onceproof/engine/live/livetest"
	"github.com/onceproof/onceproof/engine/protocol"
)

// lostTxns counts the pre-committed transactions the broker refused to
// commit, from the sinks' events. A completed checkpoint pre-committed
// them, so the engine had to commit them; the broker no longer had them:
// it aborted them itself (kfake aborts every open transaction when it
// starts again after a crash, where Kafka keeps them; any broker aborts one
// whose timeout passed), or someone else fenced their producer. The records
// in them are lost, and not by the engine's checkpoint protocol.
type lostTxns struct {
	mu      sync.Mutex
	txns    int
	records int
}

var lostDetail = regexp.MustCompile(`^LOST pre-committed transaction .* \((\d+) records\)`)

func (l *lostTxns) note(ev live.Event) {
	if ev.Phase != protocol.EndTxnSent {
		return
	}
	m := lostDetail.FindStringSubmatch(ev.Detail)
	if m == nil {
		return
	}
	n, _ := strconv.Atoi(m[1]) // the pattern holds digits only
	l.mu.Lock()
	l.txns++
	l.records += n
	l.mu.Unlock()
}

// judge tells the broker's loss from the engine's. When the exactly-once
// check found only lost writes, no more of them than the records of the
// transactions the broker refused, the output lacks what the broker lost:
// the verdict becomes Unknown (an environment fault, as input the broker
// lost is), never Ok. Any other anomaly, or more lost records than that,
// stays the engine's violation, with the broker's loss noted beside it.
func (l *lostTxns) judge(vs []checkers.Result) []checkers.Result {
	l.mu.Lock()
	txns, records := l.txns, l.records
	l.mu.Unlock()
	if txns == 0 {
		return vs
	}
	out := append([]checkers.Result(nil), vs...)
	for i, r := range out {
		if r.Checker != livetest.ExactlyOnceChecker {
			continue
		}
		what := fmt.Sprintf("the broker refused to commit %d pre-committed transactions (%d records) after their checkpoint completed: it aborted them (kfake does on a restart after a crash, Kafka does not; any broker does once --txn-timeout passes) or their producer was fenced by another client", txns, records)
		only := r.Verdict == checkers.Violation && r.Anomaly == "lost-write" && r.Stats["lost-write"] <= records
		for _, a := range []string{"aborted-read", "duplicate", "unexpected", "wrong-value", "nonmonotonic"} {
			if r.Stats[a] > 0 {
				only = false
			}
		}
		switch {
		case only:
			r.Verdict, r.Anomaly = checkers.Unknown, "broker-lost-transactions"
			r.Explanation = fmt.Sprintf("environment fault, not the engine's: %d expected records are missing, no more than %s; the checker said: %s",
				r.Stats["lost-write"], what, r.Explanation)
		default:
			r.Explanation += "; besides, " + what
		}
		out[i] = r
	}
	return out
}
