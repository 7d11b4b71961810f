package checkers

import (
	"fmt"
	"strings"

	"github.com/onceproof/onceproof/internal/order"
)

// Anomaly names reported by ExactlyOnce, in the precedence used to pick the
// Result's Anomaly: an aborted read is the most damning (uncommitted data
// escaped), a lost write the least specific (it might be a symptom of any of
// the others).
const (
	anomalyAbortedRead  = "aborted-read"
	anomalyDuplicate    = "duplicate"
	anomalyUnexpected   = "unexpected"
	anomalyWrongValue   = "wrong-value"
	anomalyNonmonotonic = "nonmonotonic"
	anomalyLostWrite    = "lost-write"
)

// exactlyOnceAnomalies lists the anomalies in precedence order.
var exactlyOnceAnomalies = []string{
	anomalyAbortedRead,
	anomalyDuplicate,
	anomalyUnexpected,
	anomalyWrongValue,
	anomalyNonmonotonic,
	anomalyLostWrite,
}

// Expected is one output record that a sequential oracle says must be
// committed exactly once.
type Expected struct {
	// Lineage identifies the input that caused the record, such as
	// "in/2@17" (source partition 2, offset 17) or "k7#5" (the fifth input
	// for key k7). It is unique among expected records.
	Lineage string `json:"lineage"`
	// Key is the output record's key.
	Key string `json:"key"`
	// Value is the output record's value.
	Value string `json:"value"`
}

// Observed is one record read from the output topic by an independent
// read_committed consumer.
type Observed struct {
	// Lineage is the lineage the record carries.
	Lineage string `json:"lineage"`
	// Key is the record's key.
	Key string `json:"key"`
	// Value is the record's value.
	Value string `json:"value"`
	// Partition is the output partition the record was read from.
	Partition int32 `json:"partition"`
	// Offset is the record's offset in Partition.
	Offset int64 `json:"offset"`
}

// Outcome is the fate of a sink transaction as the harness recorded it.
type Outcome int

const (
	// InDoubt means the harness never learned whether the transaction
	// committed, for example because the sink crashed after sending EndTxn.
	// It is the zero value so that an attempt whose fate was not recorded
	// is never mistaken for an aborted one.
	InDoubt Outcome = iota
	// Committed means the transaction's EndTxn(commit) was acknowledged.
	Committed
	// Aborted means the transaction was aborted, by the sink or by the
	// coordinator (for example after a transaction timeout or fencing).
	Aborted
)

// outcomeNames are the spellings used in String and in JSON.
var outcomeNames = [...]string{
	InDoubt:   "in-doubt",
	Committed: "committed",
	Aborted:   "aborted",
}

// String returns the lower-case name of o, such as "in-doubt".
func (o Outcome) String() string {
	return nameOf(outcomeNames[:], "outcome", o)
}

// MarshalText encodes o as its lower-case name.
func (o Outcome) MarshalText() ([]byte, error) {
	return marshalName(outcomeNames[:], "outcome", o)
}

// UnmarshalText decodes a lower-case outcome name written by MarshalText.
func (o *Outcome) UnmarshalText(text []byte) error {
	x, err := unmarshalName[Outcome](outcomeNames[:], "outcome", text)
	if err == nil {
		*o = x
	}
	return err
}

// Attempt is one write the sink attempted, with the fate of the transaction
// it was part of. A lineage may have several attempts (one per retry or
// replay after recovery); at most one of them should end up committed.
type Attempt struct {
	// Lineage is the lineage of the record written.
	Lineage string `json:"lineage"`
	// Txn names the transaction, for the report.
	Txn string `json:"txn"`
	// Outcome is the transaction's fate.
	Outcome Outcome `json:"outcome"`
}

// Order is the order a job promises its committed output keeps (defined in
// internal/order, so that job specs can name it without depending on the
// checkers).
type Order = order.Order

// The orders; see package order.
const (
	Unordered    = order.Unordered
	PerKey       = order.PerKey
	PerPartition = order.PerPartition
)

// ExactlyOnceOptions tunes ExactlyOnce.
type ExactlyOnceOptions struct {
	// Order is the order the output must keep.
	Order Order `json:"order,omitempty"`
}

// fate summarises the attempts for one lineage.
type fate struct {
	attempts int
	aborted  int
	// abortedTxn is the first aborted transaction, named in the report.
	abortedTxn string
}

// abortedOnly reports whether every attempt for the lineage was aborted: a
// record observed under such a lineage can only have come from an aborted
// transaction (G1a).
func (f fate) abortedOnly() bool { return f.attempts > 0 && f.aborted == f.attempts }

// ExactlyOnce checks that the committed output holds every expected record
// exactly once, with the expected key and value, and nothing else.
//
// It makes one pass over observed, classifying each record by the first of
// these that applies: "aborted-read" (its lineage's only attempts were in
// aborted transactions), "duplicate" (its lineage was already observed),
// "unexpected" (its lineage is not expected), "wrong-value" (its key or
// value differ from the expected ones) and, with opts.Order,
// "nonmonotonic" (an earlier record for the same key, or in the same
// partition, was expected later).
// Then every expected lineage never observed is a "lost-write". Each record
// counts under one anomaly only, so the counts in Stats add up.
//
// The Result's Anomaly is the anomaly highest in that order that occurred,
// and FirstBad is its first record in observed order (expected order for a
// lost write). A malformed input (a lineage expected twice, an observed
// partition whose offsets go backwards, an out-of-range outcome) gives
// Unknown, because the check's premises do not hold.
func ExactlyOnce(expected []Expected, observed []Observed, attempts []Attempt, opts ExactlyOnceOptions) Result {
	const name = "exactly-once"

	switch opts.Order {
	case Unordered, PerKey, PerPartition:
	default:
		return invalid(name, fmt.Errorf("unknown order promise %q (known: per-key, per-partition, or none)", opts.Order))
	}
	expIndex := make(map[string]int, len(expected))
	for i, e := range expected {
		if j, dup := expIndex[e.Lineage]; dup {
			return invalid(name, fmt.Errorf("expected lineage %q appears twice, at %d and %d", e.Lineage, j, i))
		}
		expIndex[e.Lineage] = i
	}

	fates := make(map[string]fate)
	for i, a := range attempts {
		if a.Outcome < 0 || int(a.Outcome) >= len(outcomeNames) {
			return invalid(name, fmt.Errorf("attempt %d (lineage %q): invalid outcome %d", i, a.Lineage, int(a.Outcome)))
		}
		f := fates[a.Lineage]
		f.attempts++
		if a.Outcome == Aborted {
			if f.aborted == 0 {
				f.abortedTxn = a.Txn
			}
			f.aborted++
		}
		fates[a.Lineage] = f
	}

	// A read_committed consumer reads each partition forwards. Offsets that
	// go backwards mean the harness re-read or merged reads wrongly, and
	// "duplicate" would then blame the system under test for it.
	lastOffset := make(map[int32]int64)
	for i, o := range observed {
		if last, ok := lastOffset[o.Partition]; ok && o.Offset <= last {
			return invalid(name, fmt.Errorf("observed record %d: partition %d offset %d does not follow offset %d", i, o.Partition, o.Offset, last))
		}
		lastOffset[o.Partition] = o.Offset
	}

	counts := make(map[string]int, len(exactlyOnceAnomalies))
	firstBad := make(map[string]string, len(exactlyOnceAnomalies))
	note := func(anomaly, record, detail string) {
		counts[anomaly]++
		if _, ok := firstBad[anomaly]; !ok {
			firstBad[anomaly] = record + "; " + detail
		}
	}

	firstSeen := make(map[string]int, len(observed)) // lineage -> index in observed
	lastInKey := make(map[string]int)                // key -> highest expected index seen in order
	lastInPart := make(map[int32]int)                // partition -> highest expected index seen in order
	for i, o := range observed {
		record := describeObserved(o)
		f := fates[o.Lineage]
		seenAt, seen := firstSeen[o.Lineage]
		ei, isExpected := expIndex[o.Lineage]
		switch {
		case f.abortedOnly():
			note(anomalyAbortedRead, record, fmt.Sprintf("its %d attempt(s) were all aborted, first in txn %q", f.attempts, f.abortedTxn))
		case seen:
			prev := observed[seenAt]
			note(anomalyDuplicate, record, fmt.Sprintf("first seen at partition %d offset %d", prev.Partition, prev.Offset))
		case !isExpected:
			note(anomalyUnexpected, record, "the oracle expects no record with this lineage")
		case expected[ei].Key != o.Key || expected[ei].Value != o.Value:
			note(anomalyWrongValue, record, fmt.Sprintf("want key %q value %q", expected[ei].Key, expected[ei].Value))
		case opts.Order == PerKey:
			if last, ok := lastInKey[o.Key]; ok && ei < last {
				note(anomalyNonmonotonic, record, fmt.Sprintf("expected before lineage %q of the same key, which was observed earlier", expected[last].Lineage))
			} else {
				lastInKey[o.Key] = ei
			}
		case opts.Order == PerPartition:
			if last, ok := lastInPart[o.Partition]; ok && ei < last {
				note(anomalyNonmonotonic, record, fmt.Sprintf("expected before lineage %q, which is earlier in the same partition", expected[last].Lineage))
			} else {
				lastInPart[o.Partition] = ei
			}
		}
		if !seen {
			firstSeen[o.Lineage] = i
		}
	}

	for _, e := range expected {
		if _, ok := firstSeen[e.Lineage]; !ok {
			note(anomalyLostWrite, fmt.Sprintf("lineage %q (key %q, value %q)", e.Lineage, e.Key, e.Value), "never observed")
		}
	}

	stats := map[string]int{
		"expected": len(expected),
		"observed": len(observed),
		"attempts": len(attempts),
	}
	parts, worst := tally(exactlyOnceAnomalies, counts, stats)
	if worst == "" {
		order := ""
		if opts.Order != Unordered {
			order = ", in " + string(opts.Order) + " order"
		}
		return Result{
			Checker: name,
			Verdict: Ok,
			Explanation: fmt.Sprintf("all %d expected records observed exactly once with the expected key and value%s (%d attempts)",
				len(expected), order, len(attempts)),
			Stats: stats,
		}
	}
	total := 0
	for _, a := range exactlyOnceAnomalies {
		total += counts[a]
	}
	return Result{
		Checker:  name,
		Verdict:  Violation,
		Anomaly:  worst,
		FirstBad: firstBad[worst],
		Explanation: fmt.Sprintf("%d anomalies over %d expected and %d observed records (%s); first %s: %s",
			total, len(expected), len(observed), strings.Join(parts, ", "), worst, firstBad[worst]),
		Stats: stats,
	}
}

// describeObserved names an observed record and where it was read.
func describeObserved(o Observed) string {
	return fmt.Sprintf("lineage %q (key %q, value %q) at partition %d offset %d", o.Lineage, o.Key, o.Value, o.Partition, o.Offset)
}

// invalid is the Result for a history the checker cannot judge: Unknown,
// because a malformed history has not passed.
func invalid(checker string, err error) Result {
	return Result{
		Checker:     checker,
		Verdict:     Unknown,
		Explanation: fmt.Errorf("invalid history: %w", err).Error(),
	}
}
